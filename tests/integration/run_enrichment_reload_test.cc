// `socd run` with --assets, --intel and --routing: SIGHUP reloads them with the rules. An event before the reload
// is placed by the first inventory and meets the first list; the same event after it by the new ones; a broken
// inventory is refused with its file:line and the running one kept.
#include <gtest/gtest.h>

#include <algorithm>

#include "socd/alert_store.h"
#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRule = "5e1f0000-0000-4000-8000-00000000e001";

std::string event_line(int n) {
  return R"({"Hostname":"h1","IpAddress":"203.0.113.2","message":"socd-test-hit n=)" + std::to_string(n) + "\"}\n";
}

TEST(RunEnrichmentReload, SighupReloadsTheInventoryListsAndRouting) {
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::filesystem::path rules = dir.path() / "rules";
  std::filesystem::create_directories(rules);
  ASSERT_TRUE(test::write_file(rules / "hit.yml", test::keyword_rule(kRule, "Test hit", test::kHitToken)));
  const std::string assets = dir.file("assets.yml"), intel = dir.file("watch.txt"), routing = dir.file("routing.yml");
  ASSERT_TRUE(test::write_file(assets, "systems:\n  - {name: first, owner: A, level: 2, hosts: [h1]}\n"));
  ASSERT_TRUE(test::write_file(intel, "203.0.113.1\n"));
  ASSERT_TRUE(test::write_file(routing, "layer4: {when: [{min_system_level: 4}]}\n"));

  test::SocdService::Options options;
  options.data_dir = dir.file("store");
  options.rules = rules.string();
  options.cache_dir = dir.file("cache");
  options.log = dir.file("socd.log");
  options.sources = {"--stdin", "--assets", assets, "--intel", intel, "--routing", routing};
  options.stdin_pipe = true;
  test::SocdService socd(options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  EXPECT_TRUE(socd.wait_stderr("enrichment: assets: systems=1; intel: lists=1 indicators=1"))
      << test::last_lines(socd.err(), 10);
  const std::string stored = test::series("socd_alerts_stored_total");

  ASSERT_TRUE(socd.write_stdin(event_line(1)));
  EXPECT_EQ(socd.wait_metric_at_least(stored, 1, 30s), 1);

  ASSERT_TRUE(test::write_file(assets, "systems:\n  - {name: second, owner: A, level: 4, hosts: [h1]}\n"));
  ASSERT_TRUE(test::write_file(intel, "203.0.113.0/24\n"));
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reloaded: 1 rules")) << test::last_lines(socd.err(), 10);
  ASSERT_TRUE(socd.wait_stderr("enrichment:", 2)) << test::last_lines(socd.err(), 10);
  ASSERT_TRUE(socd.write_stdin(event_line(2)));
  EXPECT_EQ(socd.wait_metric_at_least(stored, 3, 30s), 3);  // the rule's alert and the list's

  // A broken inventory: refused, the second one stays.
  ASSERT_TRUE(test::write_file(assets, "systems:\n  - {name: third, owner: A, level: 9, hosts: [h1]}\n"));
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reload refused")) << test::last_lines(socd.err(), 10);
  EXPECT_NE(socd.err().find(assets + ":2: 'level' must be the system's security level"), std::string::npos)
      << test::last_lines(socd.err(), 10);
  ASSERT_TRUE(socd.write_stdin(event_line(3)));
  EXPECT_EQ(socd.wait_metric_at_least(stored, 5, 30s), 5);

  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");

  StoreOptions ro;
  ro.read_only = true;
  auto store = AlertStore::open(options.data_dir, ro);
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::vector<std::string> seen;
  ASSERT_TRUE((*store)->list({}, [&](const StoredAlert& a) {
                       size_t n = a.json.find("n=");
                       seen.push_back(a.json.substr(n, 3) + " " + a.rule_id + " " + a.system + " " +
                                      std::to_string(a.system_level) + " " + std::to_string(a.layers));
                       return true;
                     }).ok());
  std::sort(seen.begin(), seen.end());
  const std::string rule(kRule);
  EXPECT_EQ(seen, (std::vector<std::string>{"n=1 " + rule + " first 2 6",  // L2, L3
                                            "n=2 " + rule + " second 4 14", "n=2 intel:watch second 4 14",
                                            "n=3 " + rule + " second 4 14", "n=3 intel:watch second 4 14"}));
}

}  // namespace
}  // namespace socd
