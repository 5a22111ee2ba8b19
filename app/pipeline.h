// The streaming pipeline behind `socd run`: sources push batches of lines (or the workers read them, from input
// that is all there: pull()); worker threads take whole batches through parse -> match -> alerts; one writer
// stores each batch's alerts and its source checkpoint in one RocksDB write, strictly in the order the batches
// were pushed, so a checkpoint never runs ahead of the alerts before it.
//
// Bounded: at most `capacity` batches are in flight between push and store (a batch a worker has read joins
// even when a pushing source filled the window meanwhile: at most one more). A source that can wait
// (file, TCP) blocks in push() (back-pressure); one that can't (UDP) gets `false` and counts the loss. Nothing is
// dropped here.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "socd/alert.h"
#include "socd/alert_store.h"
#include "socd/enrichment.h"
#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/source.h"
#include "socd/stateful.h"

namespace socd {

struct PipelineOptions {
  unsigned workers = 2;
  size_t capacity = 0;  // batches in flight; 0: 4 per worker
  InputFormat format = InputFormat::Auto;
  // Time per stage (stage_times()): each worker times its whole batch and, on one event in 32 of those it
  // processes (counted across batches, so small batches are not sampled more), how that event's time splits
  // into parse, match (the prefilter), evaluation of the candidate rules and alert building; the batch time is
  // shared out in those proportions (a batch without a sampled event, in the worker's proportions so far).
  bool stage_timing = false;
  // Time per rule (rule_times()): on the same sampled events (one in 32), each rule evaluated is timed
  // (Matcher::match_timed). Off, the hot path is unchanged.
  bool rule_timing = false;
  // Limits on each line (socd/json_parser.h): a line over one is counted and set aside as a dead letter.
  ParseLimits parse_limits;
  // Lines that did not become events are kept in the store's dead letters (socd/input_dead_letters.h), their
  // first `dead_letter_bytes` bytes; false: only counted.
  bool dead_letters = true;
  size_t dead_letter_bytes = 4096;
  // Per-source rate, lines a second (token bucket holding `source_burst` lines, default one second's worth);
  // 0: no limit. Over it, a source that can wait (file, TCP, stdin) waits (back-pressure); UDP drops and counts.
  double source_rate = 0, source_burst = 0;
};

// The evaluation time of one rule, from the sampled events scaled up to all (see PipelineOptions::rule_timing).
struct RuleTime {
  std::string rule;
  double seconds = 0;        // estimated over every event: the sampled time x the sampling interval
  uint64_t evaluations = 0;  // evaluations timed (on sampled events)
};

// Cumulative seconds per stage, summed over threads (see PipelineOptions::stage_timing; stateful and store are
// always measured, per write).
// match: the prefilter (the Hyperscan scans picking the candidate rules); evaluate: the candidates' conditions
// (and the rules without a prefilter), regular expressions included; alerts: rendering and enrichment.
struct StageTimes {
  double parse = 0, match = 0, evaluate = 0, alerts = 0, stateful = 0, store = 0;
};

// Per-source counters of what the pipeline did with a source's lines.
struct SourceTally {
  std::string name;
  const SourceCounters* counters = nullptr;  // the source's own (bytes, lines, dropped ...)
  std::atomic<uint64_t> events{0}, malformed{0}, alerts{0};
  // Limits hit by its lines (counted per line): nesting depth, fields per event, regex evaluations that gave
  // up at the match limit, lines over the source's rate (waited for, or dropped by UDP).
  std::atomic<uint64_t> json_depth{0}, event_fields{0}, regex_match{0}, rate_limited{0};
  std::atomic<uint64_t> invalid_utf8{0};  // text lines kept with bytes that are not UTF-8
  std::atomic<uint64_t> dead_letters{0};  // set aside in the store's dead letters
};

class StageWriter;

class Pipeline : public BatchSink {
public:
  // With `stateful` (correlations and thresholds over `rules`), the writer runs the stateful stage on the
  // batches in push order and saves its state with the checkpoints (stage_writer.h). With `enrichment`,
  // alerts carry their asset and routing, and the intelligence lists raise alerts of their own
  // (socd/enrichment.h; the rule set must have been compiled with its extra_fields()).
  Pipeline(AlertStore& store, std::shared_ptr<const RuleSet> rules, PipelineOptions options,
           std::shared_ptr<const StatefulRules> stateful = nullptr, Enrichment enrichment = {});
  ~Pipeline() override;

  // Registers a source (before it starts) for its counters; returns its index. Start the source with
  // sink(index): it marks every batch of the source as the source's own, so its events, malformed lines and alerts
  // are counted under its name (a batch pushed straight into the pipeline, with no source registered under its
  // index, is counted apart, under "pipeline", and not listed by sources()).
  uint32_t add_source(const Source& source);
  BatchSink& sink(uint32_t index);
  // Renames a started source: a listener on port 0 knows its port only once started, and its metrics must name
  // the port it listens on. Call before metrics are served.
  void rename_source(uint32_t index, std::string name);
  void start();
  // Waits until every batch pushed so far is stored, then stops the threads. Sources must be stopped first.
  void drain();

  bool push(std::unique_ptr<SourceBatch> batch, bool may_block) override;
  // Sources waiting for their rate go on at once from now (call before stopping the sources, so none waits).
  void stop_waiting();
  std::optional<std::string> checkpoint(const std::string& key) override;

  // Swaps in a new rule set: batches taken by a worker after the swap use it; none is lost or processed twice.
  // The stateful stage carries over the windows of the correlations and thresholds that did not change. The
  // enrichment (inventory, lists, routing) is swapped with it.
  void swap_rules(std::shared_ptr<const RuleSet> rules,
                  std::shared_ptr<const StatefulRules> stateful = nullptr, Enrichment enrichment = {});
  std::shared_ptr<const RuleSet> rules() const;
  uint64_t rules_generation() const { return generation_.load(); }

