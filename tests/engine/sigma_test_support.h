// Helpers for the Sigma front-end tests: load rule text through the public API and look at what came out.
#pragma once
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <string_view>

#include "socd/sigma.h"

namespace socd::test {

inline RuleLoad load_rules_text(std::string_view text, const FieldMapping& mapping = {},
                                const std::string& file = "rule.yml") {
  RuleLoad out;
  load_sigma_text(file, text, mapping, out);
  return out;
}

// A rule whose detection has one selection named "selection" made of `items` (lines of the selection map,
// written without indentation; a line may itself be indented further for lists) and `condition`.
// The selection starts on line 9 of the rule text, so its first item is on line 9.
inline std::string rule_text(std::string_view items, std::string_view condition = "selection") {
  std::ostringstream out;
  out << "title: Test rule\n"
         "id: 00000000-0000-0000-0000-000000000001\n"
         "status: test\n"
         "level: high\n"
         "logsource:\n"
         "    product: windows\n"
         "detection:\n"
         "    selection:\n";
  std::istringstream lines{std::string(items)};
  for (std::string line; std::getline(lines, line);) out << "        " << line << "\n";
  out << "    condition: " << condition << "\n";
  return out.str();
}

// The checks of the first alternative of the one selection of a rule built by rule_text(); fails the test
// when the rule did not load.
inline Conjunction checks_of(std::string_view items, const FieldMapping& mapping = {}) {
  RuleLoad load = load_rules_text(rule_text(items), mapping);
  if (load.rules.size() != 1) {
    std::string why;
    for (const auto& d : load.diagnostics) why += d.to_string() + "\n";
    ADD_FAILURE() << "rule did not load:\n" << why << "for items:\n" << items;
    return {};
  }
  const Rule& rule = load.rules[0];
  if (rule.selections.empty() || rule.selections[0].alternatives.empty()) {
    ADD_FAILURE() << "rule has no selection";
    return {};
  }
  return rule.selections[0].alternatives[0];
}

// The single value test of a selection with one item holding one value.
inline ValueTest test_of(std::string_view item, const FieldMapping& mapping = {}) {
  Conjunction c = checks_of(item, mapping);
  if (c.size() != 1 || c[0].values.size() != 1) {
    ADD_FAILURE() << "expected one check with one value for: " << item;
    return {};
  }
  return c[0].values[0];
}

// The one diagnostic of a rule that must be skipped.
inline Diagnostic skip_reason(std::string_view text, const FieldMapping& mapping = {}) {
  RuleLoad load = load_rules_text(text, mapping);
  EXPECT_TRUE(load.rules.empty()) << "the rule loaded although it should have been skipped";
  EXPECT_EQ(load.skipped, 1u);
  if (load.diagnostics.empty()) {
    ADD_FAILURE() << "no diagnostic";
    return {};
  }
  return load.diagnostics[0];
}

}  // namespace socd::test
