#include "pipeline.h"

#include <simdjson.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "socd/input_dead_letters.h"
#include "socd/ledger.h"
#include "socd/thread_name.h"
#include "stage_writer.h"

namespace socd {

// A rule set with what each worker needs beside it.
struct Pipeline::Rules {
  std::shared_ptr<const RuleSet> set;
  AlertWriter writer;
  uint64_t generation;
  std::shared_ptr<const StatefulRules> stateful;  // null, or correlations and thresholds over `set`
  Enrichment enrichment;                          // inventory, intelligence lists, routing (each optional)
  Rules(std::shared_ptr<const RuleSet> s, uint64_t g, std::shared_ptr<const StatefulRules> st, Enrichment e)
      : set(s), writer(s), generation(g), stateful(std::move(st)), enrichment(std::move(e)) {}
};

struct Pipeline::Job {
  std::unique_ptr<SourceBatch> batch;
  std::vector<StoredAlert> alerts;
  std::shared_ptr<Rules> rules;  // the rule set the batch was matched with
  std::vector<AlertHit> hits;    // the alerts the stateful stage decides about
  int64_t last_event_ms = -1;    // the time of the batch's last event, for the stateful stage's clock
  std::vector<std::pair<std::string, uint32_t>> matches;  // (rule id, count) for metrics
  std::vector<std::tuple<uint32_t, uint64_t, uint64_t>> rule_costs;  // (rule, nanos, evaluations), rule_timing
  uint64_t events = 0, malformed = 0;
  uint64_t json_depth = 0, event_fields = 0, regex_match = 0;  // limits hit
  uint64_t invalid_utf8 = 0;  // text lines kept with bytes that are not UTF-8
  std::vector<InputDeadLetter> dead;  // lines set aside, for the writer to store
  // When the source had read the batch (before any wait for room in the window): its latency runs from there to
  // the return of the store write that holds its alerts and checkpoint.
  std::chrono::steady_clock::time_point pushed;
  bool done = false;
};

struct WorkerState {
  std::shared_ptr<Pipeline::Rules> rules;
  std::unique_ptr<Event> event;
  std::unique_ptr<Matcher> matcher;
  EventParser parser;
  std::vector<uint32_t> matched;
  std::string json, position, peer_ip;
  std::unique_ptr<AlertAnnotator> annotator;  // asset, routing and intelligence, for the current rules
  std::vector<IntelHit> intel_hits;
  std::string extra;
  LineBatch pulled_lines;  // the memory of the last batch this worker read (Pipeline::pull), for the next
  Matcher::RuleCosts rule_costs;  // rule_timing: the sampled events' time per rule, emptied per batch
  // Events seen by this worker, for sampling one in kSampleEvery whatever the size of the batches, and the
  // sampled time per stage so far (the proportions a batch without a sampled event is shared out in).
  uint64_t seen = 0;
  uint64_t sampled_parse = 0, sampled_match = 0, sampled_evaluate = 0, sampled_alerts = 0;
  uint64_t regex_limit_hits = 0;  // the matcher's count of regex give-ups as of the last event
  WorkerState(InputFormat f, const ParseLimits& limits) : parser(f, limits) {}
};

Pipeline::Pipeline(AlertStore& store, std::shared_ptr<const RuleSet> rules, PipelineOptions options,
                   std::shared_ptr<const StatefulRules> stateful, Enrichment enrichment)
    : store_(store), options_(options) {
  if (options_.workers < 1) options_.workers = 1;
  capacity_ = options_.capacity ? options_.capacity : 4 * options_.workers;
  resume_at_ = capacity_ / 2;
  if (stateful) stage_ = std::make_unique<StageWriter>(store_, stateful);
  rules_ = std::make_shared<Rules>(std::move(rules), 1, std::move(stateful), std::move(enrichment));
  // Positions of network messages restart with the process: this nonce keeps their alert ids apart.
  run_nonce_ = std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "." +
               std::to_string(::getpid());
}

Pipeline::~Pipeline() { drain(); }

uint32_t Pipeline::add_source(const Source& source) {
  sources_.emplace_back();
  sources_.back().name = source.name();
  sources_.back().counters = &source.counters();
  auto index = static_cast<uint32_t>(sources_.size() - 1);
  sinks_.emplace_back(*this, index);
  return index;
}

BatchSink& Pipeline::sink(uint32_t index) { return sinks_.at(index); }

void Pipeline::rename_source(uint32_t index, std::string name) { sources_.at(index).name = std::move(name); }

std::string Pipeline::source_name(uint32_t index) const {
  return index < sources_.size() ? sources_[index].name : unregistered_.name;
}

void Pipeline::start() {
  if (stage_) stage_->restore();
  for (unsigned i = 0; i < options_.workers; ++i)
    threads_.emplace_back([this, i] {
      name_this_thread("socd-worker-" + std::to_string(i + 1));
      work();
    });
  threads_.emplace_back([this] {
    name_this_thread("socd-store");
    write();
  });
}

void Pipeline::swap_rules(std::shared_ptr<const RuleSet> rules,
                          std::shared_ptr<const StatefulRules> stateful, Enrichment enrichment) {
  uint64_t g = generation_.fetch_add(1) + 1;
  auto r = std::make_shared<Rules>(std::move(rules), g, std::move(stateful), std::move(enrichment));
  std::lock_guard lk(rules_mu_);
  rules_ = std::move(r);
}

std::shared_ptr<const RuleSet> Pipeline::rules() const {
  std::lock_guard lk(rules_mu_);
  return rules_->set;
}

bool Pipeline::push(std::unique_ptr<SourceBatch> batch, bool may_block) {
  auto job = std::make_unique<Job>();
  job->batch = std::move(batch);
  job->pushed = std::chrono::steady_clock::now();  // read: its latency includes any wait for room below
  std::unique_lock lk(mu_);
  if (may_block && !stopping_ && window_.size() >= capacity_) {
    // A full pipeline: wait until it has drained to half, so that the source then pushes several batches in a
    // row instead of waking (and taking a core from a worker) for each batch stored.
    auto t0 = std::chrono::steady_clock::now();
    ++blocked_sources_;
    space_cv_.wait(lk, [&] { return stopping_ || window_.size() <= resume_at_; });
    --blocked_sources_;
    blocked_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
                          .count();
  }
  if (stopping_ || window_.size() >= capacity_) return false;
  job->batch->lines.sequence = next_sequence_++;
  todo_.push_back(job.get());
  window_.push_back(std::move(job));
  in_flight_.store(window_.size());
  lk.unlock();
  work_cv_.notify_one();
  return true;
}

std::optional<std::string> Pipeline::checkpoint(const std::string& key) {
  if (stage_)
    if (auto held = stage_->held_checkpoint(key)) return held;  // newer than the stored one
  auto r = store_.checkpoint(key);
  if (!r.ok()) return std::nullopt;
  return *r;
}

bool Pipeline::pull(uint32_t index, PulledInput& input) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    pulled_.emplace_back(index, &input);
  }
  work_cv_.notify_one();
  return true;
}