  // Counters for metrics and tests.
  const std::deque<SourceTally>& sources() const { return sources_; }
  size_t in_flight() const { return in_flight_.load(); }
  size_t capacity() const { return capacity_; }
  uint64_t alerts_stored() const { return alerts_stored_.load(); }
  uint64_t batches_stored() const { return batches_stored_.load(); }
  // Cumulative store write time and count (for a latency figure) and the last store error, if any.
  double store_seconds() const { return store_nanos_.load() / 1e9; }
  uint64_t store_writes() const { return store_writes_.load(); }
  StageTimes stage_times() const;
  // Seconds the workers spent waiting for a batch (summed over workers) and the sources waiting for room in
  // the pipeline: where a run's time went when it is not spent working.
  double workers_idle_seconds() const { return idle_nanos_.load() / 1e9; }
  double sources_blocked_seconds() const { return blocked_nanos_.load() / 1e9; }
  // Matches per rule id since start (all generations).
  std::vector<std::pair<std::string, uint64_t>> rule_matches() const;
  // Evaluation time per rule id since start (PipelineOptions::rule_timing), unsorted; empty when off.
  std::vector<RuleTime> rule_times() const;
  static constexpr uint64_t kSampleEvery = 32;  // the events timed by stage_timing and rule_timing: 1 in this
  // Latencies from read (push, before any wait for room) to stored, in seconds, of the batches stored since the
  // last call (for percentiles).
  std::vector<double> take_latencies();
  bool failed() const { return failed_.load(); }
  // What the stateful stage did since start (zero without one).
  StageCounters stage_counters() const;

  struct Rules;  // a rule set with its alert writer (internal)

private:
  struct Job;
  void work();
  void write();
  void process(Job& job, Rules& rules, struct WorkerState& ws);
  // sink(index).pull(input): the workers read `input` one batch at a time, each batch by the worker that then
  // processes it, until its next() returns null; pulled and pushed sources mix. False (nothing registered) once
  // the pipeline is stopping. withdraw: once it returns, no worker reads `input`.
  bool pull(uint32_t index, PulledInput& input);
  void withdraw(PulledInput& input);
  Job* read_pulled(uint32_t index, PulledInput& input, struct WorkerState& ws);

  AlertStore& store_;
  PipelineOptions options_;
  size_t capacity_;
  size_t resume_at_;  // a source blocked on a full window resumes once it holds this many batches or fewer
  std::string run_nonce_;

  std::shared_ptr<Rules> rules_;  // guarded by rules_mu_
  mutable std::mutex rules_mu_;
  std::atomic<uint64_t> generation_{1};

  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_, space_cv_;
  std::deque<Job*> todo_;
  std::deque<std::unique_ptr<Job>> window_;  // pushed, not yet stored, in push order
  // Inputs the workers read (pull()), in turn; `reading_` is being read, by one worker at a time.
  std::deque<std::pair<uint32_t, PulledInput*>> pulled_;
  PulledInput* reading_ = nullptr;
  std::vector<PulledInput*> withdrawn_;  // being taken back (withdraw())
  uint64_t next_sequence_ = 0;
  unsigned blocked_sources_ = 0;  // sources waiting in push() for room
  bool stopping_ = false;
  std::atomic<size_t> in_flight_{0};

  // The sink each source pushes into: the pipeline itself, with the source's index set on each batch.
  class SourceSink : public BatchSink {
  public:
    SourceSink(Pipeline& pipeline, uint32_t index) : pipeline_(pipeline), index_(index) {}
    bool push(std::unique_ptr<SourceBatch> batch, bool may_block) override;
    std::optional<std::string> checkpoint(const std::string& key) override { return pipeline_.checkpoint(key); }
    // (Not with a rate limit per source: that is kept on push().)
    bool pull(PulledInput& input) override {
      return pipeline_.options_.source_rate <= 0 && pipeline_.pull(index_, input);
    }
    void withdraw(PulledInput& input) override { pipeline_.withdraw(input); }

  private:
    Pipeline& pipeline_;
    uint32_t index_;
    // The source's token bucket (PipelineOptions::source_rate).
    std::mutex bucket_mu_;
    double tokens_ = -1;  // < 0 before the first batch: starts full
    std::chrono::steady_clock::time_point refilled_{};
    std::chrono::steady_clock::time_point last_said_{};
  };
  std::atomic<bool> stop_waiting_{false};
  void say_limit(const std::string& text);  // a limit message on stderr, rate-limited
  std::mutex say_mu_;
  std::chrono::steady_clock::time_point say_window_{};
  int said_ = 0;
  uint64_t unsaid_ = 0;

  std::deque<SourceTally> sources_;
  SourceTally unregistered_{"pipeline"};  // batches of no registered source (pushed straight in)
  std::string source_name(uint32_t index) const;
  std::deque<SourceSink> sinks_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> alerts_stored_{0}, batches_stored_{0}, store_nanos_{0}, store_writes_{0};
  std::atomic<uint64_t> idle_nanos_{0}, blocked_nanos_{0};
  std::atomic<uint64_t> parse_nanos_{0}, match_nanos_{0}, evaluate_nanos_{0}, alerts_nanos_{0}, stateful_nanos_{0};
  std::atomic<bool> failed_{false};

  mutable std::mutex stats_mu_;
  std::unordered_map<std::string, uint64_t> rule_matches_;
  std::unordered_map<std::string, std::pair<uint64_t, uint64_t>> rule_costs_;  // rule id -> (nanos, evaluations)
  std::vector<double> latencies_;

  std::unique_ptr<StageWriter> stage_;  // the stateful stage; used by the writer thread only
};

}  // namespace socd
