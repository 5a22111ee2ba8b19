// The alert store (RocksDB): alerts written once, read by everyone who needs them; the checkpoints of the sources
// written in the same atomic batch as the alerts they cover, so a restart neither loses lines nor stores an alert
// twice. One column family per kind of data: alerts (time-ordered), alert ids (dedup and lookup), checkpoints,
// state (the stateful detection stage's saved windows, written with the checkpoints they go with).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socd/status.h"

namespace socd {

class InputDeadLetters;  // socd/input_dead_letters.h
struct InputDeadLetter;
class Ledger;  // socd/ledger.h
class Outbox;  // socd/outbox.h

struct StoredAlert {
  std::string id;        // stable: derived from rule id + source + position (see alert_id)
  int64_t time_ms = 0;   // event time (or arrival time), milliseconds since the epoch, UTC
  std::string rule_id;
  std::string level;
  std::string host;
  std::string json;      // the alert object as `socd scan` prints it, with "id" added; no trailing newline
  // From the asset inventory and the layer routing (empty / 0 when neither is configured):
  std::string system;    // the information system the event came from ("" for an unknown asset)
  int system_level = 0;  // its security level, 1..5 (0: unknown)
  uint8_t layers = 0;    // bit n-1 set: layer n (1..4) receives the alert (see kLayer*)
};

// The layers of the four-layer protection model, as bits of StoredAlert::layers.
inline constexpr uint8_t kLayer1 = 1, kLayer2 = 2, kLayer3 = 4, kLayer4 = 8;

struct AlertQuery {
  std::optional<int64_t> since_ms, until_ms;  // time range [since, until)
  std::string rule_id, host, level;           // exact filters when non-empty (level: this level or higher
                                              // when `level_or_higher`)
  bool level_or_higher = false;
  size_t limit = 0;                           // 0: no limit
  bool newest_first = false;
};

// Retention: alerts older than the period kept for their system's security level are removed (RocksDB range
// deletions over runs of removable alerts, then a compaction of the span), with a retention record per level in the
// audit chain in the same atomic write, so `socd audit verify` knows they went. An alert still owed to layer 4 is
// never removed: one the layer-4 outbox (socd/outbox.h) still holds, queued for a sink or set aside as a dead
// letter of one; it goes once every sink has acknowledged it (and it is past its period).
struct RetentionOptions {
  int64_t now_ms = 0;
  int64_t keep_ms[6] = {};  // per system security level (0: unknown, 1..5); 0 keeps them for ever
  size_t batch_alerts = 50'000;  // removals per atomic write
};

struct RetentionResult {
  uint64_t removed = 0;
  uint64_t kept_for_layer4 = 0;  // past their period but still owed to layer 4
  uint64_t removed_by_level[6] = {};
  uint64_t ranges = 0;           // range deletions written (runs of two or more alerts)
};

struct StoreOptions {
  bool read_only = false;  // open beside a running writer (a secondary instance that catches up on open); its
                           // scratch files live in a temporary directory removed on close
  bool sync = false;       // fsync every commit (default: WAL written, not fsynced; survives a process crash)
};

class AlertStore {
public:
  // Opens (creating when writable) the store under `dir`. Errors name the directory and what to do.
  static Expected<std::unique_ptr<AlertStore>> open(const std::string& dir, const StoreOptions& options = {});
  virtual ~AlertStore() = default;

  // Atomically stores the alerts not stored before (by id) and the checkpoints. Returns how many alerts were new
  // through `stored` (may be null).
  virtual Status commit(const std::vector<StoredAlert>& alerts,
                        const std::vector<std::pair<std::string, std::string>>& checkpoints, size_t* stored) = 0;
  virtual Expected<std::optional<std::string>> checkpoint(std::string_view key) = 0;
  // commit(), and in the same atomic write the `state` entries (key -> bytes): the stateful detection stage's
  // saved state goes with the source checkpoints it matches, so a restart resumes both from the same point.
  virtual Status commit_with_state(const std::vector<StoredAlert>& alerts,
                                   const std::vector<std::pair<std::string, std::string>>& checkpoints,
                                   const std::vector<std::pair<std::string, std::string>>& state,
                                   size_t* stored) = 0;
  // commit_with_state(), and in the same atomic write the input's dead letters (socd/input_dead_letters.h); their
  // ids are given here.
  virtual Status commit_all(const std::vector<StoredAlert>& alerts,
                            const std::vector<std::pair<std::string, std::string>>& checkpoints,
                            const std::vector<std::pair<std::string, std::string>>& state,
                            const std::vector<InputDeadLetter>& dead_letters, size_t* stored) {
    if (!dead_letters.empty()) return Status::error("this alert store keeps no dead letters");
    return commit_with_state(alerts, checkpoints, state, stored);
  }
  // The state entry under `key`, or nothing.
  virtual Expected<std::optional<std::string>> state(std::string_view key) = 0;
  Status put_state(const std::string& key, const std::string& value) {
    return commit_with_state({}, {}, {{key, value}}, nullptr);
  }
  // Calls `visit` for each alert matching `query`, in time order, until it returns false.
  virtual Status list(const AlertQuery& query, const std::function<bool(const StoredAlert&)>& visit) = 0;
  virtual Expected<std::optional<StoredAlert>> get(std::string_view id) = 0;
  virtual Expected<uint64_t> count() = 0;  // alerts stored
  // A read-only store sees what the writer had committed when it was opened; refresh() catches up with the
  // writer's later commits. Nothing to do for the writer itself.
  virtual Status refresh() { return Status(); }
  // Writer: removes the alerts past their retention (RetentionOptions above).
  virtual Expected<RetentionResult> enforce_retention(const RetentionOptions&) {
    return Status::error("this alert store does not enforce retention");
  }
  // The incidents and the audit chain kept with the alerts (socd/ledger.h); null for a store without them.
  virtual Ledger* ledger() { return nullptr; }
  // The layer-4 outbox, filled by commit() with the alerts routed to L4 (socd/outbox.h); null without one.
  virtual Outbox* outbox() { return nullptr; }
  // The input's dead letters; null for a store without them.
  virtual InputDeadLetters* input_dead_letters() { return nullptr; }
};

// The rank of an alert level: informational 0, low 1, medium 2, high 3, critical 4; -1 for any other text.
int level_rank(std::string_view level);

// The stable id of an alert: hex of a hash over the rule id, the source and the position of the event in it.
std::string alert_id(std::string_view rule_id, std::string_view source, std::string_view position);

}  // namespace socd
