// The interface of `socd scan` that other tools and the benchmarks rely on (issue 2): the alert lines on stdout,
// the summary line last on stderr, the exit codes, the cache of compiled databases, and --no-prefilter giving
// the alerts the prefilter gives.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <regex>
#include <set>
#include <sstream>

#include "support/socd_process.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRuleId = "3c2b0000-0000-4000-8000-00000000a001";
constexpr std::string_view kRule = R"(title: Scan interface test
id: 3c2b0000-0000-4000-8000-00000000a001
status: test
logsource:
    category: socd_scan_interface_test
detection:
    selection:
        CommandLine|contains: whoami
    condition: selection
level: high
tags:
    - attack.discovery
    - attack.t1033
)";

// Another literal in another rule: a different set of patterns, so a different cache entry.
constexpr std::string_view kOtherRule = R"(title: Scan interface test, second rule
id: 3c2b0000-0000-4000-8000-00000000a002
status: test
logsource:
    category: socd_scan_interface_test
detection:
    selection:
        CommandLine|contains: mimikatz
    condition: selection
level: critical
)";

// Events of the three host and time situations, and spacing, escapes and nesting that must be kept as written.
const std::vector<std::string> kEvents = {
    R"({ "Event" : {"System": {"Computer":"ws01.tinh.local","TimeCreated":{"#attributes":)"
    R"({"SystemTime":"2026-03-11T08:15:30.123456Z"}}}, "EventData":{"CommandLine":"whoami /all",)"
    R"("Note":"caf\u00e9 \"q\" \\x"}} })",
    R"({"Hostname":"ws02.tinh.local","CommandLine":"cmd /c whoami","n":1.50,"arr":[1,2,{"x":null}],"ok":true})",
    R"({"CommandLine":"WHOAMI","timestamp":"2026-03-11T08:17:00+02:00"})",
};
const std::vector<std::string> kExpectedHosts = {"ws01.tinh.local", "ws02.tinh.local", ""};
constexpr std::string_view kMiss = R"({"CommandLine":"id","Hostname":"ws03"})";
constexpr std::string_view kMalformed = R"({"CommandLine":"whoami)";

const std::regex kRfc3339(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)");
const std::regex kSummary(
    R"(^summary: events=\d+ bytes=\d+ malformed=\d+ rules_loaded=\d+ rules_skipped=\d+ alerts=\d+ )"
    R"(load_seconds=[0-9.]+ scan_seconds=[0-9.]+ events_per_s=[0-9.]+ mb_per_s=[0-9.]+$)");

class ScanInterface : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    fs::create_directories(dir_.path() / "rules");
    ASSERT_TRUE(write_file(dir_.path() / "rules" / "whoami.yml", kRule));
  }
  std::string rules() const { return dir_.file("rules"); }
  std::string write_input(const std::string& name, const std::vector<std::string_view>& lines) {
    std::string text;
    for (std::string_view l : lines) text.append(l).append("\n");
    EXPECT_TRUE(write_file(dir_.file(name), text));
    return dir_.file(name);
  }
  TempDir dir_;
};

std::string_view last_line(std::string_view text) {
  std::vector<std::string_view> lines = split_lines(text);
  return lines.empty() ? std::string_view() : lines.back();
}

TEST_F(ScanInterface, AlertLinesCarryRuleTimeHostAndTheEventVerbatim) {
  std::vector<std::string_view> lines(kEvents.begin(), kEvents.end());
  lines.push_back(kMiss);
  lines.push_back(kMalformed);
  const std::string input = write_input("events.jsonl", lines);
  ProcessResult r = run_socd({"scan", "--rules", rules(), "--input", input, "--cache-dir", "none"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);

  std::vector<std::string_view> alerts = split_lines(r.out);
  ASSERT_EQ(alerts.size(), kEvents.size()) << r.out;
  simdjson::dom::parser parser;
  for (size_t i = 0; i < alerts.size(); ++i) {
    SCOPED_TRACE("alert " + std::to_string(i + 1) + ": " + std::string(alerts[i]));
    simdjson::dom::element alert;
    ASSERT_FALSE(parser.parse(alerts[i].data(), alerts[i].size()).get(alert)) << "not JSON";
    std::string_view id, title, level, time;
    ASSERT_FALSE(alert["rule"]["id"].get(id));
    ASSERT_FALSE(alert["rule"]["title"].get(title));
    ASSERT_FALSE(alert["rule"]["level"].get(level));
    EXPECT_EQ(id, kRuleId);
    EXPECT_EQ(title, "Scan interface test");
    EXPECT_EQ(level, "high");
    simdjson::dom::array tags;
    ASSERT_FALSE(alert["rule"]["tags"].get(tags));
    std::vector<std::string> tag_list;
    for (simdjson::dom::element t : tags) tag_list.emplace_back(std::string_view(t));
    EXPECT_EQ(tag_list, (std::vector<std::string>{"attack.discovery", "attack.t1033"}));
    ASSERT_FALSE(alert["time"].get(time));
    EXPECT_TRUE(std::regex_match(std::string(time), kRfc3339)) << time;
    std::string_view host;
    if (kExpectedHosts[i].empty()) {
      EXPECT_EQ(alert["host"].error(), simdjson::NO_SUCH_FIELD) << "an event without a host has no host";
    } else {
      ASSERT_FALSE(alert["host"].get(host));
      EXPECT_EQ(host, kExpectedHosts[i]);
    }
    simdjson::dom::object event;
    EXPECT_FALSE(alert["event"].get(event)) << "the event is an object";
    // The event member, last in the alert, is the input line's object byte for byte.
    const std::string tail = "\"event\":" + kEvents[i] + "}";
    EXPECT_TRUE(alerts[i].size() >= tail.size() && alerts[i].substr(alerts[i].size() - tail.size()) == tail);
  }
  // The times the events carry are kept (as RFC 3339).
  EXPECT_NE(alerts[0].find(R"("time":"2026-03-11T08:15:30.123456Z")"), std::string::npos);
  EXPECT_NE(alerts[2].find(R"("time":"2026-03-11T08:17:00+02:00")"), std::string::npos);

  const std::string last(last_line(r.err));
  ASSERT_TRUE(std::regex_match(last, kSummary)) << last;
  auto summary = parse_summary(r.err);
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary_number(*summary, "events"), 4);
  EXPECT_EQ(summary_number(*summary, "bytes"), static_cast<double>(fs::file_size(input)));
  EXPECT_EQ(summary_number(*summary, "malformed"), 1);
  EXPECT_EQ(summary_number(*summary, "rules_loaded"), 1);
  EXPECT_EQ(summary_number(*summary, "rules_skipped"), 0);
  EXPECT_EQ(summary_number(*summary, "alerts"), 3);
}

