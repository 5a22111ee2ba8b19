// The service's pipeline with an asset inventory, an intelligence list and routing: stored alerts carry their
// system, level and layers (fields and JSON), intelligence hits are stored as alerts of intel:<list> with
// stable ids, a syslog sender address places an event, and a swap (SIGHUP reload) brings in the new inventory
// and lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "pipeline.h"
#include "socd/json_parser.h"
#include "socd/rule_loader.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Logon
id: 7d1c0000-0000-4000-8000-0000000000e1
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4624
    condition: selection
level: high
)";

const char* kAssets = R"(systems:
  - {name: dc, owner: IT Centre, level: 4, hosts: [dc01]}
  - {name: portal, owner: Agency A, level: 2, ranges: [10.20.0.0/16]}
)";

const char* kRouting = R"(sinks: {it-hook: {webhook: 'https://it.example/hook'}}
agencies: {IT Centre: it-hook}
)";

class PipelineEnrichment : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  // Loads rules and enrichment as `socd run` does (the intelligence fields compiled into the rule set).
  void load(const std::string& assets, const std::string& intel_list) {
    ASSERT_TRUE(write_file(dir_.file("rules.yml"), kRules));
    ASSERT_TRUE(write_file(dir_.file("assets.yml"), assets));
    ASSERT_TRUE(write_file(dir_.file("routing.yml"), kRouting));
    ASSERT_TRUE(write_file(dir_.file("bad.txt"), intel_list));
    EnrichmentPaths paths{dir_.file("assets.yml"), {dir_.file("bad.txt")}, dir_.file("routing.yml")};
    std::vector<Diagnostic> diags;
    auto e = load_enrichment(paths, diags);
    ASSERT_TRUE(e.ok()) << e.error().message();
    enrichment_ = *e;
    auto mapping = parse_field_mapping("mappings", "host_fields: [Hostname]\n");
    ASSERT_TRUE(mapping.ok());
    CompileOptions options;
    options.extra_fields = enrichment_.extra_fields();
    LoadedRules loaded = load_rules({dir_.file("rules.yml")}, *mapping, options);
    ASSERT_EQ(loaded.loaded, 1u);
    rules_ = loaded.set;
    stateful_ = loaded.stateful;
  }

  void push(Pipeline& pipeline, const std::vector<std::string>& lines, const std::string& peer = {}) {
    auto batch = std::make_unique<SourceBatch>();
    batch->origin = peer.empty() ? "security.jsonl" : "udp://127.0.0.1:5514";
    if (peer.empty()) batch->stream = "stream-1";
    uint32_t peer_index = 0;
    if (!peer.empty()) {
      batch->lines.peers.push_back(peer);
      peer_index = static_cast<uint32_t>(batch->lines.peers.size());
    }
    for (const auto& line : lines) {
      ++line_;
      batch->lines.add(line, line_, line_ * 100, peer_index);
    }
    batch->lines.finish(JsonEventParser::padding());
    ASSERT_TRUE(pipeline.push(std::move(batch), true));
  }

  std::vector<StoredAlert> stored() {
    StoreOptions ro;
    ro.read_only = true;
    auto store = AlertStore::open(dir_.file("store"), ro);
    EXPECT_TRUE(store.ok());
    std::vector<StoredAlert> out;
    if (!store.ok()) return out;
    EXPECT_TRUE((*store)
                    ->list({},
                           [&](const StoredAlert& a) {
                             out.push_back(a);
                             return true;
                           })
                    .ok());
    return out;
  }

  TempDir dir_;
  Enrichment enrichment_;
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<const StatefulRules> stateful_;
  uint64_t line_ = 0;
};