void Pipeline::withdraw(PulledInput& input) {
  std::unique_lock lk(mu_);
  pulled_.erase(std::remove_if(pulled_.begin(), pulled_.end(), [&](const auto& p) { return p.second == &input; }),
                pulled_.end());
  withdrawn_.push_back(&input);  // a read in progress does not put it back in turn
  done_cv_.wait(lk, [&] { return reading_ != &input; });
  withdrawn_.erase(std::find(withdrawn_.begin(), withdrawn_.end(), &input));
}

Pipeline::Job* Pipeline::read_pulled(uint32_t index, PulledInput& input, WorkerState& ws) {
  ws.pulled_lines.clear();
  std::unique_ptr<SourceBatch> batch = input.next(ws.pulled_lines);
  Job* job = nullptr;
  bool withdrawing;
  {
    std::lock_guard lk(mu_);
    reading_ = nullptr;
    withdrawing = std::find(withdrawn_.begin(), withdrawn_.end(), &input) != withdrawn_.end();
    if (batch) {
      // Its next batch, for whichever worker is free first (this one, read, is stored even when withdrawn).
      if (!withdrawing) pulled_.emplace_back(index, &input);
      batch->source = index;
      batch->lines.sequence = next_sequence_++;
      auto j = std::make_unique<Job>();
      j->batch = std::move(batch);
      j->pushed = std::chrono::steady_clock::now();
      job = j.get();
      window_.push_back(std::move(j));
      in_flight_.store(window_.size());
    }
  }
  work_cv_.notify_one();  // the next read, while this batch is processed
  if (!job || withdrawing) done_cv_.notify_all();  // drain() and withdraw() wait for reads in progress
  return job;
}

