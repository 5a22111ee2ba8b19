// socd scan: the batch detection path. Lines are read in batches, parsed, matched, and their alerts printed in input
// order; with --threads N, N workers take whole batches and a bounded window of batches keeps the order.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.h"
#include "socd/alert.h"
#include "socd/enrichment.h"
#include "socd/event_parser.h"
#include "socd/line_reader.h"
#include "socd/ruleset.h"
#include "socd/stateful.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

constexpr size_t kMalformedShown = 100;  // reports printed per run; all are counted

struct Malformed {
  uint64_t line;
  std::string reason;
  std::string head;
};

// With a stateful stage, each alert of a batch is a span of `alerts`; the stage decides about those with a
// hit.
struct AlertSpan {
  size_t begin = 0, end = 0;
  int32_t hit = -1;  // index in Job::hits, -1: the stage has no say
};

struct Job {
  LineBatch batch;
  const std::string* source = nullptr;
  std::string alerts;
  std::vector<Malformed> malformed;
  uint64_t events = 0, alert_count = 0;
  std::vector<AlertSpan> spans;   // stateful stage only
  std::vector<StageHit> hits;  // the first hit_count are this batch's; the rest keep their memory for reuse
  size_t hit_count = 0;
  uint64_t intel_alerts = 0, unknown_asset_alerts = 0;
  int64_t last_event_ms = -1;     // the time of the batch's last event, when it has one
  bool done = false;
};

struct Worker {
  Worker(std::shared_ptr<const RuleSet> rules, const AlertWriter& w, InputFormat format, size_t max_depth,
         const StatefulRules* stateful, const Enrichment& enrichment)
      : event(&rules->paths()), parser(format), matcher(rules), writer(w), stateful(stateful), rules(rules),
        annotator(enrichment, rules), has_assets(enrichment.assets != nullptr) {}
  Event event;
  EventParser parser;
  Matcher matcher;
  const AlertWriter& writer;
  const StatefulRules* stateful;  // null: no stateful stage
  std::shared_ptr<const RuleSet> rules;
  std::vector<uint32_t> matched;
  AlertAnnotator annotator;  // asset, routing and intelligence members (inactive without them)
  bool has_assets;
  std::vector<IntelHit> intel_hits;
  std::string extra;
  AlertPlacement placement;

  // One alert's members (into `extra`), counting an unknown asset.
  void annotate(Job& job, std::string_view rule_id, std::string_view level,
                const std::vector<std::string>& tags, const IntelHit* hit) {
    annotator.annotate(extra, rule_id, level, tags, hit, &placement);
    if (has_assets && !placement.system) ++job.unknown_asset_alerts;
  }

  // The alerts of the intelligence lists on the current event.
  void add_intel_alerts(Job& job) {
    intel_hits.clear();
    annotator.intel_hits(event, intel_hits);
    for (const IntelHit& hit : intel_hits) {
      const IntelList& list = annotator.intel()->intel().lists()[hit.list];
      size_t begin = job.alerts.size();
      annotate(job, list.rule_id, list.level, list.tags, &hit);
      writer.append_as(job.alerts, list.rule_json, event, *job.source, {}, nullptr, extra);
      if (stateful) job.spans.push_back({begin, job.alerts.size(), -1});
      ++job.alert_count;
      ++job.intel_alerts;
    }
  }

