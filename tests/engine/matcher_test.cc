// The matcher on rules built directly in the rule model: prefiltering must never hide a match, and every
// operation of ValueTest must behave as documented.
#include <gtest/gtest.h>

#include <chrono>

#include "socd/event_parser.h"
#include "socd/ruleset.h"

namespace socd {
namespace {

using Op = ValueTest::Op;

ValueTest vt(Op op, std::string text, bool cased = false) {
  ValueTest v;
  v.op = op;
  v.text = std::move(text);
  v.cased = cased;
  return v;
}

FieldCheck fc(std::string field, std::vector<ValueTest> values, bool all = false, bool negate = false) {
  FieldCheck c;
  c.field = std::move(field);
  c.values = std::move(values);
  c.all = all;
  c.negate = negate;
  return c;
}

Condition ref(int i) {
  Condition c;
  c.kind = Condition::Kind::Ref;
  c.selection = i;
  return c;
}

Condition node(Condition::Kind k, std::vector<Condition> children) {
  Condition c;
  c.kind = k;
  c.children = std::move(children);
  return c;
}

Rule rule(std::string id, std::vector<Conjunction> sel, Condition cond = ref(0)) {
  Rule r;
  r.id = std::move(id);
  r.title = r.id;
  Selection s;
  s.name = "selection";
  s.alternatives = std::move(sel);
  r.selections.push_back(std::move(s));
  r.condition = std::move(cond);
  return r;
}

class MatcherTest : public ::testing::Test {
protected:
  void compile(std::vector<Rule> rules, FieldMapping mapping = {}) {
    std::vector<Diagnostic> diags;
    set_ = RuleSet::compile(std::move(rules), mapping, {}, diags);
    diags_ = diags;
    matcher_ = std::make_unique<Matcher>(set_);
    event_ = std::make_unique<Event>(&set_->paths());
  }
  // The ids of the rules firing on a JSON line.
  std::vector<std::string> fire(const std::string& json) {
    std::string padded = json + std::string(64, '\0');
    JsonEventParser p;
    Status st = p.parse(std::string_view(padded.data(), json.size()), *event_);
    EXPECT_TRUE(st.ok()) << st.message();
    std::vector<uint32_t> m;
    matcher_->match(*event_, m);
    std::vector<std::string> ids;
    for (uint32_t r : m) ids.push_back(set_->rule(r).id);
    return ids;
  }
  std::shared_ptr<const RuleSet> set_;
  std::vector<Diagnostic> diags_;
  std::unique_ptr<Matcher> matcher_;
  std::unique_ptr<Event> event_;
};

using V = std::vector<std::string>;

TEST_F(MatcherTest, StringOperationsAreCaseInsensitiveByDefault) {
  compile({rule("eq", {{fc("Image", {vt(Op::Equals, "C:\\Windows\\cmd.exe")})}}),
           rule("contains", {{fc("CommandLine", {vt(Op::Contains, "-enc")})}}),
           rule("starts", {{fc("CommandLine", {vt(Op::StartsWith, "powershell")})}}),
           rule("ends", {{fc("Image", {vt(Op::EndsWith, "\\CMD.EXE")})}}),
           rule("cased", {{fc("Image", {vt(Op::EndsWith, "\\CMD.EXE", true)})}})});
  EXPECT_EQ(fire(R"({"Image":"c:\\windows\\CMD.exe","CommandLine":"PowerShell -ENC abc"})"),
            (V{"eq", "contains", "starts", "ends"}));
  EXPECT_EQ(fire(R"({"Image":"c:\\windows\\CMD.EXE"})"), (V{"eq", "ends", "cased"}));
  EXPECT_EQ(fire(R"({"Image":"c:\\windows\\cmd.exe.bak","CommandLine":"xpowershell"})"), V{});
}

// The stage timing's split of a sampled event: the same rules fire as with match(), and the moment the prefilter
// ended lies within the call (match_timed sets it too when asked).
TEST_F(MatcherTest, MatchSplitAndMatchTimedTellWhereThePrefilterEnded) {
  compile({rule("contains", {{fc("CommandLine", {vt(Op::Contains, "-enc")})}}),
           rule("regex", {{fc("CommandLine", {vt(Op::Regex, "^power[a-z]+ ")})}}),
           rule("other", {{fc("Image", {vt(Op::EndsWith, "\\notepad.exe")})}})});
  const std::string line = R"({"Image":"c:\\windows\\cmd.exe","CommandLine":"powershell -ENC abc"})";
  const V expected = fire(line);  // (leaves the line parsed in event_)
  ASSERT_EQ(expected, (V{"contains", "regex"}));
  using Clock = std::chrono::steady_clock;
  auto ids = [&](const std::vector<uint32_t>& m) {
    V out;
    for (uint32_t r : m) out.push_back(set_->rule(r).id);
    return out;
  };
  std::vector<uint32_t> m;
  Clock::time_point prefiltered{};
  const Clock::time_point before = Clock::now();
  matcher_->match_split(*event_, m, prefiltered);
  const Clock::time_point after = Clock::now();
  EXPECT_EQ(ids(m), expected);
  EXPECT_GE(prefiltered, before);
  EXPECT_LE(prefiltered, after);

  m.clear();
  Matcher::RuleCosts costs;
  Clock::time_point timed_prefiltered{};
  const Clock::time_point timed_before = Clock::now();
  matcher_->match_timed(*event_, m, costs, &timed_prefiltered);
  EXPECT_EQ(ids(m), expected);
  EXPECT_GE(timed_prefiltered, timed_before);
  EXPECT_LE(timed_prefiltered, Clock::now());
  uint64_t evaluated = 0;
  for (uint64_t e : costs.evaluations) evaluated += e;
  EXPECT_GE(evaluated, 2u);  // at least the two candidates that fire
}

TEST_F(MatcherTest, GlobWildcardsAndEscapes) {
  compile({rule("g", {{fc("f", {vt(Op::Glob, "a?c*\\*end")})}})});
  EXPECT_EQ(fire(R"({"f":"ABC middle *END"})"), V{"g"});
  EXPECT_EQ(fire(R"({"f":"abc middle end"})"), V{});  // the escaped star is a literal star
  EXPECT_EQ(fire(R"({"f":"ac*end"})"), V{});           // '?' needs exactly one character
}

TEST_F(MatcherTest, ListsAreOrAllIsAndNegateInverts) {
  compile({rule("or", {{fc("c", {vt(Op::Contains, "aaa"), vt(Op::Contains, "bbb")})}}),
           rule("all", {{fc("c", {vt(Op::Contains, "aaa"), vt(Op::Contains, "bbb")}, true)}}),
           rule("neq", {{fc("c", {vt(Op::Equals, "x")}, false, true)}})});
  EXPECT_EQ(fire(R"({"c":"aaa"})"), (V{"or", "neq"}));
  EXPECT_EQ(fire(R"({"c":"bbb aaa"})"), (V{"or", "all", "neq"}));
  EXPECT_EQ(fire(R"({"c":"x"})"), V{});
}

TEST_F(MatcherTest, ConditionTreeWithNotNeedsNoPositiveHit) {
  // "selection and not filter": the prefilter must use only the positive side.
  Rule r = rule("r", {{fc("Image", {vt(Op::EndsWith, "\\rundll32.exe")})}},
                node(Condition::Kind::And, {ref(0), node(Condition::Kind::Not, {ref(1)})}));
  Selection filter;
  filter.name = "filter";
  filter.alternatives = {{fc("CommandLine", {vt(Op::Contains, "shell32.dll")})}};
  r.selections.push_back(filter);
  Rule only_not = rule("only_not", {{fc("User", {vt(Op::Equals, "SYSTEM")})}},
                       node(Condition::Kind::Not, {ref(0)}));
  compile({r, only_not});
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\rundll32.exe","CommandLine":"x","User":"SYSTEM"})"), V{"r"});
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\rundll32.exe","CommandLine":"shell32.dll,Control_RunDLL"})"),
            V{"only_not"});
}