void Pipeline::work() {
  WorkerState ws(options_.format, options_.parse_limits);
  for (;;) {
    Job* job = nullptr;
    std::pair<uint32_t, PulledInput*> pull{0, nullptr};
    {
      std::unique_lock lk(mu_);
      // A worker reads the next batch of a pulled input when it has nothing pushed to do and the window has room;
      // while a pushing source waits for room, only below the mark it waits for, so that it gets its turn.
      auto can_pull = [&] {
        return !stopping_ && !reading_ && !pulled_.empty() &&
               window_.size() < (blocked_sources_ > 0 ? resume_at_ : capacity_);
      };
      if (!stopping_ && todo_.empty() && !can_pull()) {
        auto t0 = std::chrono::steady_clock::now();
        work_cv_.wait(lk, [&] { return stopping_ || !todo_.empty() || can_pull(); });
        idle_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
                           .count();
      }
      if (!todo_.empty()) {
        job = todo_.front();
        todo_.pop_front();
      } else if (can_pull()) {
        pull = pulled_.front();
        pulled_.pop_front();
        reading_ = pull.second;
      } else {
        return;  // stopping, with nothing left to do
      }
    }
    if (pull.second) {
      job = read_pulled(pull.first, *pull.second, ws);
      if (!job) continue;  // that input has ended
    }
    std::shared_ptr<Rules> rules;
    {
      std::lock_guard lk(rules_mu_);
      rules = rules_;
    }
    if (ws.rules != rules) {  // a new rule set: a matcher and an event layout for it
      ws.rules = rules;
      ws.matcher = std::make_unique<Matcher>(rules->set);
      ws.rule_costs = {};
      ws.regex_limit_hits = 0;
      ws.event = std::make_unique<Event>(&rules->set->paths());
      ws.annotator = std::make_unique<AlertAnnotator>(rules->enrichment, rules->set);
    }
    job->rules = rules;
    process(*job, *rules, ws);
    // A batch this worker read: its lines are done with (alerts and dead letters hold copies), and their memory,
    // in this core's cache, takes the worker's next read.
    if (pull.second) ws.pulled_lines = std::move(job->batch->lines);
    bool front;  // the writer waits for the window's front: only its completion can let it go on
    {
      std::lock_guard lk(mu_);
      job->done = true;
      front = window_.front().get() == job;
    }
    if (front) done_cv_.notify_all();
  }
}

