// The alerts the stateful stage makes in the service's pipeline (Sigma correlation alerts, threshold summaries,
// Sagan threshold summaries) carry their asset (system, owner, level, or the unknown-asset flag) and their
// routing (layers and reason) like single-event alerts: in the JSON and in the stored alert's fields. The
// correlation is routed on its own tags, not those of the rules it counts.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <chrono>
#include <map>
#include <thread>

#include "pipeline.h"
#include "socd/json_parser.h"
#include "socd/rule_loader.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Failed logon
id: 7d1c0000-0000-4000-8000-0000000000f1
name: failed_logon
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
tags: [attack.t1110]
---
title: Service installed
id: 7d1c0000-0000-4000-8000-0000000000f2
logsource: {product: windows, service: system}
detection:
    selection:
        EventID: 7045
    condition: selection
level: medium
tags: [attack.persistence]
---
title: Logon brute force
id: 7d1c0000-0000-4000-8000-0000000000f3
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [Hostname]
    timespan: 10m
    condition:
        gte: 3
level: high
tags: [attack.credential_access]
)";

const char* kThresholds = R"(thresholds:
  - rules: [7d1c0000-0000-4000-8000-0000000000f2]
    by: [Hostname]
    limit: 1
    window: 5m
)";

const char* kSaganRules =
    "alert any $EXTERNAL_NET any -> $HOME_NET any (msg:\"[SSH] fail\"; content:\"Failed password\"; "
    "threshold: type limit, track by_src, count 1, seconds 60; classtype:attempted-user; sid:5000001; rev:1;)\n";

const char* kAssets = R"(systems:
  - {name: dc, owner: IT Centre, level: 4, hosts: [dc01]}
)";

// L4 for the correlation's tag even on an unknown asset; otherwise the default (high on a system of level 3+).
const char* kRouting = R"(sinks: {it-hook: {webhook: 'https://it.example/hook'}}
agencies: {IT Centre: it-hook}
layer4:
  when:
    - {tags: ['attack.credential_access']}
    - {min_rule_level: high, min_system_level: 3}
)";

std::string event(int minute, int id, const std::string& host) {
  char t[8];
  std::snprintf(t, sizeof t, "%02d", minute);
  return std::string(R"({"Channel":")") + (id == 7045 ? "System" : "Security") + R"(","EventID":)" +
         std::to_string(id) + R"(,"Hostname":")" + host + R"(","TimeCreated":"2026-03-11T10:)" + t + R"(:00Z"})";
}

class PipelineStageEnrichment : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_TRUE(write_file(dir_.file("assets.yml"), kAssets));
    ASSERT_TRUE(write_file(dir_.file("routing.yml"), kRouting));
    std::vector<Diagnostic> diags;
    auto e = load_enrichment({dir_.file("assets.yml"), {}, dir_.file("routing.yml")}, diags);
    ASSERT_TRUE(e.ok()) << e.error().message();
    enrichment_ = *e;
  }

  void load(const std::string& file, const std::string& text, const std::string& thresholds) {
    ASSERT_TRUE(write_file(dir_.file(file), text));
    auto mapping = parse_field_mapping(
        "mappings", "time_fields: [TimeCreated, timestamp]\nhost_fields: [Hostname, host]\n");
    ASSERT_TRUE(mapping.ok()) << mapping.error().message();
    StageConfig stage;
    if (!thresholds.empty()) {
      auto c = parse_stage_config("thresholds.yml", thresholds);
      ASSERT_TRUE(c.ok()) << c.error().message();
      stage = *c;
    }
    LoadedRules loaded = load_rules({dir_.file(file)}, *mapping, {}, stage);
    for (const auto& d : loaded.diagnostics)
      if (!is_warning(d)) ADD_FAILURE() << d.to_string();
    ASSERT_EQ(loaded.skipped, 0u);
    rules_ = loaded.set;
    stateful_ = loaded.stateful;
    ASSERT_TRUE(stateful_ && stateful_->active());
  }

  // Runs the lines through a pipeline (one batch each, in order) with the enrichment, then stops it.
  void run(const std::vector<std::string>& lines, InputFormat format = InputFormat::Auto) {
    auto store = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(store.ok()) << store.error().message();
    PipelineOptions options;
    options.workers = 2;
    options.format = format;
    Pipeline pipeline(**store, rules_, options, stateful_, enrichment_);
    pipeline.start();
    uint64_t number = 0;
    for (const auto& line : lines) {
      auto batch = std::make_unique<SourceBatch>();
      batch->origin = "security.jsonl";
      batch->stream = "stream-1";
      ++number;
      batch->lines.add(line, number, number * 100);
      batch->lines.finish(JsonEventParser::padding());
      ASSERT_TRUE(pipeline.push(std::move(batch), true));
    }
    pipeline.drain();
    ASSERT_FALSE(pipeline.failed());
  }

  std::vector<StoredAlert> stored() {
    StoreOptions ro;
    ro.read_only = true;
    auto store = AlertStore::open(dir_.file("store"), ro);
    EXPECT_TRUE(store.ok());
    std::vector<StoredAlert> out;
    if (!store.ok()) return out;
    EXPECT_TRUE((*store)->list({}, [&](const StoredAlert& a) {
                            out.push_back(a);
                            return true;
                          }).ok());
    return out;
  }

  // The alert's "asset" and "routing" members, as compact JSON text ("" when absent).
  std::string member(const StoredAlert& a, const char* name) {
    simdjson::padded_string padded(a.json);
    simdjson::dom::element root;
    auto error = parser_.parse(padded).get(root);
    EXPECT_FALSE(error) << a.json;
    if (error) return {};
    simdjson::dom::element m;
    if (root[name].get(m)) return {};
    return simdjson::minify(m);
  }

  TempDir dir_;
  Enrichment enrichment_;
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<const StatefulRules> stateful_;
  simdjson::dom::parser parser_;
};

