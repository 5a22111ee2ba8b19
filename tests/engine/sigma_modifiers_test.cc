// Every modifier of the Sigma modifiers appendix, chained in the order given, and their errors.
#include <gtest/gtest.h>

#include <algorithm>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

using Op = ValueTest::Op;

std::vector<std::string> texts(const FieldCheck& c) {
  std::vector<std::string> out;
  for (const auto& v : c.values) out.push_back(v.text);
  return out;
}

TEST(SigmaModifiers, ContainsStartsWithEndsWith) {
  ValueTest t = test_of("CommandLine|contains: 'abc'");
  EXPECT_EQ(t.op, Op::Contains);
  EXPECT_EQ(t.text, "abc");
  t = test_of("Image|startswith: 'C:\\Windows\\'");
  EXPECT_EQ(t.op, Op::StartsWith);
  EXPECT_EQ(t.text, "C:\\Windows\\");
  t = test_of("Image|endswith: '\\cmd.exe'");
  EXPECT_EQ(t.op, Op::EndsWith);
  EXPECT_EQ(t.text, "\\cmd.exe");
}

TEST(SigmaModifiers, ContainsWithInnerWildcardIsGlob) {
  ValueTest t = test_of("CommandLine|contains: 'a*b'");
  EXPECT_EQ(t.op, Op::Glob);
  EXPECT_EQ(t.text, "*a*b*");
  t = test_of("CommandLine|endswith: 'x?.exe'");
  EXPECT_EQ(t.op, Op::Glob);
  EXPECT_EQ(t.text, "*x?.exe");
  // A star the value already has at that end is not doubled.
  t = test_of("CommandLine|contains: '*abc'");
  EXPECT_EQ(t.op, Op::Contains);
  EXPECT_EQ(t.text, "abc");
  // An escaped star stays a literal character inside the contains value.
  t = test_of("CommandLine|contains: 'select \\*'");
  EXPECT_EQ(t.op, Op::Contains);
  EXPECT_EQ(t.text, "select *");
}

TEST(SigmaModifiers, StartsWithOnNumberUsesItsText) {
  ValueTest t = test_of("EventID|startswith: 46");
  EXPECT_EQ(t.op, Op::StartsWith);
  EXPECT_EQ(t.text, "46");
}

TEST(SigmaModifiers, AllAndsTheValues) {
  Conjunction c = checks_of("CommandLine|contains|all:\n    - 'a'\n    - 'b'");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].all);
  EXPECT_EQ(texts(c[0]), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c[0].values[0].op, Op::Contains);
}

TEST(SigmaModifiers, ExistsTrueAndFalse) {
  ValueTest t = test_of("PasswordLastSet|exists: true");
  EXPECT_EQ(t.op, Op::Exists);
  EXPECT_TRUE(t.expect_exists);
  t = test_of("PasswordLastSet|exists: false");
  EXPECT_EQ(t.op, Op::Exists);
  EXPECT_FALSE(t.expect_exists);
  Diagnostic d = skip_reason(rule_text("PasswordLastSet|exists: maybe"));
  EXPECT_EQ(d.reason, "bad-value");
  EXPECT_EQ(d.line, 9);
}

TEST(SigmaModifiers, CasedMakesComparisonsCaseSensitive) {
  ValueTest t = test_of("CommandLine|contains|cased: 'AbC'");
  EXPECT_TRUE(t.cased);
  EXPECT_EQ(t.op, Op::Contains);
  EXPECT_EQ(t.text, "AbC");
}

TEST(SigmaModifiers, NeqNegatesTheCheck) {
  Conjunction c = checks_of("User|neq:\n    - 'SYSTEM'\n    - 'LOCAL SERVICE'");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].negate);
  EXPECT_FALSE(c[0].all);
  EXPECT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[0].op, Op::Equals);
}

TEST(SigmaModifiers, WindashGivesEveryDashVariant) {
  Conjunction c = checks_of("CommandLine|contains|windash: '-enc '");
  ASSERT_EQ(c.size(), 1u);
  std::vector<std::string> got = texts(c[0]);
  std::vector<std::string> want{"-enc ", "/enc ",
                                "\xE2\x80\x93"
                                "enc ",
                                "\xE2\x80\x94"
                                "enc ",
                                "\xE2\x80\x95"
                                "enc "};
  EXPECT_EQ(got, want);
  for (const auto& v : c[0].values) EXPECT_EQ(v.op, Op::Contains);
}