TEST_F(ScanInterface, RuntimeFailureExitsOneUsageErrorExitsTwo) {
  // An input that is a directory: opened, but it cannot be read, which only the scan finds out.
  fs::create_directories(dir_.path() / "a-directory");
  ProcessResult r = run_socd({"scan", "--rules", rules(), "--input", dir_.file("a-directory"), "--cache-dir", "none"});
  EXPECT_TRUE(r.exited_with(1)) << r.describe() << "\n" << last_lines(r.err, 5);
  EXPECT_NE(r.err.find(dir_.file("a-directory")), std::string::npos) << last_lines(r.err, 5);
  EXPECT_TRUE(std::regex_match(std::string(last_line(r.err)), kSummary)) << last_lines(r.err, 5);

  const std::string input = write_input("events.jsonl", {kEvents[1]});
  const std::vector<std::vector<std::string>> usage_errors = {
      {"scan", "--input", input},                                          // no --rules
      {"scan", "--rules", rules(), "--input", input, "--no-such-option"},  // unknown option
      {"scan", "--rules", rules(), "--input", input, "--threads", "0"},    // a value out of range
      {"scan", "--rules", rules(), "--input", input, "--format", "xml"},   // an unknown format
      {"scan", "--rules", rules(), "--input", dir_.file("missing.jsonl")},  // an input that does not exist
  };
  for (const auto& args : usage_errors) {
    ProcessResult u = run_socd(args);
    EXPECT_TRUE(u.exited_with(2)) << args.back() << ": " << u.describe() << "\n" << last_lines(u.err, 5);
    EXPECT_TRUE(u.out.empty()) << args.back();
  }
}

// The *.hsdb files of a cache directory with their modification times (ns) and inodes.
std::map<std::string, std::pair<int64_t, ino_t>> cache_files(const fs::path& dir) {
  std::map<std::string, std::pair<int64_t, ino_t>> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() != ".hsdb") continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) != 0) continue;
    files[e.path().filename().string()] = {st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, st.st_ino};
  }
  return files;
}

std::string cache_state(const ProcessResult& r) {
  for (std::string_view line : split_lines(r.err)) {
    size_t at = line.find("compile_cache=");
    if (at != std::string_view::npos) return std::string(line.substr(at + 14));
  }
  return "(no compile_cache in stderr)";
}

