// Loading a rule set from paths: every rule file under them parsed, then compiled into one RuleSet.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "socd/rule.h"
#include "socd/ruleset.h"

namespace socd {

struct LoadedRules {
  std::shared_ptr<const RuleSet> set;
  std::vector<Diagnostic> diagnostics;  // skipped rules and warnings (reason "warning-*")
  size_t loaded = 0;                    // rules in the set
  size_t skipped = 0;                   // rules left out, each with one diagnostic
  double load_seconds = 0;              // reading, parsing and compiling
};

LoadedRules load_rules(const std::vector<std::string>& paths, const FieldMapping& mapping,
                       const CompileOptions& options);

// True for a diagnostic that is only a warning (the rule still loaded).
inline bool is_warning(const Diagnostic& d) { return d.reason.rfind("warning", 0) == 0; }

}  // namespace socd
