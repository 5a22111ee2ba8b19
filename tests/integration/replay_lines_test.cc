// `socd replay` of JSON-lines files as fast as it goes, read by the pipeline's workers themselves: every line of
// several files, in batches, gives the alerts `socd scan` gives for the same files, and a malformed line, a blank
// line and a last line without its newline are counted as scan counts them. A syslog file gives the alerts of
// `socd scan --format syslog`; the paces (original, N/s) take the time they should; the --json report's figures
// are consistent with each other and with the input; the run time does not depend on the progress bar.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "support/socd_process.h"

namespace socd::test {
namespace {

// (file, line, rule id) of every alert in JSON lines `text`.
std::multiset<std::string> alert_keys(const std::string& text) {
  std::multiset<std::string> keys;
  simdjson::dom::parser parser;
  for (std::string_view line : split_lines(text)) {
    if (line.empty() || line[0] != '{') continue;
    simdjson::dom::element alert;
    EXPECT_EQ(parser.parse(line.data(), line.size()).get(alert), simdjson::SUCCESS) << line;
    keys.insert(std::string(std::string_view(alert["source"]["file"])) + ":" +
                std::to_string(uint64_t(alert["source"]["line"])) + " " +
                std::string(std::string_view(alert["rule"]["id"])));
  }
  return keys;
}

TEST(ReplayLines, SeveralFilesReadByTheWorkersGiveTheAlertsOfScan) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string sample = read_file("config/samples/windows.jsonl");
  ASSERT_FALSE(sample.empty());
  // Several batches of a megabyte: the sample forty times, a malformed line and a blank line among them, and no
  // newline after the last line.
  std::string big;
  for (int i = 0; i < 40; ++i) {
    big += sample;
    if (i == 17) big += "{\"EventID\": 4625, not json\n\n";
  }
  big.pop_back();
  const std::string a = dir.file("a.jsonl"), b = dir.file("b.jsonl");
  ASSERT_TRUE(write_file(a, big));
  ASSERT_TRUE(write_file(b, sample));

  ProcessResult scan = run_socd({"scan", "--rules", "rules", "--cache-dir", "none", "--input", a, "--input", b});
  ASSERT_TRUE(scan.exited_with(0)) << scan.describe() << "\n" << scan.err;
  const std::multiset<std::string> expected = alert_keys(scan.out);
  ASSERT_GE(expected.size(), 41 * 19u) << last_lines(scan.err, 5);

  const std::string store = dir.file("store"), report = dir.file("report.json");
  ProcessResult replay = run_socd({"replay", "--rules", "rules", "--cache-dir", "none", "--data-dir", store,
                                   "--workers", "2", "--json", report, a, b});
  ASSERT_TRUE(replay.exited_with(0)) << replay.describe() << "\n" << replay.err;
  ProcessResult listed = run_socd({"alerts", "list", "--data-dir", store, "--json", "--limit", "100000"});
  ASSERT_TRUE(listed.exited_with(0)) << listed.describe() << "\n" << listed.err;
  EXPECT_EQ(alert_keys(listed.out), expected);

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(report).get(doc), simdjson::SUCCESS);
  const uint64_t sample_lines = split_lines(sample).size();
  EXPECT_EQ(uint64_t(doc["events"]), 41 * sample_lines) << replay.err;
  EXPECT_EQ(uint64_t(doc["malformed"]), 2u) << replay.err;  // the broken line and the blank one, as scan counts
  EXPECT_NE(scan.err.find("malformed=2"), std::string::npos) << last_lines(scan.err, 3);
  EXPECT_EQ(uint64_t(doc["bytes"]), big.size() + sample.size());
  EXPECT_EQ(uint64_t(doc["alerts_stored"]), expected.size());
}


// The --json report of a replay (parsed into `doc`, which keeps `parser`'s buffer).
simdjson::dom::element report_of(simdjson::dom::parser& parser, const std::string& path) {
  simdjson::dom::element doc;
  EXPECT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  return doc;
}

