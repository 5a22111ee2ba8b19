#include "input_dead_letters_rocks.h"

#include <rocksdb/iterator.h>

#include <algorithm>
#include <memory>

#include "store_layout.h"

namespace socd::store {
namespace {

constexpr uint8_t kLetterVersion = 1;
constexpr char kLetterPrefix = 'd';
const std::string kMetaKey = "m";

std::string letter_key(uint64_t id) {
  std::string key(1, kLetterPrefix);
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(id >> (8 * i)));
  return key;
}

bool letter_id(rocksdb::Slice key, uint64_t& id) {
  if (key.size() != 9 || key[0] != kLetterPrefix) return false;
  id = 0;
  for (size_t i = 1; i < 9; ++i) id = (id << 8) | static_cast<unsigned char>(key[i]);
  return true;
}

}  // namespace

void encode_dead_letter(const InputDeadLetter& l, std::string& out) {
  out.clear();
  out.push_back(static_cast<char>(kLetterVersion));
  put_fixed64(out, static_cast<uint64_t>(l.time_ms));
  put_varint(out, l.line);
  put_varint(out, l.position);
  put_varint(out, l.length);
  put_field(out, l.source);
  put_field(out, l.origin);
  put_field(out, l.reason);
  put_field(out, l.detail);
  put_field(out, l.data);
}

bool decode_dead_letter(uint64_t id, std::string_view v, InputDeadLetter& l) {
  if (v.size() < 9 || static_cast<uint8_t>(v[0]) != kLetterVersion) return false;
  auto time = get_fixed64(v.substr(1, 8));
  if (!time) return false;
  v.remove_prefix(9);
  std::string_view source, origin, reason, detail, data;
  if (!(get_varint(v, l.line) && get_varint(v, l.position) && get_varint(v, l.length) && get_field(v, source) &&
        get_field(v, origin) && get_field(v, reason) && get_field(v, detail) && get_field(v, data) && v.empty()))
    return false;
  l.id = id;
  l.time_ms = static_cast<int64_t>(*time);
  l.source.assign(source);
  l.origin.assign(origin);
  l.reason.assign(reason);
  l.detail.assign(detail);
  l.data.assign(data);
  return true;
}

Status RocksInputDeadLetters::error(const char* what, const rocksdb::Status& s) const {
  return Status::error("alert store '" + dir_ + "': dead letters: " + what + ": " + s.ToString());
}

Expected<RocksInputDeadLetters::Meta> RocksInputDeadLetters::read_meta() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family_, kMetaKey, &value);
  Meta m;
  if (s.IsNotFound()) return m;
  if (!s.ok()) return error("cannot read their counts", s);
  if (value.size() != 40)
    return Status::error("alert store '" + dir_ + "': dead letters: their counts are damaged (" +
                         std::to_string(value.size()) + " bytes, expected 40); move the store aside");
  uint64_t* fields[] = {&m.next, &m.first, &m.count, &m.bytes, &m.evicted};
  for (size_t i = 0; i < 5; ++i) *fields[i] = *get_fixed64(std::string_view(value).substr(8 * i, 8));
  return m;
}

Status RocksInputDeadLetters::open() {
  auto m = read_meta();
  if (!m) return m.error();
  std::lock_guard lock(mutex_);
  meta_ = txn_ = *m;
  return Status();
}

void RocksInputDeadLetters::set_limits(const DeadLetterLimits& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
}

DeadLetterLimits RocksInputDeadLetters::limits() const {
  std::lock_guard lock(mutex_);
  return limits_;
}

