// The durable outbox of layer 4 (the national centre): every alert routed to L4 (StoredAlert::layers & kLayer4)
// is enqueued in the same atomic write that stores it, so an alert is either stored and queued or neither. Each
// sink (a receiver the forwarder sends to) keeps its own cursor: the last entry it acknowledged or set aside. An
// entry is removed once every configured sink's cursor has passed it. An entry a sink rejects for good goes to the
// dead letters of that sink with the reason; `retry` queues it again for that sink alone.
//
// Bounded disk: a quota in entries; at it, the oldest entries are shed and counted (never silently), or, with the
// pause policy, ingestion waits for the forwarder to free room.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "socd/alert_store.h"
#include "socd/status.h"

namespace socd {

struct OutboxItem {
  uint64_t seq = 0;          // position in the outbox, increasing
  int64_t enqueued_ms = 0;   // wall time it was queued
  std::string only_sink;     // non-empty: a retried dead letter, for this sink only
  StoredAlert alert;
};

struct DeadLetter {
  std::string sink;
  uint64_t seq = 0;
  int64_t time_ms = 0;  // when it was set aside
  std::string reason;
  StoredAlert alert;
};

struct OutboxSinkState {
  std::string sink;
  uint64_t cursor = 0;        // last seq acknowledged (or set aside) by the sink
  uint64_t pending = 0;       // entries after the cursor
  int64_t oldest_unsent_ms = 0;  // enqueue time of the first entry after the cursor (0: none)
  uint64_t dead_letters = 0;
};

struct OutboxState {
  uint64_t next_seq = 1;  // the seq the next entry gets
  uint64_t floor = 1;     // the lowest seq still in the outbox
  uint64_t entries = 0;   // next_seq - floor
  uint64_t shed = 0;      // entries dropped at the quota (policy shed_oldest), ever
  uint64_t quota = 0;     // 0: none
  std::vector<OutboxSinkState> sinks;  // the configured sinks
};

class Outbox {
public:
  virtual ~Outbox() = default;
  // The sinks whose cursors decide when an entry may be removed (the forwarder's configuration). Without any,
  // nothing is removed.
  virtual Status set_sinks(const std::vector<std::string>& sinks) = 0;
  // At most `quota` entries (0: no bound); at the quota the oldest are shed and counted.
  virtual void set_quota(uint64_t quota) = 0;
  // Up to `max` entries after `after` (0: after the sink's cursor) meant for `sink`, in seq order.
  virtual Expected<std::vector<OutboxItem>> next(const std::string& sink, size_t max, uint64_t after = 0) = 0;
  // The sink has acknowledged everything through `seq`.
  virtual Status acknowledge(const std::string& sink, uint64_t seq) = 0;
  // The sink rejected `item` for good: into its dead letters with `reason`, and its cursor past it (one write).
  virtual Status dead_letter(const std::string& sink, const OutboxItem& item, const std::string& reason) = 0;
  // Dead letters of `sink` (every sink when empty), oldest first; at most `limit` (0: all).
  virtual Expected<std::vector<DeadLetter>> dead_letters(const std::string& sink, size_t limit) = 0;
  // Queues the dead letters of `sink` (every sink when empty) again, each for its sink alone; returns how many.
  virtual Expected<uint64_t> retry(const std::string& sink) = 0;
  virtual Expected<OutboxState> state() = 0;

  // Entries now (next_seq - floor), cheap enough to ask per batch.
  virtual uint64_t entries() = 0;
  // Policy at the quota. kShedOldest (the default): the oldest entries go, counted in `shed`. kPause: nothing is
  // shed; the entries may pass the quota by what is in flight, and the forwarder pauses ingestion (Forwarder::gate)
  // until acknowledgements free room.
  enum class QuotaPolicy { kShedOldest, kPause };
  virtual void set_quota_policy(QuotaPolicy policy) = 0;
  // Permanent rejections (4xx) of entry `seq` by `sink`: recorded in the store (they survive a restart) and the
  // count so far returned. Forgotten when the sink's cursor passes the entry (acknowledged or dead-lettered).
  virtual Expected<uint32_t> add_rejection(const std::string& sink, uint64_t seq) = 0;
  virtual Expected<uint32_t> rejections(const std::string& sink, uint64_t seq) = 0;

  // What layer 4 is still owed: the alerts of the entries still queued (for any sink) and of the dead letters
  // (waiting for a retry), as their keys in the store's alerts family (time key + id), read at one point in
  // time. Only keys below `before` (empty: all). Retention keeps these alerts; an entry shed at the quota is
  // no longer owed (it was counted as shed).
  virtual Expected<std::unordered_set<std::string>> owed_alert_keys(std::string_view before) = 0;
  // Whether the alert with this id is still owed (a walk of the outbox: for tools and tests).
  virtual Expected<bool> owes(std::string_view alert_id) = 0;
};

}  // namespace socd