TEST_F(ScanInterface, CompiledDatabasesAreCachedKeyedByTheRuleSetAndACorruptEntryIsRecompiled) {
  // Events with their own time: the alerts of two runs are then identical byte for byte.
  const std::string input = write_input("events.jsonl", {kEvents[0], kEvents[2], kMiss});
  const std::string cache = dir_.file("cache");
  auto scan = [&] { return run_socd({"scan", "--rules", rules(), "--input", input, "--cache-dir", cache}); };

  ProcessResult first = scan();
  ASSERT_TRUE(first.exited_with(0)) << first.describe() << "\n" << last_lines(first.err, 5);
  EXPECT_EQ(cache_state(first), "miss");
  ASSERT_EQ(split_lines(first.out).size(), 2u) << first.out;
  const auto written = cache_files(cache);
  ASSERT_EQ(written.size(), 1u);
  const fs::path entry = fs::path(cache) / written.begin()->first;
  const std::string entry_bytes = read_file(entry);

  // A second start loads the entry and leaves it as it is.
  ProcessResult second = scan();
  ASSERT_TRUE(second.exited_with(0)) << second.describe();
  EXPECT_EQ(cache_state(second), "hit");
  EXPECT_EQ(second.out, first.out);
  EXPECT_EQ(cache_files(cache), written) << "the cache entry was written again";

  // A changed rule set: a new entry beside the first, which stays.
  ASSERT_TRUE(write_file(dir_.path() / "rules" / "other.yml", kOtherRule));
  ProcessResult changed = scan();
  ASSERT_TRUE(changed.exited_with(0)) << changed.describe();
  EXPECT_EQ(cache_state(changed), "miss");
  auto after_change = cache_files(cache);
  EXPECT_EQ(after_change.size(), 2u);
  EXPECT_EQ(after_change.count(written.begin()->first), 1u);
  EXPECT_EQ(after_change[written.begin()->first], written.begin()->second);
  EXPECT_EQ(changed.out, first.out);  // the new rule fires on none of these events
  fs::remove(dir_.path() / "rules" / "other.yml");

  // A corrupt entry (cut short, or garbage) is compiled again, not fatal, and gives the same alerts; the entry
  // is written anew, so the next start loads it.
  const std::vector<std::string> corruptions = {entry_bytes.substr(0, entry_bytes.size() / 2),
                                                std::string(entry_bytes.size(), '\x5a'), std::string()};
  for (size_t k = 0; k < corruptions.size(); ++k) {
    SCOPED_TRACE("corruption " + std::to_string(k));
    ASSERT_TRUE(write_file(entry, corruptions[k]));
    ProcessResult recompiled = scan();
    ASSERT_TRUE(recompiled.exited_with(0)) << recompiled.describe() << "\n" << last_lines(recompiled.err, 5);
    EXPECT_EQ(cache_state(recompiled), "miss");
    EXPECT_EQ(recompiled.out, first.out);
    EXPECT_EQ(read_file(entry), entry_bytes) << "the corrupt entry was not replaced";
    ProcessResult again = scan();
    EXPECT_EQ(cache_state(again), "hit");
    EXPECT_EQ(again.out, first.out);
  }
}

// The arguments golden_test.cc gives `socd scan` for a case (rules/ folder or a rules file naming paths; input
// file or input_path; args), without the corpus cases; empty when the case is one of those or is incomplete.
std::vector<std::string> golden_scan_args(const fs::path& dir) {
  const fs::path root = SOCD_SOURCE_DIR;
  auto named = [&](const fs::path& file) {
    std::vector<std::string> out;
    std::istringstream text(read_file(file));
    for (std::string line; std::getline(text, line);) {
      while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      out.push_back(fs::exists(root / line) ? (root / line).string() : (dir / line).string());
    }
    return out;
  };
  std::vector<std::string> args = {"scan", "--cache-dir", "none"};
  std::vector<std::string> rule_paths, inputs;
  if (fs::is_directory(dir / "rules")) rule_paths = {(dir / "rules").string()};
  else if (fs::is_regular_file(dir / "rules")) rule_paths = named(dir / "rules");
  for (const char* name : {"input.jsonl", "input.log"})
    if (fs::is_regular_file(dir / name)) inputs = {(dir / name).string()};
  if (inputs.empty() && fs::is_regular_file(dir / "input_path")) inputs = named(dir / "input_path");
  if (rule_paths.empty() || inputs.size() != 1) return {};
  for (const auto& p : rule_paths) {
    if (p.find("shared/corpus") != std::string::npos) return {};
    args.insert(args.end(), {"--rules", p});
  }
  args.insert(args.end(), {"--input", inputs[0]});
  if (fs::is_regular_file(dir / "args")) {
    std::istringstream extra(read_file(dir / "args"));
    for (std::string a; extra >> a;) args.push_back(a);
  }
  return args;
}

// An alert without its "time" members: events without a time of their own are stamped with the clock.
std::string without_times(std::string_view out) {
  static const std::regex time(R"("time":"[^"]*")");
  return std::regex_replace(std::string(out), time, "\"time\":\"\"");
}

TEST(ScanNoPrefilter, GivesTheAlertsOfThePrefilterOnTheProjectsFixtures) {
  const fs::path golden = fs::path(SOCD_SOURCE_DIR) / "tests" / "golden";
  size_t cases = 0, alerts = 0;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(golden))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const fs::path& dir : dirs) {
    std::vector<std::string> args = golden_scan_args(dir);
    if (args.empty()) continue;
    SCOPED_TRACE(dir.filename().string());
    ProcessResult with = run_socd(args);
    args.push_back("--no-prefilter");
    ProcessResult without = run_socd(args);
    ASSERT_TRUE(with.exited_with(0)) << with.describe() << "\n" << last_lines(with.err, 5);
    ASSERT_TRUE(without.exited_with(0)) << without.describe() << "\n" << last_lines(without.err, 5);
    EXPECT_EQ(without_times(without.out), without_times(with.out));
    ++cases;
    alerts += split_lines(with.out).size();
  }
  // The shipped-sample cases run the shipped rules over config/samples: they are among the cases compared.
  EXPECT_GE(cases, 20u);
  EXPECT_GE(alerts, 100u);
}

}  // namespace
}  // namespace socd::test
