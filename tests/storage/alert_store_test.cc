// The alert store on a real RocksDB in a temporary directory: commit and list in time order, dedup by id, checkpoints
// written with the alerts, filters, a reader beside the writer, lock errors, alert id stability.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

std::unique_ptr<AlertStore> open_store(const std::string& dir, bool read_only = false) {
  StoreOptions options;
  options.read_only = read_only;
  auto store = AlertStore::open(dir, options);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message());
  return store.ok() ? std::move(*store) : nullptr;
}

size_t commit(AlertStore& store, const std::vector<StoredAlert>& alerts,
              const std::vector<std::pair<std::string, std::string>>& checkpoints = {}) {
  size_t stored = 12345;
  Status st = store.commit(alerts, checkpoints, &stored);
  EXPECT_TRUE(st.ok()) << st.message();
  return stored;
}

std::vector<StoredAlert> list(AlertStore& store, const AlertQuery& query = {}) {
  std::vector<StoredAlert> out;
  Status st = store.list(query, [&](const StoredAlert& a) {
    out.push_back(a);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

std::vector<int64_t> times(const std::vector<StoredAlert>& alerts) {
  std::vector<int64_t> t;
  for (const auto& a : alerts) t.push_back(a.time_ms - kBaseTimeMs);
  return t;
}

uint64_t count(AlertStore& store) {
  auto n = store.count();
  EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().message());
  return n.ok() ? *n : ~uint64_t{0};
}

TEST(AlertStore, CommitThenListInTimeOrder) {
  TempDir dir;
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  // Committed out of order, over two batches; listed by time.
  EXPECT_EQ(commit(*store, {make_alert(1, kBaseTimeMs + 3000), make_alert(2, kBaseTimeMs + 1000)}), 2u);
  EXPECT_EQ(commit(*store, {make_alert(3, kBaseTimeMs + 2000), make_alert(4, kBaseTimeMs)}), 2u);
  auto all = list(*store);
  EXPECT_EQ(times(all), (std::vector<int64_t>{0, 1000, 2000, 3000}));
  ASSERT_EQ(all.size(), 4u);
  StoredAlert expected = make_alert(3, kBaseTimeMs + 2000);
  EXPECT_EQ(all[2].id, expected.id);
  EXPECT_EQ(all[2].rule_id, expected.rule_id);
  EXPECT_EQ(all[2].level, expected.level);
  EXPECT_EQ(all[2].host, expected.host);
  EXPECT_EQ(all[2].json, expected.json);
}

TEST(AlertStore, SameTimeAlertsAllKeptAndTimesBefore1970SortFirst) {
  TempDir dir;
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  EXPECT_EQ(commit(*store, {make_alert(1, 5), make_alert(2, 5), make_alert(3, -86400000), make_alert(4, 0)}), 4u);
  std::vector<int64_t> t;
  for (const auto& a : list(*store)) t.push_back(a.time_ms);
  EXPECT_EQ(t, (std::vector<int64_t>{-86400000, 0, 5, 5}));
}

TEST(AlertStore, DedupByIdAcrossCommitsAndWithinABatch) {
  TempDir dir;
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  EXPECT_EQ(commit(*store, {make_alert(1, kBaseTimeMs), make_alert(2, kBaseTimeMs + 1)}), 2u);
  // Alert 1 again (even with another time: the id decides), alert 3 twice in the same batch.
  StoredAlert again = make_alert(1, kBaseTimeMs + 500);
  EXPECT_EQ(commit(*store, {again, make_alert(3, kBaseTimeMs + 2), make_alert(3, kBaseTimeMs + 2)}), 1u);
  EXPECT_EQ(commit(*store, {make_alert(1, kBaseTimeMs), make_alert(2, kBaseTimeMs + 1)}), 0u);
  EXPECT_EQ(times(list(*store)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(count(*store), 3u);
  // The first version of alert 1 is the one kept.
  auto got = store->get(again.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->time_ms, kBaseTimeMs);
}

TEST(AlertStore, CheckpointsAreStoredWithTheAlertsAndSurviveAReopen) {
  TempDir dir;
  const std::string path = dir.file("store");
  {
    auto store = open_store(path);
    ASSERT_TRUE(store);
    EXPECT_EQ(commit(*store, {make_alert(1, kBaseTimeMs), make_alert(2, kBaseTimeMs + 1)},
                     {{"file:/var/log/auth.log", "inode=42 offset=1000"}, {"syslog:udp:514", "seq=7"}}),
              2u);
    // A later batch moves one checkpoint on; a batch of checkpoints alone is written too.
    EXPECT_EQ(commit(*store, {make_alert(3, kBaseTimeMs + 2)}, {{"file:/var/log/auth.log", "inode=42 offset=2000"}}),
              1u);
    EXPECT_EQ(commit(*store, {}, {{"syslog:udp:514", "seq=9"}}), 0u);
  }  // closed: the process is gone
  auto store = open_store(path);
  ASSERT_TRUE(store);
  auto file = store->checkpoint("file:/var/log/auth.log");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->value_or("(none)"), "inode=42 offset=2000");
  auto udp = store->checkpoint("syslog:udp:514");
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(udp->value_or("(none)"), "seq=9");
  auto missing = store->checkpoint("file:/never/seen");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(times(list(*store)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(count(*store), 3u);
  // After the reopen the ids are still known: a replay of the same lines stores nothing.
  EXPECT_EQ(commit(*store, {make_alert(1, kBaseTimeMs), make_alert(3, kBaseTimeMs + 2)}), 0u);
  EXPECT_EQ(count(*store), 3u);
}

class AlertStoreQuery : public ::testing::Test {
protected:
  void SetUp() override {
    store_ = open_store(dir_.file("store"));
    ASSERT_TRUE(store_);
    const char* levels[] = {"informational", "low", "medium", "high", "critical"};
    std::vector<StoredAlert> alerts;
    // 20 alerts one second apart: rule-a on even, rule-b on odd; hosts web01/db01 in turn of 3; levels by n % 5.
    for (uint64_t n = 0; n < 20; ++n)
      alerts.push_back(make_alert(n, kBaseTimeMs + static_cast<int64_t>(n) * 1000, n % 2 ? "rule-b" : "rule-a",
                                  levels[n % 5], n % 3 ? "web01" : "db01"));
    ASSERT_EQ(commit(*store_, alerts), 20u);
  }
  std::vector<int64_t> seconds(const AlertQuery& q) {
    std::vector<int64_t> s;
    for (int64_t t : times(list(*store_, q))) s.push_back(t / 1000);
    return s;
  }
  TempDir dir_;
  std::unique_ptr<AlertStore> store_;
};

TEST_F(AlertStoreQuery, TimeRangeIsSinceInclusiveUntilExclusive) {
  AlertQuery q;
  q.since_ms = kBaseTimeMs + 5000;
  q.until_ms = kBaseTimeMs + 9000;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{5, 6, 7, 8}));
  q.until_ms.reset();
  EXPECT_EQ(seconds(q).size(), 15u);
  q.since_ms.reset();
  q.until_ms = kBaseTimeMs + 2000;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{0, 1}));
  q.since_ms = kBaseTimeMs + 2000;  // empty range
  EXPECT_TRUE(seconds(q).empty());
}

TEST_F(AlertStoreQuery, FiltersByRuleHostAndLevel) {
  AlertQuery q;
  q.rule_id = "rule-b";
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{1, 3, 5, 7, 9, 11, 13, 15, 17, 19}));
  q.host = "db01";
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{3, 9, 15}));
  q = {};
  q.level = "high";
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{3, 8, 13, 18}));
  q.level_or_higher = true;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{3, 4, 8, 9, 13, 14, 18, 19}));
  q.level = "informational";
  EXPECT_EQ(seconds(q).size(), 20u);
  q.level = "severe";
  Status st = store_->list(q, [](const StoredAlert&) { return true; });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown alert level 'severe'"), std::string::npos) << st.message();
}