TEST_F(PipelineStageEnrichment, CorrelationAndThresholdSummaryAlertsCarryAssetAndRouting) {
  load("rules.yml", kRules, kThresholds);
  run({event(0, 4625, "dc01"), event(1, 4625, "dc01"), event(2, 4625, "dc01"),      // correlation on dc
       event(3, 4625, "pc99"), event(4, 4625, "pc99"), event(5, 4625, "pc99"),      // correlation, unknown
       event(6, 7045, "dc01"), event(7, 7045, "dc01"), event(8, 7045, "dc01"),      // 1 passed, 2 held back
       event(30, 4624, "dc01")});  // moves event time past the threshold window: its summary is made
  const std::string correlation = "7d1c0000-0000-4000-8000-0000000000f3";
  const std::string service = "7d1c0000-0000-4000-8000-0000000000f2";
  const StoredAlert *on_dc = nullptr, *on_unknown = nullptr, *summary = nullptr, *passed = nullptr;
  std::vector<StoredAlert> all = stored();
  for (const auto& a : all) {
    if (a.rule_id == correlation && a.host == "dc01") on_dc = &a;
    if (a.rule_id == correlation && a.host == "pc99") on_unknown = &a;
    if (a.rule_id == service && a.json.find("\"suppression\"") != std::string::npos) summary = &a;
    if (a.rule_id == service && a.json.find("\"suppression\"") == std::string::npos) passed = &a;
  }
  ASSERT_TRUE(on_dc && on_unknown && summary && passed) << all.size() << " alerts";

  EXPECT_EQ(on_dc->system, "dc");
  EXPECT_EQ(on_dc->system_level, 4);
  EXPECT_EQ(on_dc->layers, kLayer1 | kLayer2 | kLayer3 | kLayer4);
  EXPECT_EQ(member(*on_dc, "asset"), R"({"system":"dc","owner":"IT Centre","level":4,"known":true})");
  // The correlation's own tag sends it to L4 (the first layer4.when entry, line 5 of the routing file).
  EXPECT_EQ(member(*on_dc, "routing"),
            R"({"layers":["L1","L2","L3","L4"],"reason":"L1: owner 'IT Centre' via sink 'it-hook'; L2, L3: )"
            R"(always; L4: tag attack.credential_access ()" +
                dir_.file("routing.yml") + R"x(:5)"})x")
      << on_dc->json;
  EXPECT_NE(on_dc->json.find("\"correlation\":{"), std::string::npos);

  // An unknown asset is flagged; the correlation's own tag (not its rule's attack.t1110) sends it to L4.
  EXPECT_EQ(on_unknown->system, "");
  EXPECT_EQ(on_unknown->system_level, 0);
  EXPECT_EQ(on_unknown->layers, kLayer2 | kLayer3 | kLayer4);
  EXPECT_EQ(member(*on_unknown, "asset"), R"({"known":false})");
  EXPECT_NE(member(*on_unknown, "routing").find(R"("layers":["L2","L3","L4"])"), std::string::npos);

  // The threshold's summary is placed and routed like the alert it summarises.
  EXPECT_EQ(summary->system, "dc");
  EXPECT_EQ(summary->system_level, 4);
  EXPECT_EQ(summary->layers, kLayer1 | kLayer2 | kLayer3);
  EXPECT_EQ(summary->layers, passed->layers);
  EXPECT_EQ(member(*summary, "asset"), member(*passed, "asset"));
  EXPECT_EQ(member(*summary, "routing"), member(*passed, "routing"));
  EXPECT_NE(member(*summary, "routing"), "");
}

TEST_F(PipelineStageEnrichment, SaganThresholdSummariesCarryAssetAndRouting) {
  load("ssh.rules", kSaganRules, "");
  std::vector<std::string> lines;
  for (int s : {0, 5, 10})
    lines.push_back("<38>1 2026-03-11T10:00:" + std::string(s < 10 ? "0" : "") + std::to_string(s) +
                    "Z dc01 sshd 42 - - Failed password for root from 203.0.113.9 port 4242 ssh2");
  lines.push_back("<38>1 2026-03-11T10:30:00Z dc01 sshd 42 - - Accepted publickey for admin");
  run(lines, InputFormat::Syslog);
  const StoredAlert *summary = nullptr, *passed = nullptr;
  std::vector<StoredAlert> all = stored();
  for (const auto& a : all) {
    if (a.json.find("\"sagan-threshold\"") != std::string::npos) summary = &a;
    else passed = &a;
  }
  ASSERT_TRUE(summary && passed) << all.size() << " alerts";
  EXPECT_EQ(summary->system, "dc");
  EXPECT_EQ(summary->system_level, 4);
  EXPECT_EQ(summary->layers, passed->layers);
  EXPECT_NE(summary->layers & kLayer2, 0);
  EXPECT_EQ(member(*summary, "asset"), R"({"system":"dc","owner":"IT Centre","level":4,"known":true})");
  EXPECT_EQ(member(*summary, "routing"), member(*passed, "routing"));
}

}  // namespace
}  // namespace socd::test
