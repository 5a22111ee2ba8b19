// Sources (layer 1): each reads one kind of input on its own thread(s) and pushes batches of lines into the
// pipeline through a BatchSink. A source never parses or matches: it frames bytes into lines and says where they
// came from and how to resume after them.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "socd/line_reader.h"
#include "socd/status.h"

namespace socd {

// One batch of lines from one source.
struct SourceBatch {
  LineBatch lines;
  uint32_t source = 0;      // index of the source in the pipeline (set by the pipeline when it registers it)
  std::string origin;       // what the lines were read from: a file path, "udp://127.0.0.1:5514", "stdin"
  // The identity of the stream Line::position counts in, for stable alert ids: a file's device, inode and
  // fingerprint (a rotated file's new incarnation is another stream). Empty: positions are unique only within
  // this run (network messages); the pipeline then adds a per-run nonce.
  std::string stream;
  // After the batch's alerts are stored, the pipeline stores `checkpoint_value` under `checkpoint_key` in the same
  // write (files: the position after the last line). Empty key: nothing to remember (network sources).
  std::string checkpoint_key, checkpoint_value;
  // The checkpoint of the stream where this run began reading it (files: the stream's identity, at the offset
  // it started from): true whatever happened since, so it may be stored before the batch's own checkpoint may.
  // The stateful stage holds checkpoints back until its state is saved; a new file's anchor is stored at once,
  // so a restart before that save still knows the stream and re-reads it under the same alert ids.
  std::string checkpoint_anchor;
  // Called by the pipeline's writer once the batch's alerts and checkpoint are durable (may be empty).
  std::function<void()> on_stored;
};

// Counters every source keeps (read by the metrics exporter; relaxed atomics).
struct SourceCounters {
  std::atomic<uint64_t> bytes{0};       // bytes read
  std::atomic<uint64_t> lines{0};       // lines (messages) framed
  std::atomic<uint64_t> dropped{0};     // lines lost because the pipeline was full (UDP only) or unreadable
  std::atomic<uint64_t> oversized{0};   // lines/frames over the size limit (passed on as oversized lines)
  std::atomic<uint64_t> connections{0}; // connections accepted (stream listeners)
  std::atomic<uint64_t> errors{0};      // read/accept/TLS errors
  std::atomic<uint64_t> refused{0};     // connections refused (over the listener's connection limit)
  std::atomic<uint64_t> idle_closed{0}; // connections closed after idle_timeout_seconds of silence
  std::atomic<uint64_t> slow_closed{0}; // connections closed holding a partial frame past frame_timeout_seconds
};

// Input that is there to read (a file replayed as fast as it goes, the backlog of a followed file) can be read by
// the pipeline's workers instead of by a thread of its own (BatchSink::pull): the worker that reads a batch then
// processes it, its bytes still in that core's cache, and no core is spent only on copying bytes for another.
class PulledInput {
public:
  virtual ~PulledInput() = default;
  // The next batch, or null at the end of the input (or once the source is stopped). `memory` holds the lines of
  // a batch the caller is done with: the new batch may take it over, to read into memory in the caller's cache.
  // Called by one thread at a time.
  virtual std::unique_ptr<SourceBatch> next(LineBatch& memory) = 0;
};

class BatchSink {
public:
  virtual ~BatchSink() = default;
  // Hands a batch to the pipeline. With `may_block`, waits while the pipeline is full (back-pressure: a file or
  // TCP source simply stops reading); without, returns false at once when full, and the source counts the loss.
  // Returns false as well when the pipeline is shutting down.
  virtual bool push(std::unique_ptr<SourceBatch> batch, bool may_block) = 0;
  // The last checkpoint stored under `key` (files resume from it), or nothing.
  virtual std::optional<std::string> checkpoint(const std::string& key) = 0;
  // Has the pipeline's workers read `input` themselves, in turn with their work, until its next() returns null.
  // False when this sink cannot (the source then reads and pushes as usual).
  virtual bool pull(PulledInput& input) {
    (void)input;
    return false;
  }
  // Takes `input` back before it has ended: once this returns, no worker reads it.
  virtual void withdraw(PulledInput& input) { (void)input; }
};

class Source {
public:
  virtual ~Source() = default;
  virtual std::string name() const = 0;  // e.g. "file:/var/log/auth.log*", "syslog-tcp:127.0.0.1:6514"
  // Takes what only the process's start-up privileges may take -- a listening socket on any port, a TLS key
  // readable by root alone -- without reading any input: `socd run --user` binds every source, then drops
  // root, then starts them. Errors name the address or the file. start() binds first if this was not called.
  virtual Status bind() { return {}; }
  // Starts reading on the source's own thread(s). A bind or open error is returned here, before any thread runs.
  virtual Status start(BatchSink& sink) = 0;
  // Stops reading (closes listeners, stops following files) and joins its threads; batches already pushed are the
  // pipeline's. Safe to call twice.
  virtual void stop() = 0;
  const SourceCounters& counters() const { return counters_; }

protected:
  SourceCounters counters_;
};

}  // namespace socd
