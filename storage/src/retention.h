// Retention of the alert store (socd/alert_store.h: RetentionOptions), on its RocksDB. Internal to storage/.
#pragma once
#include <rocksdb/db.h>

#include <atomic>
#include <string>

#include "rocks_ledger.h"
#include "socd/alert_store.h"
#include "socd/outbox.h"

namespace socd::store {

struct RetentionTarget {
  std::string dir;
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle *defaults = nullptr, *alerts = nullptr, *alert_ids = nullptr;
  RocksLedger* ledger = nullptr;
  Outbox* outbox = nullptr;  // the layer-4 outbox: what it still holds is kept (null: every L4 alert is kept)
  std::atomic<uint64_t>* count = nullptr;  // the store's alert count, kept exact
  bool sync = false;
};

// Removes the alerts past their retention. The caller holds the store's commit mutex.
Expected<RetentionResult> enforce_retention(RetentionTarget& target, const RetentionOptions& options);

}  // namespace socd::store