TEST(ReplayLines, ASyslogFileGivesTheAlertsOfScanFormatSyslog) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string sample = read_file("config/samples/auth.log");
  ASSERT_FALSE(sample.empty());
  const std::string log = dir.file("auth.log");
  ASSERT_TRUE(write_file(log, sample));
  ProcessResult scan = run_socd({"scan", "--rules", "rules/linux", "--format", "syslog", "--cache-dir", "none",
                                 "--input", log});
  ASSERT_TRUE(scan.exited_with(0)) << scan.describe() << "\n" << scan.err;
  const std::multiset<std::string> expected = alert_keys(scan.out);
  ASSERT_GE(expected.size(), 5u) << last_lines(scan.err, 5);

  // The default format (auto) reads the lines as syslog, as the explicit one does.
  for (const char* format : {"auto", "syslog"}) {
    SCOPED_TRACE(format);
    const std::string store = dir.file(std::string("store-") + format), report = store + ".json";
    ProcessResult replay = run_socd({"replay", "--rules", "rules/linux", "--cache-dir", "none", "--format", format,
                                     "--data-dir", store, "--workers", "2", "--json", report, log});
    ASSERT_TRUE(replay.exited_with(0)) << replay.describe() << "\n" << replay.err;
    ProcessResult listed = run_socd({"alerts", "list", "--data-dir", store, "--json", "--limit", "100000"});
    ASSERT_TRUE(listed.exited_with(0)) << listed.describe() << "\n" << listed.err;
    EXPECT_EQ(alert_keys(listed.out), expected);
    simdjson::dom::parser parser;
    simdjson::dom::element doc = report_of(parser, report);
    EXPECT_EQ(uint64_t(doc["events"]), split_lines(sample).size()) << replay.err;
    EXPECT_EQ(uint64_t(doc["malformed"]), 0u) << replay.err;
    EXPECT_EQ(uint64_t(doc["bytes"]), sample.size());
  }
}

// Windows events `step` seconds apart by their TimeCreated.
std::string timed_events(int count, double step) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    char when[64];
    double t = 30 + i * step;
    std::snprintf(when, sizeof when, "2026-03-11T08:15:%06.3fZ", t);
    out += "{\"Channel\":\"Security\",\"EventID\":4625,\"Computer\":\"ws01\",\"TimeCreated\":\"" + std::string(when) +
           "\",\"TargetUserName\":\"user" + std::to_string(i) + "\"}\n";
  }
  return out;
}

TEST(ReplayLines, OriginalPaceFollowsTheEventTimes) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string events = dir.file("events.jsonl"), report = dir.file("report.json");
  ASSERT_TRUE(write_file(events, timed_events(6, 0.2)));  // 1 s from the first event to the last
  ProcessResult r = run_socd({"replay", "--rules", "rules", "--cache-dir", "none", "--pace", "original",
                              "--progress", "never", "--json", report, events});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = report_of(parser, report);
  EXPECT_EQ(uint64_t(doc["events"]), 6u);
  EXPECT_GE(double(doc["seconds"]), 0.95) << r.err;  // no event goes before its time
  EXPECT_LT(double(doc["seconds"]), 5.0) << r.err;   // generous: a loaded machine
  // Each event is due at its own time: a batch each.
  EXPECT_EQ(uint64_t(doc["latency_ms"]["batches"]), 6u) << r.err;
}

TEST(ReplayLines, AFixedRateSpreadsTheLinesOfSeveralCopiesOverTheirTime) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string sample = read_file("config/samples/windows.jsonl");
  ASSERT_FALSE(sample.empty());
  // Three copies of a file of about 1,000 lines whose event times span minutes: the rate ignores them.
  std::string text;
  for (int i = 0; i < 9; ++i) text += sample;
  const uint64_t lines = split_lines(text).size();
  std::vector<std::string> inputs;
  for (const char* name : {"a.jsonl", "b.jsonl", "c.jsonl"}) {
    inputs.push_back(dir.file(name));
    ASSERT_TRUE(write_file(inputs.back(), text));
  }
  const double rate = 4000;
  const std::string report = dir.file("report.json");
  std::vector<std::string> args = {"replay", "--rules", "rules", "--cache-dir", "none", "--workers", "2", "--pace",
                                   "4000/s", "--progress", "never", "--json", report};
  args.insert(args.end(), inputs.begin(), inputs.end());
  ProcessResult r = run_socd(args);
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = report_of(parser, report);
  const uint64_t total = 3 * lines;
  EXPECT_EQ(uint64_t(doc["events"]), total);
  EXPECT_EQ(uint64_t(doc["bytes"]), 3 * text.size());
  EXPECT_EQ(double(doc["rate_per_s"]), rate);
  // Line k is due k/rate after the first, and none goes early: the last at (total - 1) / rate, about 0.85 s.
  const double due = (total - 1) / rate;
  EXPECT_GE(double(doc["seconds"]), due) << r.err;
  EXPECT_LT(double(doc["seconds"]), due + 4.0) << r.err;  // late batches only add time; a generous bound
  EXPECT_LE(double(doc["events_per_s"]), rate * total / (total - 1) + 1) << r.err;
  // In small batches, one about every 5 ms (fewer when a stall moved the schedule on), not a few large ones.
  EXPECT_GE(uint64_t(doc["latency_ms"]["batches"]), 60u) << r.err;
  EXPECT_GE(double(doc["late_batches"]), 0);
  EXPECT_NE(r.err.find("replay: fixed rate asked=4000.0 lines/s"), std::string::npos) << r.err;

  // A pace that is neither a word, a factor nor a rate is refused.
  for (const char* bad : {"0/s", "-5/s", "fast/s", "/s", "10/m"}) {
    ProcessResult refused = run_socd({"replay", "--rules", "rules", "--pace", bad, inputs[0]});
    EXPECT_TRUE(refused.exited_with(2)) << bad << ": " << refused.describe();
    EXPECT_NE(refused.err.find("N/s"), std::string::npos) << refused.err;
  }
}

