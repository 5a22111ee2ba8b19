// `socd run --config FILE`: the options of the file and of the command line together, as --help says: a single
// value on the command line wins over the file's, the values of a repeatable option are added to the file's.
#include <gtest/gtest.h>

#include <filesystem>

#include "support/socd_service.h"

namespace socd::test {
namespace {

constexpr const char* kRule = "5e1f0000-0000-4000-8000-00000000c0f1";

TEST(RunConfig, TheFileAndTheCommandLineTogether) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::filesystem::create_directories(dir.file("rules"));
  ASSERT_TRUE(write_file(dir.file("rules/hit.yml"), keyword_rule(kRule, "Config hit", kHitToken)));
  const std::string hit = "event " + std::string(kHitToken) + "\n";
  ASSERT_TRUE(write_file(dir.file("a.log"), hit + "quiet event\n"));
  ASSERT_TRUE(write_file(dir.file("b.log"), hit + hit + hit));
  ASSERT_TRUE(write_file(dir.file("socd.conf"),
                         "# the service's settings\n"
                         "data-dir = " + dir.file("from-file") + "\n"
                         "rules = " + dir.file("rules") + "\n"
                         "file = " + dir.file("a.log") + "\n"
                         "workers = 1\n"
                         "exit-when-done = true\n"));
  ProcessResult r = run_socd({"run", "--config", dir.file("socd.conf"), "--file", dir.file("b.log"), "--data-dir",
                              dir.file("from-command-line"), "--cache-dir", dir.file("cache")});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  auto summary = parse_summary(r.err);
  ASSERT_TRUE(summary) << r.err;
  EXPECT_EQ(summary_number(*summary, "events"), 5) << r.err;  // a.log (the file's) and b.log (the command line's)
  EXPECT_EQ(summary_number(*summary, "alerts_stored"), 4) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("from-command-line")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("from-file")));  // the command line's --data-dir won
  ProcessResult listed = run_socd({"alerts", "list", "--json", "--data-dir", dir.file("from-command-line")});
  ASSERT_TRUE(listed.exited_with(0)) << listed.describe() << "\n" << listed.err;
  size_t alerts = 0;
  for (std::string_view line : split_lines(listed.out))
    if (line.find(kRule) != std::string_view::npos) ++alerts;
  EXPECT_EQ(alerts, 4u) << listed.out;
}

}  // namespace
}  // namespace socd::test
