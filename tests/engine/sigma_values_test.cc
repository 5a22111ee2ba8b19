// Sigma values: wildcards, the escape rules of the specification, YAML scalar types, keywords and selections.
#include <gtest/gtest.h>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

using Op = ValueTest::Op;

void expect_test(std::string_view item, Op op, std::string_view text) {
  ValueTest t = test_of(item);
  EXPECT_EQ(t.op, op) << item;
  EXPECT_EQ(t.text, text) << item;
}

TEST(SigmaValues, PlainStringIsEquals) {
  expect_test(R"(Image: 'C:\Windows\System32\whoami.exe')", Op::Equals, R"(C:\Windows\System32\whoami.exe)");
  expect_test("User: SYSTEM", Op::Equals, "SYSTEM");
}

TEST(SigmaValues, StarsAtTheEndsBecomeContainsStartsEndsWith) {
  expect_test(R"(Image: '*\cmd.exe')", Op::EndsWith, R"(\cmd.exe)");
  expect_test("Image: 'cmd*'", Op::StartsWith, "cmd");
  expect_test("CommandLine: '*-enc *'", Op::Contains, "-enc ");
  expect_test("CommandLine: '**abc**'", Op::Contains, "abc");  // repeated stars count once
}

TEST(SigmaValues, InnerWildcardsBecomeGlob) {
  expect_test("Image: 'a*b'", Op::Glob, "a*b");
  expect_test("Image: 'prog?.exe'", Op::Glob, "prog?.exe");
  expect_test("Image: '*a?b*'", Op::Glob, "*a?b*");
  expect_test("Image: '*'", Op::Glob, "*");  // anything
}

TEST(SigmaValues, GlobEscapesLiteralStarQuestionAndBackslash) {
  // '\*' is a literal star; literal backslashes are doubled in the glob text.
  expect_test(R"(F: '*a\*b*c')", Op::Glob, R"(*a\*b*c)");
  expect_test(R"(F: 'C:\Temp\x*.exe?')", Op::Glob, R"(C:\\Temp\\x*.exe?)");
  // A backslash right before a star escapes it, also after a path separator: 'C:\Temp\*' ends in a plain
  // star.
  expect_test(R"(F: 'C:\Temp\*')", Op::Equals, R"(C:\Temp*)");
  expect_test(R"(F: 'x\?y*z')", Op::Glob, R"(x\?y*z)");
}

// The cases of the specification's "Escape Character" section.
TEST(SigmaValues, EscapeCharacterRules) {
  expect_test(R"(F: 'C:\Windows\')", Op::Equals, R"(C:\Windows\)");  // plain backslash
  expect_test(R"(F: 'C:\\Windows')", Op::Equals, R"(C:\Windows)");   // double backslash: one backslash
  expect_test(R"(F: '\\example.exe')", Op::Equals, R"(\example.exe)");
  expect_test(R"(F: '\*literal')", Op::Equals, "*literal");  // escaped wildcard
  expect_test(R"(F: 'what\?')", Op::Equals, "what?");
  expect_test(R"(F: 'C:\\*')", Op::StartsWith, R"(C:\)");  // backslash, then a wildcard
  expect_test(R"(F: 'a\\\*')", Op::Equals, R"(a\*)");      // backslash and a plain star
  expect_test(R"(F: 'a\\\\b')", Op::Equals, R"(a\\b)");    // four: two backslashes
  expect_test(R"(F: 'a\\\b')", Op::Equals, R"(a\\b)");     // three before a plain char: two
}

TEST(SigmaValues, YamlScalarTypes) {
  expect_test("EventID: 4688", Op::Equals, "4688");
  expect_test("Version: 1.50", Op::Equals, "1.50");  // numbers keep their written form
  expect_test("Flags: 0x17", Op::Equals, "0x17");
  expect_test("Enabled: true", Op::Equals, "true");
  expect_test("Quoted: '12'", Op::Equals, "12");
  expect_test("Empty: ''", Op::Equals, "");
}

TEST(SigmaValues, NullForms) {
  EXPECT_EQ(test_of("PasswordLastSet: null").op, Op::Null);
  EXPECT_EQ(test_of("PasswordLastSet: ~").op, Op::Null);
  EXPECT_EQ(test_of("PasswordLastSet:").op, Op::Null);
  // A quoted 'null' is the text null.
  ValueTest t = test_of("PasswordLastSet: 'null'");
  EXPECT_EQ(t.op, Op::Equals);
  EXPECT_EQ(t.text, "null");
}

TEST(SigmaValues, ValuesAreCaseInsensitiveByDefault) { EXPECT_FALSE(test_of("Image: 'X'").cased); }

TEST(SigmaValues, ListOfValuesIsOneCheckOred) {
  Conjunction c = checks_of("EventID:\n    - 4624\n    - 4625");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].field, "EventID");
  EXPECT_FALSE(c[0].all);
  EXPECT_FALSE(c[0].negate);
  ASSERT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[0].text, "4624");
  EXPECT_EQ(c[0].values[1].text, "4625");
}

