// Support for the end-to-end tests of `socd run`: a child process in the background (optionally fed through a
// pipe on its standard input, stopped at the end whatever happens), the socd service itself (started on
// loopback ports, its metrics read over HTTP, stopped with SIGTERM and its summary line parsed), a tiny
// HTTP/1.0 client, the alerts of a store as `socd alerts list --json` prints them, and numbered test lines
// that say whether a rule should fire.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "support/socd_process.h"
#include "support/syslog_test_support.h"

namespace socd::test {

// ---- a child process in the background --------------------------------------------------------------------

// A program running in the background: stdout and stderr appended to one log file, stdin from /dev/null or
// from a pipe the test writes. Destroying it stops it (SIGTERM, then SIGKILL after `kill_after`), so no test
// leaves a process behind, also when an assertion ends the test early.
class ChildProcess {
public:
  struct Options {
    std::string cwd;          // empty: the test's own
    bool stdin_pipe = false;  // true: write_stdin() feeds the program
    std::string err_log;      // where stderr goes; empty: into the log with stdout
  };

  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { stop(std::chrono::seconds(5)); }

  // Starts `program`; false (with error()) when it cannot be started.
  bool start(const std::string& program, const std::vector<std::string>& args, const std::string& log,
             const Options& options) {
    log_ = log;
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int pipe_fds[2] = {-1, -1};
    if (options.stdin_pipe && ::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      error_ = std::string("pipe2: ") + std::strerror(errno);
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.stdin_pipe)
      posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);  // dup2 clears CLOEXEC
    else
      posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (options.err_log.empty())
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
    else
      posix_spawn_file_actions_addopen(&actions, 2, options.err_log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0600);
    if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
    int spawn_error = posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (options.stdin_pipe) ::close(pipe_fds[0]);
    if (spawn_error != 0) {
      pid_ = -1;
      if (options.stdin_pipe) ::close(pipe_fds[1]);
      error_ = program + ": " + std::strerror(spawn_error);
      return false;
    }
    stdin_ = pipe_fds[1];
    return true;
  }

  const std::string& error() const { return error_; }
  std::string log() const { return read_file(log_); }
  pid_t pid() const { return pid_; }

  // True while the program runs; once it ended, status() says how.
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reap(status);
      return false;
    }
    return true;
  }
  void signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits until the program ended, at most `timeout`; true when it did.
  bool wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  // SIGTERM, wait up to `kill_after`, then SIGKILL. Returns true when SIGTERM alone was enough.
  bool stop(std::chrono::milliseconds kill_after) {
    close_stdin();
    if (!running()) return true;
    signal(SIGTERM);
    if (wait_exit(kill_after)) return true;
    signal(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reap(status);
    return false;
  }
  // "exit 0", "killed by signal 9 (Killed)", "running" or "not started".
  std::string status() const {
    if (!ended_) return pid_ > 0 ? "running" : "not started";
    if (signal_ != 0) return "killed by signal " + std::to_string(signal_) + " (" + strsignal(signal_) + ")";
    return "exit " + std::to_string(exit_code_);
  }
  bool exited_with(int code) const { return ended_ && signal_ == 0 && exit_code_ == code; }

  // Writes all of `data` to the program's stdin; false when the pipe is closed (the program ended).
  bool write_stdin(std::string_view data) {
    static const bool sigpipe_ignored = [] { return ::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    while (!data.empty() && stdin_ >= 0) {
      ssize_t n = ::write(stdin_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return data.empty();
  }
  void close_stdin() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
  }

private:
  void reap(int status) {
    pid_ = -1;
    ended_ = true;
    if (WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) signal_ = WTERMSIG(status);
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  bool ended_ = false;
  int exit_code_ = -1, signal_ = 0;
  std::string log_, error_;
};

// ---- loopback ports and HTTP ------------------------------------------------------------------------------

// A TCP port on 127.0.0.1 that was free a moment ago (the system's choice for port 0), for programs that must
// be told their port in advance (Prometheus, socd's --metrics). 0 when none could be found.
inline uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_storage address;
  socklen_t length = loopback_address("127.0.0.1", 0, address);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) == 0) {
    length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
  }
  ::close(fd);
  return port;
}

struct HttpResponse {
  int status = 0;  // 0: no answer (connection refused, timeout, not HTTP)
  std::string body;
};