TEST_F(MatcherTest, KeywordsSearchEveryValue) {
  compile({rule("kw", {{fc("", {vt(Op::Contains, "mimikatz")})}})});
  EXPECT_EQ(fire(R"({"a":{"b":["x","run MIMIKATZ now"]}})"), V{"kw"});
  EXPECT_EQ(fire(R"({"a":"mimi katz"})"), V{});
}

TEST_F(MatcherTest, NumbersExistsNullAndCidr) {
  ValueTest gt = vt(Op::Gt, "");
  gt.number = 1000;
  ValueTest exists = vt(Op::Exists, "");
  ValueTest missing = vt(Op::Exists, "");
  missing.expect_exists = false;
  compile({rule("gt", {{fc("size", {gt})}}), rule("exists", {{fc("user", {exists})}}),
           rule("missing", {{fc("user", {missing})}}), rule("null", {{fc("pw", {vt(Op::Null, "")})}}),
           rule("cidr", {{fc("ip", {vt(Op::Cidr, "10.0.0.0/8"), vt(Op::Cidr, "fe80::/10")})}}),
           rule("eid", {{fc("EventID", {vt(Op::Equals, "4688")})}})});
  EXPECT_EQ(fire(R"({"size":1001,"user":"a","pw":"x","ip":"10.1.2.3","EventID":4688})"),
            (V{"gt", "exists", "cidr", "eid"}));
  EXPECT_EQ(fire(R"({"size":"999","pw":null,"ip":"11.0.0.1"})"), (V{"missing", "null"}));
  EXPECT_EQ(fire(R"({"size":5,"user":"b","pw":"","ip":"FE80::1"})"), (V{"exists", "null", "cidr"}));
}

