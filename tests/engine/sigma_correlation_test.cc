// Sigma correlation and filter documents: what the front end reads from them, the diagnostics for shapes it
// cannot use, how filters change the rules they name, and how StatefulRules resolves correlation references.
#include <gtest/gtest.h>

#include "sigma_test_support.h"
#include "socd/event_parser.h"
#include "socd/rule_loader.h"
#include "socd/stateful.h"

namespace socd::test {
namespace {

const char* kBase = R"(title: Failed logon
id: base-1
name: failed_logon
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
)";

std::string correlation(const std::string& body) { return "title: C\nid: corr-1\ncorrelation:\n" + body; }

Diagnostic only_diagnostic(const RuleLoad& load) {
  EXPECT_EQ(load.diagnostics.size(), 1u);
  return load.diagnostics.empty() ? Diagnostic{} : load.diagnostics[0];
}

TEST(SigmaCorrelationLoad, ReadsEveryPartOfTheSection) {
  RuleLoad load = load_rules_text(R"(title: Spraying
id: 0e95725d-7320-415d-80f7-004da920fc12
name: spraying
level: high
tags: [attack.t1110.003]
correlation:
    type: value_count
    rules:
        - failed_logon
        - 5638f7c0-ac70-491d-8465-2a65075e0d86
    group-by:
        - ComputerName
        - src
    timespan: 90m
    condition:
        field: [User, Domain]
        gt: 100
        lte: 200
    aliases:
        src:
            failed_logon: IpAddress
            other_rule: SourceIp
    generate: true
)");
  ASSERT_EQ(load.correlations.size(), 1u)
      << (load.diagnostics.empty() ? "" : load.diagnostics[0].to_string());
  const Correlation& c = load.correlations[0];
  EXPECT_EQ(c.id, "0e95725d-7320-415d-80f7-004da920fc12");
  EXPECT_EQ(c.name, "spraying");
  EXPECT_EQ(c.level, "high");
  EXPECT_EQ(c.tags, std::vector<std::string>{"attack.t1110.003"});
  EXPECT_EQ(c.type, Correlation::Type::ValueCount);
  EXPECT_EQ(c.rules, (std::vector<std::string>{"failed_logon", "5638f7c0-ac70-491d-8465-2a65075e0d86"}));
  EXPECT_EQ(c.group_by, (std::vector<std::string>{"ComputerName", "src"}));
  EXPECT_EQ(c.timespan_ms, 90 * 60 * 1000);
  EXPECT_EQ(c.timespan, "90m");
  EXPECT_EQ(c.value_fields, (std::vector<std::string>{"User", "Domain"}));
  ASSERT_EQ(c.condition.size(), 2u);
  EXPECT_EQ(c.condition[0].op, CountBound::Op::Gt);
  EXPECT_EQ(c.condition[0].value, 100u);
  EXPECT_EQ(c.condition[1].op, CountBound::Op::Lte);
  EXPECT_EQ(c.aliases.at("src").at("failed_logon"), "IpAddress");
  EXPECT_EQ(c.aliases.at("src").at("other_rule"), "SourceIp");
  EXPECT_TRUE(c.generate);
  EXPECT_EQ(c.line, 1);
}

TEST(SigmaCorrelationLoad, TimespansInEveryUnit) {
  for (auto [text, ms] : std::vector<std::pair<std::string, int64_t>>{
           {"30s", 30000}, {"5m", 300000}, {"2h", 7200000}, {"7d", 604800000}}) {
    RuleLoad load =
        load_rules_text(correlation("    type: temporal\n    rules: [a, b]\n    timespan: " + text + "\n"));
    ASSERT_EQ(load.correlations.size(), 1u) << text;
    EXPECT_EQ(load.correlations[0].timespan_ms, ms) << text;
    EXPECT_TRUE(load.correlations[0].condition.empty());  // temporal: every rule must be seen
    EXPECT_FALSE(load.correlations[0].generate);
  }
}

TEST(SigmaCorrelationLoad, ShapesItCannotUseAreSkippedWithTheLine) {
  struct Case {
    std::string body, reason;
    int line;
  };
  const std::vector<Case> cases = {
      {"    type: event_cnt\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 1}\n", "bad-correlation",
       4},
      {"    type: value_sum\n    rules: [a]\n    timespan: 5m\n    condition: {field: x, gt: 1}\n",
       "correlation-unsupported", 4},
      {"    type: event_count\n    timespan: 5m\n    condition: {gte: 1}\n", "bad-correlation", 3},
      {"    type: event_count\n    rules: [a]\n    condition: {gte: 1}\n", "bad-correlation", 3},
      {"    type: event_count\n    rules: [a]\n    timespan: 5x\n    condition: {gte: 1}\n",
       "bad-correlation", 6},
      {"    type: event_count\n    rules: [a]\n    timespan: 5m\n", "bad-correlation", 3},
      {"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: many}\n",
       "bad-correlation", 7},
      {"    type: event_count\n    rules: [a]\n    timespan: 5m\n    condition: {above: 3}\n",
       "bad-correlation", 7},
      {"    type: value_count\n    rules: [a]\n    timespan: 5m\n    condition: {gte: 3}\n",
       "bad-correlation", 7},
      {"    type: temporal_ordered\n    rules: [a, b]\n    timespan: 5m\n    condition: {lt: 2}\n",
       "bad-correlation", 7},
      {"    type: temporal\n    rules: [a, b]\n    timespan: 5m\n    condition: {gte: 3}\n",
       "bad-correlation", 7},
      {"    type: temporal\n    rules: [a, b]\n    timespan: 5m\n    generate: maybe\n", "bad-correlation",
       7},
  };
  for (const Case& c : cases) {
    RuleLoad load = load_rules_text(correlation(c.body), {}, "mr.yml");
    EXPECT_TRUE(load.correlations.empty()) << c.body;
    EXPECT_EQ(load.skipped, 1u) << c.body;
    Diagnostic d = only_diagnostic(load);
    EXPECT_EQ(d.reason, c.reason) << c.body << d.to_string();
    EXPECT_EQ(d.line, c.line) << c.body << d.to_string();
    EXPECT_EQ(d.file, "mr.yml");
  }
}

TEST(SigmaCorrelationLoad, RuleNamesAreRead) {
  RuleLoad load = load_rules_text(kBase);
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(load.rules[0].name, "failed_logon");
}

// ---- filters ----

class SigmaFilterTest : public ::testing::Test {
protected:
  void load(const std::string& text) {
    load_ = load_rules_text(text);
    apply_filters(load_);
    std::vector<Diagnostic> diags;
    set_ = RuleSet::compile(load_.rules, FieldMapping{}, {}, diags);
    matcher_ = std::make_unique<Matcher>(set_);
    event_ = std::make_unique<Event>(&set_->paths());
  }
  std::vector<std::string> fire(const std::string& json) {
    std::string padded = json + std::string(64, '\0');
    JsonEventParser parser;
    EXPECT_TRUE(parser.parse(std::string_view(padded.data(), json.size()), *event_).ok());
    std::vector<uint32_t> m;
    matcher_->match(*event_, m);
    std::vector<std::string> ids;
    for (uint32_t r : m) ids.push_back(set_->rule(r).id);
    return ids;
  }
  std::vector<std::string> reasons() const {
    std::vector<std::string> r;
    for (const auto& d : load_.diagnostics) r.push_back(d.reason);
    return r;
  }
  RuleLoad load_;
  std::shared_ptr<const RuleSet> set_;
  std::unique_ptr<Matcher> matcher_;
  std::unique_ptr<Event> event_;
};

using Ids = std::vector<std::string>;

const char* kWhoami = R"(title: Whoami
id: rule-whoami
name: whoami
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
---
title: Other
id: rule-other
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\whoami.exe'
    condition: selection
---
)";

