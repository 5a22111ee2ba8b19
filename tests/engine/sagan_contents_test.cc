// Matching Sagan content/pcre sequences (ValueTest::Op::Contents) through the whole path: rule text, RuleSet
// (Hyperscan prefilter on and off) and Matcher, on syslog lines. The positional modifiers follow Snort's
// definitions, which Sagan's documentation adopts.
#include <gtest/gtest.h>

#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/sagan.h"

namespace socd {
namespace {

struct Case {
  const char* options;  // between the parentheses, without sid
  const char* message;  // the syslog message
  bool fires;
};

// Compiles one rule and matches one message, with the prefilter on or off.
bool fires(const std::string& options, const std::string& message, bool prefilter,
           const std::string& program = "sshd", std::string* problem = nullptr) {
  RuleLoad load;
  load_sagan_text("case.rules", "alert any $EXTERNAL_NET any -> $HOME_NET any (" + options + " sid:1;)\n",
                  SaganVariables::defaults(), load);
  if (load.rules.size() != 1) {
    if (problem) *problem = load.diagnostics.empty() ? "no rule" : load.diagnostics[0].to_string();
    return false;
  }
  std::vector<Diagnostic> diags;
  CompileOptions copts;
  copts.prefilter = prefilter;
  auto set = RuleSet::compile(std::move(load.rules), FieldMapping{}, copts, diags);
  if (set->size() != 1) {
    if (problem) *problem = diags.empty() ? "not compiled" : diags[0].to_string();
    return false;
  }
  Event ev(&set->paths());
  EventParser parser(InputFormat::Syslog);
  std::string line = "<38>Nov 22 10:00:01 host1 " + program + "[42]: " + message;
  if (!parser.parse(line, ev).ok()) {
    if (problem) *problem = "line not parsed";
    return false;
  }
  Matcher m(set);
  std::vector<uint32_t> matched;
  m.match(ev, matched);
  return !matched.empty();
}

void check(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    for (bool prefilter : {true, false}) {
      std::string problem;
      bool got = fires(c.options, c.message, prefilter, "sshd", &problem);
      EXPECT_TRUE(problem.empty()) << c.options << ": " << problem;
      EXPECT_EQ(got, c.fires) << "options: " << c.options << "\nmessage: '" << c.message
                              << "'\nprefilter: " << prefilter;
    }
  }
}

TEST(SaganContents, AbsolutePositions) {
  check({
      {"content:\"abc\";", "xxabcxx", true},
      {"content:\"abc\";", "ab c", false},
      {"content:\"abc\"; offset: 2;", "xxabc", true},
      {"content:\"abc\"; offset: 2;", "xabc", false},
      {"content:\"abc\"; offset: 2;", "abcabc", true},  // the second occurrence starts at 3
      {"content:\"abc\"; depth: 3;", "abc", true},      // ends exactly at the depth
      {"content:\"abc\"; depth: 3;", "xabc", false},
      {"content:\"abc\"; depth: 4;", "xabc", true},
      {"content:\"abc\"; offset: 1; depth: 3;", "xabc", true},
      {"content:\"abc\"; offset: 1; depth: 3;", "xxabc", false},
      {"content:\"abc\"; offset: 10;", "abc", false},          // offset past the end
      {"content:\"xyz\"; content:\"abc\";", "abc xyz", true},  // without distance/within, order is free
  });
}

TEST(SaganContents, RelativePositions) {
  check({
      // distance: skip N bytes after the previous match
      {"content:\"abc\"; content:\"xyz\"; distance: 2;", "abc  xyz", true},
      {"content:\"abc\"; content:\"xyz\"; distance: 2;", "abc xyz", false},
      {"content:\"abc\"; content:\"xyz\"; distance: 2;", "abcxyz", false},
      {"content:\"abc\"; content:\"xyz\"; distance: 0;", "xyz abc", false},  // must follow
      {"content:\"abc\"; content:\"xyz\"; distance: 0;", "abcxyz", true},
      // within: the match must end within N bytes of the previous match
      {"content:\"abc\"; content:\"xyz\"; within: 4;", "abc xyz", true},
      {"content:\"abc\"; content:\"xyz\"; within: 4;", "abc  xyz", false},
      // both: [end + distance, end + distance + within)
      {"content:\"abc\"; content:\"xyz\"; distance: 1; within: 3;", "abc xyz", true},
      {"content:\"abc\"; content:\"xyz\"; distance: 1; within: 3;", "abcxyz", false},
      {"content:\"abc\"; content:\"xyz\"; distance: 1; within: 3;", "abc  xyz", false},
      // the documentation's example: GET in the first 3 bytes, downloads 10 bytes on, within 9
      {"content:\"GET\"; depth:3; content:\"downloads\"; distance:10; within:9;", "GET /content/downloads",
       true},
      {"content:\"GET\"; depth:3; content:\"downloads\"; distance:10; within:9;", "GET /download", false},
      // a relative content with no content before it counts from the start
      {"content:\"abc\"; distance: 1;", "xabc", true},
      {"content:\"abc\"; distance: 1;", "abc", false},
      // a later occurrence of an earlier content is tried when the relative one fails there
      {"content:\"a\"; content:\"b\"; distance: 0; within: 1;", "a-a-ab", true},
      {"content:\"a\"; content:\"b\"; distance: 0; within: 1;", "a-a-a-b", false},
      {"content:\"k=\"; content:\"v\"; within: 2; content:\"end\"; distance: 0;", "k=x k=v end", true},
      {"content:\"k=\"; content:\"v\"; within: 2; content:\"end\"; distance: 0;", "k=x k=v", false},
  });
}

TEST(SaganContents, Negation) {
  check({
      {"content:\"abc\"; content:!\"zzz\";", "abc", true},
      {"content:\"abc\"; content:!\"zzz\";", "abc zzz", false},
      {"content:!\"zzz\"; content:\"abc\";", "zzz abc", false},
      // negated and relative: not right after the previous match; the cursor stays where it was
      {"content:\"abc\"; content:!\"x\"; distance: 0; within: 1;", "abcx", false},
      {"content:\"abc\"; content:!\"x\"; distance: 0; within: 1;", "abc x", true},
      {"content:\"abc\"; content:!\"q\"; distance: 0; content:\"xyz\"; distance: 0;", "abc xyz", true},
      {"content:\"abc\"; content:!\"q\"; distance: 0; content:\"xyz\"; distance: 0;", "abc q xyz", false},
      {"content:!\"zzz\"; depth: 3;", "a zzz", true},  // only the first 3 bytes count
      {"content:!\"zzz\"; depth: 3;", "zzz a", false},
      // only negated contents: evaluated on every event
      {"content:!\"zzz\";", "anything", true},
      {"content:!\"zzz\";", "zzz", false},
  });
}

TEST(SaganContents, CaseHexAndPcre) {
  check({
      {"content:\"ABC\";", "xabcx", false},
      {"content:\"ABC\"; nocase;", "xabcx", true},
      {"content:\"ABC\"; nocase; offset: 1; depth: 3;", "xAbC", true},
      {"content:\"|61 62|c\";", "abc", true},
      {"content:\"User|3a| root\";", "User: root", true},
      {"pcre:\"/a.c/\";", "xabcx", true},
      {"pcre:\"/A.C/\";", "xabcx", false},
      {"pcre:\"/A.C/i\";", "xabcx", true},
      {"pcre:\"/^abc$/\";", "abc", true},
      {"pcre:\"/a b c/x\";", "abc", true},  // extended: blanks in the pattern are ignored
      {"pcre:\"/broken system|breaking system/i\";", "BROKEN SYSTEM", true},
      // a pcre is not placed relative to the contents
      {"content:\"xyz\"; pcre:\"/^abc/\";", "abc xyz", true},
      // nocase after a pcre applies to the content before it
      {"content:\"ABC\"; pcre:\"/b/\"; nocase;", "abc", true},
      {"content:\"ABC\"; pcre:\"/B/\"; nocase;", "abc", false},
  });
}

TEST(SaganContents, ProgramFacilityAndMeta) {
  EXPECT_TRUE(fires("content:\"a\"; program: sshd;", "a", true));
  EXPECT_FALSE(fires("content:\"a\"; program: sshd;", "a", true, "SSHD"));  // case-sensitive, as Sagan
  EXPECT_TRUE(fires("content:\"a\"; program: foo|sshd;", "a", true));
  EXPECT_TRUE(fires("content:\"a\"; program: ss*d;", "a", true, "ssxd"));
  EXPECT_TRUE(fires("content:\"a\"; program: s?hd;", "a", true));
  EXPECT_FALSE(fires("content:\"a\"; program: s?hd;", "a", true, "ssshd"));
  EXPECT_TRUE(fires("content:\"a\"; facility: auth;", "a", true));  // <38>: facility 4 (auth), severity 6
  EXPECT_FALSE(fires("content:\"a\"; facility: AUTH|daemon;", "a", true));
  EXPECT_TRUE(fires("content:\"a\"; level: info;", "a", true));
  EXPECT_FALSE(fires("content:\"a\"; level: err;", "a", true));
  EXPECT_TRUE(fires("content:\"a\"; syslog_tag: 26;", "a", true));  // priority 38 is 0x26
  for (bool prefilter : {true, false}) {
    EXPECT_TRUE(fires("meta_content:\"dom %sagan% x\", foo, bar; meta_nocase;", "dom BAR x", prefilter));
    EXPECT_FALSE(fires("meta_content:\"dom %sagan% x\", foo, bar;", "dom BAR x", prefilter));
    EXPECT_TRUE(fires("content:\"a\"; meta_content:!\"dom %sagan% x\", foo, bar;", "a dom baz x", prefilter));
    EXPECT_FALSE(
        fires("content:\"a\"; meta_content:!\"dom %sagan% x\", foo, bar;", "a dom bar x", prefilter));
    EXPECT_TRUE(fires("event_id: 4624;", "4624: An account was logged on", prefilter));
    EXPECT_TRUE(fires("event_id: 4624;", "ab 4624: An account", prefilter));
    EXPECT_FALSE(fires("event_id: 4624;", "14624: An account", prefilter));
    EXPECT_FALSE(fires("event_id: 4624;", "a long prefix 4624: An account", prefilter));
  }
}

}  // namespace
}  // namespace socd
