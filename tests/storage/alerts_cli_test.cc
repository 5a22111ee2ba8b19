// `socd alerts list|show` end to end: the test fills a store through the API and keeps its writer open while the
// socd binary, a second process, reads the store.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

class AlertsCommand : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("store");
    auto store = AlertStore::open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message();
    writer_ = std::move(*store);
    const char* levels[] = {"informational", "low", "medium", "high", "critical"};
    for (uint64_t n = 0; n < 20; ++n)
      alerts_.push_back(make_alert(n, kBaseTimeMs + static_cast<int64_t>(n) * 1000, n % 2 ? "rule-b" : "rule-a",
                                   levels[n % 5], n % 3 ? "web01" : "db01",
                                   n % 2 ? "Web shell upload" : "Failed logon for an admin account"));
    size_t stored = 0;
    Status st = writer_->commit(alerts_, {{"file:/var/log/auth.log", "offset=99"}}, &stored);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(stored, 20u);
  }

  ProcessResult alerts(std::vector<std::string> args, bool with_dir = true) {
    args.insert(args.begin(), "alerts");
    if (with_dir) {
      args.push_back("--data-dir");
      args.push_back(path_);
    }
    return run_socd(args);
  }

  // The JSON lines of `--json` output.
  static std::vector<std::string> lines(const std::string& out) {
    std::vector<std::string> v;
    for (auto l : split_lines(out)) v.emplace_back(l);
    return v;
  }
  std::vector<std::string> json_of(std::initializer_list<size_t> numbers) const {
    std::vector<std::string> v;
    for (size_t n : numbers) v.push_back(alerts_[n].json);
    return v;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<AlertStore> writer_;
  std::vector<StoredAlert> alerts_;
};