Status RocksInputDeadLetters::stage(const std::vector<InputDeadLetter>& letters, int64_t now_ms,
                                    rocksdb::WriteBatch& batch) {
  std::lock_guard lock(mutex_);
  txn_ = meta_;
  if (letters.empty()) return Status();
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: only `socd run` writes");
  const uint64_t old_first = txn_.first;
  std::vector<std::pair<uint64_t, uint64_t>> staged;  // id, bytes of the letters added by this write
  for (const InputDeadLetter& given : letters) {
    InputDeadLetter l = given;
    if (l.data.size() > limits_.max_data_bytes) l.data.resize(limits_.max_data_bytes);
    if (l.detail.size() > 1024) l.detail.resize(1024);
    if (l.time_ms == 0) l.time_ms = now_ms;
    encode_dead_letter(l, encoded_);
    uint64_t id = txn_.next++;
    rocksdb::Status s = batch.Put(family_, letter_key(id), encoded_);
    if (!s.ok()) return error("cannot add one to the write batch", s);
    staged.emplace_back(id, encoded_.size());
    ++txn_.count;
    txn_.bytes += encoded_.size();
  }
  // Over a bound: the oldest go, those stored before first, then (when a single write brings more than the
  // bounds hold) the oldest of this one.
  std::unique_ptr<rocksdb::Iterator> it;
  size_t next_staged = 0;
  while (txn_.count > 0 && (txn_.count > limits_.max_count || txn_.bytes > limits_.max_bytes)) {
    uint64_t size = 0;
    if (txn_.first < meta_.next) {
      if (!it) {
        it.reset(db_->NewIterator(rocksdb::ReadOptions(), family_));
        it->Seek(letter_key(txn_.first));
      }
      uint64_t id = 0;
      if (!it->Valid() || !letter_id(it->key(), id) || id >= meta_.next) {
        txn_.first = meta_.next;  // the counts said more than there is: go on with this write's own
        continue;
      }
      size = it->value().size();
      txn_.first = id + 1;
      it->Next();
    } else {
      while (next_staged < staged.size() && staged[next_staged].first < txn_.first) ++next_staged;
      if (next_staged == staged.size()) break;
      size = staged[next_staged].second;
      txn_.first = staged[next_staged].first + 1;
      ++next_staged;
    }
    --txn_.count;
    txn_.bytes -= std::min(txn_.bytes, size);
    ++txn_.evicted;
  }
  if (it && !it->status().ok()) return error("cannot read the oldest ones", it->status());
  if (txn_.first > old_first) {
    rocksdb::Status s = batch.DeleteRange(family_, letter_key(old_first), letter_key(txn_.first));
    if (!s.ok()) return error("cannot drop the oldest ones", s);
  }
  std::string meta;
  for (uint64_t v : {txn_.next, txn_.first, txn_.count, txn_.bytes, txn_.evicted}) put_fixed64(meta, v);
  rocksdb::Status s = batch.Put(family_, kMetaKey, meta);
  if (!s.ok()) return error("cannot add their counts to the write batch", s);
  return Status();
}

void RocksInputDeadLetters::written() {
  std::lock_guard lock(mutex_);
  meta_ = txn_;
}

void RocksInputDeadLetters::failed() {
  std::lock_guard lock(mutex_);
  txn_ = meta_;
}

Expected<DeadLetterState> RocksInputDeadLetters::state() {
  Meta m;
  if (read_only_) {
    auto read = read_meta();
    if (!read) return read.error();
    m = *read;
  } else {
    std::lock_guard lock(mutex_);
    m = meta_;
  }
  DeadLetterState st;
  st.count = m.count;
  st.bytes = m.bytes;
  st.stored = m.next - 1;
  st.evicted = m.evicted;
  return st;
}

Status RocksInputDeadLetters::list(const DeadLetterQuery& query,
                                   const std::function<bool(const InputDeadLetter&)>& visit) {
  std::string lower = letter_key(0), upper = letter_key(UINT64_MAX);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, family_));
  size_t shown = 0;
  InputDeadLetter l;
  if (query.newest_first) it->SeekToLast();
  else it->SeekToFirst();
  for (; it->Valid(); query.newest_first ? it->Prev() : it->Next()) {
    uint64_t id = 0;
    if (!letter_id(it->key(), id)) continue;
    rocksdb::Slice v = it->value();
    if (!decode_dead_letter(id, std::string_view(v.data(), v.size()), l))
      return Status::error("alert store '" + dir_ + "': dead letter " + std::to_string(id) +
                           " is damaged; move the store aside or restore it from a backup");
    if (query.since_ms && l.time_ms < *query.since_ms) {
      if (query.newest_first) break;  // ids ascend with time: everything before is older still
      continue;
    }
    if (!query.source.empty() && l.source != query.source) continue;
    if (!query.reason.empty() && l.reason != query.reason) continue;
    if (!visit(l)) break;
    if (query.limit && ++shown >= query.limit) break;
  }
  if (!it->status().ok()) return error("cannot read them", it->status());
  return Status();
}

Expected<std::optional<InputDeadLetter>> RocksInputDeadLetters::get(uint64_t id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), family_, letter_key(id), &value);
  if (s.IsNotFound()) return std::optional<InputDeadLetter>();
  if (!s.ok()) return error("cannot read one", s);
  InputDeadLetter l;
  if (!decode_dead_letter(id, value, l))
    return Status::error("alert store '" + dir_ + "': dead letter " + std::to_string(id) + " is damaged");
  return std::optional<InputDeadLetter>(std::move(l));
}

}  // namespace socd::store
