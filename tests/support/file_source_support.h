// Helpers of the file source tests: a sink that collects lines and keeps checkpoints as the pipeline would,
// temp directories, a writer thread that appends numbered lines and reopens its log on request, rotations.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "socd/file_source.h"

namespace socd::file_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct SeenLine {
  std::string text, origin, stream;
  uint64_t number = 0, position = 0, full_length = 0;
  bool oversized = false;
};

// With SOCD_TEST_FILE_PULL set (a second run of these tests), sinks take a file's backlog to be read by a thread
// of theirs, as the pipeline's workers read it (BatchSink::pull), and batches are small, so most reads go that way.
inline bool pulling() { return std::getenv("SOCD_TEST_FILE_PULL") != nullptr; }

// Collects the lines pushed and keeps checkpoints as the pipeline would once a batch is stored: every pushed
// batch's, or only the first `store_limit` batches' (a crash after them).
class CollectingSink : public BatchSink {
public:
  ~CollectingSink() override {
    if (reader_.joinable()) reader_.join();
  }
  bool push(std::unique_ptr<SourceBatch> batch, bool may_block) override {
    std::unique_lock<std::mutex> lock(mutex_);
    EXPECT_TRUE(may_block);
    open_.wait(lock, [&] { return !full_; });  // back-pressure: the pipeline is full
    collect(std::move(batch));
    return true;
  }
  bool pull(PulledInput& input) override {
    if (!pulling() && !pull_) return false;
    if (reader_.joinable()) reader_.join();  // the last input it read has ended
    reader_ = std::thread([this, &input] {
      LineBatch memory;
      for (;;) {
        {
          std::unique_lock<std::mutex> lock(mutex_);
          open_.wait(lock, [&] { return !full_ || withdrawn_; });
          if (withdrawn_) return;
        }
        std::unique_ptr<SourceBatch> batch = input.next(memory);
        if (!batch) return;
        memory.clear();
        std::lock_guard<std::mutex> lock(mutex_);
        ++pulled_batches_;
        collect(std::move(batch));
      }
    });
    return true;
  }
  void withdraw(PulledInput&) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      withdrawn_ = true;
      open_.notify_all();
    }
    if (reader_.joinable()) reader_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    withdrawn_ = false;
  }
  // Takes backlogs to read (pull) even without SOCD_TEST_FILE_PULL.
  void set_pull(bool on) { pull_ = on; }
  // Batches read by the sink's thread (pull).
  int pulled_batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pulled_batches_;
  }

private:
  void collect(std::unique_ptr<SourceBatch> batch) {
    for (const auto& l : batch->lines.lines) {
      SeenLine s;
      s.text = std::string(batch->lines.text(l));
      s.origin = batch->origin;
      s.stream = batch->stream;
      s.number = l.number;
      s.position = l.position;
      s.full_length = l.full_length;
      s.oversized = l.oversized;
      lines_.push_back(std::move(s));
    }
    ++batches_;
    if (!batch->checkpoint_key.empty() && (store_limit_ < 0 || batches_ <= store_limit_))
      stored_[batch->checkpoint_key] = batch->checkpoint_value;
    if (!batch->checkpoint_key.empty()) anchors_[batch->checkpoint_key] = batch->checkpoint_anchor;
    if (full_after_ > 0 && batches_ >= full_after_) full_ = true;
  }

public:
  std::optional<std::string> checkpoint(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = stored_.find(key);
    if (it == stored_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<SeenLine> lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }
  size_t line_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_.size();
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (const auto& l : lines()) out.push_back(l.text);
    return out;
  }
  std::map<std::string, std::string> stored() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stored_;
  }
  // The last checkpoint anchor of each key (SourceBatch::checkpoint_anchor), stored or not.
  std::map<std::string, std::string> anchors() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return anchors_;
  }
  void set_stored(std::map<std::string, std::string> m) { stored_ = std::move(m); }
  void set_store_limit(int n) { store_limit_ = n; }
  // Full (set_full(true)) once it holds `n` batches.
  void set_full_after(int n) {
    std::lock_guard<std::mutex> lock(mutex_);
    full_after_ = n;
  }
  bool full() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return full_;
  }
  void set_full(bool full) {
    std::lock_guard<std::mutex> lock(mutex_);
    full_ = full;
    open_.notify_all();
  }

private:
  mutable std::mutex mutex_;
  std::condition_variable open_;
  bool full_ = false, withdrawn_ = false;
  std::atomic<bool> pull_{false};
  std::vector<SeenLine> lines_;
  std::map<std::string, std::string> stored_;
  std::map<std::string, std::string> anchors_;
  int batches_ = 0, store_limit_ = -1, pulled_batches_ = 0, full_after_ = 0;
  std::thread reader_;
};

