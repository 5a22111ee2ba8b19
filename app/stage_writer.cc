#include "stage_writer.h"

#include <cstdio>

namespace socd {
namespace {

void add(StageCounters& to, const StageCounters& c) {
  to.hits += c.hits;
  to.passed += c.passed;
  to.suppressed += c.suppressed;
  to.consumed += c.consumed;
  to.correlations += c.correlations;
  to.summaries += c.summaries;
  to.late += c.late;
  to.late_unapplied += c.late_unapplied;
  to.missing_fields += c.missing_fields;
  to.evicted += c.evicted;
  to.entries_dropped += c.entries_dropped;
  to.restored_groups += c.restored_groups;
  to.restore_dropped += c.restore_dropped;
  to.sagan_unmet += c.sagan_unmet;
  to.sagan_pending += c.sagan_pending;
  to.bits_set += c.bits_set;
  to.bits_unset += c.bits_unset;
  to.sagan_normalized += c.sagan_normalized;
  to.sagan_not_normalized += c.sagan_not_normalized;
}

StoredAlert to_stored(StageAlert&& a, StageAlertAnnotator* annotator) {
  AlertPlacement placement;
  if (annotator) annotator->annotate(a, &placement);
  StoredAlert s;
  if (placement.system) {
    s.system = placement.system->name;
    s.system_level = placement.system->level;
  }
  s.layers = placement.layers;
  s.id = std::move(a.id);
  s.time_ms = a.time_ms;
  s.rule_id = std::move(a.rule_id);
  s.level = std::move(a.level);
  s.host = std::move(a.host);
  s.json = std::move(a.json);
  return s;
}

}  // namespace

StageWriter::StageWriter(AlertStore& store, std::shared_ptr<const StatefulRules> rules)
    : store_(store),
      stage_(std::make_unique<StatefulStage>(std::move(rules))),
      saved_at_(std::chrono::steady_clock::now()) {}

void StageWriter::restore() {
  auto saved = store_.state(kStateKey);
  if (!saved.ok()) {
    std::fprintf(stderr, "socd run: %s; correlation windows and thresholds start empty\n",
                 saved.error().message().c_str());
  } else if (saved->has_value()) {
    Status st = stage_->restore(**saved);
    if (!st.ok()) std::fprintf(stderr, "socd run: %s\n", st.message().c_str());
  }
  saved_version_ = stage_->version();
  saved_at_ = std::chrono::steady_clock::now();
  std::lock_guard lk(mu_);
  counters_ = stage_->counters();
}

void StageWriter::apply(const std::shared_ptr<const StatefulRules>& rules, std::vector<StoredAlert>& alerts,
                        std::vector<AlertHit>& hits, int64_t last_event_ms, const Enrichment* enrichment) {
  if (rules && rules != stage_->shared_rules()) {
    // A reload: the new stage takes over the groups of the correlations and policies that did not change.
    StageCounters before = stage_->counters();
    std::string snapshot = stage_->snapshot();
    auto next = std::make_unique<StatefulStage>(rules);
    Status st = next->restore(snapshot);
    if (!st.ok()) std::fprintf(stderr, "socd run: reload: %s\n", st.message().c_str());
    stage_ = std::move(next);
    add(retired_, before);
  }
  StageAlertAnnotator* annotator = nullptr;
  if (enrichment && (enrichment->assets || enrichment->routing)) {
    if (!annotator_ || !annotator_->serves(*enrichment, &stage_->rules()))
      annotator_ = std::make_unique<StageAlertAnnotator>(*enrichment, stage_->shared_rules());
    annotator = annotator_.get();
  }
  if (stage_->rules().active()) {
    merged_.clear();
    size_t next_hit = 0;
    for (size_t i = 0; i < alerts.size(); ++i) {
      generated_.clear();
      bool pass = true;
      if (next_hit < hits.size() && hits[next_hit].alert == i)
        pass = stage_->observe(hits[next_hit++].hit, generated_) == StatefulStage::Verdict::Pass;
      if (pass) merged_.push_back(std::move(alerts[i]));
      for (auto& g : generated_) merged_.push_back(to_stored(std::move(g), annotator));
    }
    if (last_event_ms != -1) {
      generated_.clear();
      stage_->advance(last_event_ms, generated_);
      for (auto& g : generated_) merged_.push_back(to_stored(std::move(g), annotator));
    }
    alerts.swap(merged_);
  }
  StageCounters now = retired_;
  add(now, stage_->counters());
  std::lock_guard lk(mu_);
  counters_ = now;
}

void StageWriter::prepare(std::vector<std::pair<std::string, std::string>>& checkpoints,
                          const std::vector<std::string>& anchors,
                          std::vector<std::pair<std::string, std::string>>& state, bool final) {
  prepared_state_ = false;
  const uint64_t version = stage_->version();
  std::lock_guard lk(mu_);
  auto give_back_held = [&] {
    checkpoints.assign(held_.begin(), held_.end());
    held_.clear();
    for (const auto& c : checkpoints) written_keys_.insert(c.first);
  };
  if (!stage_->rules().active() || version == saved_version_) {
    // Nothing unsaved: whatever was held back goes now, with the checkpoints of this write (newer ones win).
    for (const auto& c : checkpoints) written_keys_.insert(c.first);
    if (held_.empty()) return;
    for (auto& [key, value] : checkpoints) held_[key] = std::move(value);
    give_back_held();
    return;
  }
  // Anchors of keys neither written nor held yet (a stream new in this run), taken before this write's
  // checkpoints join the held ones. Either the anchor or, when the state is saved now, the checkpoint itself
  // is written for such a key in this write.
  std::vector<std::pair<std::string, std::string>> anchored;
  for (size_t i = 0; i < checkpoints.size() && i < anchors.size(); ++i) {
    const std::string& key = checkpoints[i].first;
    if (!anchors[i].empty() && !held_.count(key) && written_keys_.insert(key).second)
      anchored.emplace_back(key, anchors[i]);
  }
  for (auto& [key, value] : checkpoints) held_[key] = std::move(value);
  checkpoints.clear();
  const auto interval = std::chrono::milliseconds(stage_->rules().settings().checkpoint_interval_ms);
  if (!final && std::chrono::steady_clock::now() - saved_at_ < interval) {
    checkpoints = std::move(anchored);
    return;
  }
  state.emplace_back(kStateKey, stage_->snapshot());
  prepared_state_ = true;
  prepared_version_ = version;
  give_back_held();
}

void StageWriter::written() {
  if (!prepared_state_) return;
  saved_version_ = prepared_version_;
  saved_at_ = std::chrono::steady_clock::now();
  prepared_state_ = false;
}

std::optional<std::string> StageWriter::held_checkpoint(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = held_.find(key);
  if (it == held_.end()) return std::nullopt;
  return it->second;
}

StageCounters StageWriter::counters() const {
  std::lock_guard lk(mu_);
  return counters_;
}

}  // namespace socd
