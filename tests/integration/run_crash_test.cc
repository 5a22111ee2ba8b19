// Crash consistency of `socd run`: a file of a million JSON events, every tenth carrying a marker one rule
// matches, is read by `socd run --file F --exit-when-done`, which is killed with SIGKILL at random moments
// while it stores alerts and started again each time, then run to the end. The promise under test
// (pipeline.h, alert_store.h): the alerts of a batch and the file's checkpoint after it are one RocksDB
// write, written in file order, so whatever the moment of the kill, the store holds exactly the alerts of the
// lines before its checkpoint, and the restart resumes at that checkpoint: in the end every marked line has
// exactly one alert, none is missing, and no line was skipped.
//
// After every kill the store is opened as `socd alerts` opens it (a read-only secondary instance) and
// checked: the marked lines with an alert are exactly those up to the checkpoint's line, and the checkpoint's
// offset is the start of the next line. At the end `socd alerts list --json` must list each marked line once.
//
// The kill moments are random: SOCD_CRASH_SEED=N repeats a run's draws (the seed is printed; the delays also
// follow the rate the machine shows). Each kill comes a random delay after the run stored its first alert
// (seen on its metrics endpoint), so it lands while lines are read, matched and stored; a kill that comes
// after the run stored the whole file is not counted. Should the file be read to its end before the planned
// kills are done (a fast machine), more events are appended to it and the runs go on: a file that grew
// between two runs is resumed like any other.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>
#include <unordered_map>

#include "socd/alert_store.h"
#include "socd/file_source.h"
#include "support/socd_process.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kInitialEvents = 1'000'000;
constexpr uint64_t kAppendedEvents = 200'000;  // per top-up, when the file ran out before the kills did
constexpr uint64_t kMarkEvery = 10;
constexpr int kKills = 12;
constexpr int kMaxDelayMs = 400;  // a kill comes at most this long after the run's first stored alert
constexpr const char* kRuleId = "0c7a5e3e-1b7e-4f0a-9a3c-2d9f6c1e8b40";

constexpr const char* kRule = R"(title: Crash test marker
id: 0c7a5e3e-1b7e-4f0a-9a3c-2d9f6c1e8b40
status: test
description: Events of the crash test that carry its marker.
logsource:
  product: socd-crash-test
detection:
  selection:
    marker: crash-mark
  condition: selection
level: low
)";

// The event file and what is known about it: where each line starts (line n, 1-based, starts at starts[n -
// 1]; starts[lines] is the file size).
class EventFile {
public:
  explicit EventFile(std::string path) : path_(std::move(path)) { starts_.push_back(0); }

  // Appends `count` events; line n is {"seq":n,...}, with the marker when n is a multiple of kMarkEvery.
  bool append(uint64_t count) {
    std::FILE* f = std::fopen(path_.c_str(), "ab");
    if (!f) return false;
    std::string buffer;
    char line[200];
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t seq = lines() + 1;
      const char* marker = seq % kMarkEvery == 0 ? "crash-mark" : "plain";
      int n = std::snprintf(line, sizeof line,
                            "{\"seq\":%llu,\"marker\":\"%s\",\"host\":\"h%llu\",\"msg\":\"event %llu of the "
                            "crash test\"}\n",
                            static_cast<unsigned long long>(seq), marker,
                            static_cast<unsigned long long>(seq % 7), static_cast<unsigned long long>(seq));
      buffer.append(line, static_cast<size_t>(n));
      starts_.push_back(starts_.back() + static_cast<uint64_t>(n));
      if (buffer.size() > (1 << 20)) {
        if (std::fwrite(buffer.data(), 1, buffer.size(), f) != buffer.size()) return std::fclose(f), false;
        buffer.clear();
      }
    }
    bool ok = std::fwrite(buffer.data(), 1, buffer.size(), f) == buffer.size();
    return std::fclose(f) == 0 && ok;
  }
  const std::string& path() const { return path_; }
  uint64_t lines() const { return starts_.size() - 1; }
  uint64_t size() const { return starts_.back(); }
  uint64_t start_of(uint64_t line) const { return starts_[line - 1]; }
  uint64_t marked_up_to(uint64_t line) const { return line / kMarkEvery; }

