// Sagan rules' stateful options in the stateful stage, from syslog lines with their own times: threshold
// (limit, suppress, the summary of what it held back), after, xbits (set -> isset, isnotset, unset, expiry),
// flexbits, noalert, alert_time, parse_src_ip, blacklist / bro-intel lists, and a restart through
// snapshot/restore.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>

#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/sagan.h"
#include "socd/stateful.h"

namespace socd {
namespace {

using V = StatefulStage::Verdict;

// 2026-03-11T10:00:00Z (a Wednesday) plus `seconds`, as RFC 5424 time.
std::string at(int seconds) {
  std::time_t t = 1773223200 + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

class SaganStage : public ::testing::Test {
protected:
  void SetUp() override {
    setenv("TZ", "UTC", 1);  // alert_time reads local time
    tzset();
  }

  void build(const std::string& rules, const SaganVariables& vars = SaganVariables::defaults(),
             size_t max_keys = 100000) {
    RuleLoad load;
    load_sagan_text("t.rules", rules, vars, load);
    for (const auto& d : load.diagnostics)
      if (d.reason.rfind("warning", 0) != 0) ADD_FAILURE() << d.to_string();
    StageConfig config;
    config.settings.max_keys = max_keys;
    note_state_fields(load.rules, {}, config);
    std::vector<Diagnostic> diags;
    set_ = RuleSet::compile(std::move(load.rules), FieldMapping{}, {}, diags);
    rules_ = StatefulRules::build(set_, {}, config, diags);
    for (const auto& d : diags)
      if (d.reason.rfind("warning", 0) != 0) ADD_FAILURE() << d.to_string();
    stage_ = std::make_unique<StatefulStage>(rules_);
  }

  // Matches the syslog line `host` sent at `seconds` with `message`; returns "sid:verdict" for each rule
  // that matched ("P" pass, "S" suppressed, "C" consumed, "U" unmet), in rule order.
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
      EXPECT_TRUE(hit.event_time);
      hit.source = "in.log";
      hit.line = ev.line;
      hit.ref = "in.log:" + std::to_string(ev.line);
      hit.host = host;
      std::vector<StageAlert> made;
      V v = stage_->observe(hit, made);
      for (auto& a : made) emitted_.push_back(std::move(a));
      out += v == V::Pass ? 'P' : v == V::Suppressed ? 'S' : v == V::Consumed ? 'C' : 'U';
    }
    return out;
  }

  void advance(int seconds) {
    std::vector<StageAlert> made;
    stage_->advance((1773223200LL + seconds) * 1000, made);
    for (auto& a : made) emitted_.push_back(std::move(a));
  }

  // The alerts the stage made since the last call, as "rule@line".
  std::vector<std::string> take() {
    std::vector<std::string> r;
    for (const auto& a : emitted_) r.push_back(a.rule_id + "@" + std::to_string(a.line));
    last_ = std::move(emitted_);
    emitted_.clear();
    return r;
  }

  simdjson::dom::element json(size_t i) {
    EXPECT_LT(i, last_.size());
    padded_ = simdjson::padded_string(last_[i].json);
    return parser_.parse(padded_).value();
  }