// GET `target` from 127.0.0.1:`port` over HTTP/1.0 (so the answer is neither chunked nor kept alive).
inline HttpResponse http_get(uint16_t port, const std::string& target) {
  HttpResponse response;
  int fd = tcp_connect("127.0.0.1", port);  // 10 s send and receive timeouts
  if (fd < 0) return response;
  std::string request = "GET " + target + " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  std::string answer;
  if (send_all(fd, request)) {
    char buffer[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      answer.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  size_t head_end = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || answer.size() < 12) return response;
  response.status = std::atoi(answer.c_str() + 9);
  response.body = answer.substr(head_end + 4);
  return response;
}

// Percent-encodes a query parameter value.
inline std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// The samples of a Prometheus text exposition, by series as written: `name` or `name{label="value",...}`.
using MetricSamples = std::map<std::string, double, std::less<>>;
inline MetricSamples parse_metric_samples(std::string_view text) {
  MetricSamples samples;
  for (std::string_view line : split_lines(text)) {
    if (line.empty() || line.front() == '#') continue;
    size_t close = line.rfind('}');
    size_t space = line.find(' ', close == std::string_view::npos ? 0 : close);
    if (space == std::string_view::npos) continue;
    std::string value(line.substr(space + 1));
    value = value.substr(0, value.find(' '));  // a timestamp may follow
    samples[std::string(line.substr(0, space))] = std::strtod(value.c_str(), nullptr);
  }
  return samples;
}

// The series name of a metric with labels, as prometheus-cpp writes it: name{a="x",b="y"}.
inline std::string series(std::string_view name,
                          const std::vector<std::pair<std::string, std::string>>& labels = {}) {
  std::string s(name);
  if (labels.empty()) return s;
  s += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) s += ',';
    s += labels[i].first + "=\"" + labels[i].second + "\"";
  }
  return s + '}';
}

// A sample's value, or -1 when the series is absent (so an equality with a count fails visibly).
inline double sample(const MetricSamples& samples, const std::string& series_name) {
  auto it = samples.find(series_name);
  return it == samples.end() ? -1 : it->second;
}

// ---- numbered test lines ----------------------------------------------------------------------------------

// The token every test rule looks for, and the numbering the tests recognise lines by.
constexpr std::string_view kHitToken = "socd-test-hit";

// A syslog line (RFC 3164 shape, as files and rsyslog carry them) with sequence number `seq` and the hit
// token unless `hit` is false; `extra` is added to the message (more tokens for more rules). Some padding
// varies the lengths.
inline std::string numbered_line(uint64_t seq, bool hit, std::string_view extra = {}) {
  std::string line = "Nov 22 10:00:01 web01 app[42]: seq=" + std::to_string(seq) + " ";
  line += hit ? kHitToken : std::string_view("socd-test-miss");
  if (!extra.empty()) {
    line += ' ';
    line += extra;
  }
  line += " payload ";
  line.append(seq % 37, '.');
  line += '\n';
  return line;
}

// The default choice of which lines hit: all but every fifth, so events and alerts differ.
inline bool hits(uint64_t seq) { return seq % 5 != 4; }

// ---- alerts in the store ----------------------------------------------------------------------------------

struct ListedAlert {
  std::string id, rule_id, message, file;
  int64_t line = -1;  // source.line, -1 when absent
  int64_t seq = -1;   // the seq=N of the message, -1 when absent
};

// Every alert of the store under `data_dir`, as `socd alerts list --json` prints them; `error` says what
// failed.
inline std::vector<ListedAlert> list_alerts(const std::string& data_dir, std::string& error) {
  std::vector<ListedAlert> alerts;
  TempDir capture;
  ChildProcess lister;
  ChildProcess::Options options;
  options.err_log = capture.file("stderr");
  if (!capture.ok() || !lister.start(SOCD_BINARY, {"alerts", "list", "--data-dir", data_dir, "--json"},
                                     capture.file("stdout"), options)) {
    error = "cannot run socd alerts list: " + lister.error();
    return alerts;
  }
  if (!lister.wait_exit(std::chrono::seconds(120))) {
    lister.stop(std::chrono::seconds(1));
    error = "socd alerts list did not end within 120 s";
    return alerts;
  }
  if (!lister.exited_with(0)) {
    error = "socd alerts list: " + lister.status() + "\n" + last_lines(read_file(capture.file("stderr")), 10);
    return alerts;
  }
  const std::string listed = read_file(capture.file("stdout"));
  static const std::regex seq_pattern("seq=([0-9]+) ");
  simdjson::ondemand::parser parser;
  for (std::string_view line : split_lines(listed)) {
    simdjson::padded_string padded(line);
    simdjson::ondemand::document doc;
    ListedAlert a;
    std::string_view text;
    if (parser.iterate(padded).get(doc) || doc["id"].get_string().get(text)) {
      error = "not an alert: " + std::string(line.substr(0, 300));
      return alerts;
    }
    a.id = std::string(text);
    if (!doc["rule"]["id"].get_string().get(text)) a.rule_id = std::string(text);
    simdjson::ondemand::object source;
    if (!doc["source"].get_object().get(source)) {
      if (!source["file"].get_string().get(text)) a.file = std::string(text);
      int64_t number;
      if (!source["line"].get_int64().get(number)) a.line = number;
    }
    if (!doc["event"]["message"].get_string().get(text)) a.message = std::string(text);
    std::smatch match;
    if (std::regex_search(a.message, match, seq_pattern)) a.seq = std::stoll(match[1].str());
    alerts.push_back(std::move(a));
  }
  return alerts;
}