TEST_F(PipelineEnrichment, StoredAlertsCarryTheirSystemLayersAndIntelligenceHits) {
  load(kAssets, "203.0.113.7\n");
  {
    auto store = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(store.ok()) << store.error().message();
    PipelineOptions options;
    options.workers = 2;
    Pipeline pipeline(**store, rules_, options, stateful_, enrichment_);
    pipeline.start();
    push(pipeline, {R"({"Channel":"Security","EventID":4624,"Hostname":"dc01","IpAddress":"203.0.113.7"})",
                    R"({"Channel":"Security","EventID":4624,"Hostname":"pc99","IpAddress":"10.0.0.1"})",
                    R"({"Channel":"Security","EventID":4625,"Hostname":"pc99","IpAddress":"203.0.113.7"})"});
    // A network message: the sender's address places it.
    push(pipeline, {R"({"Channel":"Security","EventID":4624,"Hostname":"web07"})"}, "10.20.3.4:40000");
    pipeline.drain();
    std::map<std::string, uint64_t> matches;
    for (auto& [rule, n] : pipeline.rule_matches()) matches[rule] = n;
    EXPECT_EQ(matches["intel:bad"], 2u);
  }
  std::vector<StoredAlert> alerts = stored();
  std::map<std::string, const StoredAlert*> by_key;  // "<rule>@<host>"
  for (const auto& a : alerts) by_key[a.rule_id + "@" + a.host] = &a;
  ASSERT_EQ(alerts.size(), 5u);
  const std::string rule = "7d1c0000-0000-4000-8000-0000000000e1";

  const StoredAlert* dc = by_key[rule + "@dc01"];
  ASSERT_TRUE(dc);
  EXPECT_EQ(dc->system, "dc");
  EXPECT_EQ(dc->system_level, 4);
  EXPECT_EQ(dc->layers, kLayer1 | kLayer2 | kLayer3 | kLayer4);
  EXPECT_NE(
      dc->json.find(R"("asset":{"system":"dc","owner":"IT Centre","level":4,"known":true},)"
                    R"("routing":{"layers":["L1","L2","L3","L4"],"reason":"L1: owner 'IT Centre' via sink )"
                    R"('it-hook'; L2, L3: always; L4: rule level high >= high and system level 4 >= 3 )"
                    R"x((default)"},"event":)x"),
      std::string::npos)
      << dc->json;

  const StoredAlert* unknown = by_key[rule + "@pc99"];
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->system, "");
  EXPECT_EQ(unknown->system_level, 0);
  EXPECT_EQ(unknown->layers, kLayer2 | kLayer3);
  EXPECT_NE(unknown->json.find(R"("asset":{"known":false})"), std::string::npos);

  const StoredAlert* by_sender = by_key[rule + "@web07"];
  ASSERT_TRUE(by_sender);
  EXPECT_EQ(by_sender->system, "portal");
  EXPECT_EQ(by_sender->system_level, 2);

  const StoredAlert* intel_dc = by_key["intel:bad@dc01"];
  const StoredAlert* intel_pc = by_key["intel:bad@pc99"];
  ASSERT_TRUE(intel_dc && intel_pc);
  EXPECT_EQ(intel_dc->level, "high");
  EXPECT_EQ(intel_dc->system, "dc");
  EXPECT_NE(intel_dc->json.find(
                R"("intel":{"list":"bad","type":"ip","indicator":"203.0.113.7","field":"IpAddress",)"
                R"("value":"203.0.113.7"})"),
            std::string::npos)
      << intel_dc->json;
  EXPECT_EQ(intel_dc->json.find("{\"id\":\"" + intel_dc->id + "\",\"rule\":{\"id\":\"intel:bad\""), 0u);
  EXPECT_EQ(intel_pc->system, "");  // the 4625 event: no rule of its own, the list alone fires
}

TEST_F(PipelineEnrichment, ASwapBringsInTheNewInventoryAndLists) {
  load("systems: []\n", "198.51.100.1\n");
  auto store = AlertStore::open(dir_.file("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  {
    Pipeline pipeline(**store, rules_, PipelineOptions{}, stateful_, enrichment_);
    pipeline.start();
    push(pipeline, {R"({"Channel":"Security","EventID":4624,"Hostname":"dc01","IpAddress":"203.0.113.7"})"});
    // The first batch stored with the first rule set, then the swap, as SIGHUP does it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (pipeline.batches_stored() < 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_EQ(pipeline.batches_stored(), 1u);
    load(kAssets, "203.0.113.7\n");
    pipeline.swap_rules(rules_, stateful_, enrichment_);
    push(pipeline, {R"({"Channel":"Security","EventID":4624,"Hostname":"dc01","IpAddress":"203.0.113.7"})"});
    pipeline.drain();
  }
  store->reset();
  std::vector<std::string> seen;
  for (const auto& a : stored()) seen.push_back(a.rule_id + " " + (a.system.empty() ? "?" : a.system));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"7d1c0000-0000-4000-8000-0000000000e1 ?",
                                            "7d1c0000-0000-4000-8000-0000000000e1 dc", "intel:bad dc"}));
}

}  // namespace
}  // namespace socd::test