TEST_F(SigmaFilterTest, ExcludesWhatTheFilterSaysOnlyFromTheRulesItNames) {
  load(std::string(kWhoami) + R"(title: Admins
logsource: {product: windows, category: process_creation}
filter:
    rules: [whoami]
    admins:
        User|startswith: adm_
    service:
        User: svc
    condition: not admins and not service
)");
  EXPECT_TRUE(load_.diagnostics.empty());
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\whoami.exe","User":"joe"})"), (Ids{"rule-whoami", "rule-other"}));
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\whoami.exe","User":"adm_joe"})"), Ids{"rule-other"});
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\whoami.exe","User":"svc"})"), Ids{"rule-other"});
  EXPECT_EQ(fire(R"({"Image":"C:\\w\\whoami.exe"})"), (Ids{"rule-whoami", "rule-other"}));
}

TEST_F(SigmaFilterTest, TwoFiltersOnOneRuleBothApply) {
  load(std::string(kWhoami) + R"(title: A
logsource: {product: windows}
filter:
    rules: [rule-whoami]
    sel: {User: a}
    condition: not sel
---
title: B
logsource: {product: windows}
filter:
    rules: [whoami]
    sel: {User: b}
    condition: not sel
)");
  EXPECT_EQ(fire(R"({"Image":"x\\whoami.exe","User":"a"})"), Ids{"rule-other"});
  EXPECT_EQ(fire(R"({"Image":"x\\whoami.exe","User":"b"})"), Ids{"rule-other"});
  EXPECT_EQ(fire(R"({"Image":"x\\whoami.exe","User":"c"})"), (Ids{"rule-whoami", "rule-other"}));
}

