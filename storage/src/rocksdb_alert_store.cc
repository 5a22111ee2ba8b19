// The alert store on RocksDB. The writer (one per directory: RocksDB's LOCK file) opens the database read-write;
// readers open it as secondary instances, which read the writer's files (MANIFEST, tables, WAL) without the lock
// and catch up with it on demand. Layout: store_layout.h; RocksDB options: rocksdb_options.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <unordered_set>

#include "input_dead_letters_rocks.h"
#include "outbox_rocks.h"
#include "retention.h"
#include "rocks_ledger.h"
#include "rocksdb_options.h"
#include "socd/alert_store.h"
#include "store_layout.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
using namespace socd::store;

enum Family : size_t {
  kDefault = 0, kAlerts, kAlertIds, kCheckpoints, kState, kIncidents, kIncidentAlerts, kChain, kActivity,
  kOutbox, kDeadLetter, kInputDeadLetters, kKnownFamilies
};

std::string in_quotes(const std::string& dir) { return "'" + dir + "'"; }

Status rocks_error(const std::string& dir, const char* what, const rocksdb::Status& s) {
  return Status::error("alert store " + in_quotes(dir) + ": " + what + ": " + s.ToString());
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// The lock failures of RocksDB's Open: another process holds DIR/LOCK (fcntl lock refused), or this process opened
// the same directory already.
bool is_lock_conflict(const rocksdb::Status& s) {
  const std::string text = s.ToString();
  return s.IsIOError() && contains(text, "lock") &&
         (contains(text, "Resource temporarily unavailable") || contains(text, "hold by current process"));
}

// A scratch directory for a secondary instance (its info log and the state of its catch-up), removed on close.
class ScratchDir {
public:
  Status create() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/socd-reader-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr)
      return Status::error("cannot create a temporary directory under " + pattern.substr(0, pattern.rfind('/')) +
                           " for reading the alert store: " + std::strerror(errno) + " (set TMPDIR to a writable "
                           "directory)");
    path_ = pattern;
    return Status();
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

class RocksAlertStore final : public AlertStore {
public:
  ~RocksAlertStore() override {
    if (db_) {
      if (ledger_ && !options_.read_only) {
        Status sealed = ledger_->seal();  // the head as the writer leaves it
        if (!sealed.ok()) std::fprintf(stderr, "socd: %s\n", sealed.message().c_str());
      }
      ledger_.reset();
      outbox_.reset();
      dead_letters_.reset();
      if (!options_.read_only) {
        // Memtables to table files, so the next open (and every reader's) has no log to replay. Best effort:
        // whatever is not flushed is in the log, and is replayed instead.
        rocksdb::FlushOptions flush;
        flush.allow_write_stall = true;
        rocksdb::Status ignored = db_->Flush(flush, handles_);
        (void)ignored;
      }
      for (auto* handle : handles_) {
        rocksdb::Status ignored = db_->DestroyColumnFamilyHandle(handle);
        (void)ignored;
      }
      rocksdb::Status closed = db_->Close();
      (void)closed;  // nothing is pending: every commit was written through the WAL
    }
  }

  static Expected<std::unique_ptr<AlertStore>> open(const std::string& dir, const StoreOptions& options);

  Status commit(const std::vector<StoredAlert>& alerts,
                const std::vector<std::pair<std::string, std::string>>& checkpoints, size_t* stored) override;
  Expected<std::optional<std::string>> checkpoint(std::string_view key) override;
  Status commit_with_state(const std::vector<StoredAlert>& alerts,
                           const std::vector<std::pair<std::string, std::string>>& checkpoints,
                           const std::vector<std::pair<std::string, std::string>>& state,
                           size_t* stored) override;
  Status commit_all(const std::vector<StoredAlert>& alerts,
                    const std::vector<std::pair<std::string, std::string>>& checkpoints,
                    const std::vector<std::pair<std::string, std::string>>& state,
                    const std::vector<InputDeadLetter>& dead_letters, size_t* stored) override;
  Expected<std::optional<std::string>> state(std::string_view key) override;
  Status list(const AlertQuery& query, const std::function<bool(const StoredAlert&)>& visit) override;
  Expected<std::optional<StoredAlert>> get(std::string_view id) override;
  Expected<uint64_t> count() override;
  Status refresh() override;
  Expected<RetentionResult> enforce_retention(const RetentionOptions& options) override {
    if (options_.read_only) return Status::error("alert store " + in_quotes(dir_) + " is open read-only: only the "
                                                 "writer removes alerts");
    std::lock_guard lock(commit_mutex_);
    RetentionTarget target{dir_, db_.get(), handles_[kDefault], handles_[kAlerts], handles_[kAlertIds],
                           ledger_.get(), outbox_.get(), &count_, options_.sync};
    return store::enforce_retention(target, options);
  }
  Ledger* ledger() override { return ledger_.get(); }
  Outbox* outbox() override { return outbox_.get(); }
  InputDeadLetters* input_dead_letters() override { return dead_letters_.get(); }

private:
  RocksAlertStore(std::string dir, const StoreOptions& options) : dir_(std::move(dir)), options_(options) {}
  Status open_db();
  Status check_format();
  Expected<uint64_t> read_count();
  Status corrupt(std::string_view key, const char* what) const;

  std::string dir_;
  StoreOptions options_;
  StoreTuning tuning_;
  ScratchDir scratch_;  // readers only; destroyed after the database is closed (declared before db_)
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // kKnownFamilies first, then families of later versions
  std::mutex commit_mutex_;
  std::atomic<uint64_t> count_{0};  // writer: alerts stored (the alert_count key, as of the last commit)
  std::string encoded_;             // writer: scratch for one encoded alert
  std::unique_ptr<RocksLedger> ledger_;  // incidents and the audit chain, written with the alerts
  std::unique_ptr<RocksOutbox> outbox_;  // the layer-4 outbox, written with the alerts
  std::unique_ptr<RocksInputDeadLetters> dead_letters_;  // the input's dead letters, written with the alerts
};

Expected<std::unique_ptr<AlertStore>> RocksAlertStore::open(const std::string& dir, const StoreOptions& options) {
  if (dir.empty()) return Status::error("alert store: no directory given (use --data-dir DIR)");
  std::unique_ptr<RocksAlertStore> store(new RocksAlertStore(dir, options));
  if (Status s = store->open_db(); !s.ok()) return s;
  if (Status s = store->check_format(); !s.ok()) return s;
  if (!options.read_only) {
    auto count = store->read_count();
    if (!count) return count.error();
    store->count_ = *count;
  }
  LedgerFamilies families;
  families.defaults = store->handles_[kDefault];
  families.alerts = store->handles_[kAlerts];
  families.alert_ids = store->handles_[kAlertIds];
  families.state = store->handles_[kState];
  families.incidents = store->handles_[kIncidents];
  families.incident_alerts = store->handles_[kIncidentAlerts];
  families.chain = store->handles_[kChain];
  families.activity = store->handles_[kActivity];
  store->ledger_ = std::make_unique<RocksLedger>(dir, store->db_.get(), families, store->commit_mutex_,
                                                 options.read_only);
  if (Status s = store->ledger_->open(); !s.ok()) return s;
  store->outbox_ = std::make_unique<RocksOutbox>(dir, store->db_.get(), store->handles_[kOutbox],
                                                 store->handles_[kDeadLetter], store->handles_[kAlerts],
                                                 options.read_only);
  if (Status s = store->outbox_->open(); !s.ok()) return s;
  store->dead_letters_ = std::make_unique<RocksInputDeadLetters>(dir, store->db_.get(),
                                                                 store->handles_[kInputDeadLetters], options.read_only);
  if (Status s = store->dead_letters_->open(); !s.ok()) return s;
  return std::unique_ptr<AlertStore>(std::move(store));
}

Status RocksAlertStore::open_db() {
  std::error_code ec;
  const bool has_current = fs::exists(fs::path(dir_) / "CURRENT", ec);
  if (options_.read_only) {
    if (!has_current)
      return Status::error("no alert store under " + in_quotes(dir_) +
                           ": nothing has been stored there yet (check --data-dir; `socd run` creates the store)");
  } else if (!has_current) {
    // A new store: the directory, owner-only, must be new or empty (never a store among unrelated files).
    if (fs::exists(dir_, ec)) {
      if (!fs::is_directory(dir_, ec))
        return Status::error(in_quotes(dir_) + " is not a directory; choose another data directory");
      const bool empty = fs::is_empty(dir_, ec);
      if (ec) return Status::error("cannot read the data directory " + in_quotes(dir_) + ": " + ec.message());
      if (!empty)
        return Status::error(in_quotes(dir_) + " is not an alert store (no RocksDB CURRENT file) and not empty; "
                             "choose a new or empty data directory");
    } else {
      fs::path parent = fs::path(dir_).parent_path();
      if (!parent.empty()) fs::create_directories(parent, ec);
      if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST)
        return Status::error("cannot create the alert store directory " + in_quotes(dir_) + ": " +
                             std::strerror(errno));
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> families = column_families(tuning_);
  if (has_current) {
    // Every family in the database must be opened by the writer, also those a later version added.
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_, &names);
    if (!s.ok()) return rocks_error(dir_, "cannot read its column families (is it a RocksDB directory?)", s);
    if (std::find(names.begin(), names.end(), kAlertsFamily) == names.end())
      return Status::error(in_quotes(dir_) + " holds a RocksDB database that is not an alert store (no '" +
                           std::string(kAlertsFamily) + "' column family); choose another data directory");
    for (const auto& name : names) {
      bool known = false;
      for (const auto& f : families) known = known || f.name == name;
      if (!known) families.emplace_back(name, unknown_family_options(tuning_));
    }
  }

  rocksdb::DBOptions db_opts = db_options(tuning_, !options_.read_only);
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    if (Status st = scratch_.create(); !st.ok()) return st;
    // A reader opens the families it knows (a subset is allowed for a secondary).
    families.resize(kKnownFamilies);
    s = rocksdb::DB::OpenAsSecondary(db_opts, dir_, scratch_.path(), families, &handles_, &raw);
    if (s.ok()) {
      db_.reset(raw);
      s = db_->TryCatchUpWithPrimary();
      if (!s.ok()) return rocks_error(dir_, "cannot catch up with the writer", s);
    }
  } else {
    s = rocksdb::DB::Open(db_opts, dir_, families, &handles_, &raw);
    if (s.ok()) db_.reset(raw);
  }
  if (!s.ok()) {
    if (is_lock_conflict(s))
      return Status::error("the store under " + dir_ + " is in use by another socd run (LOCK held); use `socd alerts` "
                           "to read it");
    if (s.IsInvalidArgument() && contains(s.ToString(), "Column family not found"))
      return rocks_error(dir_, "the store lacks a column family this version needs; open it once with the writer "
                               "(`socd run`) to add it", s);
    return rocks_error(dir_, options_.read_only ? "cannot open it for reading" : "cannot open it", s);
  }
  if (handles_.size() < kKnownFamilies) return Status::error("alert store " + in_quotes(dir_) + ": column families missing");
  return Status();
}

