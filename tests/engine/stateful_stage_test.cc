// The stateful stage driven hit by hit: correlation windows in event time, conditions, generate, thresholds,
// deduplication, bounds, and snapshots.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>

#include "sigma_test_support.h"
#include "socd/stateful.h"

namespace socd::test {
namespace {

constexpr int64_t kT0 = 1773223200000;  // 2026-03-11T10:00:00Z
constexpr int64_t kSec = 1000, kMin = 60 * kSec;

const char* kRules = R"(title: A
id: rule-a
name: a
logsource: {product: testing}
detection: {sel: {EventID: 1}, condition: sel}
---
title: B
id: rule-b
name: b
logsource: {product: testing}
detection: {sel: {EventID: 2}, condition: sel}
---
title: C
id: rule-c
name: c
logsource: {product: testing}
detection: {sel: {EventID: 3}, condition: sel}
---
)";

class StageTest : public ::testing::Test {
protected:
  void build(const std::string& correlations, const std::string& config_text = "") {
    RuleLoad load = load_rules_text(std::string(kRules) + correlations, {}, "mr.yml");
    ASSERT_EQ(load.skipped, 0u) << (load.diagnostics.empty() ? "" : load.diagnostics[0].to_string());
    auto config = parse_stage_config("t.yml", config_text);
    ASSERT_TRUE(config.ok()) << config.error().message();
    note_state_fields(load.rules, load.correlations, *config);
    std::vector<Diagnostic> diags;
    auto set = RuleSet::compile(load.rules, FieldMapping{}, {}, diags);
    rules_ = StatefulRules::build(set, load.correlations, *config, diags);
    for (const auto& d : diags)
      if (d.reason.rfind("warning", 0) != 0) ADD_FAILURE() << d.to_string();
    stage_ = std::make_unique<StatefulStage>(rules_);
  }

  // A hit of rule `rule` ("a", "b", "c") at kT0 + `offset` with the given field values.
  StageHit hit(const std::string& rule, int64_t offset, const std::map<std::string, std::string>& fields = {},
               uint64_t digest = 0) {
    StageHit h;
    h.rule = rule[0] - 'a';
    h.time_ms = kT0 + offset;
    h.event_time = true;
    for (const auto& f : rules_->rule_set().rule(h.rule).state_fields) {
      auto it = fields.find(f);
      h.values.push_back(it == fields.end() ? std::nullopt : std::optional<std::string>(it->second));
    }
    h.event_digest = digest;
    h.line = ++line_;
    h.source = "in.jsonl";
    h.ref = "in.jsonl:" + std::to_string(h.line);
    return h;
  }

  // Feeds a hit; returns the verdict and keeps what the stage emitted.
  StatefulStage::Verdict feed(const StageHit& h) {
    std::vector<StageAlert> out;
    auto v = stage_->observe(h, out);
    for (auto& a : out) emitted_.push_back(std::move(a));
    return v;
  }
  void advance(int64_t offset) {
    std::vector<StageAlert> out;
    stage_->advance(kT0 + offset, out);
    for (auto& a : out) emitted_.push_back(std::move(a));
  }
  void flush() {
    std::vector<StageAlert> out;
    stage_->flush(out);
    for (auto& a : out) emitted_.push_back(std::move(a));
  }
  // "rule@line" for every alert emitted so far, then forgets them.
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

  std::shared_ptr<const StatefulRules> rules_;
  std::unique_ptr<StatefulStage> stage_;
  std::vector<StageAlert> emitted_, last_;
  uint64_t line_ = 0;
  simdjson::dom::parser parser_;
  simdjson::padded_string padded_;
};

using Alerts = std::vector<std::string>;
using V = StatefulStage::Verdict;

const char* kCount3 = R"(title: Three A per user
id: c3
correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {gte: 3}}
)";

