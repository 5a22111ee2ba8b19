// The file source: follows the files matching a set of glob patterns, through appends, rotation by rename or
// by copytruncate, new files and deleted files, and resumes after a restart from the checkpoints the pipeline
// stored.
//
// Identity. A file is known by its (device, inode), read through one open descriptor for as long as it is
// followed, whatever it is renamed to. Its checkpoint key is "file:<dev>:<ino>"; the value (JSON) holds the
// offset after the last line of the batch, the line number, the fingerprint (length and FNV-1a hash of the
// file's first bytes, up to 1024) and the stream. On start a checkpoint is used only when the fingerprint
// still matches and the file is not shorter than the offset; otherwise the inode was reused (or the file
// truncated) while socd was down, and the file is read from 0 (whatever `from_beginning` says: none of it was
// read).
//
// Streams. Every incarnation of a file (a new inode, or the same inode after a truncation) gets a stream id
// "file:<dev>:<ino>:<16 hex digits, random>", recorded in its checkpoints and kept across restarts, so alert
// ids derived from (stream, Line::position) are stable and never collide with an earlier file on a reused
// inode.
//
// Rotation.
// - By rename (auth.log -> auth.log.1, a new auth.log): the old file is read through its descriptor to its
//   end; when a pattern still matches it under its new name it is the same file (same identity) and is
//   followed on, not read again; when no pattern matches it any more it is read until it has not grown for
//   `rotate_wait_ms`, then closed. The new auth.log is a new file, read from offset 0. No line is lost or
//   doubled.
// - By copytruncate (auth.log copied to auth.log.1, then truncated to 0 in place): the truncation is seen
//   when the file is shorter than what was read, or its first bytes changed; it is read again from 0 as a new
//   incarnation. When a pattern also matches the copy, the copy is recognised by its first bytes (it starts
//   with all the original's first 1024 bytes, or with the whole of a smaller original) and read from the
//   offset the original had reached, under the original's stream: the lines between our last read and the
//   truncation are read from the copy, nothing is read twice. When no pattern matches the copy, the lines
//   written to the original after our last read and before the truncation are lost: that is copytruncate's
//   own gap (at most one poll's worth when socd keeps up; rotation by rename, logrotate's default, has none).
//   Lines written between the copy and the truncation are in neither file: lost whatever the reader does.
// - A copy never followed by a truncation (logrotate's `copy`, a manual cp) holds bytes the original
//   delivers: once it has been quiet for `rotate_wait_ms`, only what is appended to it afterwards is read.
// - Deleted files are read to their end and closed after `rotate_wait_ms` without growth.
//
// After a restart, a file whose checkpoint no longer fits (truncated by copytruncate while socd was down, or
// before socd read the truncation) is read from 0, and a file without a checkpoint that starts with the
// fingerprint in that checkpoint is its copy: read from the checkpoint's offset, as above.
//
// Known limits. A copy is recognised only when its original had 64 bytes or more. Files present when the
// source starts are not taken for copies of one another unless a checkpoint says so (above): a copy made by
// logrotate's `copy` while socd was down is read whole. After a restart, a rotated file is resumed only when a
// pattern matches its new name. Checkpoints of files that are gone stay in the store (one small value per
// rotated file). A file first seen after start without a checkpoint is read from 0 even when `from_beginning`
// is false: it was created while socd was watching.
//
// Lines. Only complete lines are pushed; a partial last line waits for its newline, except when the source
// ends (follow = false) or a file is closed or truncated, when it is passed on as it is. A trailing '\r' is
// dropped. A line over `max_line_bytes` is passed on as oversized (its first 256 bytes and its real length).
// Line::position is the byte offset of the line's start in the file; Line::number its 1-based line number
// (counted when a file is first seen and started at its end).
//
// Back-pressure: batches are pushed with may_block = true; while the pipeline is full the source reads
// nothing. A push refused because the pipeline shuts down ends the source (the checkpoint of that batch was
// not stored, so its lines are read again on the next start). A batch may hold no line and carry only a
// checkpoint (where a recognised copy starts), to be stored like any other.
//
// Backlogs. A file with a few batches or more to read (a start from 0, a replay, catching up) is read by the
// pipeline's workers when the sink takes it (BatchSink::pull): the source's thread hands the file over for one
// round's budget and waits; each worker then reads a batch, in turn, into memory of its own and processes it
// while the bytes are in its cache. The reading is the same (framing, truncation checks, checkpoints, in order);
// only the thread differs. The few lines a followed file grows by are read and pushed by the source itself.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "socd/source.h"

