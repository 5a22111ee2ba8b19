// Sagan's `normalize` and the rule header in the stateful stage: the rulebase's src-ip, dst-ip, ports and
// user name become the rule's tracking keys (before parse_src_ip and the syslog host), thresholds and afters
// track by_username, the header's networks (lists, CIDR, '!'), ports (an event without one has the default
// port) and protocol are checked on them, the normalize counters, and the xbits options that are skipped.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/sagan.h"
#include "socd/stateful.h"

namespace socd {
namespace {

using V = StatefulStage::Verdict;

// Rules of the shapes of Debian's normalization.rulebase (OpenSSH, and a firewall line with both ends).
const char* kRulebase = R"(prefix=
rule=: Failed %-:word% for invalid user %username:word% from %src-ip:ipv4% port %src-port:number% ssh2
rule=: Failed password for %username:word% from %src-ip:ipv4% port %src-port:number% ssh2
rule=: Invalid user %username:word% from %src-ip:ipv4%
rule=: Deny inbound UDP from %src-ip:ipv4%/%src-port:number% to %dst-ip:ipv4%/%dst-port:number% %-:rest%
)";

std::string at(int seconds) {
  std::time_t t = 1773223200 + seconds;  // 2026-03-11T10:00:00Z
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class SaganNormalize : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("socd-sagan-normalize-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    rulebase_ = (dir_ / "normalization.rulebase").string();
    std::ofstream(rulebase_) << kRulebase;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void build(const std::string& rules, SaganVariables vars = SaganVariables::defaults()) {
    if (vars.normalize_rulebase.empty()) vars.normalize_rulebase = rulebase_;
    RuleLoad load;
    load_sagan_text("t.rules", rules, vars, load);
    for (const auto& d : load.diagnostics) {
      if (d.reason.rfind("warning", 0) != 0) ADD_FAILURE() << d.to_string();
      diagnostics_.push_back(d);
    }
    StageConfig config;
    note_state_fields(load.rules, {}, config);
    std::vector<Diagnostic> diags;
    set_ = RuleSet::compile(std::move(load.rules), FieldMapping{}, {}, diags);
    rules_ = StatefulRules::build(set_, {}, config, diags);
    for (const auto& d : diags)
      if (d.reason.rfind("warning", 0) != 0) ADD_FAILURE() << d.to_string();
    stage_ = std::make_unique<StatefulStage>(rules_);
  }

  // "sid:verdict" of each rule the line matches (P pass, S suppressed, C consumed, U unmet); the facts of the
  // last hit in `facts_`.
  std::string line(int seconds, const std::string& host, const std::string& message) {
    std::string text = "<38>1 " + at(seconds) + " " + host + " sshd 42 - - " + message;
    Event ev(&set_->paths());
    EventParser parser(InputFormat::Syslog);
    EXPECT_TRUE(parser.parse(text, ev).ok()) << text;
    ev.line = ++line_;
    Matcher matcher(set_);
    std::vector<uint32_t> matched;
    matcher.match(ev, matched);
    std::string out;
    for (uint32_t r : matched) {
      if (!out.empty()) out += ' ';
      out += set_->rule(r).id + ':';
      if (!rules_->needs(r)) {
        out += 'P';
        continue;
      }
      StageHit hit;
      rules_->extract(r, ev, 0, hit);
      hit.source = "in.log";
      hit.line = ev.line;
      hit.ref = "in.log:" + std::to_string(ev.line);
      hit.host = host;
      facts_ = hit.sagan;
      std::vector<StageAlert> made;
      V v = stage_->observe(hit, made);
      out += v == V::Pass ? 'P' : v == V::Suppressed ? 'S' : v == V::Consumed ? 'C' : 'U';
    }
    return out;
  }

  std::filesystem::path dir_;
  std::string rulebase_;
  std::vector<Diagnostic> diagnostics_;
  std::shared_ptr<const RuleSet> set_;
  std::shared_ptr<const StatefulRules> rules_;
  std::unique_ptr<StatefulStage> stage_;
  SaganFacts facts_;
  uint64_t line_ = 0;
};

TEST_F(SaganNormalize, TheRulebaseGivesTheTrackingKeys) {
  build(
      R"(alert any $EXTERNAL_NET any -> $HOME_NET any (msg:"fail"; content:"Failed password"; normalize; threshold: type limit, track by_src, count 1, seconds 60; sid:1;)
)");
  EXPECT_EQ(line(0, "10.0.0.1", "Failed password for root from 5.36.59.76 port 42393 ssh2"), "1:P");
  EXPECT_EQ(facts_.normalized, 1);
  EXPECT_EQ(facts_.src, "5.36.59.76");
  EXPECT_EQ(facts_.src_port, 42393);
  EXPECT_EQ(facts_.username, "root");
  // Same sender, another attacker: another key. Same attacker through another sender: the same key.
  EXPECT_EQ(line(1, "10.0.0.1", "Failed password for root from 5.36.59.77 port 42394 ssh2"), "1:P");
  EXPECT_EQ(line(2, "10.0.0.2", "Failed password for invalid user web from 5.36.59.76 port 1 ssh2"), "1:S");
  EXPECT_EQ(facts_.username, "web");
  // A message no rulebase rule matches keeps the syslog host as source, and no user name.
  EXPECT_EQ(line(3, "10.0.0.3", "Failed password for root from 5.36.59.76 port 42393 ssh2 extra"), "1:P");
  EXPECT_EQ(facts_.normalized, 2);
  EXPECT_EQ(facts_.src, "10.0.0.3");
  EXPECT_EQ(facts_.username, "");
  EXPECT_EQ(stage_->counters().sagan_normalized, 3u);
  EXPECT_EQ(stage_->counters().sagan_not_normalized, 1u);
}

TEST_F(SaganNormalize, ThresholdAndAfterByUsername) {
  build(
      R"(alert any $EXTERNAL_NET any -> $HOME_NET any (msg:"user"; content:"Invalid user"; normalize; threshold: type limit, track by_username, count 1, seconds 60; sid:1;)
alert any $EXTERNAL_NET any -> $HOME_NET any (msg:"after"; content:"Invalid user"; normalize; after: track by_username, count 1, seconds 60; sid:2;)
)");
  EXPECT_EQ(line(0, "10.0.0.1", "Invalid user bob from 1.2.3.4"), "1:P 2:U");
  EXPECT_EQ(line(1, "10.0.0.1", "Invalid user bob from 1.2.3.5"), "1:S 2:P");
  EXPECT_EQ(line(2, "10.0.0.1", "Invalid user eve from 1.2.3.4"), "1:P 2:U");
  EXPECT_EQ(line(3, "10.0.0.1", "Invalid user eve from 1.2.3.5"), "1:S 2:P");
  // Past the window bob counts afresh.
  EXPECT_EQ(line(70, "10.0.0.1", "Invalid user bob from 1.2.3.6"), "1:P 2:U");
}

TEST_F(SaganNormalize, NormalizedValuesComeBeforeParseSrcIp) {
  build(
      R"(alert any 46.161.166.0/24 any -> 214.20.10.211 65257 (msg:"both"; content:"Deny inbound"; parse_src_ip: 2; parse_dst_ip: 1; normalize; sid:1;)
alert any 46.161.166.0/24 any -> any any (msg:"parse only"; content:"Deny inbound"; parse_src_ip: 2; parse_dst_ip: 1; sid:2;)
)");
  EXPECT_EQ(line(0, "10.0.0.1",
                 "Deny inbound UDP from 46.161.166.49/63905 to 214.20.10.211/65257 on interface OUTSIDE"),
            "1:P 2:U");
  // Without the port after the source the rulebase rule does not match: parse_src_ip's second address.
  EXPECT_EQ(
      line(1, "10.0.0.1", "Deny inbound UDP from 46.161.166.49 to 214.20.10.211/65257 on interface OUTSIDE"),
      "1:U 2:U");
  EXPECT_EQ(facts_.src, "214.20.10.211");
  EXPECT_EQ(facts_.dst, "46.161.166.49");
}

TEST_F(SaganNormalize, HeaderNetworks) {
  SaganVariables vars = SaganVariables::defaults();
  vars.values["HOME_NET"] = "[10.0.0.0/8, 192.168.0.0/16]";
  vars.values["EXTERNAL_NET"] = "!$HOME_NET";
  vars.default_host = "192.168.2.1";
  build(R"(alert any $EXTERNAL_NET any -> $HOME_NET any (msg:"ext"; content:"Invalid user"; normalize; sid:1;)
alert any [5.0.0.0/8,!5.5.5.5] any -> any any (msg:"list"; content:"Invalid user"; normalize; sid:2;)
alert any 10.1.1.1 any -> any any (msg:"host"; content:"Invalid user"; sid:3;)
)",
        vars);
  // Source normalized from the message; destination: the default host (in HOME_NET).
  EXPECT_EQ(line(0, "10.1.1.1", "Invalid user bob from 5.1.2.3"), "1:P 2:P 3:P");
  EXPECT_EQ(facts_.dst, "192.168.2.1");
  EXPECT_EQ(line(1, "10.1.1.1", "Invalid user bob from 5.5.5.5"), "1:P 2:U 3:P");
  EXPECT_EQ(line(2, "10.1.1.1", "Invalid user bob from 10.9.9.9"), "1:U 2:U 3:P");
  // Not normalized ("from" missing): the syslog host is the source.
  EXPECT_EQ(line(3, "10.1.1.2", "Invalid user bob 5.1.2.3"), "1:U 2:U 3:U");
  EXPECT_EQ(line(4, "172.16.0.1", "Invalid user bob 5.1.2.3"), "1:P 2:U 3:U");
  EXPECT_EQ(stage_->counters().sagan_unmet, 8u);
}

TEST_F(SaganNormalize, HeaderPortsAndProtocol) {
  build(R"(alert any any any -> any $SSH_PORT (msg:"ssh port"; content:"Failed password"; sid:1;)
alert any any any -> any 514 (msg:"default port"; content:"Failed password"; sid:2;)
alert any any [1024:65535,!42393] -> any any (msg:"high src port"; content:"Failed password"; normalize; sid:3;)
alert any any any -> any any (msg:"dst default"; content:"Failed password"; default_dst_port: 22; sid:4;)
alert tcp any any -> any $SSH_PORT (msg:"tcp"; content:"Failed password"; default_proto: tcp; default_dst_port: 22; sid:5;)
alert tcp any any -> any any (msg:"tcp default udp"; content:"Failed password"; sid:6;)
alert any any any -> any $SSH_PORT (msg:"ssh with default"; content:"Failed password"; default_dst_port: $SSH_PORT; sid:7;)
)");
  // No port in the event: the default port (514) meets the header, or the rule's default_dst_port does.
  EXPECT_EQ(line(0, "10.0.0.1", "Failed password for root from 5.36.59.76 port 42393 ssh2"),
            "1:U 2:P 3:U 4:P 5:P 6:U 7:P");
  EXPECT_EQ(line(1, "10.0.0.1", "Failed password for root from 5.36.59.76 port 2000 ssh2"),
            "1:U 2:P 3:P 4:P 5:P 6:U 7:P");
  EXPECT_EQ(line(2, "10.0.0.1", "Failed password for root from 5.36.59.76 port 1000 ssh2"),
            "1:U 2:P 3:U 4:P 5:P 6:U 7:P");
}

TEST_F(SaganNormalize, NoRulebase) {
  SaganVariables vars = SaganVariables::defaults();
  RuleLoad load;
  load_sagan_text("t.rules",
                  "alert any any any -> any any (msg:\"n\"; content:\"x\"; normalize; threshold: type limit, "
                  "track by_username, count 1, seconds 60; sid:1;)\n",
                  vars, load);
  ASSERT_EQ(load.rules.size(), 1u);
  bool warned = false;
  for (const auto& d : load.diagnostics) warned = warned || d.reason == "warning-sagan-normalize";
  EXPECT_TRUE(warned);
}

TEST_F(SaganNormalize, RulebaseBesideTheRulesIsFoundAndDiagnosed) {
  std::ofstream(rulebase_, std::ios::app) << "rule=: bad %x:nosuchtype%\n";
  std::ofstream(dir_ / "t.rules")
      << "alert any $EXTERNAL_NET any -> $HOME_NET any (msg:\"u\"; content:\"Invalid user\"; normalize; "
         "threshold: type limit, track by_username, count 1, seconds 60; sid:1;)\n";
  RuleLoad load;
  load_sagan_path(dir_.string(), SaganVariables::defaults(), load);
  ASSERT_EQ(load.rules.size(), 1u);
  int bad = 0;
  for (const auto& d : load.diagnostics)
    if (d.reason == "lognorm-bad-rule") {
      ++bad;
      EXPECT_EQ(d.file, rulebase_);
      EXPECT_EQ(d.line, 6);
    }
  EXPECT_EQ(bad, 1);
  bool has_rulebase = false;
  for (const auto& [k, v] : load.rules[0].stateful_options)
    has_rulebase = has_rulebase || (k == "normalize_rulebase" && v == rulebase_);
  EXPECT_TRUE(has_rulebase);
}

TEST_F(SaganNormalize, XbitsPauseIsSkippedWithADiagnostic) {
  for (const char* option :
       {"xbits_pause: 5", "xbits_upause: 500", "flexbits_pause: 5", "flexbits_upause: 5"}) {
    RuleLoad load;
    load_sagan_text(
        "t.rules",
        std::string("alert any any any -> any any (msg:\"p\"; content:\"x\"; xbits: isset, by_src, a; ") +
            option + "; sid:1;)\n",
        SaganVariables::defaults(), load);
    EXPECT_EQ(load.rules.size(), 0u) << option;
    EXPECT_EQ(load.skipped, 1u) << option;
    ASSERT_EQ(load.diagnostics.size(), 1u) << option;
    EXPECT_EQ(load.diagnostics[0].reason, "sagan-unsupported-option");
    EXPECT_EQ(load.diagnostics[0].line, 1);
  }
}

}  // namespace
}  // namespace socd