  void note_hit(Job& job, uint32_t rule, size_t begin, int64_t arrival_ms) {
    AlertSpan span{begin, job.alerts.size(), -1};
    if (stateful->needs(rule)) {
      // Hits are reused from batch to batch: their strings are assigned, not allocated anew.
      if (job.hit_count == job.hits.size()) job.hits.emplace_back();
      span.hit = static_cast<int32_t>(job.hit_count);
      StageHit& hit = job.hits[job.hit_count++];
      stateful->extract(rule, event, arrival_ms, hit);
      hit.source.assign(*job.source);
      hit.line = event.line;
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof digits, event.line).ptr;
      hit.ref.assign(hit.source).append(1, ':').append(digits, end);
      hit.host.clear();
      for (uint32_t f : rules->host_fields())
        if (uint32_t link = event.first(f); link != Event::end) {
          hit.host.assign(event.value(event.link_value(link)));
          break;
        }
    }
    job.spans.push_back(span);
  }

  void process(Job& job) {
    job.alerts.clear();
    job.malformed.clear();
    job.events = job.alert_count = job.intel_alerts = job.unknown_asset_alerts = 0;
    job.spans.clear();
    job.hit_count = 0;
    job.last_event_ms = -1;
    bool last_parsed = false;
    const int64_t arrival_ms = stateful ? std::chrono::duration_cast<std::chrono::milliseconds>(
                                              std::chrono::system_clock::now().time_since_epoch()).count()
                                        : 0;
    for (const Line& l : job.batch.lines) {
      last_parsed = false;
      std::string_view text = job.batch.text(l);
      if (l.oversized) {
        job.malformed.push_back({l.number, "line of " + std::to_string(l.full_length) + " bytes exceeds --max-line-bytes",
                                 std::string(text)});
        continue;
      }
      Status st = parser.parse(text, event);
      if (!st.ok()) {
        job.malformed.push_back({l.number, st.message(), std::string(text.substr(0, 80))});
        continue;
      }
      event.line = l.number;
      last_parsed = true;
      ++job.events;
      matched.clear();
      matcher.match(event, matched);
      if (annotator.active()) annotator.start(event, *job.source, {});
      for (uint32_t r : matched) {
        size_t begin = job.alerts.size();
        if (!stateful || !stateful->consumed(r)) {
          if (annotator.active()) {
            const Rule& rule = rules->rule(r);
            annotate(job, rule.id, rule.level, rule.tags, nullptr);
          }
          writer.append(job.alerts, r, event, *job.source, {}, nullptr, extra);
        }
        if (stateful) note_hit(job, r, begin, arrival_ms);
      }
      job.alert_count += matched.size();
      if (annotator.has_intel()) add_intel_alerts(job);
    }
    // The stage's clock moves with all events, not only those a rule fired on: the batch's last event stands
    // for them.
    if (stateful && last_parsed) job.last_event_ms = stateful->event_time_ms(event);
  }
};

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') out.push_back(static_cast<char>(c));
    else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

struct Totals {
  uint64_t events = 0, bytes = 0, malformed = 0, alerts = 0, intel_alerts = 0, unknown_asset_alerts = 0;
};

class Output {
public:
  // `annotator`: the asset and routing members for the alerts the stage makes (may be null).
  Output(StatefulStage* stage, StageAlertAnnotator* annotator) : stage_(stage), annotator_(annotator) {}

  void write(Job& job, Totals& t) {
    if (stage_) write_through_stage(job, t);
    else if (!job.alerts.empty()) std::fwrite(job.alerts.data(), 1, job.alerts.size(), stdout);
    for (const auto& m : job.malformed) {
      if (t.malformed < kMalformedShown)
        std::fprintf(stderr, "%s:%llu: malformed input (%s): %s\n", job.source->c_str(),
                     static_cast<unsigned long long>(m.line), m.reason.c_str(), printable(m.head).c_str());
      else if (t.malformed == kMalformedShown)
        std::fprintf(stderr, "socd: further malformed lines are counted in the summary but not shown\n");
      ++t.malformed;
    }
    t.events += job.events;
    t.intel_alerts += job.intel_alerts;
    t.unknown_asset_alerts += job.unknown_asset_alerts;
    if (!stage_) t.alerts += job.alert_count;
    t.bytes += job.batch.bytes;
  }

  // End of input: the stage closes every window.
  void finish(Totals& t) {
    if (!stage_) return;
    generated_.clear();
    stage_->flush(generated_);
    write_generated(t);
  }

private:
  // The alerts of a batch in input order, each passed, held back or followed by what the stage made of it.
  void write_through_stage(Job& job, Totals& t) {
    for (const AlertSpan& span : job.spans) {
      generated_.clear();
      bool pass = true;
      if (span.hit >= 0)
        pass = stage_->observe(job.hits[span.hit], generated_) == StatefulStage::Verdict::Pass;
      if (pass) {
        std::fwrite(job.alerts.data() + span.begin, 1, span.end - span.begin, stdout);
        ++t.alerts;
      }
      write_generated(t);
    }
    if (job.last_event_ms != -1) {
      generated_.clear();
      stage_->advance(job.last_event_ms, generated_);
      write_generated(t);
    }
  }

  void write_generated(Totals& t) {
    for (StageAlert& a : generated_) {
      if (annotator_ && annotator_->active()) annotator_->annotate(a);
      std::fwrite(a.json.data(), 1, a.json.size(), stdout);
      std::fputc('\n', stdout);
      ++t.alerts;
    }
  }

