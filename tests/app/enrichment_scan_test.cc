// End to end: `socd scan` over the shipped sample logs with the shipped asset inventory, intelligence lists
// and routing. Every alert (input line, rule, system or "unknown", layers) must equal the golden file
// tests/app/enrichment_expected.tsv, and a few alerts are checked in full, member by member.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "support/socd_process.h"

namespace socd::test {
namespace {

const std::vector<std::string> kSamples = {"config/samples/auth.log", "config/samples/access.log",
                                           "config/samples/windows.jsonl"};

std::vector<std::string> enriched_args(const std::string& input) {
  return {"scan",
          "--rules",
          "rules",
          "--input",
          input,
          "--cache-dir",
          "none",
          "--assets",
          "config/assets.yml",
          "--routing",
          "config/routing.yml",
          "--intel",
          "config/intel/lists.yml"};
}

struct Alert {
  std::string file, rule, system, layers;  // system "unknown" for an unknown asset
  uint64_t line = 0;
  std::string intel;  // "list type indicator field value", empty for a rule's alert
  std::string reason;
};

// Parses socd scan's output; fails the test on an alert without the asset or routing members.
std::vector<Alert> parse_alerts(const std::string& out) {
  std::vector<Alert> alerts;
  simdjson::dom::parser parser;
  for (std::string_view line : split_lines(out)) {
    simdjson::dom::element a;
    auto error = parser.parse(line).get(a);
    EXPECT_FALSE(error) << line;
    if (error) continue;
    Alert x;
    x.file = std::string(a["source"]["file"].get_string().value());
    x.line = a["source"]["line"].get_uint64().value();
    x.rule = std::string(a["rule"]["id"].get_string().value());
    simdjson::dom::element asset, routing, intel;
    EXPECT_FALSE(a["asset"].get(asset)) << "no asset member: " << line;
    EXPECT_FALSE(a["routing"].get(routing)) << "no routing member: " << line;
    if (!asset.is_object() || !routing.is_object()) continue;
    bool known = asset["known"].get_bool().value();
    x.system = known ? std::string(asset["system"].get_string().value()) : "unknown";
    if (known) {
      EXPECT_TRUE(asset["owner"].is_string()) << line;
      EXPECT_TRUE(asset["level"].is_int64()) << line;
    } else {
      EXPECT_EQ(asset.get_object().size(), 1u) << "an unknown asset has only known:false: " << line;
    }
    for (auto layer : routing["layers"].get_array()) {
      if (!x.layers.empty()) x.layers += ',';
      x.layers += std::string(layer.get_string().value());
    }
    x.reason = std::string(routing["reason"].get_string().value());
    if (!a["intel"].get(intel)) {
      for (const char* key : {"list", "type", "indicator", "field", "value"}) {
        if (!x.intel.empty()) x.intel += ' ';
        x.intel += std::string(intel[key].get_string().value());
      }
    }
    alerts.push_back(std::move(x));
  }
  return alerts;
}

std::vector<Alert> scan_enriched(const std::string& input) {
  ProcessResult r = run_socd(enriched_args(input));
  EXPECT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 20);
  EXPECT_NE(r.err.find("enrichment: assets: systems=6; intel: lists=3"), std::string::npos)
      << last_lines(r.err, 5);
  return parse_alerts(r.out);
}

TEST(EnrichmentScan, EveryAlertOfTheSamplesEqualsTheGoldenFile) {
  std::vector<std::string> got;
  for (const auto& input : kSamples)
    for (const Alert& a : scan_enriched(input))
      got.push_back(a.file + "\t" + std::to_string(a.line) + "\t" + a.rule + "\t" + a.system + "\t" +
                    a.layers);
  std::vector<std::string> expected;
  // The text outlives the loop: the views split_lines returns point into it.
  const std::string golden = read_file(std::string(SOCD_SOURCE_DIR) + "/tests/app/enrichment_expected.tsv");
  for (std::string_view line : split_lines(golden))
    if (!line.empty() && line.front() != '#') expected.emplace_back(line);
  std::sort(got.begin(), got.end());
  std::sort(expected.begin(), expected.end());
  std::ostringstream diff;
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(), std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(), std::back_inserter(extra));
  for (const auto& m : missing) diff << "missing: " << m << "\n";
  for (const auto& e : extra) diff << "unexpected: " << e << "\n";
  EXPECT_TRUE(missing.empty() && extra.empty()) << diff.str();
}

