// `socd replay` of JSON-lines files as fast as it goes, read by the pipeline's workers themselves: every line of
// several files, in batches, gives the alerts `socd scan` gives for the same files, and a malformed line, a blank
// line and a last line without its newline are counted as scan counts them.
#include <gtest/gtest.h>
#include <simdjson.h>

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

}  // namespace
}  // namespace socd::test
