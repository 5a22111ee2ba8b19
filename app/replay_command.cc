// socd replay: a captured stream through the whole pipeline of `socd run` (parse, match, correlate, store), as
// fast as it goes, at the pace of its event times or at a fixed rate, with a report of what it cost: events/s,
// MB/s, latency from read to stored, peak RSS, time per stage (parse, match, evaluate, alerts, stateful, store),
// the rules that matched most and the rules that took most time.
//
// Inputs: JSON-lines or syslog files (framed as `socd run --file` frames them) and pcap/pcapng captures of syslog
// traffic (replay_capture.h). The store is a fresh temporary directory, removed at the end, unless --data-dir
// names one. With --assets/--intel/--routing the alerts are enriched and routed as in socd run, and with
// --forwarding those routed to layer 4 go through the same forwarder (forward.h) as socd run's.
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include "cli.h"
#include "forward.h"
#include "pipeline.h"
#include "replay_capture.h"
#include "socd/alert_store.h"
#include "socd/enrichment.h"
#include "socd/line_reader.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace socd::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct ReplayOptions {
  std::vector<std::string> inputs, rules;
  std::string data_dir, mappings, cache_dir, format_name, thresholds, sagan_vars, pace, json;
  unsigned workers = 0, top = 10;
  uint16_t port = 0;
  std::string progress;
  size_t max_line = 4 << 20;
  bool no_rule_timing = false;
  EnrichmentPaths enrichment;  // --assets, --intel, --routing, as for socd run
  std::string forwarding;      // layer-4 forwarding (forwarding.yml), as for socd run
  double forward_timeout = 60;
};

// Batches are read, stamped with the time they were read, and their read-to-stored latency recorded once the
// pipeline's writer has stored them. The time the last of them was stored ends the replay's run time.
struct LatencyLog {
  std::mutex mu;
  std::vector<double> seconds;
  Clock::time_point last_stored{};
  void add(Clock::time_point read_at) {
    auto now = Clock::now();
    std::lock_guard lk(mu);
    seconds.push_back(std::chrono::duration<double>(now - read_at).count());
    last_stored = std::max(last_stored, now);
  }
};

// --pace N/s: a fixed rate, whatever the event times. Line (or message) k of the replay, counted over all its
// inputs, is due at start + k/N. Each source wakes every kTick, or at a low rate when the next line falls due,
// and takes the lines due by then as one batch: a line waits for the next tick, not for a batch to fill. When a
// source comes for its lines more than two ticks after the oldest of them fell due (the pipeline pushed back,
// or the thread was not scheduled), the batch is late: the schedule then moves on to one tick behind now, so the
// lines owed follow at the rate instead of going in one burst (the replay takes that much longer).
class RatePacer {
public:
  static constexpr std::chrono::milliseconds kTick{5};
  explicit RatePacer(double per_second) : rate_(per_second) {}
  // Waits until `wake` (the caller's next tick) and until a line is due, then takes up to `most` (> 0) of the
  // lines due and sets `wake` a tick later (or to now, when more were due than `most`). 0 once `stop` is set.
  size_t take(size_t most, Clock::time_point& wake, const std::atomic<bool>& stop) {
    for (;;) {
      Clock::time_point until = wake;
      {
        std::lock_guard lk(mu_);
        if (start_ != Clock::time_point{}) until = std::max(until, due(taken_));
      }
      for (auto now = Clock::now(); !stop && now < until; now = Clock::now())
        std::this_thread::sleep_for(std::min<Clock::duration>(until - now, std::chrono::milliseconds(50)));
      if (stop) return 0;
      std::lock_guard lk(mu_);
      auto now = Clock::now();
      if (start_ == Clock::time_point{}) start_ = now;
      Clock::duration behind = now - due(taken_);  // since the oldest line not taken fell due
      if (behind < Clock::duration::zero()) continue;  // another source took the lines due
      if (behind > 2 * kTick) {
        ++late_;
        start_ += behind - kTick;
      }
      auto elapsed = std::chrono::duration<double>(now - start_).count();
      auto due_count = static_cast<uint64_t>(elapsed * rate_) + 1;  // lines 0 .. elapsed x rate
      const uint64_t owed = due_count > taken_ ? due_count - taken_ : 1;
      size_t n = static_cast<size_t>(std::min<uint64_t>(most, owed));
      taken_ += n;
      // Lines still due beyond what the caller could take (the rest of its read buffer) are taken at once when it
      // comes back with more, not a tick later: otherwise the rate would be capped at a buffer's lines a tick.
      wake = n < owed ? now : now + kTick;
      return n;
    }
  }
  // Lines taken but not there (the input ended): they fall to the sources still reading.
  void give_back(size_t n) {
    std::lock_guard lk(mu_);
    taken_ -= std::min<uint64_t>(n, taken_);
  }
  uint64_t late_batches() const {
    std::lock_guard lk(mu_);
    return late_;
  }

private:
  Clock::time_point due(uint64_t k) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(k / rate_));
  }
  const double rate_;
  mutable std::mutex mu_;
  Clock::time_point start_{};  // the due time of line 0, moved on by late batches
  uint64_t taken_ = 0, late_ = 0;
};