TEST_F(AlertStoreQuery, LimitReverseOrderAndStopping) {
  AlertQuery q;
  q.limit = 3;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{0, 1, 2}));
  q.newest_first = true;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{19, 18, 17}));
  q.limit = 0;
  q.until_ms = kBaseTimeMs + 5000;
  q.since_ms = kBaseTimeMs + 2000;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{4, 3, 2}));
  q = {};
  q.rule_id = "rule-a";
  q.newest_first = true;
  q.limit = 2;
  EXPECT_EQ(seconds(q), (std::vector<int64_t>{18, 16}));
  // visit returning false stops the listing after that alert.
  size_t visited = 0;
  Status st = store_->list({}, [&](const StoredAlert&) { return ++visited < 4; });
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(visited, 4u);
}

TEST_F(AlertStoreQuery, GetByIdAndCount) {
  StoredAlert seven = make_alert(7, kBaseTimeMs + 7000, "rule-b", "medium", "web01");
  auto got = store_->get(seven.id);
  ASSERT_TRUE(got.ok()) << got.error().message();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->id, seven.id);
  EXPECT_EQ((*got)->time_ms, seven.time_ms);
  EXPECT_EQ((*got)->rule_id, "rule-b");
  EXPECT_EQ((*got)->level, "medium");
  EXPECT_EQ((*got)->host, "web01");
  EXPECT_EQ((*got)->json, seven.json);
  auto none = store_->get("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(count(*store_), 20u);
}