Status RocksAlertStore::check_format() {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kDefault], std::string(kFormatKey), &format);
  if (s.IsNotFound()) {
    if (options_.read_only) return Status();  // a writer that has just created the store writes it first
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Put(wo, handles_[kDefault], std::string(kFormatKey), std::string(kFormat));
    return s.ok() ? Status() : rocks_error(dir_, "cannot write its format marker", s);
  }
  if (!s.ok()) return rocks_error(dir_, "cannot read its format marker", s);
  if (format != kFormat)
    return Status::error("alert store " + in_quotes(dir_) + " has the format '" + format + "', this socd reads '" +
                         std::string(kFormat) + "'; use the socd version that wrote it");
  return Status();
}

Status RocksAlertStore::corrupt(std::string_view key, const char* what) const {
  return Status::error("alert store " + in_quotes(dir_) + ": " + what + " (key of " + std::to_string(key.size()) +
                       " bytes); the store is damaged: restore it from a backup or move it aside");
}

Expected<uint64_t> RocksAlertStore::read_count() {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kDefault], std::string(kAlertCountKey), &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return rocks_error(dir_, "cannot read the alert count", s);
  auto count = get_fixed64(value);
  if (!count) return corrupt(kAlertCountKey, "the alert count is not 8 bytes");
  return *count;
}