private:
  std::string path_;
  std::vector<uint64_t> starts_;
};

// socd in the background, stderr into a file.
class SocdProcess {
public:
  SocdProcess(const std::vector<std::string>& args, const std::string& err_path) : err_path_(err_path) {
    std::string program = SOCD_BINARY;
    std::vector<char*> argv{program.data()};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addchdir_np(&actions, SOCD_SOURCE_DIR);
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~SocdProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  // True while it runs; once it ended, its wait status is in status().
  bool running() {
    if (pid_ <= 0) return false;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  // SIGKILL; returns true when the kill ended it (it was still running).
  bool kill9() {
    if (!running()) return false;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    return WIFSIGNALED(status_) && WTERMSIG(status_) == SIGKILL;
  }
  bool wait_exit(std::chrono::seconds timeout) {
    auto until = Clock::now() + timeout;
    while (running()) {
      if (Clock::now() > until) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  bool exited_ok() const { return WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }
  std::string describe() const {
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return "exit " + std::to_string(WEXITSTATUS(status_));
  }
  std::string err_tail() const { return test::last_lines(test::read_file(err_path_), 15); }

private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string err_path_;
};

// A loopback TCP port free at the time of the call (socd binds it a moment later).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

// The value of an unlabelled metric from GET /metrics on 127.0.0.1:port; -1 when it cannot be read (not up
// yet).
double read_metric(int port, std::string_view name) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[16384];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  std::string key = "\n" + std::string(name) + " ";
  size_t at = response.find(key);
  if (at == std::string::npos) return -1;
  return std::strtod(response.c_str() + at + key.size(), nullptr);
}

// What one alert says about the event it was raised on.
struct AlertFacts {
  std::string id, rule;
  uint64_t seq = 0, line = 0;
};

// Reads id, rule id, source.line and event.seq of an alert's JSON; an error names what is missing.
Status alert_facts(simdjson::ondemand::parser& parser, std::string_view json, AlertFacts& out) {
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return Status::error("not JSON");
  std::string_view id, rule;
  uint64_t line = 0, seq = 0;
  if (doc["id"].get_string().get(id)) return Status::error("no \"id\"");
  if (doc["rule"]["id"].get_string().get(rule)) return Status::error("no \"rule\".\"id\"");
  if (doc["source"]["line"].get_uint64().get(line)) return Status::error("no \"source\".\"line\"");
  if (doc["event"]["seq"].get_uint64().get(seq)) return Status::error("no \"event\".\"seq\"");
  out.id = id;
  out.rule = rule;
  out.line = line;
  out.seq = seq;
  return Status();
}

// Checks a set of alerts against the file: each is on a marked line, names the line its event is on, and no
// id and no line comes twice. `marked` receives the marked lines that have an alert. Returns failures as
// text.
std::string check_alerts(const std::vector<std::string>& jsons, const EventFile& file,
                         std::vector<bool>& marked) {
  simdjson::ondemand::parser parser;
  std::unordered_map<std::string, uint64_t> ids;
  std::string problems;
  size_t reported = 0;
  auto problem = [&](const std::string& text) {
    if (++reported <= 10) problems += "  " + text + "\n";
  };
  marked.assign(file.lines() / kMarkEvery + 1, false);
  ids.reserve(jsons.size());
  for (const auto& json : jsons) {
    AlertFacts a;
    if (Status s = alert_facts(parser, json, a); !s.ok()) {
      problem("an alert that cannot be read (" + s.message() + "): " + json.substr(0, 200));
      continue;
    }
    if (a.rule != kRuleId) problem("an alert of an unexpected rule " + a.rule);
    if (a.seq != a.line) problem("alert " + a.id + ": event seq " + std::to_string(a.seq) + " on line " +
                                 std::to_string(a.line) + " (line numbers went astray across a restart)");
    if (a.seq == 0 || a.seq > file.lines() || a.seq % kMarkEvery != 0) {
      problem("alert " + a.id + " on seq " + std::to_string(a.seq) + ", not a marked line");
      continue;
    }
    if (auto [it, fresh] = ids.emplace(a.id, a.seq); !fresh)
      problem("alert id " + a.id + " stored twice (seq " + std::to_string(a.seq) + ")");
    if (marked[a.seq / kMarkEvery])
      problem("seq " + std::to_string(a.seq) + " has two alerts (id " + a.id + ")");
    marked[a.seq / kMarkEvery] = true;
  }
  if (reported > 10) problems += "  ... " + std::to_string(reported - 10) + " more\n";
  return problems;
}

// The marked lines up to `line` must all have an alert and none after it; describes the first gaps otherwise.
std::string check_prefix(const std::vector<bool>& marked, uint64_t line) {
  std::string problems;
  size_t reported = 0;
  for (uint64_t k = 1; k < marked.size(); ++k) {
    bool expected = k * kMarkEvery <= line;
    if (marked[k] == expected) continue;
    if (++reported <= 10)
      problems += "  seq " + std::to_string(k * kMarkEvery) +
                  (expected ? ": no alert, though the checkpoint is past it (lost)\n"
                            : ": an alert, though the checkpoint is before it (alert without checkpoint)\n");
  }
  if (reported > 10) problems += "  ... " + std::to_string(reported - 10) + " more\n";
  return problems;
}

// Opens the store as `socd alerts` does after a kill and checks it against the file. Returns the checkpoint
// line.
uint64_t check_store_after_kill(const std::string& dir, const EventFile& file,
                                const std::string& checkpoint_key, int kill) {
  SCOPED_TRACE("after kill " + std::to_string(kill));
  StoreOptions ro;
  ro.read_only = true;
  auto store = AlertStore::open(dir, ro);
  if (!store) {
    ADD_FAILURE() << "the store does not open after the kill: " << store.error().message();
    return 0;
  }
  auto value = (*store)->checkpoint(checkpoint_key);
  if (!value) {
    ADD_FAILURE() << "the checkpoint cannot be read: " << value.error().message();
    return 0;
  }
  FileCheckpoint cp;  // no checkpoint yet: nothing stored, line 0
  if (value->has_value()) {
    auto decoded = decode_file_checkpoint(**value);
    if (!decoded) {
      ADD_FAILURE() << "the checkpoint does not decode: " << decoded.error().message();
      return 0;
    }
    cp = *decoded;
  }
  EXPECT_LE(cp.line, file.lines());
  if (cp.line > file.lines()) return 0;
  EXPECT_EQ(cp.offset, cp.line == file.lines() ? file.size() : file.start_of(cp.line + 1))
      << "the checkpoint of line " << cp.line << " is not at the start of the next line";
  std::vector<std::string> jsons;
  Status listed = (*store)->list(AlertQuery{}, [&](const StoredAlert& a) {
    jsons.push_back(a.json);
    return true;
  });
  EXPECT_TRUE(listed.ok()) << listed.message();
  auto count = (*store)->count();
  EXPECT_TRUE(count.ok());
  if (count) {
    EXPECT_EQ(*count, jsons.size()) << "the alert count disagrees with the alerts listed";
  }
  std::vector<bool> marked;
  std::string problems = check_alerts(jsons, file, marked);
  EXPECT_TRUE(problems.empty()) << "alerts after the kill:\n" << problems;
  problems = check_prefix(marked, cp.line);
  EXPECT_TRUE(problems.empty()) << "checkpoint at line " << cp.line << ", " << jsons.size() << " alerts:\n"
                                << problems;
  return cp.line;
}

TEST(RunCrash, KilledAtRandomMomentsStoresEveryAlertExactlyOnce) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SOCD_CRASH_SEED"); s && *s) seed = std::strtoull(s, nullptr, 10);
  std::printf("run_crash_test: seed %llu (repeat with SOCD_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (repeat with SOCD_CRASH_SEED=" + std::to_string(seed) +
               ")");
  std::mt19937_64 random(seed);

  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string rules = dir.file("rules"), data = dir.file("data");
  ASSERT_TRUE(std::filesystem::create_directory(rules));
  ASSERT_TRUE(test::write_file(rules + "/crash_mark.yml", kRule));
  EventFile file(dir.file("events.jsonl"));
  ASSERT_TRUE(file.append(kInitialEvents)) << "cannot write " << file.path();
  struct stat st;
  ASSERT_EQ(::stat(file.path().c_str(), &st), 0);
  const std::string checkpoint_key = file_checkpoint_key(st.st_dev, st.st_ino);

  auto args = [&](int port) {
    std::vector<std::string> a{"run",      "--file",      file.path(), "--exit-when-done", "--data-dir", data,
                               "--rules",  rules,         "--cache-dir", "none",           "--workers",  "2"};
    if (port > 0) {
      a.push_back("--metrics");
      a.push_back("127.0.0.1:" + std::to_string(port));
    }
    return a;
  };

  int kills = 0, runs = 0, port_retries = 0;
  uint64_t line = 0;  // the checkpoint's line after the last kill
  // Each delay is drawn uniformly from 0 to twice the time the lines still unread, shared among the kills
  // still to come, take at the rate seen so far (up to kMaxDelayMs; kMaxDelayMs until a rate is seen): the
  // kills spread over the whole file, on a slow machine as on a fast one.
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  double lines_per_ms = 0;
  auto max_delay = [&] {
    if (lines_per_ms <= 0) return kMaxDelayMs;
    double share = static_cast<double>(file.lines() - line) / (kKills - kills);
    return std::clamp(static_cast<int>(2 * share / lines_per_ms), 5, kMaxDelayMs);
  };
  while (kills < kKills) {
    ASSERT_LT(runs, 4 * kKills) << "too many runs without reaching " << kKills << " kills";
    ++runs;
    int port = free_port();
    ASSERT_GT(port, 0);
    SocdProcess socd(args(port), dir.file("run" + std::to_string(runs) + ".err"));
    ASSERT_TRUE(socd.started());
    // Wait for the first alert this run stores: from then on it reads, matches and stores.
    auto until = Clock::now() + 60s;
    bool storing = false;
    while (!storing && socd.running() && Clock::now() < until) {
      storing = read_metric(port, "socd_alerts_stored_total") > 0;
      if (!storing) std::this_thread::sleep_for(5ms);
    }
    if (!storing && !socd.running()) {
      // Another program took the free port between our look and socd's bind: try again on another one.
      if (!socd.exited_ok() && socd.err_tail().find("is the port in use") != std::string::npos) {
        ASSERT_LT(++port_retries, 10) << socd.err_tail();
        --runs;
        continue;
      }
      // It ended before we saw it store: it read the rest of the file (or failed).
      ASSERT_TRUE(socd.exited_ok()) << "run " << runs << ": " << socd.describe() << "\n" << socd.err_tail();
      ASSERT_TRUE(file.append(kAppendedEvents));
      std::printf("run_crash_test: run %d read the file to its end before a kill; %llu events appended\n",
                  runs, static_cast<unsigned long long>(kAppendedEvents));
      continue;
    }
    ASSERT_TRUE(storing) << "run " << runs << " stored no alert within 60 s\n" << socd.err_tail();
    int delay = static_cast<int>(fraction(random) * max_delay());
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    const uint64_t before = line;
    if (!socd.kill9()) {
      // It was faster than thought: the rate seen is at least what it read in that time.
      lines_per_ms = std::max(2 * lines_per_ms, static_cast<double>(file.lines() - before) / (delay + 1));
      ASSERT_TRUE(socd.exited_ok()) << "run " << runs << ": " << socd.describe() << "\n" << socd.err_tail();
      ASSERT_TRUE(file.append(kAppendedEvents));
      std::printf("run_crash_test: run %d ended before its kill (%d ms); %llu events appended\n", runs, delay,
                  static_cast<unsigned long long>(kAppendedEvents));
      continue;
    }
    line = check_store_after_kill(data, file, checkpoint_key, kills + 1);
    EXPECT_GT(line, before) << "a run that stored alerts left the checkpoint where it was";
    if (HasFailure()) return;
    double seen = static_cast<double>(line - before) / (delay + 1);
    // Everything was stored already: the kill hit the shutdown, not the ingestion.
    if (line == file.lines()) {
      lines_per_ms = std::max(2 * lines_per_ms, seen);
      ASSERT_TRUE(file.append(kAppendedEvents));
      std::printf("run_crash_test: run %d was killed %d ms after its first stored alert, after it had stored "
                  "the whole file (not counted); %llu events appended\n",
                  runs, delay, static_cast<unsigned long long>(kAppendedEvents));
      continue;
    }
    if (delay >= 20 || lines_per_ms <= 0) lines_per_ms = seen;  // a short delay says little about the rate
    ++kills;
    std::printf("run_crash_test: kill %d, %d ms after the first stored alert of run %d: checkpoint at line "
                "%llu of %llu\n",
                kills, delay, runs, static_cast<unsigned long long>(line),
                static_cast<unsigned long long>(file.lines()));
    std::fflush(stdout);
  }

  // The last run, to the end.
  ++runs;
  SocdProcess last(args(0), dir.file("last.err"));
  ASSERT_TRUE(last.started());
  ASSERT_TRUE(last.wait_exit(300s)) << "the last run did not end within 300 s\n" << last.err_tail();
  ASSERT_TRUE(last.exited_ok()) << last.describe() << "\n" << last.err_tail();
  auto summary = test::parse_summary(test::read_file(dir.file("last.err")));
  ASSERT_TRUE(summary.has_value()) << last.err_tail();
  EXPECT_EQ(test::summary_number(*summary, "events"), static_cast<double>(file.lines() - line))
      << "the last run did not resume at the checkpoint of line " << line;
  EXPECT_EQ(test::summary_number(*summary, "malformed"), 0) << "a run resumed in the middle of a line";

  // Every marked line exactly once, as an analyst lists them.
  auto listed = test::run_socd({"alerts", "list", "--data-dir", data, "--json"});
  ASSERT_TRUE(listed.exited_with(0)) << listed.describe() << "\n" << test::last_lines(listed.err, 10);
  std::vector<std::string> jsons;
  for (std::string_view l : test::split_lines(listed.out)) jsons.emplace_back(l);
  EXPECT_EQ(jsons.size(), file.lines() / kMarkEvery);
  std::vector<bool> marked;
  std::string problems = check_alerts(jsons, file, marked);
  EXPECT_TRUE(problems.empty()) << problems;
  problems = check_prefix(marked, file.lines());
  EXPECT_TRUE(problems.empty()) << "after the last run:\n" << problems;

  // No line skipped: the checkpoint has counted every line and stands at the end of the file.
  StoreOptions ro;
  ro.read_only = true;
  auto store = AlertStore::open(data, ro);
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto value = (*store)->checkpoint(checkpoint_key);
  ASSERT_TRUE(value.ok() && value->has_value()) << "no checkpoint for " << file.path();
  auto cp = decode_file_checkpoint(**value);
  ASSERT_TRUE(cp.ok()) << cp.error().message();
  EXPECT_EQ(cp->line, file.lines());
  EXPECT_EQ(cp->offset, file.size());
  std::printf("run_crash_test: %d kills in %d runs; %llu events, %zu alerts, each marked line once\n", kills,
              runs, static_cast<unsigned long long>(file.lines()), jsons.size());
}

}  // namespace
}  // namespace socd