TEST(AlertStore, ReaderBesideAnOpenWriterSeesCommittedAlertsAndCatchesUp) {
  TempDir dir;
  const std::string path = dir.file("store");
  auto writer = open_store(path);
  ASSERT_TRUE(writer);
  EXPECT_EQ(commit(*writer, {make_alert(1, kBaseTimeMs), make_alert(2, kBaseTimeMs + 1)}, {{"src", "offset=10"}}),
            2u);
  // The writer stays open (it holds the LOCK) while the reader opens.
  auto reader = open_store(path, /*read_only=*/true);
  ASSERT_TRUE(reader);
  EXPECT_EQ(times(list(*reader)), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(count(*reader), 2u);
  auto cp = reader->checkpoint("src");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->value_or("(none)"), "offset=10");

  EXPECT_EQ(commit(*writer, {make_alert(3, kBaseTimeMs + 2)}, {{"src", "offset=20"}}), 1u);
  ASSERT_TRUE(reader->refresh().ok());
  EXPECT_EQ(times(list(*reader)), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(count(*reader), 3u);
  auto got = reader->get(make_alert(3, 0).id);
  ASSERT_TRUE(got.ok() && got->has_value());
  cp = reader->checkpoint("src");
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->value_or("(none)"), "offset=20");

  // A reader cannot write.
  size_t stored = 99;
  Status st = reader->commit({make_alert(4, kBaseTimeMs)}, {}, &stored);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(stored, 0u);
  EXPECT_NE(st.message().find("read-only"), std::string::npos) << st.message();
}