// The pace: `speed` 0 as fast as it goes, otherwise event time runs `speed` times faster than wall time; or
// `rate` > 0, a fixed number of lines a second ("N/s").
bool parse_pace(const std::string& s, double& speed, double& rate) {
  speed = rate = 0;
  if (s == "fast" || s == "max") return true;
  if (s == "original") {
    speed = 1;
    return true;
  }
  if (s.size() > 2 && s.compare(s.size() - 2, 2, "/s") == 0) {
    std::string n = s.substr(0, s.size() - 2);
    char* end = nullptr;
    rate = std::strtod(n.c_str(), &end);
    return end && *end == '\0' && rate > 0 && std::isfinite(rate);
  }
  std::string n = s;
  if (!n.empty() && (n[0] == 'x' || n[0] == 'X')) n = n.substr(1);
  else if (!n.empty() && (n.back() == 'x' || n.back() == 'X')) n.pop_back();
  char* end = nullptr;
  speed = std::strtod(n.c_str(), &end);
  return !n.empty() && end && *end == '\0' && speed > 0 && std::isfinite(speed);
}

// One input file of the replay, read on its own thread and pushed into the pipeline as one source.
class ReplaySource : public Source, public PulledInput {
public:
  // `pacer`: the fixed rate shared by every source of the replay (--pace N/s), or null.
  ReplaySource(std::string path, bool capture, const ReplayOptions& o, double speed, RatePacer* pacer,
               InputFormat format, std::shared_ptr<const StatefulRules> clock, LatencyLog& latencies)
      : path_(std::move(path)), capture_(capture), options_(o), speed_(speed), pacer_(pacer), format_(format),
        clock_(std::move(clock)), latencies_(latencies) {}
  ~ReplaySource() override {
    stop();
    if (fd_ >= 0) ::close(fd_);
  }
  std::string name() const override { return (capture_ ? "capture:" : "file:") + path_; }
  Status start(BatchSink& sink) override {
    if (capture_) {
      auto r = CaptureReader::open(path_, options_.port);
      if (!r) return r.error();
      capture_reader_ = std::move(*r);
    } else {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return Status::error(path_ + ": cannot open: " + std::strerror(errno));
    }
    struct stat st{};
    if (::stat(path_.c_str(), &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
    if (pulled()) {
      reader_ = std::make_unique<LineReader>(fd_, 1 << 20, 4096, options_.max_line);
      return Status();  // the pipeline's workers read it (next())
    }
    thread_ = std::thread([this, &sink] { run(sink); });
    return Status();
  }
  // Lines as fast as they go need no thread of their own: the workers read them (BatchSink::pull).
  bool pulled() const { return !capture_ && speed_ <= 0 && !pacer_; }
  std::unique_ptr<SourceBatch> next(LineBatch& memory) override {
    if (stop_ || done_) return nullptr;
    auto b = fresh_batch();
    std::swap(b->lines, memory);
    if (!reader_->next(b->lines)) {
      if (!reader_->status().ok()) status_ = reader_->status();
      done_ = true;
      return nullptr;
    }
    consumed_ += b->lines.bytes;
    prepare(*b, Clock::now());
    return b;
  }
  // (The file stays open until the source is destroyed: a worker may be reading it until the pipeline drains.)
  void stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }
  const Status& status() const { return status_; }
  uint64_t size() const { return size_; }
  uint64_t consumed() const { return consumed_.load(); }
  const CaptureCounters* capture_counters() const { return capture_reader_ ? &capture_reader_->counters() : nullptr; }

private:
  std::unique_ptr<SourceBatch> fresh_batch() {
    auto b = std::make_unique<SourceBatch>();
    b->origin = path_;
    b->stream = "replay:" + path_;
    return b;
  }
  // Counts `b` (finished) and has its latency from `read_at` logged once it is stored.
  void prepare(SourceBatch& b, Clock::time_point read_at) {
    counters_.bytes += b.lines.bytes;
    counters_.lines += b.lines.lines.size();
    LatencyLog* log = &latencies_;
    b.on_stored = [log, read_at] { log->add(read_at); };
  }
  // Pushes `b` (finished) with its read time; false when the pipeline refuses it (stopping).
  bool push(BatchSink& sink, std::unique_ptr<SourceBatch> b, Clock::time_point read_at) {
    prepare(*b, read_at);
    return sink.push(std::move(b), true);
  }
  // Waits until the event of time `t` is due (paced replay).
  void wait_for(double t) {
    if (speed_ <= 0 || t < 0) return;
    if (first_time_ < 0) {
      first_time_ = t;
      wall_start_ = Clock::now();
      return;
    }
    auto due = wall_start_ + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>((t - first_time_) / speed_));
    while (!stop_ && Clock::now() < due)
      std::this_thread::sleep_for(std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(50)));
  }
  void run(BatchSink& sink) {
    if (capture_) run_capture(sink);
    else run_lines(sink);
    done_ = true;
  }
  void run_capture(BatchSink& sink) {
    CapturedMessage m;
    auto b = fresh_batch();
    Clock::time_point read_at{};
    uint64_t number = 0;
    constexpr size_t kBatchMessages = 1024, kBatchBytes = 1 << 20;
    auto flush = [&] {
      if (b->lines.lines.empty()) return true;
      b->lines.finish();
      bool ok = push(sink, std::move(b), read_at);
      b = fresh_batch();
      return ok;
    };
    auto add = [&] {
      uint32_t peer = 0;
      if (!m.peer.empty()) {
        if (b->lines.peers.empty() || b->lines.peers.back() != m.peer) b->lines.peers.push_back(m.peer);
        peer = static_cast<uint32_t>(b->lines.peers.size());
      }
      ++number;
      if (m.text.size() > options_.max_line) {
        b->lines.add_oversized(std::string_view(m.text).substr(0, 256), m.text.size(), number, number, peer);
        ++counters_.oversized;
      } else {
        b->lines.add(m.text, number, number, peer);
      }
      b->lines.bytes += m.text.size() + 1;
    };
    if (pacer_) {  // --pace N/s: the messages due, read when they fall due
      Clock::time_point wake{};
      for (bool more = true; more;) {
        size_t due = pacer_->take(kBatchMessages, wake, stop_), got = 0;
        if (due == 0) return;  // stopped
        read_at = Clock::now();
        while (got < due && (more = capture_reader_->next(m))) {
          add();
          ++got;
        }
        if (got < due) pacer_->give_back(due - got);
        consumed_ = capture_reader_->file_position();
        if (!flush()) return;
      }
    }
    while (!pacer_ && !stop_ && capture_reader_->next(m)) {
      consumed_ = capture_reader_->file_position();
      if (speed_ > 0 && first_time_ >= 0) {
        auto due = wall_start_ + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>((m.time - first_time_) / speed_));
        if (due > Clock::now() && !flush()) return;  // what is due goes before the wait
      }
      wait_for(m.time);
      if (b->lines.lines.empty()) read_at = Clock::now();
      add();
      if ((b->lines.lines.size() >= kBatchMessages || b->lines.data.size() >= kBatchBytes) && !flush()) return;
    }
    consumed_ = size_;
    if (!capture_reader_->status().ok()) status_ = capture_reader_->status();
    flush();
  }
  // --pace N/s: each batch of the reader is cut into the runs of lines due at each tick.
  void run_lines_at_rate(BatchSink& sink) {
    LineReader reader(fd_, 1 << 20, 4096, options_.max_line);
    LineBatch all;
    size_t at = 0;
    uint64_t bytes_left = 0;  // of `all`, not yet in a batch
    Clock::time_point wake{};
    for (;;) {
      if (at == all.lines.size()) {
        if (!reader.next(all)) break;
        at = 0;
        bytes_left = all.bytes;
        consumed_ += all.bytes;
        if (all.lines.empty()) continue;
      }
      size_t due = pacer_->take(all.lines.size() - at, wake, stop_);
      if (due == 0) return;  // stopped
      auto part = fresh_batch();
      uint64_t bytes = 0;
      for (size_t end = at + due; at < end; ++at) {
        const Line& l = all.lines[at];
        if (l.oversized) part->lines.add_oversized(all.text(l), l.full_length, l.number, l.position);
        else part->lines.add(all.text(l), l.number, l.position);
        bytes += l.full_length + 1;
      }
      // The reader's batch counts its framing bytes (CRs, a last line without its newline): its last run takes
      // what is left, so that the runs add up to the input's size.
      part->lines.bytes = at == all.lines.size() ? bytes_left : std::min(bytes, bytes_left);
      bytes_left -= part->lines.bytes;
      part->lines.finish();
      if (!push(sink, std::move(part), Clock::now())) return;
    }
    if (!reader.status().ok()) status_ = reader.status();
  }
  void run_lines(BatchSink& sink) {
    if (pacer_) return run_lines_at_rate(sink);
    // Paced: each batch is split where its events fall due (their times read by the rule set's mapping).
    LineReader reader(fd_, speed_ > 0 ? 64 << 10 : 1 << 20, speed_ > 0 ? 256 : 4096, options_.max_line);
    EventParser parser(format_);
    std::unique_ptr<Event> event;
    if (speed_ > 0) event = std::make_unique<Event>(&clock_->rule_set().paths());
    for (;;) {
      if (stop_) return;
      auto b = fresh_batch();
      if (!reader.next(b->lines)) break;
      consumed_ += b->lines.bytes;
      if (speed_ > 0) {
        // Split into runs of lines due at once: a run is pushed when its first line falls due.
        LineBatch all = std::move(b->lines);
        auto part = fresh_batch();
        uint64_t part_bytes = 0;
        double part_time = -1;
        auto flush = [&] {
          if (part->lines.lines.empty()) return true;
          part->lines.bytes = part_bytes;
          part->lines.finish();
          wait_for(part_time);
          bool ok = push(sink, std::move(part), Clock::now());
          part = fresh_batch();
          part_bytes = 0;
          part_time = -1;
          return ok;
        };
        for (const Line& l : all.lines) {
          double t = -1;
          if (!l.oversized && parser.parse(all.text(l), *event).ok()) {
            int64_t ms = clock_->event_time_ms(*event);
            if (ms >= 0) t = ms / 1000.0;
          }
          if (t >= 0 && part_time >= 0 && t > part_time && !flush()) return;
          if (part_time < 0) part_time = t;
          if (l.oversized) part->lines.add_oversized(all.text(l), l.full_length, l.number, l.position);
          else part->lines.add(all.text(l), l.number, l.position);
          part_bytes += l.full_length + 1;
        }
        if (!flush()) return;
      } else if (!push(sink, std::move(b), Clock::now())) {
        return;
      }
    }
    if (!reader.status().ok()) status_ = reader.status();
  }

  std::string path_;
  bool capture_;
  const ReplayOptions& options_;
  double speed_;
  RatePacer* pacer_;
  InputFormat format_;
  std::shared_ptr<const StatefulRules> clock_;
  LatencyLog& latencies_;
  int fd_ = -1;
  std::unique_ptr<LineReader> reader_;  // pulled()
  std::unique_ptr<CaptureReader> capture_reader_;
  uint64_t size_ = 0;
  std::atomic<uint64_t> consumed_{0};
  double first_time_ = -1;
  Clock::time_point wall_start_{};
  std::thread thread_;
  std::atomic<bool> stop_{false}, done_{false};
  Status status_;
};

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // Linux: KiB
}