  // A restart: the state saved, a new stage over the same rules, the state restored into it.
  void restart() {
    std::string saved = stage_->snapshot();
    stage_ = std::make_unique<StatefulStage>(rules_);
    Status st = stage_->restore(saved);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::shared_ptr<const RuleSet> set_;
  std::shared_ptr<const StatefulRules> rules_;
  std::unique_ptr<StatefulStage> stage_;
  std::vector<StageAlert> emitted_, last_;
  uint64_t line_ = 0;
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

const char* kHeader = "alert any $EXTERNAL_NET any -> $HOME_NET any ";

std::string rule(const std::string& options) { return std::string(kHeader) + "(" + options + ")\n"; }

using Alerts = std::vector<std::string>;

TEST_F(SaganStage, ThresholdLimitPassesCountPerSourceAndWindowThenSummarises) {
  build(rule("msg:\"fail\"; content:\"Failed\"; threshold: type limit, track by_src, count 2, seconds 60; "
             "sid:1;"));
  EXPECT_TRUE(rules_->active());
  EXPECT_EQ(rules_->sagan_rule_count(), 1u);
  EXPECT_EQ(line(0, "10.0.0.1", "Failed password"), "1:P");
  EXPECT_EQ(line(10, "10.0.0.1", "Failed password"), "1:P");
  EXPECT_EQ(line(20, "10.0.0.1", "Failed password"), "1:S");
  EXPECT_EQ(line(30, "10.0.0.2", "Failed password"), "1:P");  // another source
  EXPECT_EQ(line(50, "10.0.0.1", "Failed password"), "1:S");
  EXPECT_EQ(take(), Alerts{});
  // The window (opened at 0, 60 s) closes once the clock passes it and the tolerance (60 s by default).
  advance(125);
  EXPECT_EQ(take(), Alerts{"1@5"});
  auto a = json(0);
  EXPECT_EQ(std::string_view(a["rule"]["id"]), "1");
  EXPECT_EQ(std::string_view(a["suppression"]["kind"]), "sagan-threshold");
  EXPECT_EQ(std::string_view(a["suppression"]["type"]), "limit");
  EXPECT_EQ(std::string_view(a["suppression"]["key"]["src"]), "10.0.0.1");
  EXPECT_EQ(int64_t(a["suppression"]["passed"]), 2);
  EXPECT_EQ(int64_t(a["suppression"]["suppressed"]), 2);
  EXPECT_EQ(std::string_view(a["suppression"]["first"]), "2026-03-11T10:00:20.000Z");
  EXPECT_EQ(std::string_view(a["suppression"]["last"]), "2026-03-11T10:00:50.000Z");
  EXPECT_EQ(std::string_view(a["suppression"]["first_alert"]), "in.log:1");
  // A new window: two more pass.
  EXPECT_EQ(line(130, "10.0.0.1", "Failed password"), "1:P");
  EXPECT_EQ(line(131, "10.0.0.1", "Failed password"), "1:P");
  EXPECT_EQ(line(132, "10.0.0.1", "Failed password"), "1:S");
  EXPECT_EQ(stage_->counters().suppressed, 3u);
  EXPECT_EQ(stage_->counters().summaries, 1u);
}

TEST_F(SaganStage, ThresholdLimitWindowIsFixedAndSuppressWindowMovesWithEachAlert) {
  build(rule("msg:\"l\"; content:\"limit\"; threshold: type limit, track by_src, count 1, seconds 60; sid:1;") +
        rule("msg:\"s\"; content:\"supp\"; threshold: type suppress, track by_src, count 1, seconds 60; "
             "sid:2;"));
  EXPECT_EQ(line(0, "10.0.0.1", "limit supp"), "1:P 2:P");
  EXPECT_EQ(line(40, "10.0.0.1", "limit supp"), "1:S 2:S");
  // limit: the window opened at 0 ended at 60; suppress: the alert at 40 moved its end to 100.
  EXPECT_EQ(line(80, "10.0.0.1", "limit supp"), "1:P 2:S");
  EXPECT_EQ(line(170, "10.0.0.1", "limit supp"), "1:P 2:P");
  // Each summary says what its window held back.
  std::map<std::string, int64_t> suppressed;
  take();
  for (size_t i = 0; i < last_.size(); ++i) suppressed[last_[i].rule_id] += int64_t(json(i)["suppression"]["suppressed"]);
  EXPECT_EQ(suppressed["1"], 1);
  EXPECT_EQ(suppressed["2"], 2);
}

TEST_F(SaganStage, ThresholdTracksByDestinationAndParsedSource) {
  build(rule("msg:\"d\"; content:\"dst\"; parse_dst_ip: 1; threshold: type limit, track by_dst, count 1, "
             "seconds 600; sid:1;") +
        rule("msg:\"s\"; content:\"src\"; parse_src_ip: 2; threshold: type limit, track by_src, count 1, "
             "seconds 600; sid:2;"));
  EXPECT_EQ(line(0, "10.0.0.1", "dst 192.0.2.1 port 22"), "1:P");
  EXPECT_EQ(line(1, "10.0.0.2", "dst 192.0.2.1:22"), "1:S");
  EXPECT_EQ(line(2, "10.0.0.2", "dst 192.0.2.2"), "1:P");
  // The second address of the message; "10:00:00" and 1.2.3.4.5 are none; a loopback one is the sender.
  EXPECT_EQ(line(3, "10.0.0.3", "src at 10:00:00 from 1.2.3.4.5 203.0.113.1 to 203.0.113.9"), "2:P");
  EXPECT_EQ(line(4, "10.0.0.4", "src from=203.0.113.2, (203.0.113.9)"), "2:S");
  EXPECT_EQ(line(5, "10.0.0.4", "src 203.0.113.2 127.0.0.1"), "2:P");
  EXPECT_EQ(line(6, "10.0.0.4", "src 203.0.113.5 127.0.0.1"), "2:S");  // 10.0.0.4 again
  // No second address: the sender.
  EXPECT_EQ(line(7, "10.0.0.5", "src 203.0.113.7"), "2:P");
  EXPECT_EQ(line(8, "10.0.0.5", "src nothing"), "2:S");
}

TEST_F(SaganStage, AfterAlertsFromTheMatchAfterCountWithinTheWindow) {
  build(rule("msg:\"bf\"; content:\"Failed\"; after: track by_src, count 2, seconds 60; sid:1;"));
  EXPECT_EQ(line(0, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(line(10, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(line(11, "10.0.0.2", "Failed"), "1:U");
  EXPECT_EQ(line(20, "10.0.0.1", "Failed"), "1:P");
  EXPECT_EQ(line(30, "10.0.0.1", "Failed"), "1:P");
  // The window opened at 0 is over at 60: counting starts again.
  EXPECT_EQ(line(61, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(stage_->counters().sagan_pending, 4u);
}

TEST_F(SaganStage, XbitsSetThenIssetBySourceUntilExpiry) {
  build(rule("msg:\"set\"; content:\"attack\"; xbits: set,bad,60; sid:1;") +
        rule("msg:\"check\"; content:\"login\"; xbits: isset,by_src,other|bad; sid:2;") +
        rule("msg:\"not\"; content:\"login\"; xbits: isnotset,by_src,bad; sid:3;"));
  EXPECT_EQ(line(0, "10.0.0.1", "login"), "2:U 3:P");
  EXPECT_EQ(line(10, "10.0.0.1", "attack"), "1:P");
  EXPECT_EQ(line(20, "10.0.0.1", "login"), "2:P 3:U");
  EXPECT_EQ(line(21, "10.0.0.2", "login"), "2:U 3:P");  // set for 10.0.0.1 only
  EXPECT_EQ(line(70, "10.0.0.1", "login"), "2:P 3:U");  // expires at 10 + 60
  EXPECT_EQ(line(71, "10.0.0.1", "login"), "2:U 3:P");
  EXPECT_EQ(stage_->counters().bits_set, 1u);
}

TEST_F(SaganStage, XbitsUnsetAndSetAgainRestartsExpiry) {
  build(rule("msg:\"set\"; content:\"attack\"; xbits: set,bad,60; sid:1;") +
        rule("msg:\"clear\"; content:\"reboot\"; xbits: unset,by_src,bad; sid:2;") +
        rule("msg:\"check\"; content:\"login\"; xbits: isset,by_src,bad; sid:3;"));
  EXPECT_EQ(line(0, "10.0.0.1", "attack"), "1:P");
  EXPECT_EQ(line(1, "10.0.0.2", "attack"), "1:P");
  EXPECT_EQ(line(2, "10.0.0.1", "reboot"), "2:P");
  EXPECT_EQ(line(3, "10.0.0.1", "login"), "3:U");
  EXPECT_EQ(line(4, "10.0.0.2", "login"), "3:P");
  EXPECT_EQ(line(50, "10.0.0.2", "attack"), "1:P");  // expiry now 110
  EXPECT_EQ(line(100, "10.0.0.2", "login"), "3:P");
  EXPECT_EQ(line(111, "10.0.0.2", "login"), "3:U");
  EXPECT_EQ(stage_->counters().bits_unset, 1u);
}

TEST_F(SaganStage, XbitSetOnlyWhenTheRuleAlertsAndNoalertKeepsTheAlertBack) {
  // As measured against Sagan 1.2.0: a set acts only for a match that passed after and threshold.
  build(rule("msg:\"bf\"; content:\"Failed\"; xbits: set,bf,600; xbits: noalert; after: track by_src, "
             "count 1, seconds 60; sid:1;") +
        rule("msg:\"ok\"; content:\"Accepted\"; xbits: isset,by_src,bf; sid:2;"));
  EXPECT_TRUE(rules_->consumed(0));
  EXPECT_EQ(line(0, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(line(1, "10.0.0.1", "Accepted"), "2:U");
  EXPECT_EQ(line(2, "10.0.0.1", "Failed"), "1:C");  // after passed: the bit is set, no alert
  EXPECT_EQ(line(3, "10.0.0.1", "Accepted"), "2:P");
}

TEST_F(SaganStage, FlexbitsTrackPairsAndReverseAndAreApartFromXbits) {
  build(rule("msg:\"open\"; content:\"open\"; parse_src_ip: 1; parse_dst_ip: 2; flexbits: set,conn,60; sid:1;") +
        rule("msg:\"same\"; content:\"same\"; parse_src_ip: 1; parse_dst_ip: 2; flexbits: isset,both,conn; "
             "sid:2;") +
        rule("msg:\"back\"; content:\"back\"; parse_src_ip: 1; parse_dst_ip: 2; flexbits: isset,reverse,conn; "
             "sid:3;") +
        rule("msg:\"dst\"; content:\"todst\"; parse_src_ip: 1; parse_dst_ip: 2; flexbits: isset,by_dst,conn; "
             "sid:4;") +
        rule("msg:\"x\"; content:\"xbit\"; xbits: isset,by_src,conn; sid:5;"));
  EXPECT_EQ(line(0, "10.0.0.9", "open 192.0.2.1 -> 198.51.100.1"), "1:P");
  EXPECT_EQ(line(1, "10.0.0.9", "same 192.0.2.1 -> 198.51.100.1"), "2:P");
  EXPECT_EQ(line(2, "10.0.0.9", "same 192.0.2.1 -> 198.51.100.2"), "2:U");
  EXPECT_EQ(line(3, "10.0.0.9", "back 198.51.100.1 -> 192.0.2.1"), "3:P");
  EXPECT_EQ(line(4, "10.0.0.9", "back 192.0.2.1 -> 198.51.100.1"), "3:U");
  EXPECT_EQ(line(5, "10.0.0.9", "todst 203.0.113.7 -> 198.51.100.1"), "4:P");
  EXPECT_EQ(line(6, "192.0.2.1", "xbit"), "5:U");  // an xbit of that name was never set
  EXPECT_EQ(line(60, "10.0.0.9", "same 192.0.2.1 -> 198.51.100.1"), "2:P");  // expires at 0 + 60
  EXPECT_EQ(line(61, "10.0.0.9", "same 192.0.2.1 -> 198.51.100.1"), "2:U");
}

TEST_F(SaganStage, AlertTimeUsesTheEventTime) {
  // 2026-03-11 is a Wednesday (3); the events are at 10:00 and 12:00 UTC.
  build(rule("msg:\"t\"; content:\"rdp\"; alert_time: days 3, hours 0900-1100; sid:1;") +
        rule("msg:\"n\"; content:\"rdp\"; alert_time: days 2, hours 2300-1030; sid:2;"));
  EXPECT_EQ(line(0, "10.0.0.1", "rdp"), "1:P 2:P");  // Tuesday 23:00 to Wednesday 10:30
  EXPECT_EQ(line(7200, "10.0.0.1", "rdp"), "1:U 2:U");
  EXPECT_EQ(stage_->counters().sagan_unmet, 2u);
}

TEST_F(SaganStage, BlacklistAndBroIntelListsFromTheSaganYaml) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("socd-sagan-lists-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "black.txt") << "# bad hosts\n203.0.113.0/24\n198.51.100.7\n";
  std::ofstream(dir / "intel.dat") << "#fields\tindicator\tindicator_type\tmeta.source\n"
                                   << "192.0.2.66\tIntel::ADDR\ttest\n"
                                   << "evil.example\tIntel::DOMAIN\ttest\n";
  std::ofstream(dir / "sagan.yaml") << "vars:\n  address-groups:\n    HOME_NET: \"any\"\n"
                                    << "sagan-core:\n  core:\n    default-host: 192.168.2.1\n"
                                    << "processors:\n  - blacklist:\n      enabled: yes\n      filename: \""
                                    << (dir / "black.txt").string() << "\"\n"
                                    << "  - bro-intel:\n      enabled: yes\n      filename: \""
                                    << (dir / "intel.dat").string() << "\"\n";
  auto vars = load_sagan_variables((dir / "sagan.yaml").string());
  ASSERT_TRUE(vars.ok()) << vars.error().message();
  EXPECT_EQ(vars->default_host, "192.168.2.1");
  build(rule("msg:\"bl\"; content:\"login\"; parse_src_ip: 1; blacklist: by_src; sid:1;") +
            rule("msg:\"bi\"; content:\"login\"; parse_src_ip: 1; bro-intel: by_src; sid:2;") +
            rule("msg:\"dom\"; content:\"query\"; bro-intel: domain; sid:3;") +
            rule("msg:\"all\"; content:\"seen\"; blacklist: all; sid:4;"),
        *vars);
  EXPECT_EQ(line(0, "10.0.0.1", "login from 203.0.113.40"), "1:P 2:U");
  EXPECT_EQ(line(1, "10.0.0.1", "login from 198.51.100.7"), "1:P 2:U");
  EXPECT_EQ(line(2, "10.0.0.1", "login from 198.51.100.8"), "1:U 2:U");
  EXPECT_EQ(line(3, "10.0.0.1", "login from 192.0.2.66"), "1:U 2:P");
  EXPECT_EQ(line(4, "10.0.0.1", "query www.EVIL.example A"), "3:P");
  EXPECT_EQ(line(5, "10.0.0.1", "query good.example A"), "3:U");
  EXPECT_EQ(line(6, "10.0.0.1", "seen 10.1.1.1 then 198.51.100.7"), "4:P");
  // No list in the YAML: the rules load (with a warning) and cannot fire.
  build(rule("msg:\"bl\"; content:\"login\"; parse_src_ip: 1; blacklist: by_src; sid:1;"));
  EXPECT_EQ(line(7, "10.0.0.1", "login from 203.0.113.40"), "1:U");
  fs::remove_all(dir);
}

TEST_F(SaganStage, WindowsCountsAndBitsSurviveARestart) {
  build(rule("msg:\"bf\"; content:\"Failed\"; after: track by_src, count 2, seconds 300; xbits: set,bf,600; "
             "sid:1;") +
        rule("msg:\"thr\"; content:\"Invalid\"; threshold: type limit, track by_src, count 1, seconds 300; "
             "sid:2;") +
        rule("msg:\"ok\"; content:\"Accepted\"; xbits: isset,by_src,bf; sid:3;"));
  // Half a brute force, and a threshold that has passed its one alert.
  EXPECT_EQ(line(0, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(line(1, "10.0.0.1", "Failed"), "1:U");
  EXPECT_EQ(line(2, "10.0.0.1", "Invalid"), "2:P");
  restart();
  EXPECT_EQ(stage_->counters().restored_groups, 2u);
  EXPECT_EQ(line(3, "10.0.0.1", "Accepted"), "3:U");
  EXPECT_EQ(line(4, "10.0.0.1", "Failed"), "1:P");  // the third within the window: the bit is set
  EXPECT_EQ(line(5, "10.0.0.1", "Invalid"), "2:S");
  restart();
  EXPECT_EQ(stage_->counters().restored_groups, 3u);  // after, threshold, the bit
  EXPECT_EQ(line(6, "10.0.0.1", "Accepted"), "3:P");
  EXPECT_EQ(line(7, "10.0.0.2", "Accepted"), "3:U");
  // The threshold window restored still summarises what it held back.
  const std::string saved = stage_->snapshot();
  std::vector<StageAlert> made;
  stage_->flush(made);
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].rule_id, "2");
  EXPECT_NE(made[0].json.find("\"suppressed\":1"), std::string::npos) << made[0].json;
  // A changed threshold does not take over the old window, nor a rule that is gone its after; the bits
  // (named, not owned by a rule) are kept.
  build(rule("msg:\"thr\"; content:\"Invalid\"; threshold: type limit, track by_src, count 5, seconds 300; "
             "sid:2;"));
  ASSERT_TRUE(stage_->restore(saved).ok());
  EXPECT_EQ(stage_->counters().restored_groups, 1u);
  EXPECT_EQ(stage_->counters().restore_dropped, 2u);
  EXPECT_EQ(line(8, "10.0.0.1", "Invalid"), "2:P");
  EXPECT_FALSE(stage_->restore(saved.substr(0, saved.size() - 3)).ok());
}

TEST_F(SaganStage, BoundedStateEvictsTheBitThatExpiresFirstAndCountsIt) {
  build(rule("msg:\"set\"; content:\"attack\"; parse_src_ip: 1; xbits: set,bad,600; sid:1;") +
            rule("msg:\"check\"; content:\"login\"; parse_src_ip: 1; xbits: isset,by_src,bad; sid:2;"),
        SaganVariables::defaults(), 3);
  for (int i = 1; i <= 5; ++i) EXPECT_EQ(line(i, "10.0.0.1", "attack 192.0.2." + std::to_string(i)), "1:P");
  EXPECT_EQ(stage_->counters().bits_set, 5u);
  EXPECT_EQ(stage_->counters().evicted, 2u);
  EXPECT_EQ(line(10, "10.0.0.1", "login 192.0.2.1"), "2:U");
  EXPECT_EQ(line(11, "10.0.0.1", "login 192.0.2.2"), "2:U");
  EXPECT_EQ(line(12, "10.0.0.1", "login 192.0.2.3"), "2:P");
  EXPECT_EQ(line(13, "10.0.0.1", "login 192.0.2.5"), "2:P");
}

}  // namespace
}  // namespace socd