TEST(SigmaModifiers, WindashPermutesEveryDash) {
  Conjunction c = checks_of("CommandLine|windash|contains: '-a -b'");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].values.size(), 25u);
  std::vector<std::string> got = texts(c[0]);
  EXPECT_NE(std::find(got.begin(), got.end(), "/a -b"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(), "-a /b"), got.end());
  EXPECT_NE(std::find(got.begin(), got.end(),
                      "/a \xE2\x80\x94"
                      "b"),
            got.end());
  // A value without a dash stays as it is.
  ValueTest t = test_of("CommandLine|windash: 'abc'");
  EXPECT_EQ(t.text, "abc");
}

TEST(SigmaModifiers, WindashWithAllKeepsAllPerWrittenValue) {
  // (-a or /a ...) and (-b or /b ...): one check per written value.
  Conjunction c = checks_of("CommandLine|contains|all|windash:\n    - '-a'\n    - '-b'");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_FALSE(c[0].all);
  EXPECT_EQ(c[0].values.size(), 5u);
  EXPECT_EQ(c[1].values.size(), 5u);
  EXPECT_EQ(c[0].values[1].text, "/a");
  EXPECT_EQ(c[1].values[1].text, "/b");
}

TEST(SigmaModifiers, RegexWithFlags) {
  ValueTest t = test_of("CommandLine|re: '^a.*\\d+$'");
  EXPECT_EQ(t.op, Op::Regex);
  EXPECT_EQ(t.text, "^a.*\\d+$");  // the pattern as written, no Sigma escape processing
  EXPECT_EQ(t.regex_flags, "");
  t = test_of("CommandLine|re|i: 'abc'");
  EXPECT_EQ(t.regex_flags, "i");
  t = test_of("CommandLine|re|i|m|s: 'abc'");
  EXPECT_EQ(t.regex_flags, "ims");
  Diagnostic d = skip_reason(rule_text("CommandLine|i: 'abc'"));
  EXPECT_EQ(d.reason, "bad-modifier");
  EXPECT_NE(d.message.find("|re|i"), std::string::npos) << d.message;
  d = skip_reason(rule_text("CommandLine|contains|re: 'abc'"));
  EXPECT_EQ(d.reason, "bad-modifier");
}

TEST(SigmaModifiers, Base64) {
  ValueTest t = test_of("CommandLine|base64: 'abc'");
  EXPECT_EQ(t.op, Op::Equals);
  EXPECT_EQ(t.text, "YWJj");
  t = test_of("CommandLine|base64|contains: 'http://'");
  EXPECT_EQ(t.op, Op::Contains);
  EXPECT_EQ(t.text, "aHR0cDovLw==");
  Diagnostic d = skip_reason(rule_text("CommandLine|base64: 'a*b'"));
  EXPECT_EQ(d.reason, "bad-value");
}

TEST(SigmaModifiers, Base64OffsetGivesThreeShiftedFormsMatchedAsContains) {
  // "Add-MpPreference " at offsets 0, 1 and 2 of a base64 text, without the unstable edge characters.
  Conjunction c = checks_of("CommandLine|base64offset|contains: 'Add-MpPreference '");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(texts(c[0]), (std::vector<std::string>{"QWRkLU1wUHJlZmVyZW5jZS", "FkZC1NcFByZWZlcmVuY2Ug",
                                                   "BZGQtTXBQcmVmZXJlbmNlI"}));
  for (const auto& v : c[0].values) EXPECT_EQ(v.op, Op::Contains);
  // Without 'contains' the forms are still searched inside the value.
  Conjunction plain = checks_of("CommandLine|base64offset: 'abc'");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(texts(plain[0]), (std::vector<std::string>{"YWJj", "FiY", "hYm"}));
  for (const auto& v : plain[0].values) EXPECT_EQ(v.op, Op::Contains);
}

TEST(SigmaModifiers, Utf16Encodings) {
  ValueTest t = test_of("Data|utf16le: 'cmd'");
  EXPECT_EQ(t.text, std::string("c\0m\0d\0", 6));
  t = test_of("Data|wide: 'cmd'");
  EXPECT_EQ(t.text, std::string("c\0m\0d\0", 6));
  t = test_of("Data|utf16be: 'cmd'");
  EXPECT_EQ(t.text, std::string("\0c\0m\0d", 6));
  t = test_of("Data|utf16: 'cmd'");
  EXPECT_EQ(t.text, std::string("\xFF\xFE"
                                "c\0m\0d\0",
                                8));
  // Non-ASCII: e-acute is U+00E9.
  t = test_of("Data|utf16le: '\xC3\xA9'");
  EXPECT_EQ(t.text, std::string("\xE9\0", 2));
}

