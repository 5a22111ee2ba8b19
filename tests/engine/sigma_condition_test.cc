// The Sigma condition language: every form, the precedence of the specification, and its errors.
#include <gtest/gtest.h>

#include <sstream>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

// A rule with selections named `names` (each `Field: <name>`) and the given condition (or condition list).
std::string rule_with(const std::vector<std::string>& names, const std::string& condition_yaml) {
  std::ostringstream out;
  out << "title: t\nid: c\nlogsource: {product: windows}\ndetection:\n";
  for (const auto& n : names) out << "    " << n << ":\n        Field: " << n << "\n";
  out << "    condition: " << condition_yaml << "\n";
  return out.str();
}

// The condition tree as text: selection names, and(...), or(...), not(...).
std::string show(const Condition& c, const Rule& r) {
  switch (c.kind) {
    case Condition::Kind::Ref: return r.selections[c.selection].name;
    case Condition::Kind::Not: return "not(" + show(c.children[0], r) + ")";
    case Condition::Kind::True: return "true";
    case Condition::Kind::False: return "false";
    default: {
      std::string s = c.kind == Condition::Kind::And ? "and(" : "or(";
      for (size_t i = 0; i < c.children.size(); ++i) s += (i ? "," : "") + show(c.children[i], r);
      return s + ")";
    }
  }
}

std::string parsed(const std::vector<std::string>& names, const std::string& condition) {
  RuleLoad load = load_rules_text(rule_with(names, condition));
  if (load.rules.size() != 1) {
    std::string why;
    for (const auto& d : load.diagnostics) why += d.to_string();
    return "ERROR " + why;
  }
  return show(load.rules[0].condition, load.rules[0]);
}

const std::vector<std::string> kAbc{"a", "b", "c"};

TEST(SigmaCondition, SingleSelection) { EXPECT_EQ(parsed(kAbc, "a"), "a"); }

TEST(SigmaCondition, AndOrNot) {
  EXPECT_EQ(parsed(kAbc, "a and b"), "and(a,b)");
  EXPECT_EQ(parsed(kAbc, "a or b or c"), "or(a,b,c)");
  EXPECT_EQ(parsed(kAbc, "not a"), "not(a)");
  EXPECT_EQ(parsed(kAbc, "not not a"), "not(not(a))");
}

TEST(SigmaCondition, AndBindsTighterThanOr) {
  EXPECT_EQ(parsed(kAbc, "a or b and c"), "or(a,and(b,c))");
  EXPECT_EQ(parsed(kAbc, "a and b or c"), "or(and(a,b),c)");
}

TEST(SigmaCondition, NotBindsTighterThanAnd) {
  EXPECT_EQ(parsed(kAbc, "not a and b"), "and(not(a),b)");
  EXPECT_EQ(parsed(kAbc, "a and not b or c"), "or(and(a,not(b)),c)");
}

TEST(SigmaCondition, Parentheses) {
  EXPECT_EQ(parsed(kAbc, "(a or b) and c"), "and(or(a,b),c)");
  EXPECT_EQ(parsed(kAbc, "not (a or b)"), "not(or(a,b))");
  EXPECT_EQ(parsed(kAbc, "((a))"), "a");
  EXPECT_EQ(parsed(kAbc, "a and(b or c)"), "and(a,or(b,c))");  // no space needed around parentheses
}

TEST(SigmaCondition, OneOfAndAllOfPatterns) {
  std::vector<std::string> names{"selection_img", "selection_cli", "filter_main_a", "filter_main_b", "other"};
  EXPECT_EQ(parsed(names, "1 of selection_*"), "or(selection_img,selection_cli)");
  EXPECT_EQ(parsed(names, "all of selection_*"), "and(selection_img,selection_cli)");
  EXPECT_EQ(parsed(names, "all of selection_* and not 1 of filter_main_*"),
            "and(and(selection_img,selection_cli),not(or(filter_main_a,filter_main_b)))");
  EXPECT_EQ(parsed(names, "1 of other"), "other");        // one match: the selection itself
  EXPECT_EQ(parsed(names, "1 of *_a"), "filter_main_a");  // a star anywhere in the pattern
  EXPECT_EQ(parsed(names, "1 of s*n_*i*"), "or(selection_img,selection_cli)");
  EXPECT_EQ(parsed(names, "any of filter*"), "or(filter_main_a,filter_main_b)");  // 'any' reads as '1'
}