void Pipeline::process(Job& job, Rules& rules, WorkerState& ws) {
  const SourceBatch& sb = *job.batch;
  const LineBatch& lb = sb.lines;
  const std::string& stream = sb.stream.empty() ? run_nonce_ : sb.stream;
  Event& ev = *ws.event;
  std::unordered_map<uint32_t, uint32_t> counts;
  const Line* last_parsed = nullptr;  // the batch's last line, once it parsed
  using Clock = std::chrono::steady_clock;
  const bool timing = options_.stage_timing, rule_timing = options_.rule_timing;
  Clock::time_point batch_start = timing ? Clock::now() : Clock::time_point(), t_parsed, t_prefiltered, t_matched;
  uint64_t sampled_parse = 0, sampled_match = 0, sampled_evaluate = 0, sampled_alerts = 0;
  bool sample = false;  // this event is timed (one in kSampleEvery of the worker's events)
  auto end_sample = [&] {  // the sampled event's alert building ends here
    if (!sample) return;
    sample = false;
    sampled_alerts += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t_matched).count();
  };
  // A line that did not become an event: counted, and kept (its first bytes) as a dead letter.
  auto set_aside = [&](const Line& l, const char* reason, std::string detail) {
    ++job.malformed;
    if (!options_.dead_letters) return;
    InputDeadLetter& d = job.dead.emplace_back();
    d.source = sb.source < sources_.size() ? sources_[sb.source].name : sb.origin;
    d.origin = l.peer ? std::string(lb.peer(l)) : sb.origin;
    d.reason = reason;
    d.detail = std::move(detail);
    d.line = l.number;
    d.position = l.position;
    d.length = l.full_length;
    d.data.assign(lb.text(l).substr(0, options_.dead_letter_bytes));
  };
  for (const Line& l : lb.lines) {
    end_sample();
    if (l.oversized) {
      set_aside(l, "line_bytes",
                "a line of " + std::to_string(l.full_length) + " bytes, over the limit (max-line-bytes for files "
                "and stdin, max-frame-bytes for syslog listeners)");
      continue;
    }
    sample = (timing || rule_timing) && (ws.seen++ % kSampleEvery == 0);
    Clock::time_point t_start = sample ? Clock::now() : Clock::time_point();
    Status st = ws.parser.parse(lb.text(l), ev);
    if (sample) {
      t_parsed = Clock::now();
      sampled_parse += std::chrono::duration_cast<std::chrono::nanoseconds>(t_parsed - t_start).count();
    }
    if (!st.ok()) {
      sample = false;
      const ParseFailure why = ws.parser.failure();
      if (why == ParseFailure::empty) {  // a blank line holds nothing to keep
        ++job.malformed;
        continue;
      }
      if (why == ParseFailure::depth) ++job.json_depth;
      if (why == ParseFailure::fields) ++job.event_fields;
      set_aside(l, why == ParseFailure::malformed ? "malformed" : parse_failure_name(why), st.message());
      continue;
    }
    ev.line = l.number;
    // A JSON line is valid UTF-8 once parsed (simdjson checks); a text line (syslog, access log) is kept whatever
    // its bytes -- legacy encodings are common in syslog -- but counted, its alerts showing each stray byte as
    // U+FFFD.
    if (std::string_view text = lb.text(l); (text.empty() || text.front() != '{') &&
                                            !simdjson::validate_utf8(text.data(), text.size()))
      ++job.invalid_utf8;
    std::string_view sender;
    if (l.peer) {  // the sender of a network message, as rsyslog names it
      std::string_view peer = lb.peer(l);
      size_t colon = peer.rfind(':');
      std::string_view ip = peer.substr(0, colon);
      if (ip.size() > 2 && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
      ev.add("fromhost-ip", ip, ValueType::String);
      sender = ip;
    }
    ++job.events;
    last_parsed = &l;
    ws.matched.clear();
    // A sampled event's match splits where the prefilter ends and the candidates' evaluation begins.
    if (sample && rule_timing)
      ws.matcher->match_timed(ev, ws.matched, ws.rule_costs, timing ? &t_prefiltered : nullptr);
    else if (sample) ws.matcher->match_split(ev, ws.matched, t_prefiltered);
    else ws.matcher->match(ev, ws.matched);
    if (uint64_t gave_up = ws.matcher->regex_limit_hits(); gave_up != ws.regex_limit_hits) {
      job.regex_match += gave_up - ws.regex_limit_hits;
      ws.regex_limit_hits = gave_up;
    }
    if (sample) {
      t_matched = Clock::now();
      if (timing) {
        sampled_match += std::chrono::duration_cast<std::chrono::nanoseconds>(t_prefiltered - t_parsed).count();
        sampled_evaluate += std::chrono::duration_cast<std::chrono::nanoseconds>(t_matched - t_prefiltered).count();
      }
    }
    AlertAnnotator& annotator = *ws.annotator;
    if (annotator.active()) annotator.start(ev, sb.origin, sender);
    AlertPlacement placement;
    // Asset and routing of one alert, into ws.extra and the stored alert's fields.
    auto place = [&](StoredAlert& a, const std::vector<std::string>& tags, const IntelHit* hit) {
      if (!annotator.active()) return;
      annotator.annotate(ws.extra, a.rule_id, a.level, tags, hit, &placement);
      if (placement.system) {
        a.system = placement.system->name;
        a.system_level = placement.system->level;
      }
      a.layers = placement.layers;
    };
    for (uint32_t r : ws.matched) {
      const Rule& rule = rules.set->rule(r);
      ws.position = stream + ":" + std::to_string(l.position);
      StoredAlert a;
      // A file's stream names its content whatever path it has now (a rotated file is renamed), so the id
      // must not depend on the path: re-reading after a restart then yields the same ids. Network messages
      // have no stream; their origin (the listener) and the run nonce keep them apart.
      a.id = alert_id(rule.id, sb.stream.empty() ? std::string_view(sb.origin) : std::string_view(), ws.position);
      ws.json.clear();
      a.rule_id = rule.id;
      a.level = rule.level;
      if (rules.stateful && rules.stateful->consumed(r)) {
        a.time_ms = -1;  // only feeds a correlation: not rendered
      } else {
        place(a, rule.tags, nullptr);
        rules.writer.append(ws.json, r, ev, sb.origin, a.id, &a.time_ms, ws.extra);
      }
      if (!ws.json.empty() && ws.json.back() == '\n') ws.json.pop_back();
      if (a.time_ms < 0)
        a.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      for (uint32_t f : rules.set->host_fields()) {
        uint32_t link = ev.first(f);
        if (link != Event::end) {
          a.host = std::string(ev.value(ev.link_value(link)));
          break;
        }
      }
      a.json = ws.json;
      if (rules.stateful && rules.stateful->needs(r)) {  // the stateful stage decides about this alert
        AlertHit& h = job.hits.emplace_back();
        h.alert = job.alerts.size();
        rules.stateful->extract(r, ev, a.time_ms, h.hit);
        h.hit.ref = a.id;
        h.hit.source = sb.origin;
        h.hit.line = l.number;
        h.hit.host = a.host;
      }
      job.alerts.push_back(std::move(a));
      ++counts[r];
    }
    if (annotator.has_intel()) {  // the alerts of the intelligence lists (no stateful stage for them)
      ws.intel_hits.clear();
      annotator.intel_hits(ev, ws.intel_hits);
      for (const IntelHit& hit : ws.intel_hits) {
        const IntelList& list = annotator.intel()->intel().lists()[hit.list];
        StoredAlert a;
        ws.position = stream + ":" + std::to_string(l.position) + "#" +
                      std::string(annotator.intel()->intel().indicator(hit.indicator));
        a.id = alert_id(list.rule_id, sb.stream.empty() ? std::string_view(sb.origin) : std::string_view(),
                        ws.position);
        a.rule_id = list.rule_id;
        a.level = list.level;
        place(a, list.tags, &hit);
        ws.json.clear();
        rules.writer.append_as(ws.json, list.rule_json, ev, sb.origin, a.id, &a.time_ms, ws.extra);
        if (!ws.json.empty() && ws.json.back() == '\n') ws.json.pop_back();
        if (a.time_ms < 0)
          a.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
        for (uint32_t f : rules.set->host_fields()) {
          uint32_t link = ev.first(f);
          if (link != Event::end) {
            a.host = std::string(ev.value(ev.link_value(link)));
            break;
          }
        }
        a.json = ws.json;
        job.alerts.push_back(std::move(a));
        job.matches.emplace_back(list.rule_id, 1);
      }
    }
  }
  end_sample();
  if (timing) {  // the batch's time shared out in the proportions of its sampled events
    uint64_t total = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - batch_start).count();
    if (sampled_parse + sampled_match + sampled_evaluate + sampled_alerts == 0) {  // the worker's proportions so far
      sampled_parse = ws.sampled_parse;
      sampled_match = ws.sampled_match;
      sampled_evaluate = ws.sampled_evaluate;
      sampled_alerts = ws.sampled_alerts;
    } else {
      ws.sampled_parse += sampled_parse;
      ws.sampled_match += sampled_match;
      ws.sampled_evaluate += sampled_evaluate;
      ws.sampled_alerts += sampled_alerts;
    }
    uint64_t sampled = sampled_parse + sampled_match + sampled_evaluate + sampled_alerts;
    if (sampled == 0) {
      parse_nanos_ += total;
    } else {
      double f = static_cast<double>(total) / sampled;
      parse_nanos_ += static_cast<uint64_t>(sampled_parse * f);
      match_nanos_ += static_cast<uint64_t>(sampled_match * f);
      evaluate_nanos_ += static_cast<uint64_t>(sampled_evaluate * f);
      alerts_nanos_ += static_cast<uint64_t>(sampled_alerts * f);
    }
  }
  if (rules.stateful && last_parsed && last_parsed == &lb.lines.back())  // the stage's clock: the batch's end
    job.last_event_ms = rules.stateful->event_time_ms(ev);
  for (auto [r, n] : counts) job.matches.emplace_back(rules.set->rule(r).id, n);
  if (rule_timing)
    for (uint32_t r = 0; r < ws.rule_costs.evaluations.size(); ++r)
      if (ws.rule_costs.evaluations[r]) {
        job.rule_costs.emplace_back(r, ws.rule_costs.nanos[r], ws.rule_costs.evaluations[r]);
        ws.rule_costs.nanos[r] = ws.rule_costs.evaluations[r] = 0;
      }
}

