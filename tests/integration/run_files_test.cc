// `socd run --file 'DIR/app.log*'` following a log that a writer thread appends to while the test rotates it,
// by rename (as logrotate with `create`: the application reopens its log afterwards) and by copytruncate (the
// writer paused around copy and truncation, as logrotate's documentation asks), and a service stopped with
// SIGTERM in the middle of a file and started again. Every line must be read exactly once: the events of the
// runs add up to the lines written, and each line with the hit token has exactly one alert in the store
// (recognised by its seq=N, since a rotated file's lines are numbered per file), carrying the line number it
// has in the file it was written to.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::series;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000f001";

struct ServiceDir {
  test::TempDir dir;
  std::filesystem::path logs;
  ServiceDir() {
    logs = dir.path() / "logs";
    std::filesystem::create_directories(logs);
    std::filesystem::create_directories(dir.path() / "rules");
    test::write_file(dir.path() / "rules" / "hit.yml",
                     test::keyword_rule(kHitRule, "Test hit", test::kHitToken));
  }
  test::SocdService::Options options() const {
    test::SocdService::Options o;
    o.data_dir = dir.file("store");
    o.rules = dir.file("rules");
    o.cache_dir = dir.file("cache");
    o.log = dir.file("socd.log");
    o.sources = {"--file", (logs / "app.log*").string()};
    return o;
  }
  std::string app_log() const { return (logs / "app.log").string(); }
};

// An application writing numbered lines to its log, `burst` lines every `pause`, one write(2) per line on an
// O_APPEND descriptor. It can be told to reopen its log (after a rename) and be paused (around copytruncate).
// It remembers the seq of the first line of each incarnation of the log: after a reopen, and after a
// truncation the test reports with truncated().
class AppWriter {
public:
  // `extra` goes into every line (longer lines: a larger file for as many lines).
  explicit AppWriter(std::string path, std::string extra = "")
      : path_(std::move(path)), extra_(std::move(extra)) {
    open();
  }
  ~AppWriter() {
    finish();
    if (fd_ >= 0) ::close(fd_);
  }

  // Writes lines [first, end) synchronously (a backlog before the test starts anything).
  void write_now(uint64_t end) {
    std::lock_guard lock(mutex_);
    while (next_ < end) write_one();
  }
  // Writes lines up to `end` on a thread, paced.
  void start(uint64_t end, uint64_t burst = 20, std::chrono::milliseconds pause = 10ms) {
    thread_ = std::thread([this, end, burst, pause] {
      while (true) {
        {
          std::lock_guard lock(mutex_);
          if (failed_ || next_ >= end) break;
          if (reopen_) {
            ::close(fd_);
            open();
            reopen_ = false;
          }
          for (uint64_t i = 0; i < burst && next_ < end; ++i) write_one();
        }
        progress_.notify_all();
        std::this_thread::sleep_for(pause);
      }
      std::lock_guard lock(mutex_);
      done_ = true;
      progress_.notify_all();
    });
  }
  void finish() {
    if (thread_.joinable()) thread_.join();
  }
  // Waits (at most 30 s) until `count` lines are written; false when the time is up.
  bool wait_written(uint64_t count) {
    std::unique_lock lock(mutex_);
    return progress_.wait_for(lock, 30s, [&] { return next_ >= count || done_ || failed_; }) &&
           next_ >= count;
  }
  void reopen() {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  // Holds the writer still while the returned lock lives.
  std::unique_lock<std::mutex> pause() { return std::unique_lock(mutex_); }
  // Called with the writer paused, after the log was truncated: the next line starts a new incarnation.
  void truncated(const std::unique_lock<std::mutex>&) { starts_.push_back(next_); }

  uint64_t written() {
    std::lock_guard lock(mutex_);
    return next_;
  }
  bool failed() {
    std::lock_guard lock(mutex_);
    return failed_;
  }
  // The line number `seq` has in the file it was written to.
  uint64_t line_number(uint64_t seq) {
    std::lock_guard lock(mutex_);
    uint64_t start = 0;
    for (uint64_t s : starts_)
      if (s <= seq) start = s;
    return seq - start + 1;
  }
  std::vector<uint64_t> hit_seqs() {
    std::lock_guard lock(mutex_);
    std::vector<uint64_t> seqs;
    for (uint64_t seq = 0; seq < next_; ++seq)
      if (test::hits(seq)) seqs.push_back(seq);
    return seqs;
  }

private:
  void open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) failed_ = true;
    starts_.push_back(next_);
  }
  void write_one() {
    std::string line = test::numbered_line(next_, test::hits(next_), extra_);
    if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) failed_ = true;
    ++next_;
  }

  std::string path_, extra_;
  int fd_ = -1;
  std::mutex mutex_;
  std::condition_variable progress_;
  std::thread thread_;
  uint64_t next_ = 0;
  bool reopen_ = false, done_ = false, failed_ = false;
  std::vector<uint64_t> starts_;
};

