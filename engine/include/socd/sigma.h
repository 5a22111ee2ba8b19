// The Sigma front end: YAML rule files to Rule values, and config/mappings.yml to a FieldMapping.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"
#include "socd/status.h"

namespace socd {

struct RuleLoad {
  std::vector<Rule> rules;
  std::vector<Diagnostic> diagnostics;  // one per skipped rule (reason set), plus warnings with reason "warning-*"
  size_t skipped = 0;                   // rules (documents) that could not be compiled
};

// Parses the Sigma rules in `text` (one file, possibly several YAML documents) and appends them to `out`.
// A document that fails is skipped with one diagnostic naming file and line; the others still load.
// `placeholders` resolves the 'expand' modifier.
void load_sigma_text(const std::string& file, std::string_view text, const FieldMapping& mapping, RuleLoad& out);

// Loads a file, or every *.yml / *.yaml below a directory (sorted by path, so the order is stable).
void load_sigma_path(const std::string& path, const FieldMapping& mapping, RuleLoad& out);

// Reads config/mappings.yml (see that file for its format). Errors name the file and line.
Expected<FieldMapping> load_field_mapping(const std::string& path);
Expected<FieldMapping> parse_field_mapping(const std::string& file, std::string_view text);

}  // namespace socd
