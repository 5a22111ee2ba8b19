// Loading a rule set from paths: every rule file under them parsed, Sigma filters applied, then compiled into
// one RuleSet, with the correlations and thresholds of the stateful stage resolved against it.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "socd/rule.h"
#include "socd/ruleset.h"
#include "socd/sagan.h"
#include "socd/stateful.h"

namespace socd {

struct LoadedRules {
  std::shared_ptr<const RuleSet> set;
  std::shared_ptr<const StatefulRules> stateful;  // correlations and policies over `set` (possibly none)
  std::vector<Diagnostic> diagnostics;  // skipped rules and warnings (reason "warning-*")
  size_t loaded = 0;                    // rules in the set
  size_t correlations = 0;              // correlation rules in force
  size_t skipped = 0;                   // rules and correlations left out, each with one diagnostic
  double load_seconds = 0;              // reading, parsing and compiling
};

// What the rule languages need besides the field mapping.
struct RuleLanguageOptions {
  SaganVariables sagan_variables = SaganVariables::defaults();  // for *.rules files (Sagan)
};

// Every path exists (a file or a directory); else an error naming the first that does not. The commands refuse
// such a path before loading anything: a mistyped --rules path would leave no detection at all, not one skipped
// rule among many. (load_rules itself counts a missing path as a skipped rule with a read-error diagnostic.)
Status check_rule_paths(const std::vector<std::string>& paths);

// Each path is a rule file or a directory: *.rules files load as Sagan rules, every other file (and *.yml /
// *.yaml below a directory) as Sigma.
// `stage` holds the thresholds and settings of the stateful stage (load_stage_config); none: defaults, no
// policy.
LoadedRules load_rules(const std::vector<std::string>& paths, const FieldMapping& mapping,
                       const CompileOptions& options, const StageConfig& stage = {},
                       const RuleLanguageOptions& languages = {});

// True for a diagnostic that is only a warning (the rule still loaded).
inline bool is_warning(const Diagnostic& d) { return d.reason.rfind("warning", 0) == 0; }

}  // namespace socd