Status RocksAlertStore::commit(const std::vector<StoredAlert>& alerts,
                               const std::vector<std::pair<std::string, std::string>>& checkpoints, size_t* stored) {
  return commit_with_state(alerts, checkpoints, {}, stored);
}

Status RocksAlertStore::commit_with_state(const std::vector<StoredAlert>& alerts,
                                          const std::vector<std::pair<std::string, std::string>>& checkpoints,
                                          const std::vector<std::pair<std::string, std::string>>& state,
                                          size_t* stored) {
  return commit_all(alerts, checkpoints, state, {}, stored);
}

Status RocksAlertStore::commit_all(const std::vector<StoredAlert>& alerts,
                                   const std::vector<std::pair<std::string, std::string>>& checkpoints,
                                   const std::vector<std::pair<std::string, std::string>>& state,
                                   const std::vector<InputDeadLetter>& dead_letters, size_t* stored) {
  if (stored) *stored = 0;
  if (options_.read_only)
    return Status::error("alert store " + in_quotes(dir_) + " is open read-only: only `socd run` writes alerts");
  if (alerts.empty() && checkpoints.empty() && state.empty() && dead_letters.empty()) return Status();
  for (const auto& alert : alerts)
    if (alert.id.empty())
      return Status::error("alert store: an alert of rule '" + alert.rule_id + "' has no id (set it with alert_id())");
  std::lock_guard lock(commit_mutex_);
  // The ledger adds the chain records and incident changes of the new alerts to the same write; it keeps them
  // only once the write succeeded.
  ledger_->begin();
  struct LedgerGuard {
    RocksLedger* ledger;
    bool written = false;
    ~LedgerGuard() {
      if (!written) ledger->failed();
    }
  } ledger_guard{ledger_.get()};
  // The L4 alerts go into the outbox in the same write.
  auto outbox_lock = outbox_->lock();
  struct OutboxGuard {
    RocksOutbox* outbox;
    bool written = false;
    ~OutboxGuard() {
      if (!written) outbox->failed();
    }
  } outbox_guard{outbox_.get()};
  struct DeadLetterGuard {
    RocksInputDeadLetters* letters;
    bool written = false;
    ~DeadLetterGuard() {
      if (!written) letters->failed();
    }
  } dead_letter_guard{dead_letters_.get()};

  // Which ids are stored already: one batched lookup (bloom filters answer most of them).
  std::vector<rocksdb::Slice> ids;
  ids.reserve(alerts.size());
  for (const auto& alert : alerts) ids.emplace_back(alert.id);
  std::vector<rocksdb::PinnableSlice> found(alerts.size());
  std::vector<rocksdb::Status> statuses(alerts.size());
  if (!alerts.empty())
    db_->MultiGet(rocksdb::ReadOptions(), handles_[kAlertIds], ids.size(), ids.data(), found.data(), statuses.data());

  // The new alerts (first of each id), in key order: a memtable inserts a run of sorted keys faster.
  std::unordered_set<std::string_view> in_batch;
  in_batch.reserve(alerts.size());
  std::vector<std::pair<std::string, const StoredAlert*>> fresh;  // alerts key, alert
  fresh.reserve(alerts.size());
  for (size_t i = 0; i < alerts.size(); ++i) {
    if (statuses[i].ok()) continue;  // stored by an earlier commit
    if (!statuses[i].IsNotFound()) return rocks_error(dir_, "cannot look up an alert id", statuses[i]);
    if (!in_batch.insert(alerts[i].id).second) continue;  // twice in this batch: the first one counts
    fresh.emplace_back(alert_key(alerts[i].time_ms, alerts[i].id), &alerts[i]);
  }
  const size_t added = fresh.size();
  size_t payload = 0;
  for (const auto& [key, alert] : fresh) payload += 2 * key.size() + alert->id.size() + alert->json.size() + 64;
  rocksdb::WriteBatch batch(payload);
  rocksdb::Status s;
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, alert] : fresh) {
    encode_alert(*alert, encoded_);
    s = batch.Put(handles_[kAlerts], key, encoded_);
    if (!s.ok()) return rocks_error(dir_, "cannot add an alert to the write batch", s);
    if (Status st = ledger_->add_alert(*alert, key, encoded_, batch); !st.ok()) return st;
    if (alert->layers & kLayer4)
      if (Status st = outbox_->stage(key, batch); !st.ok()) return st;
  }
  if (Status st = ledger_->finish(batch); !st.ok()) return st;
  if (Status st = outbox_->finish(batch); !st.ok()) return st;
  std::sort(fresh.begin(), fresh.end(), [](const auto& a, const auto& b) { return a.second->id < b.second->id; });
  for (const auto& [key, alert] : fresh) {
    s = batch.Put(handles_[kAlertIds], alert->id, key);
    if (!s.ok()) return rocks_error(dir_, "cannot add an alert id to the write batch", s);
  }
  for (const auto& [key, value] : checkpoints) {
    s = batch.Put(handles_[kCheckpoints], key, value);
    if (!s.ok()) return rocks_error(dir_, "cannot add a checkpoint to the write batch", s);
  }
  for (const auto& [key, value] : state) {
    s = batch.Put(handles_[kState], key, value);
    if (!s.ok()) return rocks_error(dir_, "cannot add the detection state to the write batch", s);
  }
  {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    if (Status st = dead_letters_->stage(dead_letters, now, batch); !st.ok()) return st;
  }
  const uint64_t new_count = count_.load() + added;
  if (added > 0) {
    std::string value;
    put_fixed64(value, new_count);
    s = batch.Put(handles_[kDefault], std::string(kAlertCountKey), value);
    if (!s.ok()) return rocks_error(dir_, "cannot add the alert count to the write batch", s);
  }
  if (batch.Count() == 0) return Status();
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync;
  s = db_->Write(wo, &batch);
  if (!s.ok())
    return rocks_error(dir_, "cannot write a batch of alerts and checkpoints (nothing of it was stored)", s);
  ledger_->written();
  ledger_guard.written = true;
  outbox_->written();
  outbox_guard.written = true;
  dead_letters_->written();
  dead_letter_guard.written = true;
  count_ = new_count;
  if (stored) *stored = added;
  return Status();
}

