#include "rocksdb_options.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <algorithm>

#include "input_dead_letters_rocks.h"
#include "outbox_rocks.h"
#include "rocks_ledger.h"
#include "store_layout.h"

namespace socd::store {
namespace {

bool supported(rocksdb::CompressionType type) {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

// Alerts are JSON text: LZ4 is cheap on every level written often; ZSTD packs the bottom level, where most of the
// data ends up and is rewritten least. Each falls back to what the RocksDB build has.
void set_compression(rocksdb::ColumnFamilyOptions& cf) {
  if (supported(rocksdb::kLZ4Compression)) cf.compression = rocksdb::kLZ4Compression;
  else if (supported(rocksdb::kSnappyCompression)) cf.compression = rocksdb::kSnappyCompression;
  else cf.compression = rocksdb::kNoCompression;
  cf.bottommost_compression = supported(rocksdb::kZSTD) ? rocksdb::kZSTD : cf.compression;
}

rocksdb::ColumnFamilyOptions base_family(const std::shared_ptr<rocksdb::Cache>& cache, size_t write_buffer,
                                         int bloom_bits) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = write_buffer;
  cf.max_write_buffer_number = 3;
  cf.target_file_size_base = std::max<uint64_t>(write_buffer, 8u << 20);
  cf.max_bytes_for_level_base = 4 * cf.target_file_size_base;
  cf.level_compaction_dynamic_level_bytes = true;
  set_compression(cf);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16 * 1024;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  if (bloom_bits > 0) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(bloom_bits, false));
    table.whole_key_filtering = true;
    // The memtable gets a filter too: most lookups in alert_ids are for ids not stored yet.
    cf.memtable_whole_key_filtering = true;
    cf.memtable_prefix_bloom_size_ratio = 0.05;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace

rocksdb::DBOptions db_options(const StoreTuning& tuning, bool writable) {
  rocksdb::DBOptions db;
  db.create_if_missing = writable;
  db.create_missing_column_families = writable;
  db.max_background_jobs = tuning.background_jobs;
  db.db_write_buffer_size = tuning.total_write_buffers;
  db.bytes_per_sync = 1u << 20;
  db.wal_bytes_per_sync = 0;
  // A reader replays the live log when it opens: keep the log short (flushes of the small families follow).
  db.max_total_wal_size = tuning.max_log_bytes;
  db.keep_log_file_num = 4;
  db.max_log_file_size = 8u << 20;
  db.max_manifest_file_size = 64u << 20;
  // A secondary keeps every table file open, so a file the writer compacts away stays readable while it reads.
  db.max_open_files = writable ? 512 : -1;
  // A reader's info log goes to its scratch directory, removed on close: warnings only.
  if (!writable) db.info_log_level = rocksdb::WARN_LEVEL;
  return db;
}

std::vector<rocksdb::ColumnFamilyDescriptor> column_families(const StoreTuning& tuning) {
  auto cache = rocksdb::NewLRUCache(tuning.block_cache_bytes);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  families.emplace_back(rocksdb::kDefaultColumnFamilyName, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kAlertsFamily, base_family(cache, tuning.alerts_write_buffer, 0));
  families.emplace_back(kAlertIdsFamily,
                        base_family(cache, tuning.index_write_buffer, tuning.id_bloom_bits_per_key));
  families.emplace_back(kCheckpointsFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kStateFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kIncidentsFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kIncidentAlertsFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kChainFamily, base_family(cache, tuning.index_write_buffer, 0));
  families.emplace_back(kActivityFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kOutboxFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kDeadLetterFamily, base_family(cache, tuning.small_write_buffer, 0));
  families.emplace_back(kInputDeadLetterFamily, base_family(cache, tuning.small_write_buffer, 0));
  return families;
}

rocksdb::ColumnFamilyOptions unknown_family_options(const StoreTuning& tuning) {
  return base_family(rocksdb::NewLRUCache(8u << 20), tuning.small_write_buffer, 0);
}

}  // namespace socd::store