TEST(ReplayLines, TheJsonReportHoldsConsistentFigures) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string sample = read_file("config/samples/windows.jsonl");
  ASSERT_FALSE(sample.empty());
  std::string text;
  for (int i = 0; i < 30; ++i) text += sample;
  const std::string events = dir.file("events.jsonl"), report = dir.file("report.json");
  ASSERT_TRUE(write_file(events, text));
  ProcessResult r = run_socd({"replay", "--rules", "rules", "--cache-dir", "none", "--workers", "2", "--progress",
                              "never", "--json", report, events});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = report_of(parser, report);
  const uint64_t lines = split_lines(text).size();
  EXPECT_EQ(uint64_t(doc["events"]), lines);
  EXPECT_EQ(uint64_t(doc["bytes"]), text.size());
  const double seconds = doc["seconds"];
  ASSERT_GT(seconds, 0);
  EXPECT_NEAR(double(doc["events_per_s"]), lines / seconds, lines / seconds * 0.01);
  EXPECT_NEAR(double(doc["mb_per_s"]), text.size() / seconds / 1e6, text.size() / seconds / 1e6 * 0.01);
  simdjson::dom::element latency = doc["latency_ms"];
  const double p50 = latency["p50"], p95 = latency["p95"], p99 = latency["p99"], max = latency["max"];
  EXPECT_GT(uint64_t(latency["batches"]), 0u);
  EXPECT_GT(p50, 0);
  EXPECT_LE(p50, p95);
  EXPECT_LE(p95, p99);
  EXPECT_LE(p99, max);
  EXPECT_LE(max, seconds * 1000);  // no batch took longer than the whole replay
  // Every stage took time, and together no more than both workers and the writer had.
  simdjson::dom::element stages = doc["stage_seconds"];
  double sum = 0;
  for (const char* stage : {"parse", "match", "evaluate", "alerts", "stateful", "store"}) {
    double s = stages[stage];
    EXPECT_GE(s, 0) << stage;
    sum += s;
  }
  for (const char* stage : {"parse", "match", "evaluate", "store"}) EXPECT_GT(double(stages[stage]), 0) << stage;
  EXPECT_LE(sum, 3 * seconds * 1.1);
  EXPECT_GT(double(doc["peak_rss_mib"]), 5);
  EXPECT_LT(double(doc["peak_rss_mib"]), 4096);
  EXPECT_NE(r.err.find(" evaluate="), std::string::npos) << r.err;
}

// With the progress bar on, the main loop looks every 200 ms: the run time is still the time to the last batch
// stored, not to the next look.
TEST(ReplayLines, TheRunTimeDoesNotWaitForTheProgressBar) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string events = dir.file("events.jsonl"), report = dir.file("report.json");
  ASSERT_TRUE(write_file(events, timed_events(20, 0)));
  // 20 lines take milliseconds; before, the loop's look 200 ms in was in the figure (unless the input was all
  // read before its first look). A machine busy enough to hold such a replay up that long gets two more tries.
  double best = 1e9;
  for (int attempt = 0; attempt < 3 && best >= 0.19; ++attempt) {
    ProcessResult r = run_socd({"replay", "--rules", "rules", "--cache-dir", "none", "--progress", "always",
                                "--json", report, events});
    ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
    simdjson::dom::parser parser;
    simdjson::dom::element doc = report_of(parser, report);
    EXPECT_EQ(uint64_t(doc["events"]), 20u);
    best = std::min(best, double(doc["seconds"]));
  }
  EXPECT_LT(best, 0.19);
}

}  // namespace
}  // namespace socd::test
