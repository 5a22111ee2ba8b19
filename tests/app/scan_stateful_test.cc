// socd scan with correlations and thresholds: the stateful stage runs in the ordered output, so the alerts
// are the same, in the same order, whatever the number of threads; a bad thresholds file stops the start with
// its line.
#include <gtest/gtest.h>

#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Failed logon
id: 7d1c0000-0000-4000-8000-000000000011
name: failed_logon
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
---
title: Brute force
id: 7d1c0000-0000-4000-8000-0000000000d1
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [IpAddress]
    timespan: 5m
    condition: {gte: 5}
level: high
---
title: Quiet account
id: 7d1c0000-0000-4000-8000-0000000000d2
correlation:
    type: value_count
    rules: [failed_logon]
    group-by: [IpAddress]
    timespan: 10m
    condition: {field: TargetUserName, lt: 2}
level: low
)";

TEST(ScanStateful, TheSameAlertsInTheSameOrderWithOneThreadOrMany) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("rules.yml"), kRules));
  ASSERT_TRUE(
      write_file(dir.file("thresholds.yml"),
                 "thresholds:\n  - rules: [7d1c0000-0000-4000-8000-0000000000d1]\n    by: [IpAddress]\n"
                 "    limit: 2\n    window: 10m\n"));
  // 12,000 events over three batches of the reader (4,096 lines each), their times a little out of order.
  std::string input;
  for (int i = 0; i < 12000; ++i) {
    int second = 60 + i / 3 + (i % 5 == 0 ? -20 : 0);
    char t[32];
    std::snprintf(t, sizeof t, "2026-03-11T%02d:%02d:%02dZ", 8 + second / 3600, second / 60 % 60,
                  second % 60);
    input += std::string(R"({"Channel":"Security","EventID":)") + (i % 4 ? "4625" : "4624") +
             R"(,"TimeCreated":")" + t + R"(","IpAddress":"10.0.0.)" + std::to_string(i % 7) +
             R"(","TargetUserName":"u)" + std::to_string(i % 7 ? i % 3 : 0) + "\"}\n";
  }
  ASSERT_TRUE(write_file(dir.file("input.jsonl"), input));
  auto scan = [&](const std::string& threads) {
    return run_socd({"scan", "--rules", dir.file("rules.yml"), "--input", dir.file("input.jsonl"),
                     "--thresholds", dir.file("thresholds.yml"), "--threads", threads, "--cache-dir",
                     "none"});
  };
  ProcessResult one = scan("1");
  ASSERT_TRUE(one.exited_with(0)) << one.describe() << last_lines(one.err, 10);
  ProcessResult four = scan("4");
  ASSERT_TRUE(four.exited_with(0)) << four.describe() << last_lines(four.err, 10);
  EXPECT_EQ(one.out, four.out);
  size_t correlations = 0, summaries = 0;
  for (std::string_view line : split_lines(one.out)) {
    correlations += line.find("\"correlation\":{") != std::string_view::npos;
    summaries += line.find("\"suppression\":{") != std::string_view::npos;
  }
  EXPECT_GT(correlations, 50u);
  EXPECT_GT(summaries, 20u);
  EXPECT_NE(one.err.find("stateful: correlations=2 policies=1"), std::string::npos) << last_lines(one.err, 5);
}

TEST(ScanStateful, ABadThresholdsFileIsAUsageErrorNamingTheLine) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("rules.yml"), kRules));
  ASSERT_TRUE(write_file(dir.file("thresholds.yml"),
                         "thresholds:\n  - rules: [x]\n    limit: many\n    window: 1m\n"));
  ProcessResult r = run_socd({"scan", "--rules", dir.file("rules.yml"), "--input", "/dev/null",
                              "--thresholds", dir.file("thresholds.yml"), "--cache-dir", "none"});
  EXPECT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find("thresholds.yml:3: 'limit'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace socd::test
