// The input's dead letters (socd/input_dead_letters.h) on the alert store's RocksDB. The store's commit calls
// stage() under its commit mutex, then written() or failed(). Internal to storage/.
//
//   column family        key                          value
//   dead_letter_input    "d" id (8 bytes big-endian)  version (1), time_ms (8 LE), line, position, length
//                                                     (varints), source, origin, reason, detail, data (each a
//                                                     varint length and bytes)
//                        "m"                          next id, first id kept, count, bytes, evicted (8 LE each)
#pragma once
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "socd/input_dead_letters.h"

namespace socd::store {

inline constexpr const char* kInputDeadLetterFamily = "dead_letter_input";

// Encoding of one dead letter (exposed for tests).
void encode_dead_letter(const InputDeadLetter& letter, std::string& out);
bool decode_dead_letter(uint64_t id, std::string_view value, InputDeadLetter& letter);

class RocksInputDeadLetters final : public InputDeadLetters {
public:
  RocksInputDeadLetters(std::string dir, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family, bool read_only)
      : dir_(std::move(dir)), db_(db), family_(family), read_only_(read_only) {}
  Status open();

  // The store's commit (under its commit mutex): stage() with the batch's dead letters, then written()/failed().
  Status stage(const std::vector<InputDeadLetter>& letters, int64_t now_ms, rocksdb::WriteBatch& batch);
  void written();
  void failed();

  void set_limits(const DeadLetterLimits& limits) override;
  DeadLetterLimits limits() const override;
  Expected<DeadLetterState> state() override;
  Status list(const DeadLetterQuery& query, const std::function<bool(const InputDeadLetter&)>& visit) override;
  Expected<std::optional<InputDeadLetter>> get(uint64_t id) override;

private:
  struct Meta {
    uint64_t next = 1, first = 1, count = 0, bytes = 0, evicted = 0;
  };
  Status error(const char* what, const rocksdb::Status& s) const;
  Expected<Meta> read_meta();

  std::string dir_;
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* family_;
  bool read_only_;
  mutable std::mutex mutex_;
  DeadLetterLimits limits_;
  Meta meta_, txn_;  // as written; as the commit in progress will write it
  std::string encoded_;
};

}  // namespace socd::store
