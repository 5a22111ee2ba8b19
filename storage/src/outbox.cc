// The layer-4 outbox on RocksDB: layout in outbox_rocks.h.
#include <rocksdb/iterator.h>

#include <algorithm>
#include <chrono>
#include <limits>

#include "outbox_rocks.h"
#include "store_layout.h"

namespace socd::store {
namespace {

const std::string kNextKey = "mnext", kFloorKey = "mfloor", kShedKey = "mshed";
constexpr uint8_t kEntryVersion = 1;

std::string be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * (7 - i)));
  return out;
}

uint64_t from_be64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string entry_key(uint64_t seq) { return "q" + be64(seq); }
std::string rejection_key(const std::string& sink, uint64_t seq) {
  std::string key = "r" + sink;
  key.push_back('\0');
  key += be64(seq);
  return key;
}
std::string cursor_key(const std::string& sink) { return "c" + sink; }
std::string dead_key(const std::string& sink, uint64_t seq) {
  std::string key = sink;
  key.push_back('\0');
  key += be64(seq);
  return key;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Entry {
  int64_t enqueued_ms = 0;
  std::string_view alerts_key, only_sink;
};

bool decode_entry(std::string_view value, Entry& e) {
  if (value.size() < 9 || static_cast<uint8_t>(value[0]) != kEntryVersion) return false;
  e.enqueued_ms = static_cast<int64_t>(from_be64(value.substr(1, 8)));
  value.remove_prefix(9);
  return get_field(value, e.alerts_key) && get_field(value, e.only_sink) && value.empty();
}

}  // namespace

RocksOutbox::RocksOutbox(std::string dir, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* outbox,
                         rocksdb::ColumnFamilyHandle* dead, rocksdb::ColumnFamilyHandle* alerts, bool read_only)
    : dir_(std::move(dir)), db_(db), outbox_(outbox), dead_(dead), alerts_(alerts), read_only_(read_only) {}

Status RocksOutbox::error(const char* what, const rocksdb::Status& s) const {
  return Status::error("alert store '" + dir_ + "': outbox: " + what + ": " + s.ToString());
}

Expected<uint64_t> RocksOutbox::read_meta(const std::string& key, uint64_t fallback) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), outbox_, key, &value);
  if (s.IsNotFound()) return fallback;
  if (!s.ok()) return error("cannot read its counters", s);
  auto v = get_fixed64(value);
  if (!v) return Status::error("alert store '" + dir_ + "': outbox counter '" + key.substr(1) +
                               "' is damaged; restore the store from a backup or move it aside");
  return *v;
}

Status RocksOutbox::open() {
  auto next = read_meta(kNextKey, 1);
  if (!next) return next.error();
  auto floor = read_meta(kFloorKey, 1);
  if (!floor) return floor.error();
  auto shed = read_meta(kShedKey, 0);
  if (!shed) return shed.error();
  next_ = txn_next_ = *next;
  floor_ = txn_floor_ = *floor;
  shed_ = txn_shed_ = *shed;
  return Status();
}

Status RocksOutbox::put_entry(rocksdb::WriteBatch& batch, uint64_t seq, std::string_view alerts_key,
                              std::string_view only) {
  std::string value;
  value.push_back(static_cast<char>(kEntryVersion));
  value += be64(static_cast<uint64_t>(now_ms()));
  put_field(value, alerts_key);
  put_field(value, only);
  rocksdb::Status s = batch.Put(outbox_, entry_key(seq), value);
  return s.ok() ? Status() : error("cannot add an entry to the write batch", s);
}

Status RocksOutbox::stage(std::string_view alerts_key, rocksdb::WriteBatch& batch) {
  return put_entry(batch, txn_next_++, alerts_key, {});
}

Status RocksOutbox::finish(rocksdb::WriteBatch& batch) {
  if (txn_next_ == next_) return Status();
  const uint64_t quota = quota_.load();
  if (quota > 0 && !pause_.load() && txn_next_ - txn_floor_ > quota) {
    // At the quota: the oldest entries go, counted (policy shed_oldest).
    const uint64_t new_floor = txn_next_ - quota;
    rocksdb::Status s = batch.DeleteRange(outbox_, entry_key(txn_floor_), entry_key(new_floor));
    if (!s.ok()) return error("cannot shed entries at the quota", s);
    txn_shed_ += new_floor - txn_floor_;
    txn_floor_ = new_floor;
    std::string v;
    put_fixed64(v, txn_floor_);
    if (!(s = batch.Put(outbox_, kFloorKey, v)).ok()) return error("cannot write its floor", s);
    v.clear();
    put_fixed64(v, txn_shed_);
    if (!(s = batch.Put(outbox_, kShedKey, v)).ok()) return error("cannot write its shed count", s);
  }
  std::string v;
  put_fixed64(v, txn_next_);
  rocksdb::Status s = batch.Put(outbox_, kNextKey, v);
  return s.ok() ? Status() : error("cannot write its next sequence number", s);
}