Expected<std::optional<std::string>> RocksAlertStore::checkpoint(std::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kCheckpoints], rocksdb::Slice(key.data(), key.size()),
                               &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return rocks_error(dir_, "cannot read a checkpoint", s);
  return std::optional<std::string>(std::move(value));
}

Expected<std::optional<std::string>> RocksAlertStore::state(std::string_view key) {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), handles_[kState], rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return rocks_error(dir_, "cannot read the saved detection state", s);
  return std::optional<std::string>(std::move(value));
}

Status RocksAlertStore::list(const AlertQuery& query, const std::function<bool(const StoredAlert&)>& visit) {
  int min_rank = -1;
  if (!query.level.empty() && query.level_or_higher) {
    min_rank = level_rank(query.level);
    if (min_rank < 0)
      return Status::error("unknown alert level '" + query.level +
                           "' (use informational, low, medium, high or critical)");
  }
  if (query.since_ms && query.until_ms && *query.since_ms >= *query.until_ms) return Status();

  std::string lower, upper;
  rocksdb::Slice lower_slice, upper_slice;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // a listing reads each block once
  ro.readahead_size = 1u << 20;
  if (query.since_ms) {
    lower = time_key(*query.since_ms);
    lower_slice = lower;
    ro.iterate_lower_bound = &lower_slice;
  }
  if (query.until_ms) {
    upper = time_key(*query.until_ms);
    upper_slice = upper;
    ro.iterate_upper_bound = &upper_slice;
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kAlerts]));
  if (query.newest_first) it->SeekToLast();
  else it->SeekToFirst();
  size_t shown = 0;
  StoredAlert alert;
  AlertView view;
  for (; it->Valid(); query.newest_first ? it->Prev() : it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    if (key.size() <= kTimeKeySize || !decode_alert(value, view)) return corrupt(key, "an alert cannot be decoded");
    if (!query.rule_id.empty() && view.rule_id != query.rule_id) continue;
    if (!query.host.empty() && view.host != query.host) continue;
    if (!query.level.empty()) {
      if (query.level_or_higher ? level_rank(view.level) < min_rank : view.level != query.level) continue;
    }
    fill_alert(key, view, alert);
    ++shown;
    if (!visit(alert)) return Status();
    if (query.limit != 0 && shown >= query.limit) return Status();
  }
  rocksdb::Status s = it->status();
  return s.ok() ? Status() : rocks_error(dir_, "cannot read alerts", s);
}