// How often each seq appears among the alerts of `rule_id`.
inline std::map<int64_t, int> seq_counts(const std::vector<ListedAlert>& alerts, std::string_view rule_id) {
  std::map<int64_t, int> counts;
  for (const auto& a : alerts)
    if (a.rule_id == rule_id) ++counts[a.seq];
  return counts;
}

// Compares the seqs that fired with the ones that should have, each exactly once; "" when they agree, else a
// description of the first few missing, repeated and unexpected ones.
inline std::string exactly_once(const std::map<int64_t, int>& counts, const std::vector<uint64_t>& expected) {
  std::vector<int64_t> missing, repeated, unexpected;
  std::map<int64_t, bool> wanted;
  for (uint64_t seq : expected) wanted[static_cast<int64_t>(seq)] = true;
  for (const auto& [seq, n] : counts) {
    if (!wanted.count(seq))
      unexpected.push_back(seq);
    else if (n > 1)
      repeated.push_back(seq);
  }
  for (const auto& [seq, unused] : wanted)
    if (!counts.count(seq)) missing.push_back(seq);
  if (missing.empty() && repeated.empty() && unexpected.empty()) return "";
  auto show = [](const char* what, const std::vector<int64_t>& seqs) {
    if (seqs.empty()) return std::string();
    std::string s = std::to_string(seqs.size()) + " " + what + " (";
    for (size_t i = 0; i < seqs.size() && i < 12; ++i) s += (i ? " " : "") + std::to_string(seqs[i]);
    return s + (seqs.size() > 12 ? " ...) " : ") ");
  };
  return show("missing", missing) + show("more than once", repeated) + show("unexpected", unexpected);
}

// ---- the socd service -------------------------------------------------------------------------------------

// A Sigma rule, written by the tests, that fires on every event containing `keyword` (any log source).
inline std::string keyword_rule(const std::string& id, const std::string& title, std::string_view keyword) {
  return "title: " + title + "\nid: " + id +
         "\nstatus: test\nlogsource: {}\ndetection:\n    keywords:\n        - '" + std::string(keyword) +
         "'\n    condition: keywords\nlevel: low\n";
}

// `socd run` in the background, with its stderr in a file the test reads while it runs. The rule directory,
// the store and the compiled-rule cache are the test's (in its temporary directory); metrics are served on a
// free loopback port. Listener addresses with port 0 get a port from the system; port_of() reads it from the
// "running:" line.
class SocdService {
public:
  struct Options {
    std::string data_dir, rules, cache_dir;
    std::vector<std::string> sources;  // e.g. {"--syslog-tcp", "127.0.0.1:0"}
    bool stdin_pipe = false;
    bool metrics = true;
    std::string log;  // where stdout and stderr go
  };

  explicit SocdService(Options options) : options_(std::move(options)) {}