// Copies `from` to `to` (a new file), as logrotate's copytruncate does before truncating.
bool copy_file(const std::string& from, const std::string& to) {
  std::error_code error;
  return std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, error);
}

// The store's alerts: each hit exactly once, each with the line number its line has in the file it was
// written to.
void expect_alerts(const std::string& data_dir, AppWriter& writer) {
  std::string error;
  auto alerts = test::list_alerts(data_dir, error);
  ASSERT_TRUE(error.empty()) << error;
  auto hit_seqs = writer.hit_seqs();
  EXPECT_EQ(alerts.size(), hit_seqs.size());
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts, kHitRule), hit_seqs), "");
  size_t wrong_lines = 0;
  std::string example;
  for (const auto& a : alerts) {
    if (a.seq < 0 || a.line == static_cast<int64_t>(writer.line_number(static_cast<uint64_t>(a.seq))))
      continue;
    if (wrong_lines++ == 0)
      example = "seq=" + std::to_string(a.seq) + " in " + a.file + " has source.line " +
                std::to_string(a.line) + ", expected " +
                std::to_string(writer.line_number(static_cast<uint64_t>(a.seq)));
  }
  EXPECT_EQ(wrong_lines, 0u) << "alerts with a wrong source.line, e.g. " << example;
}

// Waits until the service has read `total` events from its file source, then a while longer (several polls of
// the file source) to see that no line comes twice; returns the events seen.
double settle(test::SocdService& socd, const std::string& source, uint64_t total) {
  const std::string events = series("socd_source_events_total", {{"source", source}});
  double seen = socd.wait_metric_at_least(events, static_cast<double>(total), 30s);
  if (seen != static_cast<double>(total)) return seen;
  std::this_thread::sleep_for(1200ms);
  return test::sample(socd.metrics(), events);
}

std::string file_source_name(const ServiceDir& dir) { return "file:" + (dir.logs / "app.log*").string(); }

TEST(RunFiles, EveryLineOnceThroughRotationsByRename) {
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  AppWriter writer(dir.app_log());
  test::SocdService socd(dir.options());
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string events = series("socd_source_events_total", {{"source", file_source_name(dir)}});

  constexpr uint64_t kTotal = 3000;
  writer.start(kTotal);
  // Two rotations as logrotate makes them (app.log.1 -> app.log.2, app.log -> app.log.1, then the application
  // reopens app.log), each after the service has read some of the current file and while the writer goes on.
  for (uint64_t at : {1000u, 2000u}) {
    ASSERT_TRUE(writer.wait_written(at));
    EXPECT_GT(socd.wait_metric_at_least(events, static_cast<double>(at) - 500, 20s), 0);
    const std::string log = dir.app_log();
    if (std::filesystem::exists(log + ".1"))
      ASSERT_EQ(::rename((log + ".1").c_str(), (log + ".2").c_str()), 0);
    ASSERT_EQ(::rename(log.c_str(), (log + ".1").c_str()), 0);
    std::this_thread::sleep_for(50ms);  // a few lines still go to the renamed file
    writer.reopen();
  }
  writer.finish();
  ASSERT_FALSE(writer.failed());
  ASSERT_EQ(writer.written(), kTotal);
  EXPECT_EQ(settle(socd, file_source_name(dir), kTotal), kTotal) << test::last_lines(socd.err(), 20);
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), kTotal);
  EXPECT_EQ(test::summary_number(summary, "malformed"), 0);
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), writer.hit_seqs().size());
  expect_alerts(dir.dir.file("store"), writer);
}

