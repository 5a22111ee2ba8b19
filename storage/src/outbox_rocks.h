// The outbox (socd/outbox.h) on the alert store's RocksDB. The store's commit calls stage() for each new alert and
// finish() before its write, under the outbox mutex (taken after the commit mutex), then written() or failed().
// Internal to storage/.
//
//   column family        key                                   value
//   outbox               "q" seq (8 bytes big-endian)          version (1), enqueued_ms (8), alerts key, only sink
//                                                              (each a varint length and bytes)
//                        "c" sink name                         8 bytes little-endian: the sink's cursor
//                        "m" "next" / "m" "floor" / "m" "shed" 8 bytes little-endian each
//                        "r" sink 0x00 seq (8 bytes big-endian)  4 bytes little-endian: permanent rejections so far
//   dead_letter_forward  sink 0x00 seq (8 bytes big-endian)    time_ms (8), alerts key, reason (varint + bytes)
#pragma once
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <mutex>

#include "socd/outbox.h"

namespace socd::store {

inline constexpr const char* kOutboxFamily = "outbox";
inline constexpr const char* kDeadLetterFamily = "dead_letter_forward";

class RocksOutbox final : public Outbox {
public:
  RocksOutbox(std::string dir, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* outbox,
              rocksdb::ColumnFamilyHandle* dead, rocksdb::ColumnFamilyHandle* alerts, bool read_only);
  Status open();

  // The store's commit (under its commit mutex): lock(), stage() per L4 alert, finish(), then written()/failed().
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mutex_); }
  Status stage(std::string_view alerts_key, rocksdb::WriteBatch& batch);
  Status finish(rocksdb::WriteBatch& batch);
  void written();
  void failed();

  Status set_sinks(const std::vector<std::string>& sinks) override;
  void set_quota(uint64_t quota) override { quota_ = quota; }
  Expected<std::vector<OutboxItem>> next(const std::string& sink, size_t max, uint64_t after) override;
  Status acknowledge(const std::string& sink, uint64_t seq) override;
  Status dead_letter(const std::string& sink, const OutboxItem& item, const std::string& reason) override;
  Expected<std::vector<DeadLetter>> dead_letters(const std::string& sink, size_t limit) override;
  Expected<uint64_t> retry(const std::string& sink) override;
  Expected<OutboxState> state() override;
  uint64_t entries() override;
  void set_quota_policy(QuotaPolicy policy) override { pause_ = policy == QuotaPolicy::kPause; }
  Expected<uint32_t> add_rejection(const std::string& sink, uint64_t seq) override;
  Expected<uint32_t> rejections(const std::string& sink, uint64_t seq) override;
  Expected<std::unordered_set<std::string>> owed_alert_keys(std::string_view before) override;
  Expected<bool> owes(std::string_view alert_id) override;

private:
  Status error(const char* what, const rocksdb::Status& s) const;
  Expected<uint64_t> read_meta(const std::string& key, uint64_t fallback);
  Expected<uint64_t> cursor_of(const std::string& sink);  // under mutex_
  Status put_entry(rocksdb::WriteBatch& batch, uint64_t seq, std::string_view alerts_key, std::string_view only);
  Status advance_floor(rocksdb::WriteBatch& batch);  // under mutex_: floor to the lowest configured cursor + 1
  Expected<bool> load_alert(std::string_view alerts_key, StoredAlert& alert);

  std::string dir_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle *outbox_, *dead_, *alerts_;
  bool read_only_;
  std::mutex mutex_;
  std::vector<std::string> sinks_;
  std::atomic<uint64_t> quota_{0};
  std::atomic<bool> pause_{false};
  uint64_t next_ = 1, floor_ = 1, shed_ = 0;              // as written
  uint64_t txn_next_ = 1, txn_floor_ = 1, txn_shed_ = 0;  // as the commit in progress will write them
};

}  // namespace socd::store