TEST_F(AlertsCommand, ListPrintsATableInTimeOrderWhileTheWriterIsOpen) {
  ProcessResult r = alerts({"list"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  auto rows = split_lines(r.out);
  ASSERT_EQ(rows.size(), 21u) << r.out;
  EXPECT_EQ(rows[0].substr(0, 4), "TIME");
  EXPECT_NE(rows[0].find("LEVEL"), std::string::npos);
  EXPECT_NE(rows[0].find("HOST"), std::string::npos);
  for (size_t n = 0; n < 20; ++n) {
    std::string_view row = rows[n + 1];
    EXPECT_EQ(row.substr(0, 24), rfc3339_utc(alerts_[n].time_ms)) << row;
    EXPECT_NE(row.find(alerts_[n].id), std::string::npos) << row;
    EXPECT_NE(row.find(alerts_[n].level), std::string::npos) << row;
    EXPECT_NE(row.find(n % 2 ? "Web shell upload" : "Failed logon for an admin account"), std::string::npos) << row;
    EXPECT_NE(row.find(alerts_[n].host), std::string::npos) << row;
  }
  EXPECT_NE(r.err.find("20 alert(s) listed; the store holds 20"), std::string::npos) << r.err;
}

TEST_F(AlertsCommand, ListJsonPrintsTheStoredAlertsAndSeesLaterCommits) {
  ProcessResult r = alerts({"list", "--json"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  std::vector<std::string> expected;
  for (const auto& a : alerts_) expected.push_back(a.json);
  EXPECT_EQ(lines(r.out), expected);

  size_t stored = 0;
  StoredAlert later = make_alert(100, kBaseTimeMs + 60'000);
  ASSERT_TRUE(writer_->commit({later}, {}, &stored).ok());
  r = alerts({"list", "--json", "--newest-first", "--limit", "1"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(lines(r.out), std::vector<std::string>{later.json});
}

TEST_F(AlertsCommand, ListFilters) {
  ProcessResult r = alerts({"list", "--json", "--rule", "rule-b", "--host", "db01"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(lines(r.out), json_of({3, 9, 15}));

  r = alerts({"list", "--json", "--level", "high"});  // high or higher
  EXPECT_EQ(lines(r.out), json_of({3, 4, 8, 9, 13, 14, 18, 19}));
  r = alerts({"list", "--json", "--level", "high", "--exact-level"});
  EXPECT_EQ(lines(r.out), json_of({3, 8, 13, 18}));

  // RFC 3339 in UTC and with an offset (12:00:08+02:00 is 10:00:08Z); until is exclusive.
  r = alerts({"list", "--json", "--since", "2024-05-01T10:00:05Z", "--until", "2024-05-01T12:00:08+02:00"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(lines(r.out), json_of({5, 6, 7}));
  r = alerts({"list", "--json", "--since", "2024-05-01 10:00:17.500Z"});
  EXPECT_EQ(lines(r.out), json_of({18, 19}));

  r = alerts({"list", "--json", "--limit", "2", "--newest-first"});
  EXPECT_EQ(lines(r.out), json_of({19, 18}));
  r = alerts({"list", "--json", "--limit", "2"});
  EXPECT_EQ(lines(r.out), json_of({0, 1}));
}

TEST_F(AlertsCommand, SinceADurationCountsBackFromNow) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
  StoredAlert recent = make_alert(200, now - 5 * 60'000);    // 5 minutes ago
  StoredAlert hour_ago = make_alert(201, now - 3600'000 - 60'000);  // 61 minutes ago
  size_t stored = 0;
  ASSERT_TRUE(writer_->commit({recent, hour_ago}, {}, &stored).ok());
  ProcessResult r = alerts({"list", "--json", "--since", "15m"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(lines(r.out), std::vector<std::string>{recent.json});
  r = alerts({"list", "--json", "--since", "2h"});
  EXPECT_EQ(lines(r.out), (std::vector<std::string>{hour_ago.json, recent.json}));
  r = alerts({"list", "--json", "--since", "2h", "--until", "1h"});
  EXPECT_EQ(lines(r.out), std::vector<std::string>{hour_ago.json});
}

TEST_F(AlertsCommand, TableShowsNoControlCharactersFromLogs) {
  StoredAlert hostile = make_alert(300, kBaseTimeMs + 99'000, "rule-c", "low", "evil\x1b]0;pwned\x07host",
                                   "Title \x1b[31mred\x1b[0m");
  size_t stored = 0;
  ASSERT_TRUE(writer_->commit({hostile}, {}, &stored).ok());
  ProcessResult r = alerts({"list", "--rule", "rule-c"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x07'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Title ?[31mred?[0m"), std::string::npos) << r.out;
}

TEST_F(AlertsCommand, ShowPrintsTheAlertAsIndentedJson) {
  const StoredAlert& a = alerts_[7];
  ProcessResult r = alerts({"show", a.id});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_NE(r.out.find("\n  \"id\": \"" + a.id + "\",\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n    \"title\": \"Web shell upload\",\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"tags\": [\n      \"attack.t1110\"\n    ]"), std::string::npos) << r.out;
  // Without the layout it is the stored JSON.
  std::string compact;
  bool in_string = false;
  for (size_t i = 0; i < r.out.size(); ++i) {
    char c = r.out[i];
    if (c == '"' && (i == 0 || r.out[i - 1] != '\\')) in_string = !in_string;
    if (in_string || (c != ' ' && c != '\n')) compact += c;
  }
  EXPECT_EQ(compact, a.json);

  r = alerts({"show", "--raw", a.id, alerts_[2].id});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 10);
  EXPECT_EQ(r.out, a.json + "\n" + alerts_[2].json + "\n");
}

TEST_F(AlertsCommand, ShowOfAnUnknownIdFails) {
  ProcessResult r = alerts({"show", "ffffffffffffffffffffffffffffffff"});
  EXPECT_TRUE(r.exited_with(1)) << r.describe();
  EXPECT_NE(r.err.find("no alert with id 'ffffffffffffffffffffffffffffffff'"), std::string::npos) << r.err;
}

TEST_F(AlertsCommand, UsageErrorsAndHelp) {
  for (std::vector<std::string> args : {std::vector<std::string>{"list", "--level", "severe"},
                                        {"list", "--since", "yesterday"},
                                        {"list", "--since", "10000000000000d"},  // milliseconds beyond 64 bits
                                        {"list", "--until", "2024-05-01T10:00:00"},  // a time of day needs a zone
                                        {"list", "--no-such-option"},
                                        {"show"},
                                        {"frobnicate"}}) {
    ProcessResult r = alerts(args);
    EXPECT_TRUE(r.exited_with(2)) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": " << r.describe();
    EXPECT_FALSE(r.err.empty());
  }
  ProcessResult r = alerts({}, false);
  EXPECT_TRUE(r.exited_with(2)) << r.describe();
  r = alerts({"list", "--help"}, false);
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  for (const char* option : {"--data-dir", "--since", "--until", "--rule", "--host", "--level", "--limit", "--json"})
    EXPECT_NE(r.out.find(option), std::string::npos) << option << " missing from:\n" << r.out;
  r = alerts({"show", "--help"}, false);
  EXPECT_TRUE(r.exited_with(0)) << r.describe();
  EXPECT_NE(r.out.find("--raw"), std::string::npos) << r.out;
}

// A reader's scratch directory (under TMPDIR) is removed also when the output pipe closes early (`| head`).
TEST_F(AlertsCommand, ReaderLeavesNoScratchDirectoryBehindWhenThePipeCloses) {
  std::vector<StoredAlert> many;
  for (uint64_t n = 1000; n < 21000; ++n) many.push_back(make_alert(n, kBaseTimeMs + static_cast<int64_t>(n)));
  size_t stored = 0;
  ASSERT_TRUE(writer_->commit(many, {}, &stored).ok());
  ASSERT_EQ(stored, many.size());
  TempDir tmp;
  const std::string script = "TMPDIR='" + tmp.path().string() + "' '" + SOCD_BINARY + "' alerts list --json --data-dir '" +
                             path_ + "' | head -n 1 >/dev/null; echo \"status=${PIPESTATUS[0]}\"";
  ProcessResult r = run_process("/bin/bash", {"-c", script});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  EXPECT_EQ(r.out, "status=0\n") << r.err;
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) left.push_back(entry.path().string());
  EXPECT_TRUE(left.empty()) << "left behind: " << left.front();
}

TEST_F(AlertsCommand, NoStoreIsARuntimeErrorNamingTheDirectory) {
  const std::string missing = dir_.file("never-written");
  ProcessResult r = run_socd({"alerts", "list", "--data-dir", missing});
  EXPECT_TRUE(r.exited_with(1)) << r.describe();
  EXPECT_NE(r.err.find("no alert store under '" + missing + "'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace socd::test