TEST(RunFiles, EveryLineOnceThroughRotationsByCopytruncate) {
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  AppWriter writer(dir.app_log());
  test::SocdService socd(dir.options());
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string events = series("socd_source_events_total", {{"source", file_source_name(dir)}});

  constexpr uint64_t kTotal = 3000;
  writer.start(kTotal);
  for (uint64_t at : {1000u, 2000u}) {
    ASSERT_TRUE(writer.wait_written(at));
    EXPECT_GT(socd.wait_metric_at_least(events, static_cast<double>(at) - 500, 20s), 0);
    const std::string log = dir.app_log();
    auto paused = writer.pause();
    if (std::filesystem::exists(log + ".1"))
      ASSERT_EQ(::rename((log + ".1").c_str(), (log + ".2").c_str()), 0);
    ASSERT_TRUE(copy_file(log, log + ".1"));
    ASSERT_EQ(::truncate(log.c_str(), 0), 0);
    writer.truncated(paused);
  }
  writer.finish();
  ASSERT_FALSE(writer.failed());
  ASSERT_EQ(writer.written(), kTotal);
  EXPECT_EQ(settle(socd, file_source_name(dir), kTotal), kTotal) << test::last_lines(socd.err(), 20);
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), kTotal);
  EXPECT_EQ(test::summary_number(summary, "malformed"), 0);
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), writer.hit_seqs().size());
  expect_alerts(dir.dir.file("store"), writer);
}

// Three runs over one file and one store: the first stopped with SIGTERM in the middle of a backlog, the
// second stopped while the file grows, the third run to the end. The events of the three runs add up to the
// lines written (none read twice, none skipped) and every hit has one alert.
//
// The file source notices a stop only between its reading rounds, and a round reads up to 8 MiB of a file
// (8 batches of 1 MiB), so the backlog is larger than that (400-byte lines) for SIGTERM to come mid-file.
TEST(RunFiles, RestartAfterSigtermMidFileSkipsAndRepeatsNothing) {
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  AppWriter writer(dir.app_log(), std::string(320, 'x'));
  constexpr uint64_t kBacklog = 30000, kTotal = 36000;
  writer.write_now(kBacklog);
  test::SocdService socd(dir.options());
  socd.set_workers(1);  // a short pipeline (4 batches), so SIGTERM leaves most of the backlog unread
  const std::string events = series("socd_source_events_total", {{"source", file_source_name(dir)}});
  std::string error;
  double run_events[3] = {0, 0, 0};
  double stored = 0;

  ASSERT_TRUE(socd.start(error)) << error;
  EXPECT_GT(socd.wait_metric_at_least(events, 1, 20s), 0);
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  run_events[0] = test::summary_number(summary, "events");
  stored += test::summary_number(summary, "alerts_stored");
  EXPECT_GT(run_events[0], 0);
  EXPECT_LT(run_events[0], kBacklog) << "the first run was to stop in the middle of the backlog";

  writer.start(kTotal);
  ASSERT_TRUE(socd.start(error)) << error;
  EXPECT_GT(socd.wait_metric_at_least(events, 1, 20s), 0);
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(socd.stop(summary), "");
  run_events[1] = test::summary_number(summary, "events");
  stored += test::summary_number(summary, "alerts_stored");

  ASSERT_TRUE(socd.start(error)) << error;
  writer.finish();
  ASSERT_FALSE(writer.failed());
  ASSERT_EQ(writer.written(), kTotal);
  double rest = static_cast<double>(kTotal) - run_events[0] - run_events[1];
  EXPECT_EQ(settle(socd, file_source_name(dir), static_cast<uint64_t>(std::max(rest, 0.0))), rest);
  ASSERT_EQ(socd.stop(summary), "");
  run_events[2] = test::summary_number(summary, "events");
  stored += test::summary_number(summary, "alerts_stored");

  EXPECT_EQ(run_events[0] + run_events[1] + run_events[2], kTotal)
      << "events per run: " << run_events[0] << " " << run_events[1] << " " << run_events[2];
  EXPECT_EQ(stored, writer.hit_seqs().size());
  expect_alerts(dir.dir.file("store"), writer);
}

}  // namespace
}  // namespace socd