TEST(AlertStore, ReaderSeesAlertsFlushedToTablesAndStillInTheLog) {
  // Enough alerts that the writer's memtable is flushed to table files: the reader finds those and the rest.
  TempDir dir;
  const std::string path = dir.file("store");
  auto writer = open_store(path);
  ASSERT_TRUE(writer);
  uint64_t n = 0;
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<StoredAlert> alerts;
    for (int i = 0; i < 1000; ++i, ++n)
      alerts.push_back(make_alert(n, kBaseTimeMs + static_cast<int64_t>(n), "rule-a", "high", "web01",
                                  "Failed logon", 1500));
    ASSERT_EQ(commit(*writer, alerts), 1000u);
  }
  auto reader = open_store(path, true);
  ASSERT_TRUE(reader);
  EXPECT_EQ(count(*reader), n);
  size_t listed = 0;
  int64_t last = INT64_MIN;
  bool ordered = true;
  Status st = reader->list({}, [&](const StoredAlert& a) {
    ordered = ordered && a.time_ms > last;
    last = a.time_ms;
    ++listed;
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(listed, n);
  EXPECT_TRUE(ordered);
  std::error_code ec;
  size_t tables = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec))
    tables += entry.path().extension() == ".sst";
  EXPECT_GT(tables, 0u) << "the test meant to read table files; raise the alert count or size";
}

TEST(AlertStore, SecondWriterInTheSameProcessIsRefusedWithAClearMessage) {
  TempDir dir;
  const std::string path = dir.file("store");
  auto writer = open_store(path);
  ASSERT_TRUE(writer);
  auto second = AlertStore::open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message(), "the store under " + path +
                                          " is in use by another socd run (LOCK held); use `socd alerts` to read it");
}