TEST(EnrichmentScan, IntelligenceHitsNameTheListTheIndicatorAndTheField) {
  std::vector<Alert> access = scan_enriched("config/samples/access.log");
  // Every line from a listed address is a hit, and nothing else: count them in the input itself.
  std::multiset<uint64_t> expected_lines;
  uint64_t n = 0;
  const std::string input = read_file(std::string(SOCD_SOURCE_DIR) + "/config/samples/access.log");
  for (std::string_view line : split_lines(input)) {  // views into `input`, which outlives the loop
    ++n;
    std::string_view ip = line.substr(0, line.find(' '));
    bool listed = ip == "192.0.2.14" || ip == "198.51.100.23";
    if (ip.substr(0, 10) == "203.0.113.") {  // 203.0.113.80/28
      int last = std::stoi(std::string(ip.substr(10)));
      listed = listed || (last >= 80 && last <= 95);
    }
    if (listed) expected_lines.insert(n);
  }
  ASSERT_FALSE(expected_lines.empty());
  std::multiset<uint64_t> hit_lines;
  for (const Alert& a : access) {
    if (a.rule.rfind("intel:", 0) != 0) continue;
    EXPECT_EQ(a.rule, "intel:scanners");
    hit_lines.insert(a.line);
    EXPECT_EQ(a.system, "cong-thong-tin");  // by the log source: access lines have no host
    EXPECT_EQ(a.layers, "L1,L2,L3,L4");     // high on a level-3 system
  }
  EXPECT_EQ(hit_lines, expected_lines);
  bool network = false;
  for (const Alert& a : access)
    if (a.intel.find(" 203.0.113.80/28 c-ip 203.0.113.80") != std::string::npos) network = true;
  EXPECT_TRUE(network) << "the log4shell attempt from 203.0.113.80 hits the /28";

  std::vector<Alert> windows = scan_enriched("config/samples/windows.jsonl");
  std::vector<const Alert*> hash_hits;
  for (const Alert& a : windows)
    if (a.rule == "intel:malware-hashes") hash_hits.push_back(&a);
  ASSERT_EQ(hash_hits.size(), 1u);
  EXPECT_EQ(hash_hits[0]->line, 77u);
  EXPECT_EQ(hash_hits[0]->intel,
            "malware-hashes hash c852be1b4ce0837e42cd8c411d5a1ae61ae148885e6fbc330a4dd8c76011bda4 Hashes "
            "SHA256=C852BE1B4CE0837E42CD8C411D5A1AE61AE148885E6FBC330A4DD8C76011BDA4");
  EXPECT_EQ(hash_hits[0]->system, "van-phong-ubnd");
  EXPECT_EQ(hash_hits[0]->layers, "L1,L2,L3,L4");
  EXPECT_NE(hash_hits[0]->reason.find("rule intel:malware-hashes (config/routing.yml:"), std::string::npos)
      << hash_hits[0]->reason;
}

TEST(EnrichmentScan, UnknownAssetsAreFlaggedAndSeriousSystemsGoToLayer4) {
  size_t unknown = 0, domain_controller = 0;
  for (const Alert& a : scan_enriched("config/samples/windows.jsonl")) {
    if (a.system == "unknown") {  // snv-pc03.tinh.local is in no system
      ++unknown;
      EXPECT_EQ(a.layers.substr(0, 5), "L2,L3") << a.reason;
      EXPECT_NE(a.reason.find("no L1: unknown asset"), std::string::npos);
    }
    if (a.system == "xac-thuc-tap-trung") {  // level 4, nationally important: every alert is owed to L4
      ++domain_controller;
      EXPECT_EQ(a.layers, "L1,L2,L3,L4") << a.reason;
    }
  }
  EXPECT_GT(unknown, 0u);
  EXPECT_GT(domain_controller, 0u);
}

TEST(EnrichmentScan, WithoutTheOptionsAlertsAreUnchanged) {
  ProcessResult r = run_socd(
      {"scan", "--rules", "rules", "--input", "config/samples/windows.jsonl", "--cache-dir", "none"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 20);
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.find("\"asset\":"), std::string::npos);
  EXPECT_EQ(r.out.find("\"routing\":"), std::string::npos);
  EXPECT_EQ(r.out.find("\"intel:"), std::string::npos);
  EXPECT_EQ(r.err.find("enrichment:"), std::string::npos);
}

TEST(EnrichmentScan, ConfigurationErrorsStopTheScanWithFileAndLine) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string assets = dir.file("assets.yml");
  ASSERT_TRUE(write_file(assets, "systems:\n  - {name: a, owner: o, level: 7}\n"));
  ProcessResult r = run_socd({"scan", "--rules", "rules", "--input", "config/samples/auth.log", "--cache-dir",
                              "none", "--assets", assets});
  EXPECT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find(assets + ":2: 'level' must be the system's security level, 1 to 5"), std::string::npos)
      << r.err;

  // Malformed list entries do not stop it: they are reported with file:line and counted.
  const std::string list = dir.file("mixed.txt");
  ASSERT_TRUE(write_file(list, "192.0.2.14\nnot/a/thing here\n10.1.1.1/8\n"));
  r = run_socd({"scan", "--rules", "rules", "--input", "config/samples/access.log", "--cache-dir", "none",
                "--intel", list});
  EXPECT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_NE(r.err.find(list + ":2: 'not/a/thing here': one indicator per line"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(list + ":3: '10.1.1.1/8': host bits set"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("intel: lists=1 indicators=1 ip=1 domain=0 hash=0 url=0 malformed=2"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find(R"("rule":{"id":"intel:mixed")"), std::string::npos);
}

}  // namespace
}  // namespace socd::test