void Pipeline::write() {
  std::vector<std::unique_ptr<Job>> ready;
  std::vector<StoredAlert> alerts;
  std::vector<std::pair<std::string, std::string>> checkpoints, state;
  std::vector<std::string> anchors;  // beside `checkpoints`
  std::vector<InputDeadLetter> dead;
  for (;;) {
    ready.clear();
    {
      std::unique_lock lk(mu_);
      done_cv_.wait(lk, [&] { return (!window_.empty() && window_.front()->done) || (stopping_ && window_.empty()); });
      if (window_.empty()) break;
      // Every finished batch at the front of the window goes into one write.
      while (!window_.empty() && window_.front()->done) {
        ready.push_back(std::move(window_.front()));
        window_.pop_front();
      }
    }
    alerts.clear();
    checkpoints.clear();
    anchors.clear();
    state.clear();
    dead.clear();
    for (auto& j : ready)
      for (auto& d : j->dead) dead.push_back(std::move(d));
    auto t_stage = std::chrono::steady_clock::now();
    for (auto& j : ready) {
      // The stateful stage, in push order, before the batch's alerts are stored.
      if (stage_ && j->rules->stateful)
        stage_->apply(j->rules->stateful, j->alerts, j->hits, j->last_event_ms, &j->rules->enrichment);
      for (auto& a : j->alerts) alerts.push_back(std::move(a));
      if (!j->batch->checkpoint_key.empty()) {
        checkpoints.emplace_back(j->batch->checkpoint_key, j->batch->checkpoint_value);
        anchors.push_back(j->batch->checkpoint_anchor);
      }
    }
    if (Ledger* ledger = store_.ledger())  // each source's activity, for the report's silent sources
      for (auto& j : ready)
        if (j->batch->source < sources_.size())
          ledger->note_source_activity(sources_[j->batch->source].name, j->events);
    if (stage_) stage_->prepare(checkpoints, anchors, state, false);  // checkpoints wait for their state
    auto t0 = std::chrono::steady_clock::now();
    stateful_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(t0 - t_stage).count();
    size_t stored = 0;
    // A store without dead letters (tests' stores) gets the alerts alone; the lines stay counted as malformed.
    const bool keep_dead = !dead.empty() && store_.input_dead_letters() != nullptr;
    static const std::vector<InputDeadLetter> kNone;
    Status st = store_.commit_all(alerts, checkpoints, state, keep_dead ? dead : kNone, &stored);
    for (int attempt = 1; !st.ok() && attempt < 5; ++attempt) {
      std::fprintf(stderr, "socd run: storing alerts failed (%s); retrying\n", st.message().c_str());
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      st = store_.commit_all(alerts, checkpoints, state, keep_dead ? dead : kNone, &stored);
    }
    auto t1 = std::chrono::steady_clock::now();
    if (!st.ok()) {
      // Without the store nothing more can be promised: stop taking input, say so, and let `run` exit non-zero.
      std::fprintf(stderr, "socd run: cannot store alerts: %s; stopping\n", st.message().c_str());
      failed_.store(true);
      std::lock_guard lk(mu_);
      stopping_ = true;
      space_cv_.notify_all();
      work_cv_.notify_all();
      return;
    }
    if (stage_) stage_->written();
    store_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    ++store_writes_;
    alerts_stored_ += stored;
    {
      std::lock_guard lk(stats_mu_);
      for (auto& j : ready) {
        for (auto& [id, n] : j->matches) rule_matches_[id] += n;
        for (auto& [r, nanos, evaluations] : j->rule_costs) {
          auto& c = rule_costs_[j->rules->set->rule(r).id];
          c.first += nanos;
          c.second += evaluations;
        }
        latencies_.push_back(std::chrono::duration<double>(t1 - j->pushed).count());
        SourceTally& t = j->batch->source < sources_.size() ? sources_[j->batch->source] : unregistered_;
        t.events += j->events;
        t.malformed += j->malformed;
        t.alerts += j->alerts.size();
        t.json_depth += j->json_depth;
        t.event_fields += j->event_fields;
        t.regex_match += j->regex_match;
        t.invalid_utf8 += j->invalid_utf8;
        if (keep_dead) t.dead_letters += j->dead.size();  // moved from, still sized
      }
      if (latencies_.size() > 1000000) latencies_.erase(latencies_.begin(), latencies_.begin() + 500000);
    }
    // One clear line per kind of limit or malformed line, rate-limited: where, what, and the counter.
    for (const InputDeadLetter& d : dead) {
      say_limit(d.source + ": line " + std::to_string(d.line) + (d.origin.empty() ? "" : " from " + d.origin) +
                " set aside (" + d.reason + "): " + d.detail + (keep_dead ? "; see `socd deadletter list`" : ""));
    }
    for (auto& j : ready)
      if (j->invalid_utf8 > 0)
        say_limit(source_name(j->batch->source) + ": " + std::to_string(j->invalid_utf8) +
                  " line(s) hold bytes that are not UTF-8; kept as events, each such byte shown as U+FFFD in "
                  "their alerts (socd_limit_hits_total{limit=\"invalid_utf8\"})");
    for (auto& j : ready)
      if (j->regex_match > 0)
        say_limit(source_name(j->batch->source) + ": " + std::to_string(j->regex_match) +
                  " regex evaluation(s) gave up at the match limit (regex-match-limit; the value counted as not "
                  "matching; socd_limit_hits_total{limit=\"regex_match\"})");
    batches_stored_ += ready.size();
    for (auto& j : ready)
      if (j->batch->on_stored) j->batch->on_stored();
    bool wake_sources, wake_readers;
    {
      std::lock_guard lk(mu_);
      in_flight_.store(window_.size());
      wake_sources = blocked_sources_ > 0 && window_.size() <= resume_at_;
      wake_readers = !pulled_.empty();
    }
    if (wake_sources) space_cv_.notify_all();
    if (wake_readers) work_cv_.notify_all();  // room in the window for a pulled input's next batch
    done_cv_.notify_all();  // drain() waits for an empty window
  }
  // Stopping: the stateful stage's state, with the checkpoints it held back.
  if (stage_) {
    checkpoints.clear();
    state.clear();
    stage_->prepare(checkpoints, {}, state, true);
    Status st = store_.commit_with_state({}, checkpoints, state, nullptr);
    if (st.ok()) stage_->written();
    else std::fprintf(stderr, "socd run: cannot save the correlation state: %s\n", st.message().c_str());
  }
}

