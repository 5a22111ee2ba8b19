#include "socd/file_source.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <utility>

#include "socd/thread_name.h"

namespace socd {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kFingerprintBytes = 1024;  // a file's identity beyond its inode: its first bytes
constexpr size_t kOversizedHead = 256;      // bytes kept of an oversized line
constexpr size_t kCopyMinBytes = 64;        // fewer first bytes than this do not tell a copy
constexpr size_t kRetiredKept = 64;         // ended incarnations remembered to recognise copies of them

// glob(3) reports unreadable directories through a plain function: it collects them here for the scan.
thread_local std::vector<std::string>* glob_errors = nullptr;
int on_glob_error(const char* path, int error) {
  if (glob_errors) glob_errors->push_back(std::string(path) + ": " + std::strerror(error));
  return 0;  // go on with the rest of the pattern
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

bool has_glob_chars(const std::string& pattern) { return pattern.find_first_of("*?[{") != std::string::npos; }

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Reads up to `n` bytes at `offset`; fewer at the end of the file. -1 on error.
ssize_t pread_full(int fd, char* out, size_t n, uint64_t offset) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x80) {  // control bytes, and bytes of names that need not be UTF-8
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

}  // namespace

uint64_t fingerprint_bytes(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string file_checkpoint_key(uint64_t device, uint64_t inode) {
  return "file:" + std::to_string(device) + ":" + std::to_string(inode);
}

std::string encode_file_checkpoint(const FileCheckpoint& c) {
  std::string out = "{\"path\":";
  append_json_string(out, c.path);
  out += ",\"dev\":" + std::to_string(c.device) + ",\"ino\":" + std::to_string(c.inode) +
         ",\"offset\":" + std::to_string(c.offset) + ",\"line\":" + std::to_string(c.line) +
         ",\"fp_len\":" + std::to_string(c.fingerprint_length) + ",\"fp\":\"" + hex64(c.fingerprint) +
         "\",\"stream\":";
  append_json_string(out, c.stream);
  out.push_back('}');
  return out;
}

// Parses the flat object encode_file_checkpoint writes (strings and unsigned numbers, no nesting).
Expected<FileCheckpoint> decode_file_checkpoint(std::string_view v) {
  FileCheckpoint c;
  size_t i = 0;
  auto fail = [&](const char* what) {
    return Status::error("file checkpoint at byte " + std::to_string(i) + ": " + what + " in '" +
                         std::string(v.substr(0, 200)) + "'; the file is read from its start");
  };
  auto skip_ws = [&] {
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r')) ++i;
  };
  auto read_string = [&](std::string& out) -> bool {
    if (i >= v.size() || v[i] != '"') return false;
    ++i;
    while (i < v.size() && v[i] != '"') {
      char ch = v[i++];
      if (ch != '\\') {
        out.push_back(ch);
        continue;
      }
      if (i >= v.size()) return false;
      char e = v[i++];
      if (e == 'u') {
        if (i + 4 > v.size()) return false;
        unsigned code = 0;
        for (int k = 0; k < 4; ++k) {
          char h = v[i++];
          code <<= 4;
          if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
          else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
          else return false;
        }
        if (code > 0xff) return false;  // only bytes are written escaped
        out.push_back(static_cast<char>(code));
      } else if (e == '"' || e == '\\' || e == '/') {
        out.push_back(e);
      } else {
        return false;
      }
    }
    if (i >= v.size()) return false;
    ++i;
    return true;
  };
  auto read_number = [&](uint64_t& out) -> bool {
    size_t start = i;
    out = 0;
    while (i < v.size() && v[i] >= '0' && v[i] <= '9') {
      uint64_t next = out * 10 + static_cast<uint64_t>(v[i] - '0');
      if (next / 10 != out) return false;  // overflow
      out = next;
      ++i;
    }
    return i > start;
  };
  std::set<std::string> seen;
  skip_ws();
  if (i >= v.size() || v[i] != '{') return fail("expected '{'");
  ++i;
  skip_ws();
  while (i < v.size() && v[i] != '}') {
    std::string key;
    if (!read_string(key)) return fail("expected a key");
    skip_ws();
    if (i >= v.size() || v[i] != ':') return fail("expected ':'");
    ++i;
    skip_ws();
    bool ok = true;
    if (key == "path") ok = read_string(c.path);
    else if (key == "stream") ok = read_string(c.stream);
    else if (key == "dev") ok = read_number(c.device);
    else if (key == "ino") ok = read_number(c.inode);
    else if (key == "offset") ok = read_number(c.offset);
    else if (key == "line") ok = read_number(c.line);
    else if (key == "fp_len") ok = read_number(c.fingerprint_length);
    else if (key == "fp") {
      std::string hex;
      ok = read_string(hex) && !hex.empty() && hex.size() <= 16;
      for (char h : hex) ok = ok && std::isxdigit(static_cast<unsigned char>(h));
      if (ok) c.fingerprint = std::stoull(hex, nullptr, 16);
    } else {
      return fail("unknown key");
    }
    if (!ok) return fail(("bad value of '" + key + "'").c_str());
    seen.insert(key);
    skip_ws();
    if (i < v.size() && v[i] == ',') {
      ++i;
      skip_ws();
    }
  }
  if (i >= v.size()) return fail("expected '}'");
  for (const char* k : {"dev", "ino", "offset", "line", "fp_len", "fp", "stream"})
    if (!seen.count(k)) return fail((std::string("missing '") + k + "'").c_str());
  if (c.fingerprint_length > kFingerprintBytes) return fail("fp_len over 1024");
  return c;
}

// ----------------------------------------------------------------------------------------------------

namespace {

// One incarnation of a followed file: an open descriptor on a (device, inode) and how far it was read.
struct Tracked {
  enum class Mode {
    kReading,  // read and framed
    kProbing,  // new while running and its first bytes might be a copy of a known file's: wait for more bytes
    kLinked,   // a copy of the live incarnation `link_to`: read from where that one ends, once truncated
  };
  std::string path, key, stream;
  uint64_t stream_offset = 0, stream_line = 0;  // where this run began reading `stream` (its anchor)
  int fd = -1;
  uint64_t dev = 0, ino = 0;
  uint64_t id = 0;         // unique per incarnation in this run
  Mode mode = Mode::kReading;
  uint64_t link_to = 0;
  bool matched = true;
  // Found by the scan in start() without a checkpoint that fits: the first round looks whether it is a copy
  // of a file whose checkpoint no longer fits (copytruncate while socd was down) before reading it.
  bool first_scan = false, seen_before = false;
  uint64_t size_at_open = 0;
  // Reading: bytes before read_pos were read; the framer knows which of them are framed lines (the rest is the
  // line being written, at the end of `batch`).
  uint64_t read_pos = 0;
  LineFramer framer{1};
  std::string head;    // the file's first bytes, up to kFingerprintBytes
  uint64_t last_size = 0;
  struct timespec last_mtime {};
  Clock::time_point last_growth = Clock::now(), mode_since = Clock::now();
  std::unique_ptr<SourceBatch> batch;
};

// The end of an incarnation (truncated, or closed), kept to recognise a copy of it made before its end. After
// a restart, the checkpoint of a file that was truncated (or replaced) while socd was down stands for its
// last incarnation: no head bytes then, only the fingerprint (its length and hash).
struct Retired {
  uint64_t id = 0;
  std::string head, stream;
  uint64_t fingerprint_length = 0, fingerprint = 0;  // when `head` is empty
  uint64_t dev = 0, ino = 0;                         // the file it was (never its own copy)
  uint64_t offset = 0, line = 0;
};

}  // namespace

struct FileSource::State {
  FileSourceOptions options;
  BatchSink* sink = nullptr;
  std::vector<std::unique_ptr<Tracked>> files;
  std::deque<Retired> retired;
  std::set<std::string> warned;
  std::vector<FollowedFile> snapshot;
  std::mt19937_64 random{std::random_device{}()};
  uint64_t next_id = 1, sequence = 0;
  bool sink_closed = false;
  SourceCounters* counters = nullptr;
  std::atomic<bool> stopping{false};  // FileSource::stop()

  void warn(const std::string& message) {
    if (options.warn) options.warn(message);
    else std::cerr << "socd: " << message << "\n";
  }
  void warn_once(const std::string& what, const std::string& message) {
    if (warned.insert(what).second) warn(message);
  }

  std::string new_stream(const Tracked& t) {
    return "file:" + std::to_string(t.dev) + ":" + std::to_string(t.ino) + ":" + hex64(random());
  }

  bool excluded(const std::string& path) const {
    std::string name = base_name(path);
    for (const auto& e : options.exclude)
      if (::fnmatch(e.c_str(), name.c_str(), 0) == 0) return true;
    return false;
  }

  // --- batches ---------------------------------------------------------------------------------------------

  FileCheckpoint checkpoint_of(const Tracked& t) const {
    FileCheckpoint c;
    c.path = t.path;
    c.device = t.dev;
    c.inode = t.ino;
    c.offset = t.framer.position();
    c.line = t.framer.line_no();
    c.fingerprint_length = t.head.size();
    c.fingerprint = fingerprint_bytes(t.head);
    c.stream = t.stream;
    return c;
  }

  // While the pipeline's workers read a file (LentRead): where its batches go, and the memory the next batch
  // takes over (the worker's last batch's, in its cache).
  std::deque<std::unique_ptr<SourceBatch>>* lent = nullptr;
  LineBatch* lent_memory = nullptr;

  std::unique_ptr<SourceBatch> new_batch() {
    auto b = std::make_unique<SourceBatch>();
    if (lent_memory) {
      std::swap(b->lines, *lent_memory);
      lent_memory = nullptr;
    }
    return b;
  }

  // Pushes the batch under construction (or, with `even_empty`, a batch holding only the checkpoint).
  void push(Tracked& t, bool even_empty = false) {
    if (sink_closed) return;
    if (!t.batch) {
      if (!even_empty) return;
      t.batch = new_batch();
    }
    if (t.batch->lines.lines.empty() && !even_empty) return;
    std::unique_ptr<SourceBatch> b = std::move(t.batch);
    t.framer.finish(b->lines);
    b->lines.sequence = sequence++;
    b->origin = t.path;
    b->stream = t.stream;
    b->checkpoint_key = t.key;
    FileCheckpoint c = checkpoint_of(t);
    b->checkpoint_value = encode_file_checkpoint(c);
    c.offset = t.stream_offset;
    c.line = t.stream_line;
    b->checkpoint_anchor = encode_file_checkpoint(c);
    if (lent) lent->push_back(std::move(b));
    else if (!sink->push(std::move(b), true)) sink_closed = true;
  }

  // Counts the lines the framer just added to the batch and hands the batch on when it is full.
  void took(Tracked& t, size_t added) {
    LineBatch& lb = t.batch->lines;
    counters->lines.fetch_add(added, std::memory_order_relaxed);
    for (size_t i = lb.lines.size() - added; i < lb.lines.size(); ++i)
      if (lb.lines[i].oversized) counters->oversized.fetch_add(1, std::memory_order_relaxed);
    if (lb.lines.size() >= options.batch_lines || lb.data.size() >= options.batch_bytes) push(t);
  }

  // Passes on the last line though it has no newline (the file ends, or was truncated).
  void flush_partial(Tracked& t) {
    frame_left_over(t);
    if (t.framer.has_unframed() && !sink_closed) {
      if (!t.batch) t.batch = new_batch();
      took(t, t.framer.flush(t.batch->lines));
    }
    push(t);
  }

  // Frames the complete lines read but left unframed when a batch filled up.
  void frame_left_over(Tracked& t) {
    while (!sink_closed && t.framer.has_unframed()) {
      if (!t.batch) t.batch = new_batch();
      size_t added = t.framer.take(t.batch->lines, 0, options.batch_lines);
      if (added == 0) return;  // only a partial line is left
      took(t, added);
    }
  }

  // Reads the file's first bytes (up to 1024) when it has more of them than `head` holds. Bytes that do not
  // go on from `head` are not taken: the file was truncated, which head_changed() reports.
  void refresh_head(Tracked& t, uint64_t size) {
    if (t.head.size() >= kFingerprintBytes || size <= t.head.size()) return;
    std::string buf(std::min<uint64_t>(size, kFingerprintBytes), '\0');
    ssize_t n = pread_full(t.fd, buf.data(), buf.size(), 0);
    if (n < 0) return;
    buf.resize(static_cast<size_t>(n));
    if (buf.size() > t.head.size() && buf.compare(0, t.head.size(), t.head) == 0) t.head = std::move(buf);
  }

  // Whether the file's first bytes are no longer those read from it: it was truncated (copytruncate) or
  // rewritten.
  bool head_changed(Tracked& t) {
    if (t.head.empty()) return false;
    std::string now(t.head.size(), '\0');
    ssize_t n = pread_full(t.fd, now.data(), now.size(), 0);
    return n >= 0 && (static_cast<size_t>(n) < now.size() || now != t.head);
  }

  // Ends the incarnation of a truncated file and starts its new one at offset 0.
  void restart_truncated(Tracked& t) {
    retire(t);
    t.id = next_id++;
    t.head.clear();
    start_reading(t, 0, 0, new_stream(t));
  }

  enum class Step { kMore, kEnd, kTruncated };
  // Reads the next chunk of a file into its batch and frames its lines (a batch that fills up is pushed), adding
  // what it read to `got`. kEnd: at the end of the file for now (or unreadable: retried next poll); kTruncated:
  // truncated since the round began, the chunk left unread (the next round starts the new incarnation).
  Step read_chunk(Tracked& t, uint64_t& got) {
    // Read straight into the batch; its lines are framed where they lie.
    frame_left_over(t);
    if (!t.batch) t.batch = new_batch();
    LineBatch& lb = t.batch->lines;
    size_t chunk = t.framer.suggested_read(lb, options.batch_lines, options.batch_bytes);
    char* buf = t.framer.room(lb, chunk);
    ssize_t n = pread_full(t.fd, buf, chunk, t.read_pos);
    if (n < 0) {
      counters->errors.fetch_add(1, std::memory_order_relaxed);
      warn_once("read:" + t.path, "cannot read " + t.path + ": " + std::strerror(errno) +
                                      "; it is retried every poll (check the file system)");
      return Step::kEnd;
    }
    if (n == 0) return Step::kEnd;
    if (options.follow && head_changed(t)) {
      // Truncated (and written again) since the round's check: the bytes just read may be the new content's, so
      // they are not framed. The next round, once it has looked for a copy of the file (copytruncate), ends this
      // incarnation (the line cut by this chunk's start is the copy's to finish when there is one) and starts
      // the new one.
      return Step::kTruncated;
    }
    // The head follows what was read (it is what a truncation, or a copy, is recognised by).
    if (t.head.size() < kFingerprintBytes && t.read_pos <= t.head.size() &&
        t.head.size() < t.read_pos + static_cast<uint64_t>(n)) {
      size_t from = t.head.size() - t.read_pos;
      size_t upto = std::min<size_t>(static_cast<size_t>(n), kFingerprintBytes - t.read_pos);
      t.head.append(buf + from, upto - from);
    }
    t.read_pos += static_cast<uint64_t>(n);
    got += static_cast<uint64_t>(n);
    counters->bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    t.last_growth = Clock::now();
    took(t, t.framer.take(lb, static_cast<size_t>(n), options.batch_lines));
    return static_cast<size_t>(n) < chunk ? Step::kEnd : Step::kMore;  // a short read: at the end for now
  }

  // Reads new bytes of a file, up to `budget` bytes. Returns true when it stopped on the budget (more to
  // read).
  bool read_file(Tracked& t, uint64_t budget) {
    uint64_t got = 0;
    while (!sink_closed) {
      if (got >= budget) {
        push(t);
        return true;
      }
      Step step = read_chunk(t, got);
      if (step == Step::kTruncated) return true;
      if (step == Step::kEnd) break;
    }
    frame_left_over(t);
    push(t);
    return false;
  }

  // A file's backlog read by the pipeline's workers (BatchSink::pull) while the source's thread waits for it:
  // the reading of read_file, a batch at a time.
  struct LentRead final : PulledInput {
    LentRead(State& state, Tracked& file, uint64_t budget) : st(state), t(file), budget(budget) {}
    std::unique_ptr<SourceBatch> next(LineBatch& memory) override {
      st.lent = &ready;
      st.lent_memory = &memory;
      while (ready.empty() && !read_all) {
        if (got >= budget) {
          st.push(t);
          more = read_all = true;
        } else if (Step step = st.read_chunk(t, got); step != Step::kMore) {
          if (step == Step::kEnd) {
            st.frame_left_over(t);
            st.push(t);
          }
          more = step == Step::kTruncated;
          read_all = true;
        }
      }
      st.lent = nullptr;
      st.lent_memory = nullptr;
      if (!ready.empty()) {
        std::unique_ptr<SourceBatch> b = std::move(ready.front());
        ready.pop_front();
        return b;
      }
      // (Notified under the lock: once the source's thread sees `ended` it returns, and this object is gone.)
      std::lock_guard lock(mutex);
      ended = true;
      cv.notify_all();
      return nullptr;
    }
    State& st;
    Tracked& t;
    const uint64_t budget;
    uint64_t got = 0;
    bool read_all = false, more = false;
    std::deque<std::unique_ptr<SourceBatch>> ready;  // pushed by the reading, not yet taken
    std::mutex mutex;
    std::condition_variable cv;
    bool ended = false;  // next() returned null: no worker reads any more
  };

  // read_file(t, budget), by the pipeline's workers when the file holds a backlog of a few batches and the sink
  // takes it (not for the few lines a followed file grows by: those go at once, from here).
  bool read_backlog(Tracked& t, uint64_t size, uint64_t budget) {
    if (size < t.read_pos + 2 * options.batch_bytes) return read_file(t, budget);
    LentRead lent(*this, t, budget);
    if (!sink->pull(lent)) return read_file(t, budget);
    std::unique_lock lock(lent.mutex);
    while (!lent.ended) {
      lent.cv.wait_for(lock, std::chrono::milliseconds(100));
      if (!lent.ended && stopping.load()) {
        // Stopping (the pipeline may be stopping as well, its workers gone): taken back, and what was read goes
        // as usual.
        lock.unlock();
        sink->withdraw(lent);
        for (auto& b : lent.ready)
          if (!sink_closed && !sink->push(std::move(b), true)) sink_closed = true;
        if (!lent.read_all) push(t);
        return !lent.read_all || lent.more;
      }
    }
    return lent.more;
  }

  // --- incarnations ----------------------------------------------------------------------------------------

  Tracked* find_live(uint64_t id) {
    for (auto& f : files)
      if (f->id == id) return f.get();
    return nullptr;
  }

  void start_reading(Tracked& t, uint64_t offset, uint64_t line, std::string stream) {
    t.mode = Tracked::Mode::kReading;
    t.read_pos = offset;
    t.framer = LineFramer(options.max_line_bytes, kOversizedHead);
    t.framer.reset(offset, line);
    t.stream = std::move(stream);
    t.stream_offset = offset;
    t.stream_line = line;
  }

  // Starts a copy where its original ended, under the original's stream, and records that at once so a
  // restart does not read the copy from its start.
  void release_copy(Tracked& copy, const Retired& original) {
    start_reading(copy, original.offset, original.line, original.stream);
    push(copy, true);
  }

  // Ends the incarnation `t` (truncated or closing): its last partial line is passed on unless a copy of it
  // will deliver that line whole; copies waiting for it start where it ended.
  void retire(Tracked& t) {
    bool has_copy = false;
    for (auto& f : files)
      if (f->mode == Tracked::Mode::kLinked && f->link_to == t.id) has_copy = true;
    if (has_copy) {
      t.framer.discard_partial(t.batch ? &t.batch->lines : nullptr);
      push(t);
    } else {
      flush_partial(t);
    }
    Retired r;
    r.id = t.id;
    r.dev = t.dev;
    r.ino = t.ino;
    r.head = t.head;
    r.stream = t.stream;
    r.offset = has_copy ? t.framer.position() : t.read_pos;
    r.line = t.framer.line_no();
    for (auto& f : files)
      if (f->mode == Tracked::Mode::kLinked && f->link_to == t.id) release_copy(*f, r);
    if (r.head.size() >= kCopyMinBytes) remember(std::move(r));
  }

  void remember(Retired r) {
    retired.push_back(std::move(r));
    if (retired.size() > kRetiredKept) retired.pop_front();
  }

  // Line count and the offset after the last complete line of [0, size): where a file is started "at its
  // end".
  std::pair<uint64_t, uint64_t> count_lines(int fd, uint64_t size) {
    std::string buf(1 << 20, '\0');
    uint64_t lines = 0, last_end = 0;
    for (uint64_t off = 0; off < size;) {
      ssize_t n = pread_full(fd, buf.data(), std::min<uint64_t>(buf.size(), size - off), off);
      if (n <= 0) break;
      for (const char* p = buf.data(); (p = static_cast<const char*>(std::memchr(
                                             p, '\n', static_cast<size_t>(buf.data() + n - p))));
           ++p) {
        ++lines;
        last_end = off + static_cast<uint64_t>(p - buf.data()) + 1;
      }
      off += static_cast<uint64_t>(n);
    }
    return {lines, last_end};
  }

  // Opens a newly matched path. `initial`: found by the scan in start(). Returns an error only for a path
  // that cannot be opened and was named literally (no wildcard) when `initial`.
  Status open_new(const std::string& path, bool initial, bool literal) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      std::string msg = "cannot open " + path + ": " + std::strerror(errno) +
                        "; make it readable by the user socd runs as, or leave it out of the pattern";
      if (initial && literal) return Status::error(msg);
      counters->errors.fetch_add(1, std::memory_order_relaxed);
      warn_once("open:" + path, msg);
      return {};
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return {};
    }
    for (auto& f : files)
      if (f->dev == static_cast<uint64_t>(st.st_dev) && f->ino == static_cast<uint64_t>(st.st_ino)) {
        ::close(fd);  // replaced between the scan's stat and the open: the file is followed already
        f->path = path;
        f->matched = true;
        return {};
      }
    auto t = std::make_unique<Tracked>();
    t->path = path;
    t->fd = fd;
    t->dev = static_cast<uint64_t>(st.st_dev);
    t->ino = static_cast<uint64_t>(st.st_ino);
    t->key = file_checkpoint_key(t->dev, t->ino);
    t->id = next_id++;
    t->last_size = static_cast<uint64_t>(st.st_size);
    t->last_mtime = st.st_mtim;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    refresh_head(*t, size);

    bool seen_before = false;  // socd followed this inode before: what is on it now was never read
    if (auto stored = sink->checkpoint(t->key)) {
      auto c = decode_file_checkpoint(*stored);
      if (!c.ok()) {
        warn(path + ": " + c.error().message());
        seen_before = true;
      } else if (c->device == t->dev && c->inode == t->ino && c->offset <= size &&
                 c->fingerprint_length <= t->head.size() &&
                 fingerprint_bytes(std::string_view(t->head).substr(0, c->fingerprint_length)) ==
                     c->fingerprint && !c->stream.empty()) {
        start_reading(*t, c->offset, c->line, c->stream);
        files.push_back(std::move(t));
        return {};
      } else {
        seen_before = true;
        if (c->fingerprint_length >= kCopyMinBytes) {  // a copy of that file would start with its fingerprint
          Retired r;
          r.dev = t->dev;
          r.ino = t->ino;
          r.stream = c->stream;
          r.fingerprint_length = c->fingerprint_length;
          r.fingerprint = c->fingerprint;
          r.offset = c->offset;
          r.line = c->line;
          remember(std::move(r));
        }
        warn(path + ": its checkpoint (offset " + std::to_string(c->offset) +
             ") is of an earlier file on the same inode, or the file was truncated since; reading it from "
             "the start");
      }
    }
    t->mode = Tracked::Mode::kProbing;  // a copy of a followed file? decided by probe()
    t->mode_since = Clock::now();
    t->first_scan = initial;
    t->size_at_open = size;
    t->seen_before = seen_before;
    files.push_back(std::move(t));
    return {};
  }

