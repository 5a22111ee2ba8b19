// Retention: walks the alerts from the oldest up to the latest cutoff of any level, removes those past their
// level's period that layer 4 no longer needs (the layer-4 outbox holds neither a queued entry nor a dead letter
// of them), as range deletions over runs of neighbouring removable alerts
// (point deletions for a lone one), with their id index entries, the alert count and one retention record per
// level in the audit chain, all in one atomic write per batch; then compacts the span so the space comes back.
#include "retention.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "store_layout.h"

namespace socd {

namespace store {
namespace {

Status rocks_failure(const std::string& dir, const char* what, const rocksdb::Status& s) {
  return Status::error("alert store '" + dir + "': retention: " + what + ": " + s.ToString());
}

// One atomic write's worth of removals.
struct RetentionBatch {
  rocksdb::WriteBatch batch;
  std::vector<std::string> run;  // keys of the current run of neighbouring removable alerts
  uint64_t removed = 0, ranges = 0;
  uint64_t by_level[6] = {}, kept_by_level[6] = {};
  std::string first_key, last_key;  // span removed
};

Status flush_run(RetentionTarget& t, RetentionBatch& b) {
  if (b.run.empty()) return Status();
  rocksdb::Status s;
  if (b.run.size() >= 2) {
    std::string end = b.run.back();
    end.push_back('\0');  // the first key after the last of the run
    s = b.batch.DeleteRange(t.alerts, b.run.front(), end);
    ++b.ranges;
  } else {
    s = b.batch.Delete(t.alerts, b.run.front());
  }
  if (!s.ok()) return rocks_failure(t.dir, "cannot add a deletion to the write batch", s);
  if (b.first_key.empty()) b.first_key = b.run.front();
  b.last_key = b.run.back();
  b.run.clear();
  return Status();
}

}  // namespace

Expected<RetentionResult> enforce_retention(RetentionTarget& t, const RetentionOptions& o) {
  RetentionResult result;
  int64_t cutoff[6];
  int64_t latest = INT64_MIN;
  for (int level = 0; level < 6; ++level) {
    cutoff[level] = o.keep_ms[level] > 0 ? o.now_ms - o.keep_ms[level] : INT64_MIN;
    latest = std::max(latest, cutoff[level]);
  }
  if (latest == INT64_MIN) return result;  // everything is kept for ever
  const std::string stop = time_key(latest);
  // What layer 4 is still owed, among the alerts the walk can reach, read once: an alert acknowledged while the
  // walk runs stays until the next run; none is added meanwhile (commits wait for the commit mutex, a retry
  // moves an alert from the dead letters back into the queue in one write).
  std::unordered_set<std::string> owed;
  if (t.outbox) {
    auto keys = t.outbox->owed_alert_keys(stop);
    if (!keys) return Status::error("alert store '" + t.dir + "': retention: " + keys.error().message() +
                                    "; nothing was removed");
    owed = std::move(*keys);
  }
  auto owed_to_layer4 = [&](std::string_view key, const StoredAlert& alert) {
    if (!t.outbox) return (alert.layers & kLayer4) != 0;
    return owed.count(std::string(key)) > 0;
  };

  // Batches until the walk ends; each written before the next starts.
  std::string resume;
  for (;;) {
    RetentionBatch b;
    bool more = false;
    {
      std::unique_ptr<rocksdb::Iterator> it(t.db->NewIterator(rocksdb::ReadOptions(), t.alerts));
      if (resume.empty()) it->SeekToFirst();
      else it->Seek(resume);
      StoredAlert alert;
      AlertView view;
      for (; it->Valid(); it->Next()) {
        std::string_view key(it->key().data(), it->key().size());
        if (key.substr(0, kTimeKeySize) >= stop) break;
        if (b.removed >= o.batch_alerts) {
          resume.assign(key);
          more = true;
          break;
        }
        if (key.size() <= kTimeKeySize || !decode_alert(std::string_view(it->value().data(), it->value().size()), view)) {
          // Unreadable: not ours to judge here (socd audit verify names it); it ends a run.
          if (Status st = flush_run(t, b); !st.ok()) return st;
          continue;
        }
        const int level = std::clamp(view.system_level, 0, 5);
        const int64_t time_ms = time_from_key(key);
        if (time_ms >= cutoff[level]) {
          if (Status st = flush_run(t, b); !st.ok()) return st;
          continue;
        }
        fill_alert(key, view, alert);
        if (owed_to_layer4(key, alert)) {
          ++b.kept_by_level[level];
          if (Status st = flush_run(t, b); !st.ok()) return st;
          continue;
        }
        b.run.emplace_back(key);
        rocksdb::Status s = b.batch.Delete(t.alert_ids, alert.id);
        if (!s.ok()) return rocks_failure(t.dir, "cannot add a deletion to the write batch", s);
        ++b.removed;
        ++b.by_level[level];
      }
      if (!it->status().ok()) return rocks_failure(t.dir, "cannot read the alerts", it->status());
    }
    if (Status st = flush_run(t, b); !st.ok()) return st;
    uint64_t kept = 0;
    for (uint64_t k : b.kept_by_level) kept += k;
    if (b.removed > 0 || kept > 0) {
      t.ledger->begin();
      auto fail = [&](Status st) -> Expected<RetentionResult> {
        t.ledger->failed();
        return st;
      };
      for (int level = 0; level < 6; ++level) {
        if (b.by_level[level] == 0 && b.kept_by_level[level] == 0) continue;
        // The payload starts "before <ms>": verify accepts the absence of chained alerts older than that.
        const std::string payload = "before " + std::to_string(cutoff[level]) + "\tlevel " + std::to_string(level) +
                                    "\tremoved " + std::to_string(b.by_level[level]) + "\tkept_for_layer4 " +
                                    std::to_string(b.kept_by_level[level]);
        if (Status st = t.ledger->add_record(ChainKind::Retention, "level " + std::to_string(level), payload, b.batch);
            !st.ok())
          return fail(st);
      }
      const uint64_t new_count = t.count->load() >= b.removed ? t.count->load() - b.removed : 0;
      if (b.removed > 0) {
        std::string value;
        put_fixed64(value, new_count);
        rocksdb::Status s = b.batch.Put(t.defaults, std::string(kAlertCountKey), value);
        if (!s.ok()) return fail(rocks_failure(t.dir, "cannot add the alert count to the write batch", s));
      }
      rocksdb::WriteOptions wo;
      wo.sync = t.sync;
      rocksdb::Status s = t.db->Write(wo, &b.batch);
      if (!s.ok()) return fail(rocks_failure(t.dir, "cannot write the removals (nothing of them was removed)", s));
      t.ledger->written();
      t.count->store(new_count);
      if (!b.first_key.empty()) {
        // The space back: compact the span the range deletions cover.
        std::string end = b.last_key;
        end.push_back('\0');
        rocksdb::Slice begin_slice(b.first_key), end_slice(end);
        rocksdb::CompactRangeOptions co;
        rocksdb::Status c = t.db->CompactRange(co, t.alerts, &begin_slice, &end_slice);
        if (!c.ok()) return rocks_failure(t.dir, "cannot compact the removed span", c);
      }
    }
    result.removed += b.removed;
    result.kept_for_layer4 += kept;
    result.ranges += b.ranges;
    for (int level = 0; level < 6; ++level) result.removed_by_level[level] += b.by_level[level];
    if (!more) break;
  }
  return result;
}

}  // namespace store
}  // namespace socd