TEST_F(SigmaFilterTest, ProblemsAreWarningsNamingTheFilter) {
  load(std::string(kWhoami) + R"(title: Wrong source
logsource: {product: linux}
filter:
    rules: [whoami, nosuchrule]
    sel: {User: a}
    condition: sel
)");
  EXPECT_EQ(reasons(), (std::vector<std::string>{"warning-filter-keeps", "warning-filter-logsource",
                                                 "warning-filter-unknown-rule"}));
  for (const auto& d : load_.diagnostics) EXPECT_NE(d.message.find("Wrong source"), std::string::npos);
  // not applied: the log source differs
  EXPECT_EQ(fire(R"({"Image":"x\\whoami.exe","User":"a"})"), (Ids{"rule-whoami", "rule-other"}));
}

TEST(SigmaFilterLoad, BadFiltersAreSkipped) {
  RuleLoad load = load_rules_text(
      "title: F\nlogsource: {product: windows}\nfilter:\n    sel: {User: a}\n"
      "    condition: not sel\n");
  EXPECT_EQ(load.skipped, 1u);
  EXPECT_EQ(only_diagnostic(load).reason, "bad-filter");
  load = load_rules_text(
      "title: F\nlogsource: {product: windows}\nfilter:\n    rules: [x]\n    sel: {User: a}\n"
      "    condition: not nothere\n");
  EXPECT_EQ(only_diagnostic(load).reason, "bad-condition");
  EXPECT_EQ(only_diagnostic(load).line, 6);
}

// ---- references, resolved against the compiled rule set ----

struct Built {
  std::shared_ptr<const StatefulRules> rules;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> reasons() const {
    std::vector<std::string> r;
    for (const auto& d : diagnostics) r.push_back(d.reason);
    return r;
  }
};

Built build(const std::string& text, const StageConfig& config = {}) {
  RuleLoad load = load_rules_text(text, {}, "mr.yml");
  EXPECT_EQ(load.skipped, 0u) << (load.diagnostics.empty() ? "" : load.diagnostics[0].to_string());
  note_state_fields(load.rules, load.correlations, config);
  Built b;
  std::vector<Diagnostic> compile_diagnostics;  // unmapped log sources: not what these tests are about
  auto set = RuleSet::compile(load.rules, FieldMapping{}, {}, compile_diagnostics);
  b.rules = StatefulRules::build(set, load.correlations, config, b.diagnostics);
  return b;
}

TEST(StatefulRulesBuild, ReferencesByIdAndByName) {
  Built b = build(std::string(kBase) + "---\n" + R"(title: C1
id: c1
correlation: {type: event_count, rules: [failed_logon], group-by: [User], timespan: 5m, condition: {gte: 3}}
---
title: C2
id: c2
correlation: {type: event_count, rules: [base-1], group-by: [Host], timespan: 5m, condition: {gte: 3}}
)");
  EXPECT_TRUE(b.diagnostics.empty());
  EXPECT_EQ(b.rules->correlation_count(), 2u);
  EXPECT_TRUE(b.rules->needs(0));
  EXPECT_EQ(b.rules->rule_set().rule(0).state_fields, (std::vector<std::string>{"User", "Host"}));
}

TEST(StatefulRulesBuild, UnknownReferencesCyclesAndMissingChainedFieldsLeaveTheCorrelationOut) {
  Built b = build(std::string(kBase) + "---\n" + R"(title: Unknown
id: u
correlation: {type: event_count, rules: [nosuch], group-by: [User], timespan: 5m, condition: {gte: 3}}
---
title: Over unknown
id: ou
correlation: {type: event_count, rules: [u], group-by: [User], timespan: 5m, condition: {gte: 3}}
---
title: Loop A
id: la
correlation: {type: temporal, rules: [lb, failed_logon], group-by: [User], timespan: 5m}
---
title: Loop B
id: lb
correlation: {type: temporal, rules: [la, failed_logon], group-by: [User], timespan: 5m}
---
title: Inner
id: inner
correlation: {type: event_count, rules: [failed_logon], group-by: [User], timespan: 5m, condition: {gte: 3}}
---
title: Outer by host
id: outer
correlation: {type: event_count, rules: [inner], group-by: [Host], timespan: 1h, condition: {gte: 2}}
)");
  EXPECT_EQ(b.rules->correlation_count(), 1u);  // only "inner"
  std::vector<std::string> r = b.reasons();
  std::sort(r.begin(), r.end());
  EXPECT_EQ(r, (std::vector<std::string>{"bad-correlation", "bad-correlation", "bad-correlation",
                                         "unknown-rule-reference", "unknown-rule-reference"}));
  for (const auto& d : b.diagnostics) {
    EXPECT_EQ(d.file, "mr.yml");
    EXPECT_GT(d.line, 1);
  }
}