TEST(SigmaModifiers, WideThenBase64) {
  ValueTest t = test_of("CommandLine|wide|base64: 'cmd'");
  EXPECT_EQ(t.text, "YwBtAGQA");
  Conjunction c = checks_of("CommandLine|wide|base64offset|contains: 'ping'");
  ASSERT_EQ(c.size(), 1u);
  ASSERT_EQ(c[0].values.size(), 3u);
  EXPECT_EQ(c[0].values[0].text, "cABpAG4AZw");  // base64("p\0i\0n\0g\0") = cABpAG4AZwA=
}

TEST(SigmaModifiers, NumericComparisons) {
  struct Case {
    const char* item;
    Op op;
    double number;
  } cases[] = {{"Count|lt: 5", Op::Lt, 5},
               {"Count|lte: 5.5", Op::Lte, 5.5},
               {"Count|gt: -2", Op::Gt, -2},
               {"Count|gte: '10'", Op::Gte, 10},
               {"Count|gt: 0x10", Op::Gt, 16}};
  for (const auto& c : cases) {
    ValueTest t = test_of(c.item);
    EXPECT_EQ(t.op, c.op) << c.item;
    EXPECT_DOUBLE_EQ(t.number, c.number) << c.item;
    EXPECT_EQ(t.time_part, TimePart::None) << c.item;
  }
  Diagnostic d = skip_reason(rule_text("Count|gt: many"));
  EXPECT_EQ(d.reason, "bad-value");
}

TEST(SigmaModifiers, TimeParts) {
  struct Case {
    const char* item;
    TimePart part;
  } cases[] = {{"T|minute: 30", TimePart::Minute}, {"T|hour: 3", TimePart::Hour},
               {"T|day: 1", TimePart::Day},        {"T|week: 52", TimePart::Week},
               {"T|month: 12", TimePart::Month},   {"T|year: 2024", TimePart::Year}};
  for (const auto& c : cases) {
    ValueTest t = test_of(c.item);
    EXPECT_EQ(t.op, Op::Equals) << c.item;
    EXPECT_EQ(t.time_part, c.part) << c.item;
  }
  ValueTest t = test_of("T|hour|gte: 22");
  EXPECT_EQ(t.op, Op::Gte);
  EXPECT_EQ(t.time_part, TimePart::Hour);
  EXPECT_DOUBLE_EQ(t.number, 22);
  t = test_of("T|lt|hour: 6");  // either order
  EXPECT_EQ(t.op, Op::Lt);
  EXPECT_EQ(t.time_part, TimePart::Hour);
  EXPECT_DOUBLE_EQ(t.number, 6);
  t = test_of("T|month: 7");
  EXPECT_DOUBLE_EQ(t.number, 7);
  Diagnostic d = skip_reason(rule_text("T|hour: night"));
  EXPECT_EQ(d.reason, "bad-value");
}

TEST(SigmaModifiers, Cidr) {
  ValueTest t = test_of("DestinationIp|cidr: '10.0.0.0/8'");
  EXPECT_EQ(t.op, Op::Cidr);
  EXPECT_EQ(t.text, "10.0.0.0/8");
  EXPECT_EQ(test_of("DestinationIp|cidr: 'fe80::/10'").text, "fe80::/10");
  EXPECT_EQ(test_of("DestinationIp|cidr: '::1/128'").text, "::1/128");
  EXPECT_EQ(test_of("DestinationIp|cidr: '192.168.1.7'").text, "192.168.1.7/32");  // a host
  for (const char* bad : {"'10.0.0.0/33'", "'10.0.0/8'", "'300.1.1.1/8'", "'fe80::/129'", "'abc'",
                          "'10.0.0.0/'", "'10.0.0.0/x'", "'fe80:::1/64'"}) {
    Diagnostic d = skip_reason(rule_text(std::string("DestinationIp|cidr: ") + bad));
    EXPECT_EQ(d.reason, "bad-value") << bad;
    EXPECT_EQ(d.line, 9) << bad;
  }
}