  // Evaluates the patterns: marks which followed files are still matched (and under which name) and opens new
  // ones.
  Status scan(bool initial) {
    std::vector<std::pair<std::string, bool>> paths;  // path, named literally
    std::set<std::string> seen_paths;
    for (const auto& pattern : options.patterns) {
      glob_t g{};
      std::vector<std::string> errors;
      glob_errors = &errors;
      int rc = ::glob(pattern.c_str(), GLOB_BRACE, on_glob_error, &g);
      glob_errors = nullptr;
      if (rc == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i)
          if (seen_paths.insert(g.gl_pathv[i]).second)
            paths.emplace_back(g.gl_pathv[i], !has_glob_chars(pattern));
      }
      ::globfree(&g);
      for (const auto& e : errors)
        warn_once("glob:" + e, "pattern " + pattern + ": cannot read directory " + e +
                                   "; files under it are not followed until it can be read");
    }
    for (auto& f : files) f->matched = false;
    for (const auto& [path, literal] : paths) {
      if (excluded(path)) {
        if (literal)
          warn_once("excluded:" + path,
                    path + " is named by a pattern but its name matches an exclusion (compressed files are "
                           "not read); decompress it or change `exclude`");
        continue;
      }
      struct stat st;
      if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      bool known = false;
      for (auto& f : files)
        if (f->dev == static_cast<uint64_t>(st.st_dev) && f->ino == static_cast<uint64_t>(st.st_ino)) {
          if (!f->matched || path == f->path) f->path = path;  // renamed within the patterns
          f->matched = true;
          known = true;
        }
      if (known) continue;
      Status s = open_new(path, initial, literal);
      if (!s.ok()) return s;
    }
    return {};
  }

  // Decides what a file found while running is: new (read from 0) or a copy of a followed or ended file. A
  // copy starts with the whole known head of its original (its first 1024 bytes, or all of a smaller file's,
  // at least kCopyMinBytes); while the new file is shorter than that head and equal to its start, it is
  // waited for.
  void probe(Tracked& t, uint64_t size) {
    refresh_head(t, size);
    if (t.head.empty() && t.matched && !t.first_scan) return;  // nothing to read yet
    enum { kNo, kShorter, kCopy };
    auto compare = [&](const std::string& known) {
      if (known.size() < kCopyMinBytes) return kNo;
      size_t n = std::min(t.head.size(), known.size());
      if (n == 0 || known.compare(0, n, t.head, 0, n) != 0) return kNo;
      return t.head.size() >= known.size() ? kCopy : kShorter;
    };
    auto compare_retired = [&](const Retired& r) {
      if (r.dev == t.dev && r.ino == t.ino) return kNo;
      if (!r.head.empty()) return compare(r.head);
      std::string_view start = std::string_view(t.head).substr(0, r.fingerprint_length);
      bool copy = r.fingerprint_length >= kCopyMinBytes && t.head.size() >= r.fingerprint_length &&
                  fingerprint_bytes(start) == r.fingerprint;
      return copy ? kCopy : kNo;
    };
    bool ambiguous = false;
    for (auto it = retired.rbegin(); it != retired.rend(); ++it) {
      auto c = compare_retired(*it);
      if (c == kCopy) {
        release_copy(t, *it);
        return;
      }
      ambiguous |= c == kShorter;
    }
    if (t.first_scan) {  // the files present at start are not copies of one another (see file_source.h)
      t.first_scan = false;
      if (options.from_beginning || t.seen_before) {
        start_reading(t, 0, 0, new_stream(t));
      } else {
        auto [lines, end] = count_lines(t.fd, t.size_at_open);  // its end when the source started
        start_reading(t, end, lines, new_stream(t));
      }
      return;
    }
    for (auto& f : files) {
      if (f.get() == &t || f->mode != Tracked::Mode::kReading) continue;
      auto c = compare(f->head);
      if (c == kCopy) {
        t.mode = Tracked::Mode::kLinked;
        t.link_to = f->id;
        t.mode_since = Clock::now();
        return;
      }
      ambiguous |= c == kShorter;
    }
    bool idle = Clock::now() - t.last_growth >= std::chrono::milliseconds(options.rotate_wait_ms);
    if (ambiguous && t.matched && !idle) return;  // wait: its next bytes tell
    start_reading(t, 0, 0, new_stream(t));
  }

  // A copy waiting for its original `o` to be truncated. It was not a copy after all when its bytes part from
  // the original's, or it outgrows the original (a live file only grows): then it is read from 0. When it has
  // been quiet for rotate_wait_ms and the original still lives, it is a snapshot (logrotate's `copy`, a
  // manual cp) of bytes the original delivers: only what is appended to it afterwards is read from it.
  void settle_linked(Tracked& t, Tracked& o, uint64_t size) {
    // `size` (the copy's) was taken before the original's: were the copy made from the original, the
    // original, when not truncated since, is at least as long.
    struct stat ost;
    if (::fstat(o.fd, &ost) != 0) return;
    uint64_t original_size = static_cast<uint64_t>(ost.st_size);
    if (original_size < o.read_pos || head_changed(o)) return;  // truncated: retire() releases the copy
    refresh_head(o, original_size);
    refresh_head(t, size);
    size_t n = std::min(t.head.size(), o.head.size());
    if (size > original_size || o.head.compare(0, n, t.head, 0, n) != 0) {
      start_reading(t, 0, 0, new_stream(t));
      return;
    }
    bool idle = Clock::now() - t.last_growth >= std::chrono::milliseconds(options.rotate_wait_ms) &&
                Clock::now() - t.mode_since >= std::chrono::milliseconds(options.rotate_wait_ms);
    if (!idle && t.matched) return;
    auto [lines, end] = count_lines(t.fd, size);
    start_reading(t, end, lines, new_stream(t));
    push(t, true);
  }

  // The file's size now; whether its size or time changed since the last look (false when it cannot be looked at).
  bool look(Tracked& t, uint64_t& size, bool& changed) {
    struct stat st;
    if (::fstat(t.fd, &st) != 0) return false;
    size = static_cast<uint64_t>(st.st_size);
    changed = size != t.last_size || st.st_mtim.tv_sec != t.last_mtime.tv_sec ||
              st.st_mtim.tv_nsec != t.last_mtime.tv_nsec;
    if (size != t.last_size) t.last_growth = Clock::now();
    t.last_size = size;
    t.last_mtime = st.st_mtim;
    return true;
  }

  // One pass over the files. Returns true when a file has more to read now.
  bool round() {
    bool more = false;
    // Files no pattern matches any more first: the end of a rotated file before the start of its successor.
    std::stable_sort(files.begin(), files.end(),
                     [](const auto& a, const auto& b) { return !a->matched && b->matched; });
    uint64_t size;
    bool changed;
    // New files first: whether one is the copy of a followed file (copytruncate) is settled before that file is
    // found truncated below, so that its last line, cut by our last read, is finished from the copy.
    for (size_t i = 0; i < files.size() && !sink_closed; ++i) {
      Tracked& t = *files[i];
      if (t.mode == Tracked::Mode::kReading || !look(t, size, changed)) continue;
      if (t.mode == Tracked::Mode::kProbing) probe(t, size);
      if (t.mode == Tracked::Mode::kLinked) {
        if (Tracked* original = find_live(t.link_to)) settle_linked(t, *original, size);
        else start_reading(t, 0, 0, new_stream(t));  // not reached: retire() releases its copies
      }
    }
    for (size_t i = 0; i < files.size() && !sink_closed; ++i) {
      Tracked& t = *files[i];
      if (t.mode != Tracked::Mode::kReading || !look(t, size, changed)) continue;
      // Truncated in place (copytruncate), or rewritten from the start: a new incarnation from offset 0.
      // (Checked again after every read, for a truncation between this check and the read.)
      if (options.follow && changed && (size < t.read_pos || head_changed(t))) restart_truncated(t);
      refresh_head(t, size);
      uint64_t budget = 8 * std::max<uint64_t>(options.batch_bytes, 1 << 16);
      if (read_backlog(t, size, budget)) more = true;
    }
    return more;
  }

  // Closes the files no pattern matches any more once they have been quiet for rotate_wait_ms (all, with
  // `all`).
  void close_finished(bool all) {
    auto quiet = std::chrono::milliseconds(options.rotate_wait_ms);
    for (size_t i = 0; i < files.size();) {
      Tracked& t = *files[i];
      bool close = all || (!t.matched && Clock::now() - t.last_growth >= quiet);
      if (!close) {
        ++i;
        continue;
      }
      if (t.mode == Tracked::Mode::kReading) {
        read_file(t, UINT64_MAX);
        retire(t);
      }
      ::close(t.fd);
      files.erase(files.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  void take_snapshot(std::mutex& mutex) {
    std::vector<FollowedFile> out;
    for (const auto& f : files) {
      FollowedFile ff;
      ff.path = f->path;
      ff.device = f->dev;
      ff.inode = f->ino;
      ff.offset = f->framer.position();
      ff.line = f->framer.line_no();
      ff.stream = f->stream;
      ff.matched = f->matched;
      ff.copy_pending = f->mode != Tracked::Mode::kReading;
      out.push_back(std::move(ff));
    }
    std::lock_guard<std::mutex> lock(mutex);
    snapshot = std::move(out);
  }

  ~State() {
    for (auto& f : files)
      if (f->fd >= 0) ::close(f->fd);
  }
};

// ----------------------------------------------------------------------------------------------------

FileSource::FileSource(const FileSourceOptions& options) : state_(std::make_unique<State>()) {
  state_->options = options;
  state_->counters = &counters_;
}

FileSource::~FileSource() { stop(); }

Expected<std::unique_ptr<FileSource>> FileSource::create(const FileSourceOptions& options) {
  if (options.patterns.empty())
    return Status::error(
        "file source: no path pattern given; name the files to follow, e.g. /var/log/auth.log*");
  for (const auto& p : options.patterns)
    if (p.empty()) return Status::error("file source: an empty path pattern; remove it or name the files");
  if (options.poll_ms <= 0 || options.batch_bytes == 0 || options.batch_lines == 0 ||
      options.max_line_bytes == 0)
    return Status::error(
        "file source: poll_ms, batch_bytes, batch_lines and max_line_bytes must be positive");
  if (options.rotate_wait_ms < 0) return Status::error("file source: rotate_wait_ms must not be negative");
  return std::unique_ptr<FileSource>(new FileSource(options));
}

std::string FileSource::name() const {
  std::string n = "file:";
  for (size_t i = 0; i < state_->options.patterns.size(); ++i) {
    if (i) n += ",";
    n += state_->options.patterns[i];
  }
  return n;
}

Status FileSource::start(BatchSink& sink) {
  if (started_) return Status::error(name() + ": started twice");
  started_ = true;
  state_->sink = &sink;
  Status s = state_->scan(true);
  if (!s.ok()) {
    for (auto& f : state_->files) ::close(f->fd);
    state_->files.clear();
    return Status::error(name() + ": " + s.message());
  }
  state_->take_snapshot(mutex_);
  thread_ = std::thread([this] {
    name_this_thread("socd-file");
    run();
  });
  return {};
}

void FileSource::run() {
  State& st = *state_;
  bool first = true;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) break;
    }
    if (st.options.follow && !first) (void)st.scan(false);  // errors of later scans are warnings already
    first = false;
    bool more = st.round();
    if (st.options.follow) st.close_finished(false);
    st.take_snapshot(mutex_);
    if (st.sink_closed || (!st.options.follow && !more)) {
      if (!st.sink_closed) st.close_finished(true);
      st.take_snapshot(mutex_);
      std::lock_guard<std::mutex> lock(mutex_);
      done_ = true;
      wake_.notify_all();
      break;
    }
    if (!more) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::milliseconds(st.options.poll_ms), [&] { return stopping_; });
    }
  }
}

void FileSource::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    state_->stopping = true;
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool FileSource::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

bool FileSource::wait_done(int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return wake_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return done_; });
}

std::vector<FollowedFile> FileSource::files() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return state_->snapshot;
}

Expected<std::unique_ptr<Source>> make_file_source(const FileSourceOptions& options) {
  auto s = FileSource::create(options);
  if (!s.ok()) return s.error();
  return std::unique_ptr<Source>(std::move(s.value()));
}

}  // namespace socd