void RocksOutbox::written() {
  next_ = txn_next_;
  floor_ = txn_floor_;
  shed_ = txn_shed_;
}

void RocksOutbox::failed() {
  txn_next_ = next_;
  txn_floor_ = floor_;
  txn_shed_ = shed_;
}

Status RocksOutbox::set_sinks(const std::vector<std::string>& sinks) {
  std::lock_guard lock(mutex_);
  sinks_ = sinks;
  return Status();
}

Expected<uint64_t> RocksOutbox::cursor_of(const std::string& sink) {
  auto c = read_meta(cursor_key(sink), 0);
  if (!c) return c;
  // Entries below the floor are gone (acknowledged by every sink, or shed): a new sink starts at the floor.
  return std::max<uint64_t>(*c, floor_ - 1);
}

Expected<bool> RocksOutbox::load_alert(std::string_view alerts_key, StoredAlert& alert) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), alerts_, rocksdb::Slice(alerts_key.data(), alerts_key.size()),
                               &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return error("cannot read a queued alert", s);
  AlertView view;
  if (alerts_key.size() <= kTimeKeySize || !decode_alert(value, view))
    return Status::error("alert store '" + dir_ + "': a queued alert cannot be decoded; the store is damaged");
  fill_alert(alerts_key, view, alert);
  return true;
}

Expected<std::vector<OutboxItem>> RocksOutbox::next(const std::string& sink, size_t max, uint64_t after) {
  uint64_t start;
  {
    std::lock_guard lock(mutex_);
    auto c = cursor_of(sink);
    if (!c) return c.error();
    start = std::max(*c, after) + 1;
  }
  std::vector<OutboxItem> items;
  const std::string lower = entry_key(start), upper = "r";
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, outbox_));
  for (it->SeekToFirst(); it->Valid() && items.size() < max; it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    Entry e;
    if (key.size() != 9 || !decode_entry(std::string_view(it->value().data(), it->value().size()), e))
      return Status::error("alert store '" + dir_ + "': an outbox entry cannot be decoded; the store is damaged");
    OutboxItem item;
    item.seq = from_be64(key.substr(1));
    item.enqueued_ms = e.enqueued_ms;
    item.only_sink.assign(e.only_sink);
    if (item.only_sink.empty() || item.only_sink == sink) {
      auto found = load_alert(e.alerts_key, item.alert);
      if (!found) return found.error();
      if (!*found)
        return Status::error("alert store '" + dir_ + "': outbox entry " + std::to_string(item.seq) +
                             " names an alert that is not stored; the store is damaged");
    }
    items.push_back(std::move(item));
  }
  if (!it->status().ok()) return error("cannot read its entries", it->status());
  return items;
}

Status RocksOutbox::advance_floor(rocksdb::WriteBatch& batch) {
  if (sinks_.empty()) return Status();
  uint64_t lowest = std::numeric_limits<uint64_t>::max();
  for (const auto& sink : sinks_) {
    auto c = cursor_of(sink);
    if (!c) return c.error();
    lowest = std::min(lowest, *c);
  }
  const uint64_t new_floor = std::min(lowest + 1, next_);
  if (new_floor <= floor_) return Status();
  rocksdb::Status s = batch.DeleteRange(outbox_, entry_key(floor_), entry_key(new_floor));
  if (!s.ok()) return error("cannot remove acknowledged entries", s);
  std::string v;
  put_fixed64(v, new_floor);
  s = batch.Put(outbox_, kFloorKey, v);
  return s.ok() ? Status() : error("cannot write its floor", s);
}