TEST(SigmaCondition, XOfBindsTighterThanNot) {
  std::vector<std::string> names{"sel", "f1", "f2"};
  EXPECT_EQ(parsed(names, "sel and not 1 of f*"), "and(sel,not(or(f1,f2)))");
}

TEST(SigmaCondition, ThemLeavesOutUnderscoreNames) {
  std::vector<std::string> names{"a", "_hidden", "b"};
  EXPECT_EQ(parsed(names, "1 of them"), "or(a,b)");
  EXPECT_EQ(parsed(names, "all of them"), "and(a,b)");
  EXPECT_EQ(parsed(names, "1 of _*"), "_hidden");  // an explicit pattern still reaches them
}

TEST(SigmaCondition, KeywordsIgnoreCase) {
  EXPECT_EQ(parsed(kAbc, "a AND NOT b Or c"), "or(and(a,not(b)),c)");
}

TEST(SigmaCondition, ListOfConditionsIsOr) {
  std::string text = rule_with(kAbc, "\n        - a and b\n        - c");
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(show(load.rules[0].condition, load.rules[0]), "or(and(a,b),c)");
}

TEST(SigmaCondition, SelectionIndexesFollowTheDetectionOrder) {
  RuleLoad load = load_rules_text(rule_with({"zeta", "alpha"}, "alpha and zeta"));
  ASSERT_EQ(load.rules.size(), 1u);
  const Rule& r = load.rules[0];
  ASSERT_EQ(r.selections.size(), 2u);
  EXPECT_EQ(r.selections[0].name, "zeta");
  EXPECT_EQ(r.condition.children[0].selection, 1);
  EXPECT_EQ(r.condition.children[1].selection, 0);
}

void expect_bad(const std::vector<std::string>& names, const std::string& condition,
                const std::string& hint) {
  std::string text = rule_with(names, condition);
  Diagnostic d = skip_reason(text);
  EXPECT_EQ(d.reason, "bad-condition") << condition;
  // The condition is the last line of the rule.
  int last_line = 0;
  for (char c : text) last_line += c == '\n';
  EXPECT_EQ(d.line, last_line) << condition;
  EXPECT_NE(d.message.find(hint), std::string::npos) << condition << " -> " << d.message;
}

TEST(SigmaCondition, ErrorsSkipTheRuleWithLineAndReason) {
  expect_bad(kAbc, "a and d", "'d' is not a selection");
  expect_bad(kAbc, "a and", "ends where");
  expect_bad(kAbc, "a b", "expected 'and', 'or'");
  expect_bad(kAbc, "(a or b", "never closed");
  expect_bad(kAbc, "a or b)", "unbalanced");
  expect_bad(kAbc, "1 of x*", "matches no selection");
  expect_bad(kAbc, "2 of a*", "only '1 of' and 'all of'");
  expect_bad(kAbc, "a*", "needs '1 of'");
  expect_bad(kAbc, "a | count() > 5", "correlation");
  expect_bad(kAbc, "and a", "expected a selection name");
  expect_bad(kAbc, "1 of", "needs 'them'");
  expect_bad(kAbc, "''", "empty");
}

TEST(SigmaCondition, MissingConditionIsBadCondition) {
  Diagnostic d = skip_reason("title: t\nlogsource: {product: windows}\ndetection:\n    a:\n        F: x\n");
  EXPECT_EQ(d.reason, "bad-condition");
  EXPECT_EQ(d.line, 3);
}

}  // namespace
}  // namespace socd::test