namespace socd {

struct FileSourceOptions {
  std::vector<std::string> patterns;  // globs (glob(3), braces allowed): "/var/log/auth.log*", "logs/*.jsonl"
  // File names (the last path component) never read even when a pattern matches them (fnmatch(3)): compressed
  // rotations are not text.
  std::vector<std::string> exclude = {"*.gz", "*.bz2", "*.xz", "*.zst", "*.lz4", "*.zip"};
  int poll_ms = 200;                  // how often files are checked for new bytes and patterns re-evaluated
  size_t batch_bytes = 1 << 20;
  size_t batch_lines = 4096;
  size_t max_line_bytes = 4 << 20;
  // A file seen at start for the first time (no checkpoint): read it whole (true) or start at its end
  // (false).
  bool from_beginning = true;
  // false: read what is there when the source starts and finish (replay, tests); then done() is true.
  bool follow = true;
  // A file no pattern matches any more (renamed away, deleted) is closed once it has not grown for this long:
  // a writer may still write a few lines to it before it reopens its log.
  int rotate_wait_ms = 5000;
  // Diagnostics that are not errors of the whole source (a matched file that cannot be opened, an inode
  // reused). Empty: written to stderr.
  std::function<void(const std::string&)> warn;
};

// What the source knows about one followed file (for metrics and tests).
struct FollowedFile {
  std::string path;        // the name it was last seen under
  uint64_t device = 0, inode = 0;
  uint64_t offset = 0;     // offset after the last line framed
  uint64_t line = 0;       // lines framed so far (the number of the last one)
  std::string stream;
  bool matched = true;     // false: no pattern matches it any more (rotated away or deleted); closed soon
  bool copy_pending = false;  // a copy of another file, waiting for that file's truncation
};

class FileSource : public Source {
public:
  static Expected<std::unique_ptr<FileSource>> create(const FileSourceOptions& options);
  ~FileSource() override;
  std::string name() const override;
  Status start(BatchSink& sink) override;
  void stop() override;

  // With follow = false: true once every file was read to its end and pushed (or the pipeline refused a
  // push).
  bool done() const;
  // Waits until done() or `timeout_ms`; returns done().
  bool wait_done(int timeout_ms) const;
  // The files followed now.
  std::vector<FollowedFile> files() const;

  struct State;  // internal

private:
  explicit FileSource(const FileSourceOptions& options);
  void run();

  std::unique_ptr<State> state_;
  std::thread thread_;
  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  bool stopping_ = false, done_ = false, started_ = false;
};

Expected<std::unique_ptr<Source>> make_file_source(const FileSourceOptions& options);

// Helpers shared with the tests: the checkpoint value of a file and its parse.
struct FileCheckpoint {
  std::string path;
  uint64_t device = 0, inode = 0, offset = 0, line = 0;
  // FNV-1a 64 over the file's first `fingerprint_length` bytes.
  uint64_t fingerprint_length = 0, fingerprint = 0;
  std::string stream;
};
std::string file_checkpoint_key(uint64_t device, uint64_t inode);
std::string encode_file_checkpoint(const FileCheckpoint& checkpoint);
Expected<FileCheckpoint> decode_file_checkpoint(std::string_view value);
uint64_t fingerprint_bytes(std::string_view bytes);

}  // namespace socd