TEST(SigmaValues, MapIsConjunctionWithLines) {
  Conjunction c = checks_of("EventID: 1\nImage|endswith: '.exe'\nUser: x");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].field, "EventID");
  EXPECT_EQ(c[1].field, "Image");
  EXPECT_EQ(c[2].field, "User");
  EXPECT_EQ(c[0].line, 9);
  EXPECT_EQ(c[1].line, 10);
  EXPECT_EQ(c[2].line, 11);
}

TEST(SigmaValues, ListOfMapsIsAlternatives) {
  std::string text =
      "title: t\nlogsource: {product: windows}\ndetection:\n"
      "    selection:\n"
      "        - Image|endswith: '\\a.exe'\n"
      "        - OriginalFileName: 'a.exe'\n"
      "          Product: A\n"
      "    condition: selection\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  const Selection& s = load.rules[0].selections[0];
  EXPECT_EQ(s.name, "selection");
  ASSERT_EQ(s.alternatives.size(), 2u);
  EXPECT_EQ(s.alternatives[0].size(), 1u);
  EXPECT_EQ(s.alternatives[1].size(), 2u);
  EXPECT_EQ(s.alternatives[1][1].field, "Product");
}

TEST(SigmaValues, KeywordListIsOneKeywordCheckSearchedAsSubstrings) {
  std::string text =
      "title: t\nlogsource: {product: linux}\ndetection:\n"
      "    keywords:\n"
      "        - 'event::clear'\n"
      "        - 'foo*bar'\n"
      "        - 42\n"
      "    condition: keywords\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  const Selection& s = load.rules[0].selections[0];
  ASSERT_EQ(s.alternatives.size(), 1u);
  ASSERT_EQ(s.alternatives[0].size(), 1u);
  const FieldCheck& c = s.alternatives[0][0];
  EXPECT_EQ(c.field, "");
  EXPECT_EQ(c.line, 5);
  ASSERT_EQ(c.values.size(), 3u);
  EXPECT_EQ(c.values[0].op, Op::Contains);
  EXPECT_EQ(c.values[0].text, "event::clear");
  EXPECT_EQ(c.values[1].op, Op::Glob);
  EXPECT_EQ(c.values[1].text, "*foo*bar*");
  EXPECT_EQ(c.values[2].op, Op::Contains);
  EXPECT_EQ(c.values[2].text, "42");
}

TEST(SigmaValues, KeylessAllMapIsKeywordConjunction) {
  std::string text =
      "title: t\nlogsource: {product: linux}\ndetection:\n"
      "    keywords:\n"
      "        '|all':\n"
      "            - 'OabVirtualDirectory'\n"
      "            - ' -ExternalUrl '\n"
      "    condition: keywords\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  const FieldCheck& c = load.rules[0].selections[0].alternatives[0][0];
  EXPECT_EQ(c.field, "");
  EXPECT_TRUE(c.all);
  ASSERT_EQ(c.values.size(), 2u);
  EXPECT_EQ(c.values[1].op, Op::Contains);
  EXPECT_EQ(c.values[1].text, " -ExternalUrl ");
}

TEST(SigmaValues, SingleScalarSelectionIsAKeyword) {
  std::string text =
      "title: t\nlogsource: {product: linux}\ndetection:\n    kw: 'segfault'\n    condition: kw\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  const FieldCheck& c = load.rules[0].selections[0].alternatives[0][0];
  EXPECT_EQ(c.field, "");
  EXPECT_EQ(c.values[0].op, Op::Contains);
  EXPECT_EQ(c.values[0].text, "segfault");
}

TEST(SigmaValues, MixedListHasKeywordAndMapAlternatives) {
  std::string text =
      "title: t\nlogsource: {product: linux}\ndetection:\n"
      "    sel:\n"
      "        - 'needle'\n"
      "        - program: sshd\n"
      "    condition: sel\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  const Selection& s = load.rules[0].selections[0];
  ASSERT_EQ(s.alternatives.size(), 2u);
  EXPECT_EQ(s.alternatives[0][0].field, "");
  EXPECT_EQ(s.alternatives[1][0].field, "program");
}

TEST(SigmaValues, StructuralErrorsSkipTheRule) {
  Diagnostic d = skip_reason(rule_text("Image:\n    nested: map"));
  EXPECT_EQ(d.reason, "bad-detection");
  d = skip_reason(rule_text("Image: []"));
  EXPECT_EQ(d.reason, "bad-detection");
  EXPECT_EQ(d.line, 9);
  d = skip_reason(rule_text("Image: a\nImage: b"));
  EXPECT_EQ(d.reason, "bad-detection");
  EXPECT_EQ(d.line, 10);
  EXPECT_NE(d.message.find("twice"), std::string::npos) << d.message;
}

}  // namespace
}  // namespace socd::test