void Pipeline::say_limit(const std::string& text) {
  constexpr int kPerMinute = 20;
  std::lock_guard lk(say_mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - say_window_ >= std::chrono::minutes(1)) {
    if (unsaid_ > 0)
      std::fprintf(stderr, "socd run: %llu more line(s) set aside or limit(s) hit in the last minute, not shown "
                           "(see socd_source_malformed_total, socd_limit_hits_total and `socd deadletter list`)\n",
                   static_cast<unsigned long long>(unsaid_));
    say_window_ = now;
    said_ = 0;
    unsaid_ = 0;
  }
  if (said_ >= kPerMinute) {
    ++unsaid_;
    return;
  }
  ++said_;
  std::fprintf(stderr, "socd run: %s\n", text.c_str());
}

void Pipeline::stop_waiting() { stop_waiting_.store(true); }

bool Pipeline::SourceSink::push(std::unique_ptr<SourceBatch> batch, bool may_block) {
  batch->source = index_;
  const double rate = pipeline_.options_.source_rate;
  if (rate > 0 && !pipeline_.stop_waiting_.load()) {
    using Clock = std::chrono::steady_clock;
    const double burst = pipeline_.options_.source_burst > 0 ? pipeline_.options_.source_burst : rate;
    const size_t lines = batch->lines.lines.size();
    SourceTally& tally = pipeline_.sources_[index_];
    bool waited = false;
    for (;;) {
      double wait_s = 0;
      {
        std::lock_guard lk(bucket_mu_);
        Clock::time_point now = Clock::now();
        if (tokens_ < 0 && refilled_ == Clock::time_point{}) tokens_ = burst;
        else tokens_ = std::min(burst, tokens_ + rate * std::chrono::duration<double>(now - refilled_).count());
        refilled_ = now;
        if (tokens_ >= 0) {  // not in debt: the batch goes, and its lines are owed
          tokens_ -= static_cast<double>(lines);
          break;
        }
        wait_s = -tokens_ / rate;
        if (!may_block) {
          tally.rate_limited += lines;
          if (now - last_said_ >= std::chrono::minutes(1)) {
            last_said_ = now;
            pipeline_.say_limit(tally.name + ": over its rate of " + std::to_string(static_cast<uint64_t>(rate)) +
                                " lines/s (source-rate): " + std::to_string(lines) +
                                " messages dropped (UDP cannot wait; counted in "
                                "socd_limit_hits_total{limit=\"rate\"} and socd_source_dropped_total)");
          }
          return false;
        }
        if (!waited) {
          waited = true;
          tally.rate_limited += lines;
          if (now - last_said_ >= std::chrono::minutes(1)) {
            last_said_ = now;
            pipeline_.say_limit(tally.name + ": over its rate of " + std::to_string(static_cast<uint64_t>(rate)) +
                                " lines/s (source-rate): reading slowed down (back-pressure, nothing is lost; "
                                "counted in socd_limit_hits_total{limit=\"rate\"})");
          }
        }
      }
      if (pipeline_.stop_waiting_.load()) break;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(wait_s, 0.05)));
    }
  }
  return pipeline_.push(std::move(batch), may_block);
}

