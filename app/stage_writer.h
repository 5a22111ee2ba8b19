// The stateful detection stage in the service's store writer (pipeline.cc): it runs on each batch's alerts in
// push order, and keeps its saved state consistent with the source checkpoints.
//
// The state is saved in the store's `state` family in the same atomic write as checkpoints. While the state
// has changed since it was last saved, the checkpoints of the batches it has seen are held back (alerts are
// still stored at once); at most every `checkpoint_interval` (and when the pipeline stops) the state is saved
// together with the checkpoints held back. After a crash the sources resume where the saved state was taken,
// the events since are read again, and the windows they fill are rebuilt; every alert id is stable, so
// nothing is stored twice.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "socd/alert_store.h"
#include "socd/enrichment.h"
#include "socd/stateful.h"

namespace socd {

// What a worker hands over for one alert of a rule the stage cares about.
struct AlertHit {
  size_t alert = 0;  // index in the batch's alerts
  StageHit hit;
};

class StageWriter {
public:
  StageWriter(AlertStore& store, std::shared_ptr<const StatefulRules> rules);

  // Takes over the state saved in the store (at start). A state that cannot be read is reported and not used.
  void restore();
  // One batch, in push order: `alerts` loses what the stage held back and gains what it made, in order.
  // `rules` are the batch's own (a reload may switch them: the state of unchanged correlations carries over).
  // With `enrichment` (the batch's inventory and routing), the alerts the stage makes carry their asset and
  // routing like single-event alerts (StageAlertAnnotator).
  void apply(const std::shared_ptr<const StatefulRules>& rules, std::vector<StoredAlert>& alerts,
             std::vector<AlertHit>& hits, int64_t last_event_ms, const Enrichment* enrichment = nullptr);
  // Before a write: takes the write's checkpoints and gives back those that may be written now, with the
  // state entry to write beside them when one is due (`final`: the last write before stopping). `anchors` are
  // the batches' checkpoint anchors (SourceBatch::checkpoint_anchor, same order, empty where none): while the
  // checkpoints are held back, the anchor of a key stored for the first time in this run is written instead,
  // so a stream that is new since the start is known after a crash (and its lines keep their alert ids).
  void prepare(std::vector<std::pair<std::string, std::string>>& checkpoints,
               const std::vector<std::string>& anchors, std::vector<std::pair<std::string, std::string>>& state,
               bool final);
  // After that write succeeded.
  void written();
  // A checkpoint held back under `key` (newer than the stored one), for a source that asks.
  std::optional<std::string> held_checkpoint(const std::string& key) const;
  StageCounters counters() const;

  static constexpr const char* kStateKey = "stateful";

private:
  AlertStore& store_;
  std::unique_ptr<StatefulStage> stage_;
  std::vector<StageAlert> generated_;
  std::unique_ptr<StageAlertAnnotator> annotator_;  // for the current rules and enrichment
  std::vector<StoredAlert> merged_;
  mutable std::mutex mu_;  // held_, counters_ (read by other threads)
  std::map<std::string, std::string> held_;
  std::set<std::string> written_keys_;  // keys whose checkpoint or anchor was written in this run
  StageCounters counters_;
  StageCounters retired_;  // counted by the stages of earlier rule sets
  uint64_t saved_version_ = 0, prepared_version_ = 0;
  bool prepared_state_ = false;
  std::chrono::steady_clock::time_point saved_at_;
};

}  // namespace socd