  StatefulStage* stage_;
  StageAlertAnnotator* annotator_;
  std::vector<StageAlert> generated_;
};

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

// CPU seconds (user and system, all threads) the process has used so far.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int scan_main(int argc, char** argv) {
  std::vector<std::string> rule_paths, inputs;
  std::string format_name, mappings, cache_dir, thresholds, sagan_vars;
  EnrichmentPaths enrichment_paths;
  unsigned threads = 1;
  size_t max_line = 4 << 20;
  bool strict = false, no_prefilter = false;
  po::options_description opts(
      "Usage: socd scan --rules PATH [--rules PATH ...] [--input FILE ...] [options]\n\n"
      "Matches rules against events (JSON lines or syslog/text lines) and prints one alert per line as JSON on\n"
      "stdout. Diagnostics go to stderr; its last line is a summary:\n"
      "  summary: events=N bytes=N malformed=N rules_loaded=N rules_skipped=N alerts=N load_seconds=F\n"
      "           scan_seconds=F events_per_s=F mb_per_s=F\n"
      "Exit status: 0 done, 1 runtime failure, 2 usage, configuration or (with --strict) rule errors.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("rules,r", po::value(&rule_paths)->multitoken(),
       "rule file, or directory searched recursively for *.yml/*.yaml (repeatable)")
      ("input,i", po::value(&inputs)->multitoken(), "input file(s); default: standard input ('-')")
      ("format,f", po::value(&format_name)->default_value("auto"),
       "input format: auto (per line: '{' starts JSON, anything else is syslog/text), json, syslog; a syslog "
       "message that is a JSON object (or '@cee: {...}') adds its fields")
      ("threads,t", po::value(&threads)->default_value(1), "worker threads matching in parallel")
      ("strict", po::bool_switch(&strict), "fail (exit 2) when any rule cannot be compiled")
      ("mappings", po::value(&mappings),
       "field and log-source mapping file (default: the built-in config/mappings.yml)")
      ("cache-dir", po::value(&cache_dir)->default_value(default_cache_dir()),
       "directory caching compiled rule databases; 'none' disables the cache")
      ("no-prefilter", po::bool_switch(&no_prefilter),
       "evaluate every rule on every event, without the Hyperscan prefilter (slow; for checking results)")
      ("max-line-bytes", po::value(&max_line)->default_value(4 << 20),
       "longer lines are counted as malformed and skipped")
      ("thresholds", po::value(&thresholds),
       "thresholds, deduplication and settings of the stateful stage (see config/thresholds.yml);\n"
       "Sigma correlation rules among the rules need no option: their alerts, and the summaries of\n"
       "what thresholds suppressed, are printed after the event that completes them, and at the end\n"
       "of the input for windows still open")
      ("sagan-vars", po::value(&sagan_vars),
       "Sagan YAML (sagan.yaml) whose vars: ($HOME_NET, $EXTERNAL_NET, ports, lists ...), default-host and\n"
       "blacklist / bro-intel list files the Sagan rules (*.rules) use; default: Sagan's default variables")
      ("assets", po::value(&enrichment_paths.assets),
       "asset inventory (see config/assets.yml): every alert names its system, owner and security level, or\n"
       "flags an unknown asset")
      ("intel", po::value(&enrichment_paths.intel)->composing(),
       "threat-intelligence list (plain or .csv, one list) or list configuration (.yml, see\n"
       "config/intel/lists.yml); repeatable. A hit is an alert of rule intel:<list>")
      ("routing", po::value(&enrichment_paths.routing),
       "four-layer routing (see config/routing.yml): each alert carries the layers that receive it");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd scan: %s\nRun 'socd scan --help' for the options.\n",
                 option_error_message(e).c_str());
    return kUsageError;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  InputFormat format;
  if (!parse_input_format(format_name, format)) {
    std::fprintf(stderr, "socd scan: unknown --format '%s' (use auto, json or syslog)\n", format_name.c_str());
    return kUsageError;
  }
  if (rule_paths.empty()) {
    std::fprintf(stderr, "socd scan: no rules given: use --rules PATH (a file or a directory of *.yml)\n");
    return kUsageError;
  }
  if (Status st = check_rule_paths(rule_paths); !st.ok()) {
    std::fprintf(stderr, "socd scan: %s\n", st.message().c_str());
    return kUsageError;
  }
  if (threads < 1 || threads > 256) {
    std::fprintf(stderr, "socd scan: --threads must be between 1 and 256\n");
    return kUsageError;
  }
  if (inputs.empty()) inputs.push_back("-");
  std::vector<int> fds;
  for (const auto& in : inputs) {
    int fd = in == "-" ? 0 : ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "socd scan: cannot open input '%s': %s\n", in.c_str(), std::strerror(errno));
      return kUsageError;
    }
    fds.push_back(fd);
  }
  auto mapping = load_mapping(mappings);
  if (!mapping) {
    std::fprintf(stderr, "socd scan: %s\n", mapping.error().message().c_str());
    return kUsageError;
  }
  StageConfig stage_config;
  if (!thresholds.empty()) {
    auto c = load_stage_config(thresholds);
    if (!c) {
      std::fprintf(stderr, "socd scan: %s\n", c.error().message().c_str());
      return kUsageError;
    }
    stage_config = std::move(*c);
  }
  std::vector<Diagnostic> enrichment_diagnostics;
  auto enrichment = load_enrichment(enrichment_paths, enrichment_diagnostics);
  print_diagnostics(enrichment_diagnostics, false);
  if (!enrichment) {
    std::fprintf(stderr, "socd scan: %s\n", enrichment.error().message().c_str());
    return kUsageError;
  }
  CompileOptions copts;
  if (cache_dir != "none") copts.cache_dir = cache_dir;
  copts.prefilter = !no_prefilter;
  copts.extra_fields = enrichment->extra_fields();
  RuleLanguageOptions languages;
  if (!sagan_vars.empty()) {
    auto v = load_sagan_variables(sagan_vars);
    if (!v) {
      std::fprintf(stderr, "socd scan: %s\n", v.error().message().c_str());
      return kUsageError;
    }
    languages.sagan_variables = std::move(*v);
  }
  LoadedRules loaded = load_rules(rule_paths, *mapping, copts, stage_config, languages);
  print_diagnostics(loaded.diagnostics, false);
  if (strict && loaded.skipped > 0) {
    std::fprintf(stderr, "socd scan: %zu rule(s) could not be compiled (--strict)\n", loaded.skipped);
    return kUsageError;
  }

  AlertWriter writer(loaded.set);
  Totals totals;
  // The stateful stage runs here, in the output writer, so its results do not depend on --threads.
  std::unique_ptr<StatefulStage> stage;
  if (loaded.stateful->active()) stage = std::make_unique<StatefulStage>(loaded.stateful);
  const StatefulRules* stateful = stage ? loaded.stateful.get() : nullptr;
  std::unique_ptr<StageAlertAnnotator> stage_annotator;
  if (stage) stage_annotator = std::make_unique<StageAlertAnnotator>(*enrichment, loaded.stateful);
  Output output(stage.get(), stage_annotator.get());
  static char out_buf[1 << 20];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
  auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  int rc = kOk;

  if (threads == 1) {
    Worker worker(loaded.set, writer, format, 64, stateful, *enrichment);
    Job job;
    for (size_t i = 0; i < fds.size(); ++i) {
      LineReader reader(fds[i], 1 << 20, 4096, max_line, JsonEventParser::padding());
      job.source = &inputs[i];
      while (reader.next(job.batch)) {
        worker.process(job);
        output.write(job, totals);
      }
      if (!reader.status().ok()) {
        std::fprintf(stderr, "socd scan: %s: %s\n", inputs[i].c_str(), reader.status().message().c_str());
        rc = kRuntimeError;
      }
    }
  } else {
    // Workers take whole batches; the main thread reads, and writes finished batches in input order.
    std::mutex mu;
    std::condition_variable work_cv, done_cv;
    std::deque<Job*> todo;
    std::deque<std::unique_ptr<Job>> window;  // in input order
    std::vector<std::unique_ptr<Job>> free_jobs;
    bool closing = false;
    const size_t max_window = threads * 3;
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&] {
        Worker worker(loaded.set, writer, format, 64, stateful, *enrichment);
        for (;;) {
          Job* job;
          {
            std::unique_lock lk(mu);
            work_cv.wait(lk, [&] { return closing || !todo.empty(); });
            if (todo.empty()) return;
            job = todo.front();
            todo.pop_front();
          }
          worker.process(*job);
          {
            std::lock_guard lk(mu);
            job->done = true;
          }
          done_cv.notify_all();
        }
      });
    auto flush_ready = [&](bool wait_for_one) {
      std::unique_lock lk(mu);
      if (wait_for_one) done_cv.wait(lk, [&] { return window.front()->done; });
      while (!window.empty() && window.front()->done) {
        std::unique_ptr<Job> j = std::move(window.front());
        window.pop_front();
        lk.unlock();
        output.write(*j, totals);
        lk.lock();
        free_jobs.push_back(std::move(j));
      }
    };
    for (size_t i = 0; i < fds.size(); ++i) {
      LineReader reader(fds[i], 1 << 20, 4096, max_line, JsonEventParser::padding());
      for (;;) {
        std::unique_ptr<Job> job;
        {
          std::lock_guard lk(mu);
          if (!free_jobs.empty()) {
            job = std::move(free_jobs.back());
            free_jobs.pop_back();
          }
        }
        if (!job) job = std::make_unique<Job>();
        if (!reader.next(job->batch)) break;
        job->source = &inputs[i];
        job->done = false;
        {
          std::lock_guard lk(mu);
          todo.push_back(job.get());
          window.push_back(std::move(job));
        }
        work_cv.notify_one();
        flush_ready(false);
        if (window.size() >= max_window) flush_ready(true);
      }
      if (!reader.status().ok()) {
        std::fprintf(stderr, "socd scan: %s: %s\n", inputs[i].c_str(), reader.status().message().c_str());
        rc = kRuntimeError;
      }
    }
    while (!window.empty()) flush_ready(true);
    {
      std::lock_guard lk(mu);
      closing = true;
    }
    work_cv.notify_all();
    for (auto& th : pool) th.join();
  }
  output.finish(totals);
  std::fflush(stdout);
  double scan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double scan_cpu_seconds = cpu_seconds() - cpu0;  // unlike scan_seconds, not lengthened by other load
  for (int fd : fds)
    if (fd != 0) ::close(fd);
  if (stage) {
    const StageCounters& c = stage->counters();
    std::fprintf(stderr,
                 "stateful: correlations=%zu policies=%zu hits=%llu passed=%llu suppressed=%llu "
                 "consumed=%llu correlation_alerts=%llu summaries=%llu late=%llu late_unapplied=%llu "
                 "missing_fields=%llu evicted=%llu\n",
                 loaded.stateful->correlation_count(), loaded.stateful->policy_count(),
                 static_cast<unsigned long long>(c.hits), static_cast<unsigned long long>(c.passed),
                 static_cast<unsigned long long>(c.suppressed), static_cast<unsigned long long>(c.consumed),
                 static_cast<unsigned long long>(c.correlations),
                 static_cast<unsigned long long>(c.summaries), static_cast<unsigned long long>(c.late),
                 static_cast<unsigned long long>(c.late_unapplied),
                 static_cast<unsigned long long>(c.missing_fields),
                 static_cast<unsigned long long>(c.evicted));
  }
  if (enrichment->any())
    std::fprintf(stderr, "enrichment: %s; intel_alerts=%llu unknown_asset_alerts=%llu\n",
                 describe_enrichment(*enrichment).c_str(),
                 static_cast<unsigned long long>(totals.intel_alerts),
                 static_cast<unsigned long long>(totals.unknown_asset_alerts));
  const auto& st = loaded.set->stats();
  std::fprintf(stderr,
               "resources: peak_rss_mb=%.1f scan_cpu_seconds=%.3f threads=%u prefilter_literals=%zu "
               "prefilter_regexes=%zu unconditional_rules=%zu compile_cache=%s\n",
               peak_rss_mb(), scan_cpu_seconds, threads, st.literal_patterns, st.regex_patterns,
               st.unconditional_rules,
               copts.cache_dir.empty() ? "off" : (st.cache_hit ? "hit" : "miss"));
  double eps = scan_seconds > 0 ? totals.events / scan_seconds : 0;
  double mbps = scan_seconds > 0 ? totals.bytes / 1e6 / scan_seconds : 0;
  std::fprintf(stderr,
               "summary: events=%llu bytes=%llu malformed=%llu rules_loaded=%zu rules_skipped=%zu alerts=%llu "
               "load_seconds=%.3f scan_seconds=%.3f events_per_s=%.1f mb_per_s=%.2f\n",
               static_cast<unsigned long long>(totals.events), static_cast<unsigned long long>(totals.bytes),
               static_cast<unsigned long long>(totals.malformed), loaded.loaded, loaded.skipped,
               static_cast<unsigned long long>(totals.alerts), loaded.load_seconds, scan_seconds, eps, mbps);
  return rc;
}

}  // namespace socd::cli