Status RocksOutbox::acknowledge(const std::string& sink, uint64_t seq) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: the outbox cannot change");
  std::lock_guard lock(mutex_);
  auto c = cursor_of(sink);
  if (!c) return c.error();
  if (seq <= *c) return Status();
  rocksdb::WriteBatch batch;
  std::string v;
  put_fixed64(v, seq);
  rocksdb::Status s = batch.Put(outbox_, cursor_key(sink), v);
  if (!s.ok()) return error("cannot write a sink cursor", s);
  // Rejection counts of the entries passed are no longer needed (a range deletion only when there are some).
  {
    const std::string from = rejection_key(sink, *c + 1), to = rejection_key(sink, seq + 1);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
    it->Seek(from);
    if (it->Valid() && it->key().compare(rocksdb::Slice(to)) < 0) {
      s = batch.DeleteRange(outbox_, from, to);
      if (!s.ok()) return error("cannot forget rejection counts", s);
    }
  }
  // The cursor first, so the floor below sees it.
  s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return error("cannot write a sink cursor", s);
  batch.Clear();
  if (Status st = advance_floor(batch); !st.ok()) return st;
  if (batch.Count() == 0) return Status();
  s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return error("cannot remove acknowledged entries", s);
  auto floor = read_meta(kFloorKey, floor_);
  if (!floor) return floor.error();
  floor_ = txn_floor_ = std::max(floor_, *floor);
  return Status();
}

Status RocksOutbox::dead_letter(const std::string& sink, const OutboxItem& item, const std::string& reason) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: the outbox cannot change");
  std::string value;
  value += be64(static_cast<uint64_t>(now_ms()));
  put_field(value, alert_key(item.alert.time_ms, item.alert.id));
  put_field(value, reason);
  {
    std::lock_guard lock(mutex_);
    rocksdb::WriteBatch batch;
    rocksdb::Status s = batch.Put(dead_, dead_key(sink, item.seq), value);
    if (!s.ok()) return error("cannot add a dead letter to the write batch", s);
    s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return error("cannot write a dead letter", s);
  }
  return acknowledge(sink, item.seq);
}

Expected<std::vector<DeadLetter>> RocksOutbox::dead_letters(const std::string& sink, size_t limit) {
  std::vector<DeadLetter> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), dead_));
  std::string prefix = sink.empty() ? std::string() : sink + std::string(1, '\0');
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!prefix.empty() && key.substr(0, prefix.size()) != prefix) break;
    std::string_view value(it->value().data(), it->value().size());
    DeadLetter d;
    std::string_view akey, reason;
    const size_t zero = key.rfind('\0', key.size() - 9);
    if (key.size() < 10 || zero == std::string_view::npos || zero != key.size() - 9 || value.size() < 8)
      return Status::error("alert store '" + dir_ + "': a dead letter cannot be decoded; the store is damaged");
    d.sink.assign(key.substr(0, zero));
    d.seq = from_be64(key.substr(zero + 1));
    d.time_ms = static_cast<int64_t>(from_be64(value.substr(0, 8)));
    value.remove_prefix(8);
    if (!get_field(value, akey) || !get_field(value, reason))
      return Status::error("alert store '" + dir_ + "': a dead letter cannot be decoded; the store is damaged");
    d.reason.assign(reason);
    auto found = load_alert(akey, d.alert);
    if (!found) return found.error();
    out.push_back(std::move(d));
    if (limit != 0 && out.size() >= limit) break;
  }
  if (!it->status().ok()) return error("cannot read the dead letters", it->status());
  return out;
}

Expected<uint64_t> RocksOutbox::retry(const std::string& sink) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: the outbox cannot change");
  auto letters = dead_letters(sink, 0);
  if (!letters) return letters.error();
  if (letters->empty()) return uint64_t{0};
  std::lock_guard lock(mutex_);
  rocksdb::WriteBatch batch;
  uint64_t next = next_;
  for (const auto& d : *letters) {
    if (Status st = put_entry(batch, next++, alert_key(d.alert.time_ms, d.alert.id), d.sink); !st.ok()) return st;
    rocksdb::Status s = batch.Delete(dead_, dead_key(d.sink, d.seq));
    if (!s.ok()) return error("cannot remove a dead letter", s);
  }
  std::string v;
  put_fixed64(v, next);
  rocksdb::Status s = batch.Put(outbox_, kNextKey, v);
  if (s.ok()) s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return error("cannot queue the dead letters again", s);
  next_ = txn_next_ = next;
  return static_cast<uint64_t>(letters->size());
}