TEST_F(MatcherTest, RegexConfirmedByPcre2AndPrefilteredByHyperscan) {
  ValueTest re = vt(Op::Regex, "^cmd\\.exe /c .*whoami$");
  ValueTest rei = vt(Op::Regex, "invoke-(mimikatz|expression)");
  rei.regex_flags = "i";
  ValueTest backref = vt(Op::Regex, "(ab)\\1x");  // Hyperscan can only approximate this: PCRE2 confirms
  compile({rule("re", {{fc("c", {re})}}), rule("rei", {{fc("c", {rei})}}), rule("backref", {{fc("c", {backref})}})});
  EXPECT_EQ(fire(R"({"c":"cmd.exe /c net user & whoami"})"), V{"re"});
  EXPECT_EQ(fire(R"({"c":"x cmd.exe /c whoami"})"), V{});  // anchored at the value's start
  EXPECT_EQ(fire(R"({"other":"zz","c":"IEX Invoke-Expression"})"), V{"rei"});
  EXPECT_EQ(fire(R"({"c":"ababx"})"), V{"backref"});
  EXPECT_EQ(fire(R"({"c":"abx"})"), V{});
}

TEST_F(MatcherTest, FieldMappingAndLogSourceScoping) {
  FieldMapping m;
  m.fields["EventID"] = {"Event.System.EventID", "EventID"};
  m.prefixes = {"", "Event.EventData."};
  FieldMapping::Source pc;
  pc.match.product = "windows";
  pc.match.category = "process_creation";
  pc.condition.alternatives = {{fc("EventID", {vt(Op::Equals, "1")})}, {fc("EventID", {vt(Op::Equals, "4688")})}};
  m.sources.push_back(pc);
  Rule r = rule("proc", {{fc("Image", {vt(Op::EndsWith, "\\whoami.exe")})}});
  r.logsource.product = "windows";
  r.logsource.category = "process_creation";
  compile({r}, m);
  EXPECT_EQ(fire(R"({"Event":{"System":{"EventID":1},"EventData":{"Image":"C:\\x\\whoami.exe"}}})"), V{"proc"});
  EXPECT_EQ(fire(R"({"EventID":4688,"Image":"C:\\x\\whoami.exe"})"), V{"proc"});
  EXPECT_EQ(fire(R"({"Event":{"System":{"EventID":13},"EventData":{"Image":"C:\\x\\whoami.exe"}}})"), V{});
}

// A rule of a product no mapping entry is for (macOS here) stays off the events a product's own entry accepts:
// a macOS process_creation rule must not fire on a Windows registry event. A rule without a product is not
// affected: it still runs on every event.
TEST_F(MatcherTest, RuleOfAProductWithNoEntryStaysOffTheEventsOfTheProductsWithOne) {
  FieldMapping m;
  FieldMapping::Source windows, linux, windows_pc;
  windows.match.product = "windows";
  windows.condition.alternatives = {{fc("Channel", {vt(Op::Exists, "")})}};
  linux.match.product = "linux";
  linux.condition.alternatives = {{fc("program", {vt(Op::Exists, "")})}};
  windows_pc.match.product = "windows";
  windows_pc.match.category = "process_creation";
  windows_pc.condition.alternatives = {{fc("EventID", {vt(Op::Equals, "1")})}};
  m.sources = {windows, linux, windows_pc};
  Rule mac = rule("mac", {{fc("CommandLine", {vt(Op::Contains, "whoami")})}});
  mac.logsource.product = "macos";
  mac.logsource.category = "process_creation";
  Rule any = rule("any", {{fc("CommandLine", {vt(Op::Contains, "whoami")})}});
  any.logsource.category = "some_category";
  Rule win = rule("win", {{fc("CommandLine", {vt(Op::Contains, "whoami")})}});
  win.logsource.product = "Windows";  // products compare without regard to case
  win.logsource.category = "process_creation";
  compile({mac, any, win}, m);
  EXPECT_EQ(fire(R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":13,"CommandLine":"whoami"})"),
            V{"any"});
  EXPECT_EQ(fire(R"({"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"whoami"})"),
            (V{"any", "win"}));
  EXPECT_EQ(fire(R"({"program":"sudo","CommandLine":"whoami"})"), V{"any"});
  EXPECT_EQ(fire(R"({"CommandLine":"/usr/bin/whoami"})"), (V{"mac", "any"}));
  bool said = false;
  for (const auto& d : diags_)
    said = said || (d.reason == "warning-unmapped-logsource" && d.message.find("product=macos") != std::string::npos &&
                    d.message.find("but those of the products with an entry: windows, linux") != std::string::npos);
  EXPECT_TRUE(said) << "no diagnostic names the macOS rule's log source and the products it stays off";
}

TEST_F(MatcherTest, BadRegexAndBadNetworkSkipTheRuleWithAReason) {
  compile({rule("badre", {{fc("c", {vt(Op::Regex, "([unclosed")})}}),
           rule("badnet", {{fc("ip", {vt(Op::Cidr, "10.0.0.0/33")})}}), rule("ok", {{fc("c", {vt(Op::Equals, "x")})}})});
  ASSERT_EQ(set_->size(), 1u);
  ASSERT_EQ(diags_.size(), 2u);
  EXPECT_EQ(diags_[0].reason, "bad-regex");
  EXPECT_EQ(diags_[1].reason, "bad-value");
  EXPECT_EQ(fire(R"({"c":"x"})"), V{"ok"});
}

}  // namespace
}  // namespace socd
