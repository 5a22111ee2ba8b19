// The assessment report of a fixed store equals its golden files in every format, built through the API and
// through `socd report`. SOCD_UPDATE_GOLDEN=1 rewrites the golden files (review the diff before committing).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "storage/report_fixture.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const std::filesystem::path kGoldenDir = std::filesystem::path(SOCD_SOURCE_DIR) / "tests/storage/report_golden";

class ReportGolden : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ASSERT_TRUE(dir_->ok());
    build_report_fixture(dir_->file("store"));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string store() { return dir_->file("store"); }

  static void compare(const std::string& format, const std::string& text) {
    const auto golden = kGoldenDir / ("report." + format);
    if (const char* update = std::getenv("SOCD_UPDATE_GOLDEN"); update && std::string(update) == "1") {
      std::filesystem::create_directories(kGoldenDir);
      ASSERT_TRUE(write_file(golden, text));
      return;
    }
    ASSERT_TRUE(std::filesystem::exists(golden)) << golden << " is missing (SOCD_UPDATE_GOLDEN=1 writes it)";
    EXPECT_EQ(text, read_file(golden)) << "the " << format << " report differs from " << golden;
  }

  static TempDir* dir_;
};

TempDir* ReportGolden::dir_ = nullptr;

ReportOptions period() {
  ReportOptions o;
  o.from_ms = kFixtureStartMs - 22 * kHourMs;           // 2025-01-31T00:00:00+07:00
  o.to_ms = o.from_ms + 10 * 24 * kHourMs;              // 2025-02-10T00:00:00+07:00
  return o;
}

TEST_F(ReportGolden, EveryFormatEqualsItsGoldenFile) {
  StoreOptions so;
  so.read_only = true;
  auto reader = AlertStore::open(store(), so);
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  auto report = build_report(**reader, period());
  ASSERT_TRUE(report.ok()) << report.error().message();
  // What the fixture was built to show.
  EXPECT_EQ(report->alerts, 6u);
  ASSERT_EQ(report->incidents.size(), 3u);
  EXPECT_EQ(report->incidents[0].alerts, 3u);
  EXPECT_EQ(report->incidents[0].state, "closed");
  EXPECT_EQ(report->incidents[1].serious, true);
  EXPECT_EQ(report->incidents[2].state, "false_positive");
  EXPECT_EQ(report->deadlines_met, 2u);
  EXPECT_EQ(report->deadlines_missed, 1u);
  EXPECT_EQ(report->deadlines_overdue, 1u);
  ASSERT_EQ(report->rule_sets.size(), 2u);
  EXPECT_EQ(report->rule_sets[1].added, std::vector<std::string>{"new-rule"});
  EXPECT_EQ(report->rule_sets[1].removed, std::vector<std::string>{"old-rule"});
  EXPECT_EQ(report->rule_sets[1].changed, std::vector<std::string>{"web-shell"});
  ASSERT_FALSE(report->silent.empty());
  EXPECT_EQ(report->zone.format(report->silent[0].from_ms), "2025-02-01T00:00:00+07:00");
  EXPECT_EQ(report->zone.format(report->silent[0].to_ms), "2025-02-01T10:00:00+07:00");
  for (const std::string format : {"json", "md", "html"}) {
    auto text = render_report(*report, format);
    ASSERT_TRUE(text.ok()) << text.error().message();
    compare(format, *text);
  }
  EXPECT_FALSE(render_report(*report, "pdf").ok());
}

TEST_F(ReportGolden, TheCommandWritesTheSameReports) {
  for (const std::string format : {"json", "md", "html"}) {
    ProcessResult r = run_socd({"report", "--data-dir", store(), "--from", "2025-01-31", "--to", "2025-02-10",
                                "--format", format});
    ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
    if (std::getenv("SOCD_UPDATE_GOLDEN")) continue;
    EXPECT_EQ(r.out, read_file(kGoldenDir / ("report." + format))) << format;
  }
  ProcessResult bad = run_socd({"report", "--data-dir", store(), "--from", "2025-02-10", "--to", "2025-01-31"});
  EXPECT_TRUE(bad.exited_with(2)) << bad.describe();
  EXPECT_NE(bad.err.find("--to must be after --from"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace socd::test