Expected<OutboxState> RocksOutbox::state() {
  OutboxState st;
  std::lock_guard lock(mutex_);
  if (read_only_) {
    if (Status s = open(); !s.ok()) return s;
  }
  st.next_seq = next_;
  st.floor = floor_;
  st.entries = next_ - floor_;
  st.shed = shed_;
  st.quota = quota_.load();
  // The configured sinks, or (reading beside the writer) every sink that has a cursor or dead letters.
  std::vector<std::string> names = sinks_;
  if (names.empty()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), outbox_));
    for (it->Seek("c"); it->Valid() && it->key().starts_with("c"); it->Next())
      names.emplace_back(it->key().data() + 1, it->key().size() - 1);
    std::unique_ptr<rocksdb::Iterator> d(db_->NewIterator(rocksdb::ReadOptions(), dead_));
    for (d->SeekToFirst(); d->Valid(); d->Next()) {
      std::string_view key(d->key().data(), d->key().size());
      if (key.size() < 10) continue;
      std::string name(key.substr(0, key.size() - 9));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  for (const auto& name : names) {
    OutboxSinkState s;
    s.sink = name;
    auto c = cursor_of(name);
    if (!c) return c.error();
    s.cursor = *c;
    s.pending = next_ > *c + 1 ? next_ - 1 - *c : 0;
    if (s.pending > 0) {
      std::string value;
      rocksdb::Status rs = db_->Get(rocksdb::ReadOptions(), outbox_, entry_key(*c + 1), &value);
      Entry e;
      if (rs.ok() && decode_entry(value, e)) s.oldest_unsent_ms = e.enqueued_ms;
    }
    std::unique_ptr<rocksdb::Iterator> d(db_->NewIterator(rocksdb::ReadOptions(), dead_));
    const std::string prefix = name + std::string(1, '\0');
    for (d->Seek(prefix); d->Valid() && d->key().starts_with(prefix); d->Next()) ++s.dead_letters;
    st.sinks.push_back(std::move(s));
  }
  return st;
}

uint64_t RocksOutbox::entries() {
  std::lock_guard lock(mutex_);
  return next_ - floor_;
}

Expected<uint32_t> RocksOutbox::rejections(const std::string& sink, uint64_t seq) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), outbox_, rejection_key(sink, seq), &value);
  if (s.IsNotFound()) return uint32_t{0};
  if (!s.ok()) return error("cannot read a rejection count", s);
  if (value.size() != 4)
    return Status::error("alert store '" + dir_ + "': a rejection count is damaged; restore the store from a backup");
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(value[i]);
  return n;
}

Expected<uint32_t> RocksOutbox::add_rejection(const std::string& sink, uint64_t seq) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: the outbox cannot change");
  std::lock_guard lock(mutex_);
  auto n = rejections(sink, seq);
  if (!n) return n;
  const uint32_t count = *n + 1;
  std::string value(4, '\0');
  for (int i = 0; i < 4; ++i) value[i] = static_cast<char>(count >> (8 * i));
  rocksdb::Status s = db_->Put(rocksdb::WriteOptions(), outbox_, rejection_key(sink, seq), value);
  if (!s.ok()) return error("cannot write a rejection count", s);
  return count;
}

Expected<std::unordered_set<std::string>> RocksOutbox::owed_alert_keys(std::string_view before) {
  std::unordered_set<std::string> owed;
  // One snapshot for both families: an entry moving between them (dead_letter, retry) is seen in one.
  struct Snapshot {
    rocksdb::DB* db;
    const rocksdb::Snapshot* snapshot;
    ~Snapshot() { db->ReleaseSnapshot(snapshot); }
  } snap{db_, db_->GetSnapshot()};
  auto keep = [&](std::string_view key) {
    if (before.empty() || key < before) owed.emplace(key);
  };
  {
    const std::string lower = "q", upper = "r";
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    rocksdb::ReadOptions ro;
    ro.snapshot = snap.snapshot;
    ro.iterate_lower_bound = &lower_slice;
    ro.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, outbox_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      Entry e;
      if (it->key().size() != 9 || !decode_entry(std::string_view(it->value().data(), it->value().size()), e))
        return Status::error("alert store '" + dir_ + "': an outbox entry cannot be decoded; the store is damaged");
      keep(e.alerts_key);
    }
    if (!it->status().ok()) return error("cannot read its entries", it->status());
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = snap.snapshot;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, dead_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view value(it->value().data(), it->value().size()), akey;
    if (value.size() < 8)
      return Status::error("alert store '" + dir_ + "': a dead letter cannot be decoded; the store is damaged");
    value.remove_prefix(8);
    if (!get_field(value, akey))
      return Status::error("alert store '" + dir_ + "': a dead letter cannot be decoded; the store is damaged");
    keep(akey);
  }
  if (!it->status().ok()) return error("cannot read the dead letters", it->status());
  return owed;
}

Expected<bool> RocksOutbox::owes(std::string_view alert_id) {
  auto owed = owed_alert_keys({});
  if (!owed) return owed.error();
  for (const auto& key : *owed)
    if (key.size() > kTimeKeySize && std::string_view(key).substr(kTimeKeySize) == alert_id) return true;
  return false;
}

}  // namespace socd::store