class TempDir {
public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "socd-file-source-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (fs::path(path_) / name).string(); }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

inline void append(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << bytes;
}

inline bool wait_for(const std::function<bool()>& condition,
                     std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

inline FileSourceOptions quick(std::vector<std::string> patterns, bool follow = true) {
  FileSourceOptions o;
  o.patterns = std::move(patterns);
  o.poll_ms = 10;
  o.rotate_wait_ms = 150;
  o.follow = follow;
  o.warn = [](const std::string&) {};
  if (pulling()) o.batch_bytes = 512;
  return o;
}

inline std::unique_ptr<FileSource> started(const FileSourceOptions& options, BatchSink& sink) {
  auto source = FileSource::create(options);
  EXPECT_TRUE(source.ok()) << (source.ok() ? "" : source.error().message());
  if (!source.ok()) return nullptr;
  Status s = (*source)->start(sink);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(*source);
}

inline std::string numbered(const std::string& prefix, int from, int to) {
  std::string out;
  for (int i = from; i < to; ++i) out += prefix + " " + std::to_string(i) + " some text of the event\n";
  return out;
}

// A writer appending numbered lines through its own descriptor, reopening its path when told (as a daemon
// does on SIGHUP after logrotate), with a lock the test takes to pause it.
class Writer {
public:
  explicit Writer(std::string path) : path_(std::move(path)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Writer() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Has the writer reopen its path, and waits until it did.
  bool reopen() {
    reopen_ = true;
    return wait_for([&] { return !reopen_.load(); });
  }
  int written() const { return next_.load(); }
  // Waits until `lines` more lines were written since the last call (a loaded machine may not run the writer
  // for a while: each file of the test must get lines).
  bool wrote(int lines) {
    bool ok = wait_for([&] { return next_.load() >= mark_ + lines; });
    mark_ = next_.load();
    return ok;
  }
  std::mutex pause;

private:
  void run() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    while (!stop_) {
      {
        std::lock_guard<std::mutex> lock(pause);
        if (reopen_.exchange(false)) {
          ::close(fd);
          fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        }
        for (int k = 0; k < 7; ++k) {
          std::string line = "event " + std::to_string(next_) + " user=alice action=login result=ok\n";
          if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ADD_FAILURE();
          ++next_;
        }
      }
      std::this_thread::sleep_for(1ms);
    }
    ::close(fd);
  }
  std::string path_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, reopen_{false};
  std::atomic<int> next_{0};
  int mark_ = 0;
};

// Every line the writer wrote was seen exactly once, and in order within each stream.
inline void expect_each_line_once(const CollectingSink& sink, int written) {
  std::map<std::string, int64_t> last_in_stream;
  std::vector<int> count(static_cast<size_t>(written), 0);
  for (const auto& l : sink.lines()) {
    int n = -1;
    ASSERT_EQ(std::sscanf(l.text.c_str(), "event %d ", &n), 1) << "not a whole line: '" << l.text << "'";
    ASSERT_GE(n, 0);
    ASSERT_LT(n, written);
    ++count[static_cast<size_t>(n)];
    auto [it, fresh] = last_in_stream.emplace(l.stream, n);
    if (!fresh) {
      EXPECT_GT(n, it->second) << "out of order in " << l.stream;
      it->second = n;
    }
  }
  int missing = 0, doubled = 0;
  for (int c : count) {
    missing += c == 0;
    doubled += c > 1;
  }
  if (doubled)  // say where the doubled lines came from
    for (const auto& l : sink.lines()) {
      int n = -1;
      std::sscanf(l.text.c_str(), "event %d ", &n);
      if (count[static_cast<size_t>(n)] > 1)
        ADD_FAILURE() << "line " << n << " from " << l.origin << " stream " << l.stream << " at "
                      << l.position;
    }
  EXPECT_EQ(missing, 0);
  if (missing) {  // say which
    std::string ranges;
    for (int i = 0; i < written; ++i) {
      if (count[static_cast<size_t>(i)] != 0) continue;
      int j = i;
      while (j + 1 < written && count[static_cast<size_t>(j + 1)] == 0) ++j;
      ranges += " " + std::to_string(i) + (j > i ? "-" + std::to_string(j) : "");
      i = j;
    }
    ADD_FAILURE() << "missing lines:" << ranges;
  }
  EXPECT_EQ(doubled, 0);
}

inline void rotate_by_rename(const std::string& path, Writer& writer) {
  if (fs::exists(path + ".1")) fs::rename(path + ".1", path + ".2");
  fs::rename(path, path + ".1");
  std::this_thread::sleep_for(15ms);  // the writer goes on writing to the renamed file for a moment
  EXPECT_TRUE(writer.reopen());
}

inline void copy_truncate(const std::string& path) {
  fs::copy_file(path, path + ".1", fs::copy_options::overwrite_existing);
  ASSERT_EQ(::truncate(path.c_str(), 0), 0);
}

}  // namespace socd::file_test
