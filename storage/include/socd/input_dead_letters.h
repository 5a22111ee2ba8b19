// Dead letters of the input: lines and frames that did not become events (malformed, or over a limit) are kept,
// their first bytes only, with why, where and when, in a bounded part of the alert store, so an analyst can see
// what was set aside (`socd deadletter list|show`). The writer of the store (`socd run`'s pipeline) adds them in
// the same write as the alerts and checkpoints of their batch; when the store holds `max_count` of them or
// `max_bytes`, the oldest go first, and that is counted (DeadLetterState::evicted).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "socd/status.h"

namespace socd {

struct InputDeadLetter {
  uint64_t id = 0;         // given by the store, ascending in the order they were stored
  int64_t time_ms = 0;     // when it was set aside, milliseconds since the epoch, UTC
  std::string source;      // the source's name: "file:/var/log/*.log", "syslog-tcp:127.0.0.1:5514", "stdin"
  std::string origin;      // what it came from: the file's path, or the sender ("192.0.2.7:514")
  std::string reason;      // line_bytes, json_depth, event_fields, malformed
  std::string detail;      // what was wrong, as the parser said it
  uint64_t line = 0;       // line (message) number in the source
  uint64_t position = 0;   // byte offset in the file, or the message's sequence number (network sources)
  uint64_t length = 0;     // its real length in bytes
  std::string data;        // its first bytes (DeadLetterLimits::max_data_bytes at most)
};

struct DeadLetterLimits {
  uint64_t max_count = 100'000;       // dead letters kept; the oldest go first
  uint64_t max_bytes = 64ull << 20;   // bytes of dead letters kept (as stored)
  size_t max_data_bytes = 4096;       // bytes of each input kept
};

struct DeadLetterQuery {
  std::optional<int64_t> since_ms;  // stored at or after
  std::string source, reason;       // exact filters when non-empty
  size_t limit = 0;                 // 0: all
  bool newest_first = false;
};

struct DeadLetterState {
  uint64_t count = 0, bytes = 0;  // kept now
  uint64_t stored = 0;            // ever stored (the last id)
  uint64_t evicted = 0;           // dropped, oldest first, to stay within the limits
};

class InputDeadLetters {
public:
  virtual ~InputDeadLetters() = default;
  // The writer's bounds (take effect at the next commit).
  virtual void set_limits(const DeadLetterLimits& limits) = 0;
  virtual DeadLetterLimits limits() const = 0;
  virtual Expected<DeadLetterState> state() = 0;
  // Calls `visit` for each dead letter matching `query`, oldest first (newest first when asked), until it returns
  // false.
  virtual Status list(const DeadLetterQuery& query, const std::function<bool(const InputDeadLetter&)>& visit) = 0;
  virtual Expected<std::optional<InputDeadLetter>> get(uint64_t id) = 0;
};

}  // namespace socd