TEST(StatefulRulesBuild, GenerateDecidesWhetherTheBaseRuleStillEmits) {
  Built b = build(std::string(kBase) + "---\n" + R"(title: Other
id: base-2
logsource: {product: windows}
detection: {sel: {EventID: 1}, condition: sel}
---
title: C
id: c
correlation: {type: event_count, rules: [base-1], group-by: [User], timespan: 5m, condition: {gte: 3}}
)");
  EXPECT_TRUE(b.rules->needs(0));
  EXPECT_FALSE(b.rules->needs(1));  // nothing refers to it: the stage has no say
}

TEST(StatefulRulesBuild, PoliciesNamingNoRuleAreWarnings) {
  auto config =
      parse_stage_config("t.yml", "thresholds:\n  - rules: [nosuch]\n    limit: 1\n    window: 1m\n");
  ASSERT_TRUE(config.ok()) << config.error().message();
  Built b = build(kBase, *config);
  EXPECT_EQ(b.reasons(), std::vector<std::string>{"warning-policy-unknown-rule"});
  EXPECT_EQ(b.diagnostics[0].line, 2);
  EXPECT_FALSE(b.rules->active());
}

// ---- the thresholds file ----

TEST(StageConfigFile, ReadsSettingsThresholdsAndDedup) {
  auto c = parse_stage_config("t.yml", R"(settings:
  tolerance: 30s
  max_keys: 500
  max_alert_ids: 5
  max_entries_per_key: 64
  checkpoint_interval: 2s
thresholds:
  - rules: [a, b]
    by: [src_ip]
    limit: 5
    window: 10m
dedup:
  - rules: '*'
    window: 1h
)");
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->settings.tolerance_ms, 30000);
  EXPECT_EQ(c->settings.max_keys, 500u);
  EXPECT_EQ(c->settings.max_alert_ids, 5u);
  EXPECT_EQ(c->settings.max_entries_per_key, 64u);
  EXPECT_EQ(c->settings.checkpoint_interval_ms, 2000);
  ASSERT_EQ(c->policies.size(), 2u);
  EXPECT_EQ(c->policies[0].kind, SuppressionPolicy::Kind::Threshold);
  EXPECT_EQ(c->policies[0].rules, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c->policies[0].by, std::vector<std::string>{"src_ip"});
  EXPECT_EQ(c->policies[0].limit, 5u);
  EXPECT_EQ(c->policies[0].window_ms, 600000);
  EXPECT_EQ(c->policies[0].line, 8);
  EXPECT_EQ(c->policies[1].kind, SuppressionPolicy::Kind::Dedup);
  EXPECT_EQ(c->policies[1].rules, std::vector<std::string>{"*"});
  EXPECT_EQ(c->policies[1].limit, 1u);
}

TEST(StageConfigFile, ErrorsNameFileAndLine) {
  struct Case {
    std::string text, where;
  };
  for (const Case& c : std::vector<Case>{
           {"settings:\n  tolerance: soon\n", "t.yml:2:"},
           {"settings:\n  speed: 3\n", "t.yml:2:"},
           {"thresholds:\n  - rules: [a]\n    window: 1m\n", "t.yml:2:"},  // no limit
           {"thresholds:\n  - rules: [a]\n    limit: 0\n    window: 1m\n", "t.yml:3:"},
           {"dedup:\n  - rules: [a]\n    limit: 2\n    window: 1m\n", "t.yml:3:"},  // dedup has no limit
           {"dedup:\n  - window: 1m\n", "t.yml:2:"},
           {"alerts: {}\n", "t.yml:1:"},
           {"thresholds: [\n", "t.yml:"},
       }) {
    auto r = parse_stage_config("t.yml", c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().message().rfind(c.where, 0), 0u) << c.text << " -> " << r.error().message();
  }
  EXPECT_TRUE(parse_stage_config("t.yml", "").ok());
  EXPECT_FALSE(load_stage_config("/nonexistent/thresholds.yml").ok());
}

}  // namespace
}  // namespace socd::test