  // Starts socd and waits (bounded) until it says it runs; a metrics port taken meanwhile is retried.
  bool start(std::string& error) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::vector<std::string> args{
          "run",         "--data-dir",       options_.data_dir, "--rules", options_.rules,
          "--cache-dir", options_.cache_dir, "--workers",       "2"};
      if (workers_ != 0) args.back() = std::to_string(workers_);
      args.insert(args.end(), options_.sources.begin(), options_.sources.end());
      if (options_.metrics) {
        metrics_port_ = free_tcp_port();
        args.push_back("--metrics");
        args.push_back("127.0.0.1:" + std::to_string(metrics_port_));
      }
      log_offset_ = read_file(options_.log).size();  // earlier runs may have written to the same log
      process_ = std::make_unique<ChildProcess>();
      ChildProcess::Options po;
      po.stdin_pipe = options_.stdin_pipe;
      if (!process_->start(SOCD_BINARY, args, options_.log, po)) {
        error = process_->error();
        return false;
      }
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < deadline) {
        if (running_line().size() > 0) return true;
        if (!process_->running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      std::string err = this->err();
      if (process_->running()) {
        error = "socd run did not say it runs within 30 s; its stderr:\n" + last_lines(err, 20);
        return false;
      }
      if (err.find("cannot serve metrics") == std::string::npos) {
        error = "socd run ended (" + process_->status() + "); its stderr:\n" + last_lines(err, 20);
        return false;
      }
    }
    error = "no free port for --metrics after 5 attempts";
    return false;
  }
  void set_workers(unsigned workers) { workers_ = workers; }

  // What this run wrote to stderr so far.
  std::string err() const {
    std::string all = read_file(options_.log);
    return log_offset_ <= all.size() ? all.substr(log_offset_) : all;
  }
  // The "socd run: running: ..." line, or "" before socd wrote it.
  std::string running_line() const {
    std::string text = err();
    size_t at = text.find("socd run: running: ");
    if (at == std::string::npos) return "";
    size_t end = text.find('\n', at);
    if (end == std::string::npos) return "";
    return text.substr(at, end - at);
  }
  // The name a source has in the running line and in the metrics: "syslog-tcp:127.0.0.1:40123" for a listener
  // started as "syslog-tcp" on `host`; "" when it is not there.
  std::string source_name(const std::string& kind, const std::string& host) const {
    std::string line = running_line();
    std::string prefix = kind + ":" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":";
    size_t at = line.find(prefix);
    if (at == std::string::npos) return "";
    size_t end = line.find_first_not_of("0123456789", at + prefix.size());
    return line.substr(at, (end == std::string::npos ? line.size() : end) - at);
  }
  uint16_t port_of(const std::string& kind, const std::string& host) const {
    std::string name = source_name(kind, host);
    size_t colon = name.rfind(':');
    return colon == std::string::npos ? 0 : static_cast<uint16_t>(std::atoi(name.c_str() + colon + 1));
  }
  uint16_t metrics_port() const { return metrics_port_; }

  // The metrics now (empty when they cannot be read).
  MetricSamples metrics() const {
    HttpResponse r = http_get(metrics_port_, "/metrics");
    return r.status == 200 ? parse_metric_samples(r.body) : MetricSamples{};
  }
  // Polls the metrics until `series_name` reaches at least `value` or `timeout` passes (or socd ended);
  // returns the last value seen.
  double wait_metric_at_least(const std::string& series_name, double value,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    double seen = -1;
    for (;;) {
      seen = sample(metrics(), series_name);
      if (seen >= value || std::chrono::steady_clock::now() >= deadline || !process_->running()) return seen;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // Waits until stderr holds `text` `count` times (or `timeout` passes, or socd ended); true when it does.
  bool wait_stderr(std::string_view text, size_t count = 1,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    return eventually(
               [&] {
                 std::string e = err();
                 size_t n = 0;
                 for (size_t at = e.find(text); at != std::string::npos; at = e.find(text, at + 1)) ++n;
                 return n >= count || !process_->running();
               },
               timeout) &&
           occurrences(text) >= count;
  }
  size_t occurrences(std::string_view text) const {
    std::string e = err();
    size_t n = 0;
    for (size_t at = e.find(text); at != std::string::npos; at = e.find(text, at + 1)) ++n;
    return n;
  }

  ChildProcess& process() { return *process_; }
  void signal(int sig) { process_->signal(sig); }
  bool write_stdin(std::string_view data) { return process_->write_stdin(data); }
  void close_stdin() { process_->close_stdin(); }

  // SIGTERM and wait for the drain (at most 60 s, then SIGKILL). Fills `summary` from the last stderr line;
  // returns "" when socd exited 0 with a summary, else what went wrong.
  std::string stop(Summary& summary) {
    process_->close_stdin();
    bool clean = process_->stop(std::chrono::seconds(60));
    std::string e = err();
    if (!clean)
      return "socd run did not stop within 60 s of SIGTERM (killed); its stderr:\n" + last_lines(e, 20);
    if (!process_->exited_with(0))
      return "socd run: " + process_->status() + "; its stderr:\n" + last_lines(e, 20);
    auto parsed = parse_summary(e);
    if (!parsed) return "the last stderr line is not the summary:\n" + last_lines(e, 5);
    summary = *parsed;
    return "";
  }

private:
  Options options_;
  unsigned workers_ = 0;
  uint16_t metrics_port_ = 0;
  size_t log_offset_ = 0;
  std::unique_ptr<ChildProcess> process_ = std::make_unique<ChildProcess>();
};

}  // namespace socd::test
