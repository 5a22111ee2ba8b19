// socd scan: the batch detection path. Lines are read in batches, parsed, matched, and their alerts printed in input
// order; with --threads N, N workers take whole batches and a bounded window of batches keeps the order.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli.h"
#include "socd/alert.h"
#include "socd/event_parser.h"
#include "socd/line_reader.h"
#include "socd/ruleset.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

constexpr size_t kMalformedShown = 100;  // reports printed per run; all are counted

struct Malformed {
  uint64_t line;
  std::string reason;
  std::string head;
};

struct Job {
  LineBatch batch;
  const std::string* source = nullptr;
  std::string alerts;
  std::vector<Malformed> malformed;
  uint64_t events = 0, alert_count = 0;
  bool done = false;
};

struct Worker {
  Worker(std::shared_ptr<const RuleSet> rules, const AlertWriter& w, InputFormat format, size_t max_depth)
      : event(&rules->paths()), parser(format), matcher(rules), writer(w) {}
  Event event;
  EventParser parser;
  Matcher matcher;
  const AlertWriter& writer;
  std::vector<uint32_t> matched;

  void process(Job& job) {
    job.alerts.clear();
    job.malformed.clear();
    job.events = job.alert_count = 0;
    for (const Line& l : job.batch.lines) {
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
      ++job.events;
      matched.clear();
      matcher.match(event, matched);
      for (uint32_t r : matched) writer.append(job.alerts, r, event, *job.source);
      job.alert_count += matched.size();
    }
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
  uint64_t events = 0, bytes = 0, malformed = 0, alerts = 0;
};

class Output {
public:
  void write(Job& job, Totals& t) {
    if (!job.alerts.empty()) std::fwrite(job.alerts.data(), 1, job.alerts.size(), stdout);
    for (const auto& m : job.malformed) {
      if (t.malformed < kMalformedShown)
        std::fprintf(stderr, "%s:%llu: malformed input (%s): %s\n", job.source->c_str(),
                     static_cast<unsigned long long>(m.line), m.reason.c_str(), printable(m.head).c_str());
      else if (t.malformed == kMalformedShown)
        std::fprintf(stderr, "socd: further malformed lines are counted in the summary but not shown\n");
      ++t.malformed;
    }
    t.events += job.events;
    t.alerts += job.alert_count;
    t.bytes += job.batch.bytes;
  }
};

double peak_rss_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

}  // namespace

int scan_main(int argc, char** argv) {
  std::vector<std::string> rule_paths, inputs;
  std::string format_name, mappings, cache_dir;
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
       "input format: auto (per line: '{' starts JSON, anything else is syslog/text), json, syslog")
      ("threads,t", po::value(&threads)->default_value(1), "worker threads matching in parallel")
      ("strict", po::bool_switch(&strict), "fail (exit 2) when any rule cannot be compiled")
      ("mappings", po::value(&mappings),
       "field and log-source mapping file (default: the built-in config/mappings.yml)")
      ("cache-dir", po::value(&cache_dir)->default_value(default_cache_dir()),
       "directory caching compiled rule databases; 'none' disables the cache")
      ("no-prefilter", po::bool_switch(&no_prefilter),
       "evaluate every rule on every event, without the Hyperscan prefilter (slow; for checking results)")
      ("max-line-bytes", po::value(&max_line)->default_value(4 << 20),
       "longer lines are counted as malformed and skipped");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd scan: %s\nRun 'socd scan --help' for the options.\n", e.what());
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
  CompileOptions copts;
  if (cache_dir != "none") copts.cache_dir = cache_dir;
  copts.prefilter = !no_prefilter;
  LoadedRules loaded = load_rules(rule_paths, *mapping, copts);
  print_diagnostics(loaded.diagnostics, false);
  if (strict && loaded.skipped > 0) {
    std::fprintf(stderr, "socd scan: %zu rule(s) could not be compiled (--strict)\n", loaded.skipped);
    return kUsageError;
  }

  AlertWriter writer(loaded.set);
  Totals totals;
  Output output;
  static char out_buf[1 << 20];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
  auto t0 = std::chrono::steady_clock::now();
  int rc = kOk;

  if (threads == 1) {
    Worker worker(loaded.set, writer, format, 64);
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
        Worker worker(loaded.set, writer, format, 64);
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
  std::fflush(stdout);
  double scan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int fd : fds)
    if (fd != 0) ::close(fd);
  const auto& st = loaded.set->stats();
  std::fprintf(stderr,
               "resources: peak_rss_mb=%.1f threads=%u prefilter_literals=%zu prefilter_regexes=%zu "
               "unconditional_rules=%zu compile_cache=%s\n",
               peak_rss_mb(), threads, st.literal_patterns, st.regex_patterns, st.unconditional_rules,
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