TEST(AlertStore, WriterRefusedWhileAnotherProcessHoldsTheLock) {
  TempDir dir;
  const std::string path = dir.file("store");
  { ASSERT_TRUE(open_store(path)); }
  // The child takes the lock RocksDB's writer takes (a POSIX record lock on DIR/LOCK) and holds it until the
  // parent closes the pipe. Only async-signal-safe calls in the child.
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const std::string lock_path = path + "/LOCK";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    int fd = open(lock_path.c_str(), O_RDWR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    char ok = (fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0) ? 'y' : 'n';
    (void)!write(ready[1], &ok, 1);
    char c;
    (void)!read(release[0], &c, 1);
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto second = AlertStore::open(path);
  // A reader is not affected by the lock.
  StoreOptions ro;
  ro.read_only = true;
  auto reader = AlertStore::open(path, ro);
  close(release[1]);
  close(ready[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().message(), "the store under " + path +
                                          " is in use by another socd run (LOCK held); use `socd alerts` to read it");
  EXPECT_TRUE(reader.ok()) << reader.error().message();
}

TEST(AlertStore, OpenErrorsNameTheDirectory) {
  TempDir dir;
  // A reader of a directory without a store.
  StoreOptions ro;
  ro.read_only = true;
  auto missing = AlertStore::open(dir.file("nothing-here"), ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("no alert store under '" + dir.file("nothing-here") + "'"),
            std::string::npos)
      << missing.error().message();
  // A writer given a directory of other files.
  ASSERT_TRUE(write_file(dir.file("notes.txt"), "not a store\n"));
  auto other = AlertStore::open(dir.path().string());
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message().find("is not an alert store"), std::string::npos) << other.error().message();
  EXPECT_TRUE(std::filesystem::exists(dir.file("notes.txt")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("CURRENT")));
}

TEST(AlertStore, NewStoreDirectoryIsOwnerOnly) {
  TempDir dir;
  const std::string path = dir.file("var/socd");
  { ASSERT_TRUE(open_store(path)); }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(AlertStore, AlertWithoutIdIsRefusedAndNothingIsWritten) {
  TempDir dir;
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  StoredAlert no_id = make_alert(2, kBaseTimeMs);
  no_id.id.clear();
  size_t stored = 7;
  Status st = store->commit({make_alert(1, kBaseTimeMs), no_id}, {{"src", "x"}}, &stored);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(stored, 0u);
  EXPECT_TRUE(list(*store).empty());
  auto cp = store->checkpoint("src");
  ASSERT_TRUE(cp.ok());
  EXPECT_FALSE(cp->has_value());
}

TEST(AlertStore, SyncedCommitsAreReadBack) {
  TempDir dir;
  StoreOptions options;
  options.sync = true;
  auto store = AlertStore::open(dir.file("store"), options);
  ASSERT_TRUE(store.ok()) << store.error().message();
  EXPECT_EQ(commit(**store, {make_alert(1, kBaseTimeMs)}, {{"src", "1"}}), 1u);
  EXPECT_EQ(times(list(**store)), (std::vector<int64_t>{0}));
}

TEST(AlertId, StableAndDistinct) {
  // The value is fixed: ids stored by one version must be recomputed identically by the next.
  EXPECT_EQ(alert_id("rule-1", "/var/log/auth.log", "offset:1234"), "ca2727afbcd7806cfd4749742dfbf163");
  EXPECT_EQ(alert_id("rule-1", "/var/log/auth.log", "offset:1234"),
            alert_id(std::string("rule-1"), std::string("/var/log/auth.log"), std::string("offset:1234")));
  std::set<std::string> ids;
  for (const char* rule : {"rule-1", "rule-2"})
    for (const char* source : {"a", "b"})
      for (const char* pos : {"1", "2"}) ids.insert(alert_id(rule, source, pos));
  EXPECT_EQ(ids.size(), 8u);
  // The parts are separated: moving a character from one part to the next gives another id.
  EXPECT_NE(alert_id("ab", "c", "1"), alert_id("a", "bc", "1"));
  EXPECT_EQ(alert_id("r", "s", "p").size(), 32u);
}

TEST(LevelRank, OrdersTheSigmaLevels) {
  EXPECT_LT(level_rank("informational"), level_rank("low"));
  EXPECT_LT(level_rank("low"), level_rank("medium"));
  EXPECT_LT(level_rank("medium"), level_rank("high"));
  EXPECT_LT(level_rank("high"), level_rank("critical"));
  EXPECT_EQ(level_rank("informational"), 0);
  EXPECT_EQ(level_rank("High"), -1);
  EXPECT_EQ(level_rank(""), -1);
}

double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Writes batches of 2,000 alerts (about 600 bytes of JSON each) and prints the rate; asserts only that every alert
// was stored, never the time.
TEST(AlertStoreThroughput, PrintsAlertsWrittenPerSecond) {
  TempDir dir;
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  constexpr size_t kBatch = 2000, kBatches = 100;
  std::vector<std::vector<StoredAlert>> batches(kBatches);
  uint64_t n = 0;
  for (auto& batch : batches)
    for (size_t i = 0; i < kBatch; ++i, ++n)
      batch.push_back(make_alert(n, kBaseTimeMs + static_cast<int64_t>(n) * 3, n % 7 ? "rule-a" : "rule-b", "high",
                                 "web01", "Failed logon", 200));
  size_t bytes = 0;
  for (const auto& a : batches[0]) bytes += a.json.size();
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = process_cpu_seconds();
  size_t stored_total = 0;
  for (const auto& batch : batches) stored_total += commit(*store, batch);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu_seconds = process_cpu_seconds() - cpu0;
  EXPECT_EQ(stored_total, kBatch * kBatches);
  EXPECT_EQ(count(*store), kBatch * kBatches);
  // Replaying every batch (a restart from an old checkpoint) stores nothing.
  auto t1 = std::chrono::steady_clock::now();
  size_t replayed = 0;
  for (const auto& batch : batches) replayed += commit(*store, batch);
  double replay_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  EXPECT_EQ(replayed, 0u);
  // CPU seconds of the whole process (the writer and RocksDB's flushes): the figure that does not depend on how
  // busy the machine is.
  std::printf("alert store: %zu alerts (%zu B of JSON each) in batches of %zu: %.0f alerts/s written "
              "(%.2f s, %.2f CPU s), %.0f alerts/s replayed (all duplicates)\n",
              stored_total, bytes / kBatch, kBatch, stored_total / seconds, seconds, cpu_seconds,
              stored_total / replay_seconds);
}

}  // namespace
}  // namespace socd::test
