#include "metrics.h"

#include "forward.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "socd/input_dead_letters.h"
#include "socd/ledger.h"

namespace socd {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add(MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) m.counter.value = v;
  else m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

// Resident memory and CPU time of this process, from /proc/self/stat.
bool process_usage(double& rss_bytes, double& cpu_seconds) {
  std::ifstream in("/proc/self/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t p = s.rfind(')');
  if (p == std::string::npos) return false;
  std::istringstream fields(s.substr(p + 2));
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  // After "pid (comm) ": state is field 0; utime 11, stime 12, rss 21 (pages).
  if (f.size() < 22) return false;
  double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / tick;
  rss_bytes = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return true;
}

}  // namespace

// The limits hostile input cannot pass (limits.h): each hit, per source, and the dead letters kept.
void PipelineCollector::append_limit_metrics(std::vector<MetricFamily>& out) const {
  auto hits = family("socd_limit_hits_total",
                     "Limits hit, per source: line_bytes (lines/frames over the size limit), json_depth, "
                     "event_fields, regex_match (a regex gave up on a value), connections (refused at the "
                     "listener's limit), idle_timeout and slow_sender (connections closed), rate (lines over the "
                     "source's rate: waited for, or dropped by UDP), invalid_utf8 (text lines kept, whose bytes are not all "
                     "UTF-8: each stray byte is U+FFFD in their alerts).",
                     MetricType::Counter);
  auto dead = family("socd_source_dead_letters_total",
                     "Lines of each source set aside in the store's dead letters (malformed or over a limit).",
                     MetricType::Counter);
  for (const auto& s : pipeline_.sources()) {
    for (const auto& [limit, n] : std::initializer_list<std::pair<const char*, uint64_t>>{
             {"line_bytes", s.counters->oversized.load()}, {"json_depth", s.json_depth.load()},
             {"event_fields", s.event_fields.load()}, {"regex_match", s.regex_match.load()},
             {"connections", s.counters->refused.load()}, {"idle_timeout", s.counters->idle_closed.load()},
             {"slow_sender", s.counters->slow_closed.load()}, {"rate", s.rate_limited.load()},
             {"invalid_utf8", s.invalid_utf8.load()}})
      add(hits, static_cast<double>(n), {{"limit", limit}, {"source", s.name}});
    add(dead, static_cast<double>(s.dead_letters.load()), {{"source", s.name}});
  }
  out.push_back(std::move(hits));
  out.push_back(std::move(dead));
  auto rules = family("socd_rules_over_limit",
                      "Rules of the rule set in use left out by a compile-time limit (max-rule-patterns, "
                      "max-regex-bytes, max-regex-repeat, max-regex-nesting), each with a diagnostic.",
                      MetricType::Gauge);
  add(rules, static_cast<double>(info_.rules_over_limits.load()));
  out.push_back(std::move(rules));
  if (info_.store && info_.store->input_dead_letters()) {
    auto st = info_.store->input_dead_letters()->state();
    if (st) {
      auto kept = family("socd_dead_letters", "Dead letters kept in the store.", MetricType::Gauge);
      add(kept, static_cast<double>(st->count));
      out.push_back(std::move(kept));
      auto kept_bytes = family("socd_dead_letters_bytes", "Bytes of dead letters kept in the store.",
                               MetricType::Gauge);
      add(kept_bytes, static_cast<double>(st->bytes));
      out.push_back(std::move(kept_bytes));
      auto evicted = family("socd_dead_letters_evicted_total",
                            "Dead letters dropped, oldest first, to stay within dead-letter-max-count and "
                            "dead-letter-max-bytes (since the store was created).",
                            MetricType::Counter);
      add(evicted, static_cast<double>(st->evicted));
      out.push_back(std::move(evicted));
    }
  }
}

std::vector<MetricFamily> PipelineCollector::Collect() const {
  std::vector<MetricFamily> out;
  auto bytes = family("socd_source_bytes_total", "Bytes read by each source.", MetricType::Counter);
  auto lines = family("socd_source_lines_total", "Lines or messages framed by each source.", MetricType::Counter);
  auto events = family("socd_source_events_total", "Events parsed from each source.", MetricType::Counter);
  auto malformed = family("socd_source_malformed_total",
                          "Lines of each source that could not be parsed (counted, set aside).", MetricType::Counter);
  auto dropped = family("socd_source_dropped_total",
                        "Lines each source lost because the pipeline was full (UDP only) or unreadable.",
                        MetricType::Counter);
  auto oversized = family("socd_source_oversized_total", "Lines or frames over the size limit.", MetricType::Counter);
  auto conns = family("socd_source_connections_total", "Connections accepted by each listener.", MetricType::Counter);
  auto errors = family("socd_source_errors_total", "Read, accept and TLS errors of each source.", MetricType::Counter);
  auto refused = family("socd_source_refused_total", "Connections a listener turned away at its connection limit.",
                        MetricType::Counter);
  auto alerts = family("socd_source_alerts_total", "Alerts raised on each source's events.", MetricType::Counter);
  for (const auto& s : pipeline_.sources()) {
    std::vector<ClientMetric::Label> l{{"source", s.name}};
    add(bytes, s.counters->bytes.load(), l);
    add(lines, s.counters->lines.load(), l);
    add(dropped, s.counters->dropped.load(), l);
    add(oversized, s.counters->oversized.load(), l);
    add(conns, s.counters->connections.load(), l);
    add(errors, s.counters->errors.load(), l);
    add(refused, s.counters->refused.load(), l);
    add(events, s.events.load(), l);
    add(malformed, s.malformed.load(), l);
    add(alerts, s.alerts.load(), l);
  }
  for (auto* f : {&bytes, &lines, &events, &malformed, &dropped, &oversized, &conns, &errors, &refused, &alerts})
    out.push_back(std::move(*f));
  append_limit_metrics(out);

  auto depth = family("socd_queue_batches", "Batches in the pipeline, pushed and not yet stored.", MetricType::Gauge);
  add(depth, static_cast<double>(pipeline_.in_flight()));
  out.push_back(std::move(depth));
  auto cap = family("socd_queue_capacity_batches", "Bound of the pipeline queue.", MetricType::Gauge);
  add(cap, static_cast<double>(pipeline_.capacity()));
  out.push_back(std::move(cap));

  auto matches = family("socd_rule_matches_total", "Matches of each rule (by rule id).", MetricType::Counter);
  for (const auto& [id, n] : pipeline_.rule_matches()) add(matches, static_cast<double>(n), {{"rule", id}});
  out.push_back(std::move(matches));

  auto stored = family("socd_alerts_stored_total", "Alerts written to the store.", MetricType::Counter);
  add(stored, static_cast<double>(pipeline_.alerts_stored()));
  out.push_back(std::move(stored));
  // The stateful stage (correlations, thresholds, deduplication): what it did with the alerts it saw.
  auto stage = family("socd_stateful_total",
                      "Stateful stage: hits seen, alerts passed, suppressed (in a summary), consumed by "
                      "a correlation, correlation alerts and summaries emitted, late hits, hits without "
                      "a group-by field, groups evicted over the limit, groups restored or dropped from "
                      "the saved state; Sagan rules: matches whose condition failed (sagan_unmet: "
                      "alert_time, a list, xbits/flexbits, the header), held by an after (sagan_pending), "
                      "xbits/flexbits set and unset, messages `normalize` matched or not.",
                      MetricType::Counter);
  const StageCounters sc = pipeline_.stage_counters();
  for (const auto& [what, n] : std::initializer_list<std::pair<const char*, uint64_t>>{
           {"hits", sc.hits}, {"passed", sc.passed}, {"suppressed", sc.suppressed},
           {"consumed", sc.consumed}, {"correlation_alerts", sc.correlations}, {"summaries", sc.summaries},
           {"late", sc.late}, {"late_unapplied", sc.late_unapplied}, {"missing_fields", sc.missing_fields},
           {"evicted", sc.evicted}, {"entries_dropped", sc.entries_dropped},
           {"restored_groups", sc.restored_groups}, {"restore_dropped", sc.restore_dropped},
           {"sagan_unmet", sc.sagan_unmet}, {"sagan_pending", sc.sagan_pending}, {"bits_set", sc.bits_set},
           {"bits_unset", sc.bits_unset}, {"sagan_normalized", sc.sagan_normalized},
           {"sagan_not_normalized", sc.sagan_not_normalized}})
    add(stage, static_cast<double>(n), {{"what", what}});
  out.push_back(std::move(stage));
  MetricFamily write = family("socd_store_write_seconds", "Time of each store write (one per group of batches).",
                              MetricType::Summary);
  ClientMetric wm;
  wm.summary.sample_count = pipeline_.store_writes();
  wm.summary.sample_sum = pipeline_.store_seconds();
  write.metric.push_back(std::move(wm));
  out.push_back(std::move(write));

  auto gen = family("socd_ruleset_generation", "Generation of the rule set in use (1 at start, +1 per reload).",
                    MetricType::Gauge);
  add(gen, static_cast<double>(pipeline_.rules_generation()));
  out.push_back(std::move(gen));
  auto compile = family("socd_ruleset_compile_seconds", "Seconds the rule set in use took to load and compile.",
                        MetricType::Gauge);
  add(compile, info_.compile_seconds.load());
  out.push_back(std::move(compile));
  auto loaded = family("socd_rules_loaded", "Rules in the rule set in use.", MetricType::Gauge);
  add(loaded, static_cast<double>(info_.rules_loaded.load()));
  out.push_back(std::move(loaded));
  auto skipped = family("socd_rules_skipped", "Rules of the rule files left out, each with a diagnostic.",
                        MetricType::Gauge);
  add(skipped, static_cast<double>(info_.rules_skipped.load()));
  out.push_back(std::move(skipped));
  auto reloads = family("socd_rule_reloads_total", "Rule reloads by result.", MetricType::Counter);
  add(reloads, static_cast<double>(info_.reloads.load()), {{"result", "ok"}});
  add(reloads, static_cast<double>(info_.reload_failures.load()), {{"result", "refused"}});
  out.push_back(std::move(reloads));

  if (info_.ledger) {
    auto overdue = family("socd_incidents_overdue",
                          "Incidents with an overdue reporting deadline, by deadline (notify, report).",
                          MetricType::Gauge);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& [deadline, n] : info_.ledger->overdue(now))
      add(overdue, static_cast<double>(n), {{"deadline", deadline}});
    out.push_back(std::move(overdue));
  }

  if (info_.forwarder) append_forward_metrics(*info_.forwarder, out);

  double rss = 0, cpu = 0;
  if (process_usage(rss, cpu)) {
    auto r = family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge);
    add(r, rss);
    out.push_back(std::move(r));
    auto c = family("process_cpu_seconds_total", "User and system CPU time in seconds.", MetricType::Counter);
    add(c, cpu);
    out.push_back(std::move(c));
  }
  return out;
}

Expected<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& address, const Pipeline& pipeline,
                                                              const RunInfo& info) {
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  // civetweb takes "host:port" for IPv4, "[addr]:port" for IPv6, and "port" for every address.
  std::string bind = address;
  if (!bind.empty() && bind[0] == ':') bind = bind.substr(1);
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(bind, 2);
  } catch (const std::exception& e) {
    return Status::error("cannot serve metrics on '" + address + "': " + e.what() +
                         " (is the port in use? use --metrics ADDR:PORT)");
  }
  server->collector_ = std::make_shared<PipelineCollector>(pipeline, info);
  server->exposer_->RegisterCollectable(server->collector_);
  return server;
}

}  // namespace socd
