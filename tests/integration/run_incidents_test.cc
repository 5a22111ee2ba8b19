// `socd run` with incidents and the audit chain: alerts of a followed file grouped into one incident, the
// incident worked with `socd incidents` through the running service's command inbox, the overdue gauge in the
// metrics, the rule set and a SIGHUP reload recorded in the chain, and the sealed chain verified with the key
// after the service stopped.
#include <gtest/gtest.h>

#include <fstream>

#include "support/socd_service.h"

namespace socd {
namespace {

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000f101";

TEST(RunIncidents, GroupedWorkedThroughTheServiceMeasuredAndVerified) {
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::filesystem::create_directories(dir.path() / "rules");
  ASSERT_TRUE(test::write_file(dir.path() / "rules" / "hit.yml",
                               test::keyword_rule(kHitRule, "Test hit", test::kHitToken)));
  const std::string log = dir.file("app.log"), key = dir.file("audit.key"), store = dir.file("store");
  ASSERT_TRUE(test::write_file(key, "an-audit-key-for-the-integration-test\n"));
  // Deadlines of a second, so the gauge has something to count while the test runs.
  ASSERT_TRUE(test::write_file(dir.file("incidents.yml"),
                               "grouping:\n  min_level: informational\n"
                               "deadlines:\n  notify: 1s\n  final_report: 1s\n"
                               "audit:\n  seal_every_records: 5\n"));
  std::string lines;
  for (uint64_t seq = 0; seq < 20; ++seq) lines += test::numbered_line(seq, true);
  ASSERT_TRUE(test::write_file(log, lines));

  test::SocdService::Options o;
  o.data_dir = store;
  o.rules = dir.file("rules");
  o.cache_dir = dir.file("cache");
  o.log = dir.file("socd.log");
  o.sources = {"--file", log, "--audit-key-file", key, "--incidents", dir.file("incidents.yml")};
  test::SocdService service(o);
  std::string error;
  ASSERT_TRUE(service.start(error)) << error;
  ASSERT_GE(service.wait_metric_at_least("socd_alerts_stored_total", 20), 20);

  // One incident: every alert of the rule on the same (unknown) host within the window.
  test::ProcessResult list;
  ASSERT_TRUE(test::eventually([&] {
    list = test::run_socd({"incidents", "list", "--data-dir", store});
    return list.out.find("INC-000001") != std::string::npos;
  }, std::chrono::seconds(10))) << list.out << list.err;
  EXPECT_NE(list.out.find("    20  "), std::string::npos) << list.out;  // 20 alerts
  EXPECT_EQ(list.out.find("INC-000002"), std::string::npos) << list.out;

  // The notify deadline (1 s) passes: the gauge counts it.
  EXPECT_GE(service.wait_metric_at_least(test::series("socd_incidents_overdue", {{"deadline", "notify"}}), 1), 1);

  // Worked through the running service.
  test::ProcessResult ack = test::run_socd({"incidents", "ack", "INC-000001", "--by", "lan", "--data-dir", store});
  ASSERT_TRUE(ack.exited_with(0)) << ack.describe() << ack.err;
  EXPECT_NE(ack.err.find("through the running socd run"), std::string::npos) << ack.err;
  test::ProcessResult notified =
      test::run_socd({"incidents", "notified", "INC-000001", "--by", "lan", "--data-dir", store});
  ASSERT_TRUE(notified.exited_with(0)) << notified.describe() << notified.err;
  test::ProcessResult refused = test::run_socd({"incidents", "close", "INC-000001", "--data-dir", store});
  EXPECT_TRUE(refused.exited_with(1)) << refused.describe();
  EXPECT_NE(refused.err.find("'close' needs it resolved or false_positive"), std::string::npos) << refused.err;
  EXPECT_EQ(test::sample(service.metrics(), test::series("socd_incidents_overdue", {{"deadline", "notify"}})), 0);

  // A reload goes into the chain.
  std::ofstream(dir.path() / "rules" / "hit.yml", std::ios::app) << "# changed\n";
  service.signal(SIGHUP);
  ASSERT_TRUE(service.wait_stderr("reloaded:")) << service.err();

  test::Summary summary;
  ASSERT_EQ(service.stop(summary), "");
  test::ProcessResult verify = test::run_socd({"audit", "verify", "--data-dir", store, "--key-file", key});
  EXPECT_TRUE(verify.exited_with(0)) << verify.describe() << verify.out << verify.err;
  EXPECT_NE(verify.out.find("20 alert(s)"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("2 rule-set load(s)"), std::string::npos) << verify.out;
  EXPECT_EQ(verify.err.find("not covered by a seal"), std::string::npos) << verify.err;  // sealed at the stop
  test::ProcessResult chain = test::run_socd({"audit", "log", "--data-dir", store});
  ASSERT_TRUE(chain.exited_with(0)) << chain.describe();
  EXPECT_NE(chain.out.find("\trule_set\trules\t"), std::string::npos) << chain.out;
  EXPECT_NE(chain.out.find("\tseal\t"), std::string::npos) << chain.out;

  // The lines are syslog of "Nov 22" (no year): their alerts' time is up to a year old, whatever the day the
  // test runs, so the period starts well before.
  test::ProcessResult report = test::run_socd(
      {"report", "--data-dir", store, "--from", "2000-01-01", "--to", "2030-01-01", "--format", "json"});
  ASSERT_TRUE(report.exited_with(0)) << report.describe() << report.err;
  EXPECT_NE(report.out.find("\"total\": 20"), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("{\"source\": \"file:" + log + "\", "), std::string::npos) << report.out;
  EXPECT_NE(report.out.find("\"events\": 20}"), std::string::npos) << report.out;  // in one or more batches
}

}  // namespace
}  // namespace socd
