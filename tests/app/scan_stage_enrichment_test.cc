// socd scan: the alerts its stateful stage makes (here a Sigma event_count correlation) carry their asset and
// routing like single-event alerts, as in the service's pipeline (pipeline_stage_enrichment_test.cc).
#include <gtest/gtest.h>
#include <simdjson.h>

#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Failed logon
id: 7d1c0000-0000-4000-8000-0000000000e1
name: failed_logon_scan
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
tags: [attack.t1110]
---
title: Logon brute force
id: 7d1c0000-0000-4000-8000-0000000000e3
correlation:
    type: event_count
    rules: [failed_logon_scan]
    group-by: [Hostname]
    timespan: 10m
    condition:
        gte: 3
    generate: true
level: high
tags: [attack.credential_access]
)";

TEST(ScanStageEnrichment, CorrelationAlertsCarryAssetAndRouting) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("rules.yml"), kRules));
  ASSERT_TRUE(write_file(dir.file("assets.yml"), "systems:\n  - {name: dc, owner: IT Centre, level: 4, hosts: [dc01]}\n"));
  ASSERT_TRUE(write_file(dir.file("routing.yml"),
                         "sinks: {it-hook: {webhook: 'https://it.example/hook'}}\n"
                         "agencies: {IT Centre: it-hook}\n"
                         "layer4:\n  when:\n    - {tags: ['attack.credential_access']}\n"));
  std::string events;
  for (int minute = 1; minute <= 3; ++minute)
    events += R"({"Channel":"Security","EventID":4625,"Hostname":"dc01","TimeCreated":"2026-03-11T10:0)" +
              std::to_string(minute) + ":00Z\"}\n";
  ASSERT_TRUE(write_file(dir.file("events.jsonl"), events));
  ProcessResult r = run_socd({"scan", "--rules", dir.file("rules.yml"), "--assets", dir.file("assets.yml"),
                              "--routing", dir.file("routing.yml"), "--input", dir.file("events.jsonl"),
                              "--cache-dir", "none"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;

  simdjson::dom::parser parser;
  int correlations = 0, singles = 0;
  size_t start = 0;
  while (start < r.out.size()) {
    size_t end = r.out.find('\n', start);
    if (end == std::string::npos) end = r.out.size();
    std::string line = r.out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    simdjson::dom::element alert;
    ASSERT_EQ(parser.parse(line).get(alert), simdjson::SUCCESS) << line;
    std::string_view rule_id = alert["rule"]["id"];
    // Every alert, made by the stage or not, names its system and the layers it goes to.
    EXPECT_EQ(std::string_view(alert["asset"]["system"]), "dc") << line;
    EXPECT_EQ(std::string_view(alert["asset"]["owner"]), "IT Centre") << line;
    simdjson::dom::array layers;
    ASSERT_EQ(alert["routing"]["layers"].get(layers), simdjson::SUCCESS) << line;
    std::string joined;
    for (std::string_view l : layers) joined += std::string(l) + ",";
    if (rule_id == "7d1c0000-0000-4000-8000-0000000000e3") {
      ++correlations;
      EXPECT_EQ(joined, "L1,L2,L3,L4,") << line;  // routed on the correlation's own tag
      EXPECT_NE(std::string_view(alert["routing"]["reason"]).find("attack.credential_access"), std::string::npos);
    } else {
      ++singles;
      EXPECT_EQ(joined, "L1,L2,L3,") << line;  // a low rule's alert does not go to layer 4
    }
  }
  EXPECT_EQ(correlations, 1) << r.out;
  EXPECT_EQ(singles, 3) << r.out;  // `generate: true`: the counted rule's own alerts are written too
}

}  // namespace
}  // namespace socd::test
