// The advanced settings of the alert store: RocksDB options sized for a small server (2 cores, a few GiB for the
// store at most). StoreOptions (socd/alert_store.h) is what callers choose; this is what they need not think about.
// Internal to storage/.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

namespace socd::store {

struct StoreTuning {
  int background_jobs = 2;                      // flushes + compactions at once (one per core)
  size_t block_cache_bytes = 64u << 20;         // shared by every column family
  size_t alerts_write_buffer = 64u << 20;       // memtable of the alerts family
  size_t index_write_buffer = 16u << 20;        // alert_ids
  size_t small_write_buffer = 4u << 20;         // checkpoints, state, default
  size_t total_write_buffers = 256u << 20;      // flush the largest memtable beyond this
  size_t max_log_bytes = 128u << 20;            // write-ahead log kept before memtables holding it are flushed
  int id_bloom_bits_per_key = 10;               // alert_ids: about 1% false positives on a lookup of a new id
};

// Options of the database itself (not of a column family). `writable`: the writer; otherwise a secondary reader.
rocksdb::DBOptions db_options(const StoreTuning& tuning, bool writable);
// The column families of the store with their options, in the order the store keeps its handles: default, alerts,
// alert_ids, checkpoints, state, incidents, incident_alerts, chain, activity (rocks_ledger.h).
std::vector<rocksdb::ColumnFamilyDescriptor> column_families(const StoreTuning& tuning);
// Options for a column family this version does not know (one a later version added): opened, never written.
rocksdb::ColumnFamilyOptions unknown_family_options(const StoreTuning& tuning);

}  // namespace socd::store