std::string human_count(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

int replay_main(int argc, char** argv) {
  ReplayOptions o;
  po::options_description opts(
      "Usage: socd replay [options] INPUT...\n\n"
      "Feeds captured input through the whole pipeline of 'socd run' (parse, match, correlate, store) and reports\n"
      "what it cost. INPUT: JSON-lines or syslog files, or pcap/pcapng captures of syslog traffic (UDP, and TCP\n"
      "reassembled, LF or octet-counted framing), recognised by their first bytes. The alerts go to a temporary\n"
      "store removed at the end, unless --data-dir is given. The report goes to stderr (--json FILE: also as JSON).\n"
      "On a terminal a progress bar shows events, rate and time left.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("input,i", po::value(&o.inputs)->composing(), "input file (repeatable; also positional)")
      ("rules,r", po::value(&o.rules)->composing(), "rule file or directory (repeatable; default: rules)")
      ("mappings", po::value(&o.mappings), "field and log-source mapping file (default: built in)")
      ("cache-dir", po::value(&o.cache_dir)->default_value(default_cache_dir()),
       "directory caching compiled rule databases; 'none' disables it")
      ("thresholds", po::value(&o.thresholds), "settings of the stateful stage (config/thresholds.yml)")
      ("sagan-vars", po::value(&o.sagan_vars), "Sagan YAML for the *.rules files (as for socd run)")
      ("assets", po::value(&o.enrichment.assets), "asset inventory (config/assets.yml), as for socd run")
      ("intel", po::value(&o.enrichment.intel)->composing(), "threat-intelligence list or lists.yml (repeatable)")
      ("routing", po::value(&o.enrichment.routing), "four-layer routing (config/routing.yml), as for socd run")
      ("forwarding", po::value(&o.forwarding),
       "send the alerts routed to layer 4 to the sinks of this file (config/forwarding.yml) through the forwarder "
       "of socd run; the replay ends once they are all delivered (or --forward-timeout passes)")
      ("forward-timeout", po::value(&o.forward_timeout)->default_value(60),
       "seconds to wait, after the last alert is stored, for the forwarder to deliver everything")
      ("data-dir", po::value(&o.data_dir), "alert store to write (default: a temporary one, removed at the end)")
      ("workers", po::value(&o.workers)->default_value(0), "matching threads (0: the number of cores)")
      ("format", po::value(&o.format_name)->default_value("auto"),
       "format of the lines of files (auto, json or syslog); captures are read as syslog")
      ("pace", po::value(&o.pace)->default_value("fast"),
       "fast (as fast as it goes), original (the pace of the event times: capture times for captures, the "
       "mapping's time fields for files), xN / N (N times the original pace, e.g. x10, 0.5), or N/s: a fixed rate "
       "of N lines (messages of captures) a second over all inputs together, whatever the event times (e.g. "
       "250000/s); the lines due go every 5 ms as one batch, and after a stall the rate goes on from then instead "
       "of catching up in a burst (the report counts those late batches)")
      ("port", po::value(&o.port)->default_value(0), "captures: only packets to this destination port (0: all)")
      ("max-line-bytes", po::value(&o.max_line)->default_value(4 << 20),
       "longer lines are counted as malformed and set aside")
      ("json", po::value(&o.json), "also write the report as JSON to FILE ('-': standard output)")
      ("top", po::value(&o.top)->default_value(10), "rules listed in the report, by matches and by time")
      ("no-rule-timing", po::bool_switch(&o.no_rule_timing),
       "do not time each rule's evaluation (on one event in 32) for the top rules by time")
      ("progress", po::value(&o.progress)->default_value("auto"),
       "progress bar on stderr: auto (when stderr is a terminal), always or never");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd replay: %s\nRun 'socd replay --help' for the options.\n",
                 option_error_message(e).c_str());
    return kUsageError;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  InputFormat format;
  if (!parse_input_format(o.format_name, format)) {
    std::fprintf(stderr, "socd replay: unknown --format '%s' (use auto, json or syslog)\n", o.format_name.c_str());
    return kUsageError;
  }
  double speed = 0, rate = 0;
  if (!parse_pace(o.pace, speed, rate)) {
    std::fprintf(stderr, "socd replay: --pace '%s': use fast, original, xN (N > 0, e.g. x10) or N/s (lines a "
                         "second, e.g. 250000/s)\n", o.pace.c_str());
    return kUsageError;
  }
  if (o.inputs.empty()) {
    std::fprintf(stderr, "socd replay: no input given (a JSON-lines, syslog or pcap/pcapng file)\n");
    return kUsageError;
  }
  if (o.progress != "auto" && o.progress != "always" && o.progress != "never") {
    std::fprintf(stderr, "socd replay: --progress '%s': use auto, always or never\n", o.progress.c_str());
    return kUsageError;
  }
  for (const auto& in : o.inputs)
    if (::access(in.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "socd replay: %s: cannot read: %s\n", in.c_str(), std::strerror(errno));
      return kUsageError;
    }
  if (o.rules.empty()) o.rules.push_back("rules");
  if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());

  // Rules, as socd run loads them.
  if (Status st = check_rule_paths(o.rules); !st.ok()) {
    std::fprintf(stderr, "socd replay: %s\n", st.message().c_str());
    return kUsageError;
  }
  auto mapping = load_mapping(o.mappings);
  if (!mapping) {
    std::fprintf(stderr, "socd replay: %s\n", mapping.error().message().c_str());
    return kUsageError;
  }
  StageConfig stage;
  if (!o.thresholds.empty()) {
    auto c = load_stage_config(o.thresholds);
    if (!c) {
      std::fprintf(stderr, "socd replay: %s\n", c.error().message().c_str());
      return kUsageError;
    }
    stage = std::move(*c);
  }
  RuleLanguageOptions languages;
  if (!o.sagan_vars.empty()) {
    auto v = load_sagan_variables(o.sagan_vars);
    if (!v) {
      std::fprintf(stderr, "socd replay: %s\n", v.error().message().c_str());
      return kUsageError;
    }
    languages.sagan_variables = std::move(*v);
  }
  std::vector<Diagnostic> enrichment_diagnostics;
  auto enrichment = load_enrichment(o.enrichment, enrichment_diagnostics);
  print_diagnostics(enrichment_diagnostics, false);
  if (!enrichment) {
    std::fprintf(stderr, "socd replay: %s\n", enrichment.error().message().c_str());
    return kUsageError;
  }
  std::optional<ForwardingConfig> forwarding;
  if (!o.forwarding.empty()) {
    auto fc = load_forwarding(o.forwarding);
    if (!fc) {
      std::fprintf(stderr, "socd replay: %s\n", fc.error().message().c_str());
      return kUsageError;
    }
    forwarding = std::move(*fc);
  }
  CompileOptions copts;
  if (o.cache_dir != "none") copts.cache_dir = o.cache_dir;
  copts.extra_fields = enrichment->extra_fields();
  LoadedRules rules = load_rules(o.rules, *mapping, copts, stage, languages);
  print_diagnostics(rules.diagnostics, false);
  if (rules.loaded == 0 && rules.skipped > 0) {
    std::fprintf(stderr, "socd replay: no rule could be compiled\n");
    return kUsageError;
  }

  // The store: the one named, or a temporary one.
  bool temporary = o.data_dir.empty();
  if (temporary) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/socd-replay-XXXXXX";
    if (!::mkdtemp(templ.data())) {
      std::fprintf(stderr, "socd replay: cannot create a temporary store under %s: %s (set TMPDIR or --data-dir)\n",
                   tmp && *tmp ? tmp : "/tmp", std::strerror(errno));
      return kRuntimeError;
    }
    o.data_dir = templ;
  }
  int rc = kOk;
  {
    auto store = AlertStore::open(o.data_dir, {});
    if (!store) {
      std::fprintf(stderr, "socd replay: %s\n", store.error().message().c_str());
      if (temporary) fs::remove_all(o.data_dir);
      return kRuntimeError;
    }
    PipelineOptions popts;
    popts.workers = o.workers;
    popts.format = format;
    popts.stage_timing = true;
    popts.rule_timing = !o.no_rule_timing;
    LatencyLog latencies;
    std::unique_ptr<RatePacer> pacer;
    if (rate > 0) pacer = std::make_unique<RatePacer>(rate);
    std::vector<std::unique_ptr<ReplaySource>> sources;
    for (const auto& in : o.inputs)
      sources.push_back(std::make_unique<ReplaySource>(in, looks_like_capture(in), o, speed, pacer.get(), format,
                                                       rules.stateful, latencies));
    // Layer-4 forwarding: the forwarder of socd run, on the replay store's outbox, started before the first alert.
    std::unique_ptr<Forwarder> forwarder;
    if (forwarding) {
      forwarder = std::make_unique<Forwarder>(*(*store)->outbox(), std::move(*forwarding));
      if (Status st = forwarder->start(); !st.ok()) {
        std::fprintf(stderr, "socd replay: %s\n", st.message().c_str());
        if (temporary) fs::remove_all(o.data_dir);
        return kRuntimeError;
      }
    }
    Pipeline pipeline(**store, rules.set, popts, rules.stateful, *enrichment);
    std::vector<uint32_t> indexes;
    for (auto& s : sources) indexes.push_back(pipeline.add_source(*s));
    pipeline.start();
    auto started_at = Clock::now();
    for (size_t i = 0; i < sources.size(); ++i) {
      Status st = sources[i]->start(pipeline.sink(indexes[i]));
      if (st.ok() && sources[i]->pulled() && !pipeline.sink(indexes[i]).pull(*sources[i]))
        st = Status::error("the pipeline stopped before the replay began");
      if (!st.ok()) {
        std::fprintf(stderr, "socd replay: %s\n", st.message().c_str());
        for (auto& s : sources) s->stop();
        pipeline.drain();
        if (temporary) fs::remove_all(o.data_dir);
        return kUsageError;
      }
    }
    bool bar = o.progress == "always" || (o.progress == "auto" && ::isatty(2));
    uint64_t total_size = 0;
    for (auto& s : sources) total_size += s->size();
    auto events_now = [&] {
      uint64_t n = 0;
      for (const auto& t : pipeline.sources()) n += t.events;
      return n;
    };
    for (;;) {
      bool all_done = std::all_of(sources.begin(), sources.end(), [](auto& s) { return s->done(); });
      if (all_done || pipeline.failed()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(bar ? 200 : 20));
      if (bar) {
        uint64_t consumed = 0;
        for (auto& s : sources) consumed += s->consumed();
        double frac = total_size ? std::min(1.0, static_cast<double>(consumed) / total_size) : 0;
        double secs = std::chrono::duration<double>(Clock::now() - started_at).count();
        uint64_t ev = events_now();
        double eta = frac > 0.001 ? secs * (1 - frac) / frac : 0;
        constexpr int kWidth = 30;
        int filled = static_cast<int>(frac * kWidth);
        std::string line = "\r[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "]";
        char tail[160];
        std::snprintf(tail, sizeof tail, " %3.0f%% %s events  %s events/s  ETA %.0fs   ", frac * 100,
                      human_count(ev).c_str(), human_count(secs > 0 ? ev / secs : 0).c_str(), eta);
        std::fputs((line + tail).c_str(), stderr);
        std::fflush(stderr);
      }
    }
    for (auto& s : sources) s->stop();
    pipeline.drain();
    // The replay ends when its last batch is stored, not when this loop, polling more slowly behind a progress
    // bar, saw it end: the figures must not depend on whether stderr is a terminal.
    Clock::time_point ended_at = Clock::now();
    {
      std::lock_guard lk(latencies.mu);
      if (latencies.last_stored != Clock::time_point{}) ended_at = latencies.last_stored;
    }
    double seconds = std::chrono::duration<double>(ended_at - started_at).count();
    if (bar) std::fputs("\r\033[K", stderr);
    // Forwarding: until the outbox is empty for every sink; its rate from the start of the replay.
    uint64_t fwd_acknowledged = 0, fwd_failed = 0, fwd_dead = 0;
    double fwd_seconds = 0;
    bool fwd_done = true;
    if (forwarder) {
      fwd_done = forwarder->drain(static_cast<int64_t>(o.forward_timeout * 1000));
      fwd_seconds = std::chrono::duration<double>(Clock::now() - started_at).count();
      forwarder->stop();
      for (const auto& c : forwarder->counters()) {
        fwd_acknowledged += c->acknowledged;
        fwd_failed += c->failed;
        fwd_dead += c->dead_lettered;
      }
      if (!fwd_done) {
        std::fprintf(stderr, "socd replay: the forwarder had not delivered every layer-4 alert after %.0f s "
                             "(--forward-timeout); see 'socd forward status' with --data-dir\n", o.forward_timeout);
        rc = kRuntimeError;
      }
    }
    for (auto& s : sources)
      if (!s->status().ok()) {
        std::fprintf(stderr, "socd replay: %s: %s\n", s->name().c_str(), s->status().message().c_str());
        rc = kRuntimeError;
      }
    if (pipeline.failed()) rc = kRuntimeError;

    // The report.
    uint64_t events = 0, malformed = 0, bytes = 0, lines = 0;
    for (const auto& t : pipeline.sources()) {
      events += t.events;
      malformed += t.malformed;
      bytes += t.counters->bytes;
      lines += t.counters->lines;
    }
    std::vector<double> lat = std::move(latencies.seconds);
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double q) { return lat.empty() ? 0.0 : lat[static_cast<size_t>(q * (lat.size() - 1))] * 1000; };
    auto matches = pipeline.rule_matches();
    std::sort(matches.begin(), matches.end(), [](auto& a, auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (matches.size() > o.top) matches.resize(o.top);
    auto costs = pipeline.rule_times();
    std::sort(costs.begin(), costs.end(), [](auto& a, auto& b) {
      return a.seconds != b.seconds ? a.seconds > b.seconds : a.rule < b.rule;
    });
    if (costs.size() > o.top) costs.resize(o.top);
    auto us_per_evaluation = [](const RuleTime& c) {
      return c.evaluations ? c.seconds / Pipeline::kSampleEvery / c.evaluations * 1e6 : 0.0;
    };
    StageTimes times = pipeline.stage_times();
    CaptureCounters cap;
    bool any_capture = false;
    for (auto& s : sources)
      if (const CaptureCounters* c = s->capture_counters()) {
        any_capture = true;
        cap.packets += c->packets;
        cap.other += c->other;
        cap.fragments += c->fragments;
        cap.truncated += c->truncated;
        cap.tcp_streams += c->tcp_streams;
        cap.framing_errors += c->framing_errors;
        cap.payload_bytes += c->payload_bytes;
      }
    double rss = peak_rss_mib();
    double eps = seconds > 0 ? events / seconds : 0, mbps = seconds > 0 ? bytes / seconds / 1e6 : 0;
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    auto per_event_us = [&](double s) { return events ? s / events * 1e6 : 0.0; };

    std::fprintf(stderr,
                 "replay: inputs=%zu pace=%s workers=%u rules=%zu rules_skipped=%zu load_seconds=%.3f\n"
                 "replay: events=%llu lines=%llu malformed=%llu bytes=%llu alerts_stored=%llu seconds=%.3f "
                 "events_per_s=%.1f mb_per_s=%.2f\n"
                 "replay: latency read->stored per batch (%zu batches): p50_ms=%.2f p95_ms=%.2f p99_ms=%.2f "
                 "max_ms=%.2f\n"
                 "replay: peak_rss_mib=%.1f load_average=%.2f,%.2f,%.2f\n"
                 "replay: stage seconds (all threads; us/event): parse=%.3f (%.2f) match=%.3f (%.2f) "
                 "evaluate=%.3f (%.2f) alerts=%.3f (%.2f) stateful=%.3f (%.2f) store=%.3f (%.2f)\n",
                 o.inputs.size(), o.pace.c_str(), o.workers, rules.loaded, rules.skipped, rules.load_seconds,
                 static_cast<unsigned long long>(events), static_cast<unsigned long long>(lines),
                 static_cast<unsigned long long>(malformed), static_cast<unsigned long long>(bytes),
                 static_cast<unsigned long long>(pipeline.alerts_stored()), seconds, eps, mbps, lat.size(),
                 pct(0.50), pct(0.95), pct(0.99), lat.empty() ? 0.0 : lat.back() * 1000, rss, load[0], load[1],
                 load[2], times.parse, per_event_us(times.parse), times.match, per_event_us(times.match),
                 times.evaluate, per_event_us(times.evaluate), times.alerts, per_event_us(times.alerts),
                 times.stateful, per_event_us(times.stateful), times.store, per_event_us(times.store));
    const uint64_t late = pacer ? pacer->late_batches() : 0;
    if (pacer)
      std::fprintf(stderr, "replay: fixed rate asked=%.1f lines/s achieved=%.1f events/s late_batches=%llu (each "
                           "moved the schedule on rather than catch up in a burst)\n",
                   rate, eps, static_cast<unsigned long long>(late));
    if (forwarder)
      std::fprintf(stderr, "replay: forwarding sinks=%zu acknowledged=%llu failed_attempts=%llu dead_lettered=%llu "
                           "all_delivered=%s seconds=%.3f alerts_per_s=%.1f\n",
                   forwarder->counters().size(), static_cast<unsigned long long>(fwd_acknowledged),
                   static_cast<unsigned long long>(fwd_failed), static_cast<unsigned long long>(fwd_dead),
                   fwd_done ? "yes" : "no", fwd_seconds, fwd_seconds > 0 ? fwd_acknowledged / fwd_seconds : 0.0);
    if (any_capture)
      std::fprintf(stderr,
                   "replay: capture packets=%llu tcp_streams=%llu payload_bytes=%llu set_aside: other=%llu "
                   "fragments=%llu truncated=%llu framing_errors=%llu\n",
                   static_cast<unsigned long long>(cap.packets), static_cast<unsigned long long>(cap.tcp_streams),
                   static_cast<unsigned long long>(cap.payload_bytes), static_cast<unsigned long long>(cap.other),
                   static_cast<unsigned long long>(cap.fragments), static_cast<unsigned long long>(cap.truncated),
                   static_cast<unsigned long long>(cap.framing_errors));
    for (auto& [id, n] : matches)
      std::fprintf(stderr, "replay: top rule %s matches=%llu\n", id.c_str(), static_cast<unsigned long long>(n));
    // Time per rule: the evaluations on one event in 32, timed, scaled to all events.
    for (auto& c : costs)
      std::fprintf(stderr, "replay: top rule by time %s seconds=%.4f us_per_evaluation=%.3f evaluations_timed=%llu\n",
                   c.rule.c_str(), c.seconds, us_per_evaluation(c), static_cast<unsigned long long>(c.evaluations));

    if (!o.json.empty()) {
      std::string j = "{";
      auto num = [&](const char* k, double v, bool last = false) {
        char buf[64];
        // Counts exactly (bytes of a large replay need all their digits); figures to six significant ones.
        if (v == std::floor(v) && std::fabs(v) < 9e15) std::snprintf(buf, sizeof buf, "%.0f", v);
        else std::snprintf(buf, sizeof buf, "%.6g", v);
        j += json_string(k) + ":" + buf + (last ? "" : ",");
      };
      j += "\"inputs\":[";
      for (size_t i = 0; i < o.inputs.size(); ++i) j += (i ? "," : "") + json_string(o.inputs[i]);
      j += "],\"pace\":" + json_string(o.pace) + ",";
      num("rate_per_s", rate);  // --pace N/s, else 0
      num("late_batches", late);
      num("workers", o.workers);
      num("rules", rules.loaded);
      num("rules_skipped", rules.skipped);
      num("load_seconds", rules.load_seconds);
      num("events", events);
      num("lines", lines);
      num("malformed", malformed);
      num("bytes", bytes);
      num("alerts_stored", pipeline.alerts_stored());
      num("seconds", seconds);
      num("events_per_s", eps);
      num("mb_per_s", mbps);
      j += "\"latency_ms\":{";
      num("batches", lat.size());
      num("p50", pct(0.5));
      num("p95", pct(0.95));
      num("p99", pct(0.99));
      num("max", lat.empty() ? 0.0 : lat.back() * 1000, true);
      j += "},";
      num("peak_rss_mib", rss);
      j += "\"load_average\":[";
      for (int i = 0; i < 3; ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%s%.2f", i ? "," : "", load[i]);
        j += buf;
      }
      j += "],\"stage_seconds\":{";
      num("parse", times.parse);
      num("match", times.match);
      num("evaluate", times.evaluate);
      num("alerts", times.alerts);
      num("stateful", times.stateful);
      num("store", times.store, true);
      j += "},";
      if (forwarder) {
        j += "\"forwarding\":{";
        num("sinks", forwarder->counters().size());
        num("acknowledged", fwd_acknowledged);
        num("failed_attempts", fwd_failed);
        num("dead_lettered", fwd_dead);
        num("seconds", fwd_seconds);
        num("alerts_per_s", fwd_seconds > 0 ? fwd_acknowledged / fwd_seconds : 0.0);
        j += std::string("\"all_delivered\":") + (fwd_done ? "true" : "false") + "},";
      }
      if (any_capture) {
        j += "\"capture\":{";
        num("packets", cap.packets);
        num("tcp_streams", cap.tcp_streams);
        num("payload_bytes", cap.payload_bytes);
        num("other", cap.other);
        num("fragments", cap.fragments);
        num("truncated", cap.truncated);
        num("framing_errors", cap.framing_errors, true);
        j += "},";
      }
      j += "\"top_rules\":[";
      for (size_t i = 0; i < matches.size(); ++i)
        j += std::string(i ? "," : "") + "{\"rule\":" + json_string(matches[i].first) +
             ",\"matches\":" + std::to_string(matches[i].second) + "}";
      j += "],\"top_rules_by_time\":[";
      for (size_t i = 0; i < costs.size(); ++i) {
        char buf[160];
        std::snprintf(buf, sizeof buf, ",\"seconds\":%.6g,\"us_per_evaluation\":%.6g,\"evaluations_timed\":%llu}",
                      costs[i].seconds, us_per_evaluation(costs[i]),
                      static_cast<unsigned long long>(costs[i].evaluations));
        j += std::string(i ? "," : "") + "{\"rule\":" + json_string(costs[i].rule) + buf;
      }
      j += "]}\n";
      if (o.json == "-") {
        std::fputs(j.c_str(), stdout);
      } else {
        std::ofstream out(o.json);
        out << j;
        if (!out) {
          std::fprintf(stderr, "socd replay: cannot write the report to %s\n", o.json.c_str());
          rc = kRuntimeError;
        }
      }
    }
  }
  if (temporary) fs::remove_all(o.data_dir);
  else std::fprintf(stderr, "replay: alerts stored in %s (read them with 'socd alerts list --data-dir %s')\n",
                    o.data_dir.c_str(), o.data_dir.c_str());
  return rc;
}

}  // namespace socd::cli