TEST_F(StageTest, EventCountFiresOnceWhenTheCountIsReachedAndStartsAgain) {
  build(kCount3);
  EXPECT_EQ(feed(hit("a", 0, {{"User", "bob"}})), V::Consumed);  // generate is false: the alert is consumed
  feed(hit("a", 10 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{});
  feed(hit("a", 20 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@3"});
  auto a = json(0);
  EXPECT_EQ(std::string_view(a["rule"]["id"]), "c3");
  EXPECT_EQ(int64_t(a["correlation"]["count"]), 3);
  EXPECT_EQ(std::string_view(a["correlation"]["type"]), "event_count");
  EXPECT_EQ(std::string_view(a["correlation"]["group"]["User"]), "bob");
  EXPECT_EQ(std::string_view(a["correlation"]["first"]), "2026-03-11T10:00:00.000Z");
  EXPECT_EQ(std::string_view(a["correlation"]["last"]), "2026-03-11T10:00:20.000Z");
  EXPECT_EQ(a["correlation"]["alerts"].get_array().value().size(), 3u);
  EXPECT_EQ(std::string_view(a["source"]["file"]), "in.jsonl");
  EXPECT_EQ(int64_t(a["source"]["line"]), 3);
  // The three are used up: two more do not fire, the third does.
  feed(hit("a", 21 * kSec, {{"User", "bob"}}));
  feed(hit("a", 22 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{});
  feed(hit("a", 23 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@6"});
  EXPECT_EQ(stage_->counters().correlations, 2u);
  EXPECT_EQ(stage_->counters().consumed, 6u);
}

TEST_F(StageTest, OnlyHitsWithinTheTimespanOfEachOtherCount) {
  build(kCount3);
  feed(hit("a", 0, {{"User", "bob"}}));
  feed(hit("a", 70 * kSec, {{"User", "bob"}}));
  feed(hit("a", 80 * kSec, {{"User", "bob"}}));  // the first is 80 s older
  EXPECT_EQ(take(), Alerts{});
  feed(hit("a", 90 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@4"});
}

TEST_F(StageTest, GroupsAreKeptApartAndHitsWithoutTheFieldAreCounted) {
  build(kCount3);
  feed(hit("a", 0, {{"User", "bob"}}));
  feed(hit("a", 1, {{"User", "ann"}}));
  feed(hit("a", 2, {{"User", "bob"}}));
  feed(hit("a", 3, {}));
  feed(hit("a", 4, {}));
  feed(hit("a", 5, {}));
  EXPECT_EQ(take(), Alerts{});
  EXPECT_EQ(stage_->counters().missing_fields, 3u);
  feed(hit("a", 6, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@7"});
}

TEST_F(StageTest, OutOfOrderHitsCountAndLateOnesAreCounted) {
  build(kCount3, "settings: {tolerance: 10s}\n");
  feed(hit("a", 100 * kSec, {{"User", "bob"}}));
  feed(hit("a", 50 * kSec, {{"User", "bob"}}));  // late (watermark 100 s - 10 s), inside bob's minute
  EXPECT_EQ(stage_->counters().late, 1u);
  EXPECT_EQ(stage_->counters().late_unapplied, 0u);
  feed(hit("a", 10 * kSec, {{"User", "bob"}}));  // late and outside the minute: not applied
  EXPECT_EQ(stage_->counters().late_unapplied, 1u);
  EXPECT_EQ(take(), Alerts{});
  feed(hit("a", 45 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@4"});
}

TEST_F(StageTest, ValueCountCountsDistinctValues) {
  build(R"(title: Spray
id: vc
correlation:
    type: value_count
    rules: [a]
    group-by: [Ip]
    timespan: 5m
    condition: {field: User, gte: 3}
    generate: true
)");
  EXPECT_EQ(feed(hit("a", 0, {{"Ip", "1"}, {"User", "u1"}})), V::Pass);
  feed(hit("a", 1, {{"Ip", "1"}, {"User", "u1"}}));
  feed(hit("a", 2, {{"Ip", "1"}, {"User", "u2"}}));
  feed(hit("a", 3, {{"Ip", "2"}, {"User", "u3"}}));
  feed(hit("a", 4, {{"Ip", "1"}}));
  EXPECT_EQ(take(), Alerts{});
  feed(hit("a", 5, {{"Ip", "1"}, {"User", "u3"}}));
  EXPECT_EQ(take(), Alerts{"vc@6"});
  auto a = json(0);
  EXPECT_EQ(int64_t(a["correlation"]["count"]), 3);
  EXPECT_EQ(a["correlation"]["values"].get_array().value().size(), 3u);
}

TEST_F(StageTest, TemporalNeedsEveryRuleInAnyOrder) {
  build(R"(title: All three
id: t3
correlation: {type: temporal, rules: [a, b, c], group-by: [Host], timespan: 1m}
)");
  feed(hit("c", 0, {{"Host", "h"}}));
  feed(hit("a", 1 * kSec, {{"Host", "h"}}));
  feed(hit("a", 2 * kSec, {{"Host", "h"}}));
  feed(hit("b", 3 * kSec, {{"Host", "other"}}));
  EXPECT_EQ(take(), Alerts{});
  feed(hit("b", 4 * kSec, {{"Host", "h"}}));
  EXPECT_EQ(take(), Alerts{"t3@5"});
  EXPECT_EQ(json(0)["correlation"]["rules"].get_array().value().size(), 3u);
}

TEST_F(StageTest, TemporalOrderedNeedsTheOrderOfTheRules) {
  build(R"(title: A then B
id: ab
correlation: {type: temporal_ordered, rules: [a, b], group-by: [Host], timespan: 1m}
)");
  feed(hit("b", 0, {{"Host", "h"}}));
  feed(hit("a", 1 * kSec, {{"Host", "h"}}));
  EXPECT_EQ(take(), Alerts{});  // b came first
  feed(hit("b", 2 * kSec, {{"Host", "h"}}));
  EXPECT_EQ(take(), Alerts{"ab@3"});
  // Event time decides the order, not arrival: b at 20 s arrives before a at 15 s, and still follows it.
  feed(hit("b", 20 * kSec, {{"Host", "g"}}));
  feed(hit("a", 15 * kSec, {{"Host", "g"}}));
  EXPECT_EQ(take(), Alerts{"ab@5"});
  feed(hit("a", 25 * kSec, {{"Host", "g"}}));
  feed(hit("b", 90 * kSec, {{"Host", "g"}}));  // a at 25 s is 65 s older: outside the minute
  EXPECT_EQ(take(), Alerts{});
}

TEST_F(StageTest, AnUpperBoundIsDecidedWhenTheWindowEnds) {
  build(R"(title: Fewer than three
id: lt3
correlation: {type: event_count, rules: [a], group-by: [Host], timespan: 10m, condition: {lt: 3}}
)",
        "settings: {tolerance: 1m}\n");
  feed(hit("a", 0, {{"Host", "h1"}}));
  feed(hit("a", 0, {{"Host", "h2"}}));
  feed(hit("a", 1 * kMin, {{"Host", "h2"}}));
  feed(hit("a", 2 * kMin, {{"Host", "h2"}}));
  advance(10 * kMin + 30 * kSec);  // the windows end at 10m; with the tolerance they stay open until 11m
  EXPECT_EQ(take(), Alerts{});
  advance(11 * kMin + 1);
  EXPECT_EQ(take(), Alerts{"lt3@1"});  // h1 had one, h2 three
  feed(hit("a", 12 * kMin, {{"Host", "h3"}}));
  EXPECT_EQ(take(), Alerts{});
  flush();  // the end of the input closes what is open
  EXPECT_EQ(take(), Alerts{"lt3@5"});
}

TEST_F(StageTest, AnEventWithoutATimeDoesNotMoveTheClock) {
  build(R"(title: Fewer than three
id: lt3
correlation: {type: event_count, rules: [a], group-by: [Host], timespan: 10m, condition: {lt: 3}}
)");
  feed(hit("a", 0, {{"Host", "h1"}}));
  StageHit untimed = hit("a", 365LL * 24 * 60 * kMin, {{"Host", "h2"}});  // arrival time, a year on
  untimed.event_time = false;
  feed(untimed);
  feed(hit("a", 1 * kMin, {{"Host", "h1"}}));
  EXPECT_EQ(stage_->counters().late, 0u);
  EXPECT_EQ(take(), Alerts{});  // h1's window is still open
  advance(11 * kMin + 1);
  EXPECT_EQ(take(), Alerts{"lt3@3"});
}

TEST_F(StageTest, ARangeNeedsBothBounds) {
  build(R"(title: Two
id: two
correlation: {type: event_count, rules: [a], group-by: [Host], timespan: 1m, condition: {gt: 1, lte: 2}}
)");
  for (int i = 0; i < 3; ++i) feed(hit("a", i, {{"Host", "three"}}));
  for (int i = 0; i < 2; ++i) feed(hit("a", i, {{"Host", "two"}}));
  feed(hit("a", 0, {{"Host", "one"}}));
  flush();
  EXPECT_EQ(take(), Alerts{"two@5"});
}

TEST_F(StageTest, ChainedCorrelationsFeedEachOther) {
  build(R"(title: Outer
id: outer
correlation: {type: temporal_ordered, rules: [inner, b], group-by: [User], timespan: 10m}
---
title: Inner
id: inner
name: inner
correlation: {type: event_count, rules: [a], group-by: [User], timespan: 10m, condition: {gte: 2}}
)");
  feed(hit("a", 0, {{"User", "u"}}));
  feed(hit("a", 1, {{"User", "u"}}));
  EXPECT_EQ(take(), Alerts{});  // the inner one fired, but the outer one is all that generates
  EXPECT_EQ(stage_->counters().consumed, 3u);
  feed(hit("b", 2, {{"User", "u"}}));
  EXPECT_EQ(take(), Alerts{"outer@3"});
}

TEST_F(StageTest, ThresholdPassesTheFirstAlertsAndSummarisesTheRest) {
  build("", "thresholds:\n  - rules: [a]\n    by: [Ip]\n    limit: 2\n    window: 1m\n");
  EXPECT_EQ(feed(hit("a", 0, {{"Ip", "1"}})), V::Pass);
  EXPECT_EQ(feed(hit("a", 1, {{"Ip", "1"}})), V::Pass);
  EXPECT_EQ(feed(hit("a", 2, {{"Ip", "1"}})), V::Suppressed);
  EXPECT_EQ(feed(hit("a", 3, {{"Ip", "2"}})), V::Pass);
  EXPECT_EQ(feed(hit("a", 4, {{"Ip", "1"}})), V::Suppressed);
  EXPECT_EQ(feed(hit("b", 5, {{"Ip", "1"}})), V::Pass);  // no policy for b
  EXPECT_EQ(take(), Alerts{});
  advance(2 * kMin + 1);  // the window (1m) and the tolerance (1m) are over
  EXPECT_EQ(take(), Alerts{"rule-a@5"});
  auto s = json(0)["suppression"];
  EXPECT_EQ(std::string_view(s["kind"]), "threshold");
  EXPECT_EQ(int64_t(s["suppressed"]), 2);
  EXPECT_EQ(int64_t(s["passed"]), 2);
  EXPECT_EQ(std::string_view(s["key"]["Ip"]), "1");
  EXPECT_EQ(std::string_view(s["first_alert"]), "in.jsonl:1");
  EXPECT_EQ(stage_->counters().suppressed, 2u);
  EXPECT_EQ(stage_->counters().summaries, 1u);
  EXPECT_EQ(feed(hit("a", 3 * kMin, {{"Ip", "1"}})), V::Pass);  // a new window
}

TEST_F(StageTest, DedupWithoutFieldsComparesWholeEvents) {
  build("", "dedup:\n  - rules: ['*']\n    window: 10m\n");
  EXPECT_EQ(feed(hit("a", 0, {}, 111)), V::Pass);
  EXPECT_EQ(feed(hit("a", 1, {}, 111)), V::Suppressed);
  EXPECT_EQ(feed(hit("b", 2, {}, 111)), V::Pass);  // another rule
  EXPECT_EQ(feed(hit("a", 3, {}, 222)), V::Pass);
  flush();
  EXPECT_EQ(take(), Alerts{"rule-a@2"});
  EXPECT_EQ(std::string_view(json(0)["suppression"]["kind"]), "dedup");
}

TEST_F(StageTest, GroupsBeyondTheLimitAreEvictedAndCounted) {
  build(kCount3, "settings: {max_keys: 2}\n");
  feed(hit("a", 0, {{"User", "u1"}}));
  feed(hit("a", 1, {{"User", "u2"}}));
  feed(hit("a", 2, {{"User", "u3"}}));  // u1 expires first: evicted
  EXPECT_EQ(stage_->counters().evicted, 1u);
  feed(hit("a", 3, {{"User", "u1"}}));
  feed(hit("a", 4, {{"User", "u1"}}));
  EXPECT_EQ(take(), Alerts{});  // u1's first hit was lost with its group
}

TEST_F(StageTest, ASnapshotCarriesAHalfFilledWindowIntoAnotherStage) {
  build(kCount3, "thresholds:\n  - rules: [b]\n    limit: 1\n    window: 1h\n");
  feed(hit("a", 0, {{"User", "bob"}}));
  feed(hit("a", 1 * kSec, {{"User", "bob"}}));
  feed(hit("b", 2 * kSec));
  EXPECT_EQ(feed(hit("b", 3 * kSec)), V::Suppressed);
  const std::string saved = stage_->snapshot();
  EXPECT_EQ(saved, stage_->snapshot());  // the same state, the same bytes

  stage_ = std::make_unique<StatefulStage>(rules_);
  ASSERT_TRUE(stage_->restore(saved).ok());
  EXPECT_EQ(stage_->counters().restored_groups, 2u);
  feed(hit("a", 2 * kSec, {{"User", "bob"}}));
  EXPECT_EQ(take(), Alerts{"c3@5"});
  EXPECT_EQ(feed(hit("b", 4 * kSec)), V::Suppressed);  // the threshold window goes on too
  flush();
  EXPECT_EQ(take(), Alerts{"rule-b@6"});
  EXPECT_EQ(int64_t(json(0)["suppression"]["suppressed"]), 2);
}

TEST_F(StageTest, RestoreKeepsOnlyUnchangedDefinitionsAndRefusesDamagedBytes) {
  build(kCount3);
  feed(hit("a", 0, {{"User", "bob"}}));
  const std::string saved = stage_->snapshot();
  build(R"(title: Three A per user
id: c3
correlation: {type: event_count, rules: [a], group-by: [User], timespan: 1m, condition: {gte: 4}}
)");
  ASSERT_TRUE(stage_->restore(saved).ok());
  EXPECT_EQ(stage_->counters().restored_groups, 0u);
  EXPECT_EQ(stage_->counters().restore_dropped, 1u);
  EXPECT_FALSE(stage_->restore("not a snapshot").ok());
  EXPECT_FALSE(stage_->restore(saved.substr(0, saved.size() - 3)).ok());
}

TEST_F(StageTest, TheSameInputGivesTheSameAlertsAndIds) {
  auto run = [&] {
    build(kCount3);
    line_ = 0;
    for (int i = 0; i < 9; ++i) feed(hit("a", i * kSec, {{"User", i % 2 ? "x" : "y"}}));
    flush();
    std::vector<std::string> ids;
    for (const auto& a : emitted_) ids.push_back(a.id + a.json);
    emitted_.clear();
    return ids;
  };
  std::vector<std::string> first = run();
  EXPECT_EQ(first.size(), 2u);
  EXPECT_EQ(first, run());
}

}  // namespace
}  // namespace socd::test