Expected<std::optional<StoredAlert>> RocksAlertStore::get(std::string_view id) {
  std::string key, value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_[kAlertIds], rocksdb::Slice(id.data(), id.size()), &key);
  if (s.IsNotFound()) return std::optional<StoredAlert>();
  if (!s.ok()) return rocks_error(dir_, "cannot look up an alert id", s);
  s = db_->Get(rocksdb::ReadOptions(), handles_[kAlerts], key, &value);
  if (s.IsNotFound()) return corrupt(key, "an alert id points to a missing alert");
  if (!s.ok()) return rocks_error(dir_, "cannot read an alert", s);
  AlertView view;
  if (key.size() <= kTimeKeySize || !decode_alert(value, view)) return corrupt(key, "an alert cannot be decoded");
  StoredAlert alert;
  fill_alert(key, view, alert);
  return std::optional<StoredAlert>(std::move(alert));
}

Expected<uint64_t> RocksAlertStore::count() {
  if (!options_.read_only) return count_.load();
  return read_count();
}

Status RocksAlertStore::refresh() {
  if (!options_.read_only) return Status();
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  return s.ok() ? Status() : rocks_error(dir_, "cannot catch up with the writer", s);
}

}  // namespace

int level_rank(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"informational", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i)
    if (level == kLevels[i]) return i;
  return -1;
}

Expected<std::unique_ptr<AlertStore>> AlertStore::open(const std::string& dir, const StoreOptions& options) {
  return RocksAlertStore::open(dir, options);
}

}  // namespace socd