StageTimes Pipeline::stage_times() const {
  return {parse_nanos_.load() / 1e9, match_nanos_.load() / 1e9, evaluate_nanos_.load() / 1e9,
          alerts_nanos_.load() / 1e9, stateful_nanos_.load() / 1e9, store_nanos_.load() / 1e9};
}

StageCounters Pipeline::stage_counters() const { return stage_ ? stage_->counters() : StageCounters{}; }

void Pipeline::drain() {
  {
    std::unique_lock lk(mu_);
    if (threads_.empty()) return;
    // (A batch being read by a worker joins the window: drain waits for it too.)
    done_cv_.wait(lk, [&] { return (window_.empty() && !reading_) || failed_.load(); });
    stopping_ = true;
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  space_cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<std::pair<std::string, uint64_t>> Pipeline::rule_matches() const {
  std::lock_guard lk(stats_mu_);
  return {rule_matches_.begin(), rule_matches_.end()};
}

std::vector<RuleTime> Pipeline::rule_times() const {
  std::lock_guard lk(stats_mu_);
  std::vector<RuleTime> out;
  out.reserve(rule_costs_.size());
  for (const auto& [id, c] : rule_costs_) out.push_back({id, c.first * kSampleEvery / 1e9, c.second});
  return out;
}

std::vector<double> Pipeline::take_latencies() {
  std::lock_guard lk(stats_mu_);
  return std::move(latencies_);
}

}  // namespace socd
