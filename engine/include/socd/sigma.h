// The Sigma front end: YAML rule files to Rule values, and config/mappings.yml to a FieldMapping.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "socd/read_file.h"
#include "socd/rule.h"
#include "socd/status.h"

namespace socd {

// Reason codes of the diagnostics (Diagnostic::reason):
//   skipped documents: yaml-error (not YAML, or binary), read-error (a rule path that does not exist, a file
//   or directory that cannot be read: one each),
//     not-a-rule (no detection, not a map), bad-detection (the shape of a selection), bad-condition,
//     unknown-modifier, bad-modifier (a modifier that does not fit the value or the chain), bad-value (a
//     value a modifier cannot take: a bad network, a non-number for lt/gt ...), unknown-placeholder,
//     bad-correlation (the shape of a correlation document: type, rules, timespan, condition ...),
//     correlation-unsupported (the metric types value_sum, value_avg, value_percentile), bad-filter (the
//     shape of a filter document), bad-rule (any other shape yaml-cpp refuses to convert)
//   warnings, the rule still loads: warning-no-id, warning-no-logsource, warning-timeframe
//   apply_filters: warning-filter-unknown-rule (a filter names no loaded rule), warning-filter-logsource (the
//     named rule's log source is not the filter's: not applied), warning-filter-keeps (a filter condition
//     without 'not' keeps only the events it selects)
// Value conventions of the produced rules (see ValueTest): a keyword (empty field) is searched for inside the
// event's values, so its plain text becomes Contains; a cidr network always carries its prefix length
// ("192.168.1.7" becomes "192.168.1.7/32"); base64offset forms are Contains.
struct RuleLoad {
  std::vector<Rule> rules;
  std::vector<Correlation> correlations;  // correlation documents, references unresolved (see stateful.h)
  std::vector<RuleFilter> filters;        // filter documents, not yet applied (see apply_filters)
  std::vector<Diagnostic>
      diagnostics;     // one per skipped rule (reason set), plus warnings with reason "warning-*"
  size_t skipped = 0;  // rules (documents) that could not be compiled
};

// Applies the Sigma filters of `load` to its rules: for each rule a filter names (by id or name) whose log
// source fits the filter's (every key the filter sets is equal, without regard to case), the filter's
// selections join the rule's and its condition is AND-ed to the rule's, the way the reference implementation
// does it: filters exclude events by saying "not ..." in their condition. Call once, after every path is
// loaded (a filter may name rules of other files). Problems are warnings in load.diagnostics.
void apply_filters(RuleLoad& load);

// Parses the Sigma rules in `text` (one file, possibly several YAML documents) and appends them to `out`.
// A document that fails is skipped with one diagnostic naming file and line; the others still load.
// `placeholders` resolves the 'expand' modifier.
void load_sigma_text(const std::string& file, std::string_view text, const FieldMapping& mapping,
                     RuleLoad& out);

// Loads a file, or every *.yml / *.yaml below a directory (sorted by path, so the order is stable).
void load_sigma_path(const std::string& path, const FieldMapping& mapping, RuleLoad& out);
// Loads the given Sigma files (as found below a directory by list_files).
void load_sigma_files(const std::vector<std::string>& files, const FieldMapping& mapping, RuleLoad& out);
// A *.yml or *.yaml name (in any case): what a directory is searched for.
bool is_sigma_rule_file(const std::string& path);
// Each directory a walk could not read is a skipped-rule diagnostic (read-error): its rules are missing, which
// --strict and `rules check` must not let pass.
void note_unreadable_directories(const DirectoryListing& listing, RuleLoad& out);
// The status of a rule path (Sigma or Sagan) in `status`; false, with a counted read-error diagnostic, when it
// cannot be read or does not exist.
bool rule_path_status(const std::string& path, std::filesystem::file_status& status, RuleLoad& out);

// Reads config/mappings.yml (see that file for its format). Errors name the file and line.
Expected<FieldMapping> load_field_mapping(const std::string& path);
Expected<FieldMapping> parse_field_mapping(const std::string& file, std::string_view text);

}  // namespace socd