TEST(SigmaModifiers, ExpandReplacesPlaceholdersWithEveryValue) {
  FieldMapping m;
  m.placeholders["Admins"] = {"root", "adm*"};
  Conjunction c = checks_of("User|expand: '%Admins%'", m);
  ASSERT_EQ(c.size(), 1u);
  ASSERT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[0].op, Op::Equals);
  EXPECT_EQ(c[0].values[0].text, "root");
  EXPECT_EQ(c[0].values[1].op, Op::StartsWith);  // placeholder values are Sigma strings
  EXPECT_EQ(c[0].values[1].text, "adm");
  c = checks_of("Attributes|contains|expand: 'cdc:%Admins%'", m);
  ASSERT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[0].op, Op::Contains);
  EXPECT_EQ(c[0].values[0].text, "cdc:root");
  EXPECT_EQ(c[0].values[1].op, Op::Contains);  // "*cdc:adm**": the stars meet at the end
  EXPECT_EQ(c[0].values[1].text, "cdc:adm");
  c = checks_of("Attributes|expand: '%Admins%@corp'", m);
  ASSERT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[1].op, Op::Glob);
  EXPECT_EQ(c[0].values[1].text, "adm*@corp");
  // A backslash makes a plain percent sign.
  c = checks_of("Path|expand: '\\%plain%Admins%'", m);
  ASSERT_EQ(c[0].values.size(), 2u);
  EXPECT_EQ(c[0].values[0].text, "%plainroot");
  // Without 'expand' a placeholder is plain text.
  EXPECT_EQ(test_of("User: '%Admins%'", m).text, "%Admins%");
}

TEST(SigmaModifiers, UnknownPlaceholderSkipsTheRule) {
  Diagnostic d = skip_reason(rule_text("User|expand: '%Nobody%'"));
  EXPECT_EQ(d.reason, "unknown-placeholder");
  EXPECT_EQ(d.line, 9);
  EXPECT_NE(d.message.find("%Nobody%"), std::string::npos) << d.message;
}

TEST(SigmaModifiers, FieldRef) {
  ValueTest t = test_of("Image|fieldref: ParentImage");
  EXPECT_EQ(t.op, Op::FieldRef);
  EXPECT_EQ(t.text, "ParentImage");
  EXPECT_EQ(t.ref_op, Op::Equals);
  EXPECT_EQ(test_of("Image|fieldref|endswith: ParentImage").ref_op, Op::EndsWith);
  EXPECT_EQ(test_of("Image|fieldref|startswith: ParentImage").ref_op, Op::StartsWith);
  EXPECT_EQ(test_of("Image|fieldref|contains: ParentImage").ref_op, Op::Contains);
  EXPECT_EQ(test_of("Image|contains|fieldref: ParentImage").ref_op, Op::Contains);
  Conjunction c = checks_of("Image|fieldref|neq: ParentImage");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].negate);
}

TEST(SigmaModifiers, UnknownModifierNamesFileLineAndSuggests) {
  Diagnostic d = skip_reason(rule_text("EventID: 1\nCommandLine|contain: 'x'"));
  EXPECT_EQ(d.reason, "unknown-modifier");
  EXPECT_EQ(d.file, "rule.yml");
  EXPECT_EQ(d.line, 10);
  EXPECT_EQ(d.to_string().rfind("rule.yml:10: unknown modifier 'contain'", 0), 0u) << d.to_string();
  EXPECT_NE(d.message.find("'contains'"), std::string::npos) << d.message;
  d = skip_reason(rule_text("CommandLine|frobnicate: 'x'"));
  EXPECT_EQ(d.reason, "unknown-modifier");
}

TEST(SigmaModifiers, ModifierOnWrongTypeIsRejected) {
  Diagnostic d = skip_reason(rule_text("Field|contains: null"));
  EXPECT_EQ(d.reason, "bad-modifier");
  d = skip_reason(rule_text("Field|cidr|contains: '10.0.0.0/8'"));
  EXPECT_EQ(d.reason, "bad-modifier");
}

TEST(SigmaModifiers, NullKeepsNeq) {
  Conjunction c = checks_of("Field|neq: null");
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].negate);
  EXPECT_EQ(c[0].values[0].op, Op::Null);
}

}  // namespace
}  // namespace socd::test
