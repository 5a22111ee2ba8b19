// Hostile input against a real `socd run` on 127.0.0.1: a slow-loris syslog TCP client, a 1 GB line, 100,000-deep
// JSON, invalid UTF-8 and NUL bytes, a regex bomb in a rule, a burst of 2,000 connection attempts, an event with
// too many fields, an over-long line in a followed file, a UDP flood over the source rate, and rules over the
// patterns and regex-nesting limits. Each is met by its limit, counted in socd_limit_hits_total (rules:
// socd_rules_over_limit; read over --metrics), said on stderr, and (lines) kept as dead letters, while a
// well-behaved source (a file with numbered lines, written to during the attack) is served throughout: all its
// events arrive and every alert of its lines is stored exactly once.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>

#include <fstream>

#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::series;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-0000000000e1";
constexpr uint64_t kGoodLines = 300;

class HostileInputTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    std::filesystem::create_directories(dir_.path() / "rules");
    test::write_file(dir_.path() / "rules" / "hit.yml", test::keyword_rule(kHitRule, "Test hit", test::kHitToken));
  }

  // Starts socd with the good file and a TCP listener, plus `extra` options.
  void start(std::vector<std::string> extra) {
    test::SocdService::Options o;
    o.data_dir = dir_.file("store");
    o.rules = dir_.file("rules");
    o.cache_dir = dir_.file("cache");
    o.log = dir_.file("socd.log");
    good_path_ = dir_.file("good.log");
    test::write_file(good_path_, "");
    o.sources = {"--file", good_path_, "--syslog-tcp", "127.0.0.1:0"};
    o.sources.insert(o.sources.end(), extra.begin(), extra.end());
    service_ = std::make_unique<test::SocdService>(o);
    std::string error;
    ASSERT_TRUE(service_->start(error)) << error;
    tcp_name_ = service_->source_name("syslog-tcp", "127.0.0.1");
    port_ = service_->port_of("syslog-tcp", "127.0.0.1");
    ASSERT_NE(port_, 0);
  }

  // The well-behaved source: numbered lines appended to its file, some at a time.
  void write_good(uint64_t first, uint64_t count) {
    std::ofstream out(good_path_, std::ios::app);
    for (uint64_t seq = first; seq < first + count; ++seq) {
      out << test::numbered_line(seq, test::hits(seq));
      if (test::hits(seq)) hit_seqs_.push_back(seq);
    }
  }

  // The same numbered lines from a well-behaved syslog TCP sender (seqs apart from the file's).
  void send_good(int fd, uint64_t first, uint64_t count) {
    std::string lines;
    for (uint64_t seq = first; seq < first + count; ++seq) {
      lines += "<13>" + test::numbered_line(seq, test::hits(seq));
      if (test::hits(seq)) hit_seqs_.push_back(seq);
    }
    ASSERT_TRUE(test::send_all(fd, lines));
  }

  std::string file_source() const { return "file:" + good_path_; }
  double file_events() {
    return test::sample(service_->metrics(), series("socd_source_events_total", {{"source", file_source()}}));
  }
  double limit_hits(const std::string& limit) {
    return test::sample(service_->metrics(), series("socd_limit_hits_total", {{"limit", limit}, {"source", tcp_name_}}));
  }
  double wait_limit(const std::string& limit, double at_least, std::chrono::milliseconds timeout = 30s) {
    return wait_limit_of(tcp_name_, limit, at_least, timeout);
  }
  double wait_limit_of(const std::string& source, const std::string& limit, double at_least,
                       std::chrono::milliseconds timeout = 30s) {
    return service_->wait_metric_at_least(series("socd_limit_hits_total", {{"limit", limit}, {"source", source}}),
                                          at_least, timeout);
  }

  // The good source was served: every event arrived, every alert stored once. Stops socd; the alerts stay in
  // alerts_.
  void expect_good_source_served() {
    EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", file_source()}}),
                                             static_cast<double>(kGoodLines), 60s),
              static_cast<double>(kGoodLines));
    test::Summary summary;
    EXPECT_EQ(service_->stop(summary), "");
    std::string error;
    alerts_ = test::list_alerts(dir_.file("store"), error);
    ASSERT_TRUE(error.empty()) << error;
    EXPECT_EQ(test::exactly_once(test::seq_counts(alerts_, kHitRule), hit_seqs_), "");
  }

  // `socd deadletter list --json` (with `args`), one object a line.
  std::vector<std::string> dead_letters(std::vector<std::string> args = {}) {
    std::vector<std::string> all{"deadletter", "list", "--data-dir", dir_.file("store"), "--json"};
    all.insert(all.end(), args.begin(), args.end());
    test::ProcessResult r = test::run_socd(all);
    EXPECT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
    std::vector<std::string> lines;
    for (auto l : test::split_lines(r.out)) lines.emplace_back(l);
    return lines;
  }

  test::TempDir dir_;
  std::unique_ptr<test::SocdService> service_;
  std::string good_path_, tcp_name_;
  uint16_t port_ = 0;
  std::vector<uint64_t> hit_seqs_;
  std::vector<test::ListedAlert> alerts_;
};

TEST_F(HostileInputTest, SlowLorisAndSilentConnectionsAreClosedAtTheirTimeouts) {
  start({"--frame-timeout", "2", "--idle-timeout", "3"});
  int slow = test::tcp_connect("127.0.0.1", port_), silent = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(slow, 0);
  ASSERT_GE(silent, 0);
  // The good file gets its lines while the attack goes on: some before each byte the slow client dribbles.
  uint64_t written = 0;
  auto start_time = std::chrono::steady_clock::now();
  bool closed = false;
  for (const char* p = "<13>Nov 22 10:00:01 web01 app: a message sent one byte at a time, never ended";
       *p && std::chrono::steady_clock::now() - start_time < 8s; ++p) {
    uint64_t n = std::min<uint64_t>(15, kGoodLines - written);
    write_good(written, n);
    written += n;
    if (!test::send_all(slow, std::string_view(p, 1))) {
      closed = true;
      break;
    }
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(closed || test::closed_by_peer(slow, 5s));
  // Served during the attack, not only after it: lines written during the dribble are stored by the time the
  // slow sender is cut off (the silent connection, a second from its idle timeout, still holds on then).
  EXPECT_GT(file_events(), 0) << "none of the " << written << " lines written during the slow-loris was served";
  EXPECT_EQ(wait_limit("slow_sender", 1), 1);
  EXPECT_TRUE(test::closed_by_peer(silent, 5s));
  EXPECT_EQ(wait_limit("idle_timeout", 1), 1);
  EXPECT_TRUE(service_->wait_stderr("slow sender; limit frame_timeout_seconds"));
  EXPECT_TRUE(service_->wait_stderr("(limit idle_timeout_seconds"));
  ::close(slow);
  ::close(silent);
  write_good(written, kGoodLines - written);
  expect_good_source_served();
}

TEST_F(HostileInputTest, AGigabyteLineIsSetAsideWithItsHeadAndLength) {
  // The line must not be cut as a slow sender on a loaded machine: the frame timeout is set far off.
  start({"--frame-timeout", "600"});
  int fd = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  const std::string chunk(1 << 20, 'A');  // streamed: the test never holds more than a megabyte of it
  const uint64_t total = 1ull << 30;
  // The good file gets a 32nd of its lines at every 32 MB of the long line; halfway through the line the test
  // waits until those written so far are stored, so the file is shown served while the line is still coming.
  constexpr uint64_t kTicks = 32;
  const uint64_t tick_bytes = total / kTicks;
  uint64_t written = 0;
  auto start_time = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::send_all(fd, "<13>Nov 22 10:00:01 web01 app: "));
  for (uint64_t sent = 0; sent < total; sent += chunk.size()) {
    if (sent % tick_bytes == 0) {
      uint64_t upto = kGoodLines * (sent / tick_bytes + 1) / kTicks;
      write_good(written, upto - written);
      written = upto;
    }
    if (sent == total / 2)
      ASSERT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", file_source()}}),
                                               static_cast<double>(written), 30s),
                static_cast<double>(written))
          << "the good file is not served while half a gigabyte line waits for its end";
    ASSERT_TRUE(test::send_all(fd, chunk));
  }
  ASSERT_EQ(written, kGoodLines);
  ASSERT_TRUE(test::send_all(fd, "\n<13>Nov 22 10:00:02 web01 app: after the long line socd-test-miss\n"));
  EXPECT_EQ(wait_limit("line_bytes", 1, 90s), 1);
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, 100s);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), 1), 1);
  EXPECT_TRUE(service_->wait_stderr("set aside (line_bytes)"));
  ::close(fd);
  auto letters = dead_letters({"--reason", "line_bytes"});
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].find("\"length\":" + std::to_string(total + 31)), std::string::npos) << letters[0];
  EXPECT_NE(letters[0].find("\"kept_bytes\":4096"), std::string::npos) << letters[0].substr(0, 400);
  expect_good_source_served();
}

TEST_F(HostileInputTest, DeepJsonInvalidUtf8AndNulBytesAreSetAsideAsDeadLetters) {
  start({"--max-json-depth", "64", "--max-frame-bytes", "1048576"});
  write_good(0, kGoodLines / 2);
  int fd = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  std::string deep;
  for (int i = 0; i < 100'000; ++i) deep += "{\"a\":";
  deep += "1" + std::string(100'000, '}');
  const std::string bad_utf8 = "{\"message\":\"caf\xc3\x28 \xff\xfe\"}";
  const std::string nul("{\"message\":\"x\0y\"}", 18);
  // Octet counting keeps NUL bytes inside a message (LF framing would end the message there).
  std::string frames;
  const std::string fine = "{\"message\":\"still served socd-test-miss\"}";
  for (const std::string* m : std::initializer_list<const std::string*>{&deep, &bad_utf8, &nul, &fine})
    frames += std::to_string(m->size()) + " " + *m;
  ASSERT_TRUE(test::send_all(fd, frames));
  EXPECT_EQ(wait_limit("json_depth", 1), 1);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_dead_letters_total", {{"source", tcp_name_}}), 3), 3);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), 1), 1);
  EXPECT_TRUE(service_->wait_stderr("set aside (json_depth): nesting deeper than 64 levels"));
  EXPECT_TRUE(service_->wait_stderr("set aside (malformed): invalid JSON", 2));
  ::close(fd);
  write_good(kGoodLines / 2, kGoodLines / 2);
  auto letters = dead_letters({"--source", tcp_name_});
  ASSERT_EQ(letters.size(), 3u);
  EXPECT_NE(letters[0].find("\"reason\":\"json_depth\""), std::string::npos);
  EXPECT_NE(letters[1].find("\"reason\":\"malformed\""), std::string::npos);
  EXPECT_NE(letters[2].find("\\u0000"), std::string::npos) << letters[2];  // the NUL byte is kept
  test::ProcessResult shown = test::run_socd({"deadletter", "show", "--data-dir", dir_.file("store"), "2"});
  EXPECT_TRUE(shown.exited_with(0)) << shown.err;
  EXPECT_NE(shown.out.find("\\xff\\xfe"), std::string::npos) << shown.out;  // the invalid bytes, escaped
  expect_good_source_served();
}

TEST_F(HostileInputTest, ARegexBombRuleIsLeftOutAndABacktrackingRegexGivesUp) {
  test::write_file(dir_.path() / "rules" / "bomb.yml",
                   "title: Regex bomb\nid: 5e1f0000-0000-4000-8000-0000000000e2\nstatus: test\nlogsource: {}\n"
                   "detection:\n  selection:\n    message|re: '((a{100}){100}){100}'\n  condition: selection\n"
                   "level: low\n");
  test::write_file(dir_.path() / "rules" / "redos.yml",
                   "title: Backtracking\nid: 5e1f0000-0000-4000-8000-0000000000e3\nstatus: test\nlogsource: {}\n"
                   "detection:\n  trigger:\n    message|contains: redos-trigger\n  redos:\n"
                   "    message|re: '(a|aa)+$'\n  condition: trigger and redos\nlevel: low\n");
  start({"--regex-match-limit", "20000"});
  EXPECT_TRUE(service_->wait_stderr("bomb.yml:7"));
  EXPECT_TRUE(service_->wait_stderr("[limit-regex-complexity]"));
  EXPECT_EQ(test::sample(service_->metrics(), "socd_rules_over_limit"), 1);
  write_good(0, kGoodLines / 2);
  int fd = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  std::string hostile;
  for (int i = 0; i < 20; ++i) hostile += "{\"message\":\"redos-trigger " + std::string(40, 'a') + "b\"}\n";
  ASSERT_TRUE(test::send_all(fd, hostile));
  EXPECT_EQ(wait_limit("regex_match", 20), 20);
  EXPECT_TRUE(service_->wait_stderr("gave up at the match limit"));
  ::close(fd);
  write_good(kGoodLines / 2, kGoodLines / 2);
  expect_good_source_served();
}

TEST_F(HostileInputTest, ABurstOfConnectionsIsRefusedOverTheLimit) {
  start({"--max-connections", "50"});
  write_good(0, kGoodLines / 2);
  int kept = test::tcp_connect("127.0.0.1", port_);  // a sender that stays and is served
  ASSERT_GE(kept, 0);
  constexpr int kRounds = 10, kPerRound = 200;
  int attempts = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<int> fds;
    for (int i = 0; i < kPerRound; ++i, ++attempts) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_storage address;
      socklen_t length = test::loopback_address("127.0.0.1", port_, address);
      if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), length) == 0) fds.push_back(fd);
      else if (fd >= 0) ::close(fd);
    }
    // Held until the service has taken them all (accepted or refused), then closed.
    double seen = 0;
    test::eventually([&] {
      auto m = service_->metrics();
      seen = test::sample(m, series("socd_source_connections_total", {{"source", tcp_name_}})) +
             test::sample(m, series("socd_limit_hits_total", {{"limit", "connections"}, {"source", tcp_name_}}));
      return seen >= attempts + 1;
    }, 20s);
    for (int fd : fds) ::close(fd);
  }
  EXPECT_EQ(attempts, 2000);
  double refused = limit_hits("connections");
  EXPECT_GE(refused, 1000) << "each round holds 200 connections open against a limit of 50";
  EXPECT_TRUE(service_->wait_stderr("(limit max_connections"));
  ASSERT_TRUE(test::send_all(kept, "<13>Nov 22 10:00:01 web01 app: kept sender socd-test-miss\n"));
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), 1), 1);
  ::close(kept);
  write_good(kGoodLines / 2, kGoodLines / 2);
  expect_good_source_served();
}

TEST_F(HostileInputTest, AFloodOverTheSourceRateIsSlowedDownNotLost) {
  start({"--source-rate", "1000", "--source-burst", "500"});
  write_good(0, kGoodLines / 2);
  int fd = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  constexpr int kFlood = 3000;
  std::string flood;
  for (int i = 0; i < kFlood; ++i) flood += "<13>Nov 22 10:00:01 web01 app: flood " + std::to_string(i) + "\n";
  auto start_time = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::send_all(fd, flood));
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), kFlood, 60s),
            kFlood);  // every line arrives: TCP waits, nothing is dropped
  EXPECT_GE(std::chrono::steady_clock::now() - start_time, 1500ms) << "3,000 lines at 1,000/s after a burst of 500";
  EXPECT_GT(limit_hits("rate"), 0);
  EXPECT_TRUE(service_->wait_stderr("over its rate of 1000 lines/s (source-rate): reading slowed down"));
  ::close(fd);
  write_good(kGoodLines / 2, kGoodLines / 2);
  expect_good_source_served();
}

// A Sigma rule that fires on any of `keywords` (one value each), written as a rule file would be.
std::string keywords_rule(const std::string& id, const std::vector<std::string>& keywords) {
  std::string rule = "title: Keywords\nid: " + id + "\nstatus: test\nlogsource: {}\ndetection:\n  keywords:\n";
  for (const auto& k : keywords) rule += "    - '" + k + "'\n";
  return rule + "  condition: keywords\nlevel: low\n";
}

// A Sigma rule whose message regex finds the hit token inside `depth` nested groups (the regex on line 7).
std::string nested_regex_rule(const std::string& id, int depth) {
  return "title: Nested\nid: " + id + "\nstatus: test\nlogsource: {}\ndetection:\n  selection:\n    message|re: '" +
         std::string(depth, '(') + std::string(test::kHitToken) + std::string(depth, ')') +
         "'\n  condition: selection\nlevel: low\n";
}

TEST_F(HostileInputTest, AnEventWithTooManyFieldsIsSetAside) {
  start({"--max-event-fields", "50"});
  write_good(0, kGoodLines / 2);
  int fd = test::tcp_connect("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  // The wide event carries the hit token without a seq: had it been matched, its alert would be unexpected.
  std::string wide = "{";
  for (int i = 0; i < 200; ++i) wide += "\"f" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  wide += "\"message\":\"wide socd-test-hit\"}\n";
  ASSERT_TRUE(test::send_all(fd, wide + "{\"message\":\"narrow socd-test-miss\"}\n"));
  write_good(kGoodLines / 2, kGoodLines / 2);  // while the sender is connected
  EXPECT_EQ(wait_limit("event_fields", 1), 1);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), 1), 1);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_dead_letters_total", {{"source", tcp_name_}}), 1), 1);
  EXPECT_TRUE(service_->wait_stderr(tcp_name_ + ": line 1 from 127.0.0.1:"));
  EXPECT_TRUE(service_->wait_stderr("set aside (event_fields): more than 50 fields (limit max-event-fields)"));
  ::close(fd);
  auto letters = dead_letters({"--reason", "event_fields"});
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].find("\"source\":\"" + tcp_name_ + "\""), std::string::npos) << letters[0];
  expect_good_source_served();
}

TEST_F(HostileInputTest, AnOverlongLineInAFollowedFileIsSetAsideAndTheLinesAroundItAreRead) {
  start({"--max-line-bytes", "4096"});
  int fd = test::tcp_connect("127.0.0.1", port_);  // a well-behaved sender on another source
  ASSERT_GE(fd, 0);
  write_good(0, kGoodLines / 2);
  // A megabyte line (line 151) with the hit token in its head: set aside, so never matched (seq 9999 unexpected).
  const std::string long_line =
      "Nov 22 10:00:01 web01 app[42]: seq=9999 socd-test-hit " + std::string(1 << 20, 'L') + "\n";
  {
    std::ofstream out(good_path_, std::ios::app);
    out << long_line;
  }
  send_good(fd, 1000, 100);
  write_good(kGoodLines / 2, kGoodLines / 2);
  EXPECT_EQ(wait_limit_of(file_source(), "line_bytes", 1), 1);
  EXPECT_EQ(service_->wait_metric_at_least(series("socd_source_events_total", {{"source", tcp_name_}}), 100), 100);
  EXPECT_TRUE(service_->wait_stderr(file_source() + ": line " + std::to_string(kGoodLines / 2 + 1) + " from " +
                                    good_path_ + " set aside (line_bytes): a line of " +
                                    std::to_string(long_line.size() - 1) + " bytes, over the limit (max-line-bytes"));
  ::close(fd);
  auto letters = dead_letters({"--reason", "line_bytes"});
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_NE(letters[0].find("\"length\":" + std::to_string(long_line.size() - 1)), std::string::npos) << letters[0];
  expect_good_source_served();  // the file's 300 other lines, and the alerts of both sources
}

TEST_F(HostileInputTest, UdpOverTheSourceRateIsDroppedAndCounted) {
  // The rate holds for every source: the good file, over it too, is read more slowly and loses nothing.
  start({"--syslog-udp", "127.0.0.1:0", "--source-rate", "200", "--source-burst", "200"});
  const std::string udp_name = service_->source_name("syslog-udp", "127.0.0.1");
  const uint16_t udp_port = service_->port_of("syslog-udp", "127.0.0.1");
  ASSERT_NE(udp_port, 0);
  int sender = test::udp_socket("127.0.0.1");
  ASSERT_GE(sender, 0);
  write_good(0, kGoodLines / 2);
  constexpr int kFlood = 2000;
  for (int i = 0; i < kFlood; ++i) {
    test::udp_send(sender, "127.0.0.1", udp_port,
                   "<13>Nov 22 10:00:01 web01 app: flood " + std::to_string(i) + " socd-test-miss");
    if (i % 100 == 99) std::this_thread::sleep_for(5ms);  // paced so the socket buffer keeps up, not the rate
  }
  ::close(sender);
  write_good(kGoodLines / 2, kGoodLines / 2);
  // Every datagram socd received was either an event or dropped over the rate, and counted as such.
  auto of_udp = [&](const char* name) { return series(name, {{"source", udp_name}}); };
  test::MetricSamples m;
  EXPECT_TRUE(test::eventually([&] {
    m = service_->metrics();
    double received = test::sample(m, of_udp("socd_source_lines_total"));
    return received > 0 && test::sample(m, of_udp("socd_source_events_total")) +
                                   test::sample(m, of_udp("socd_source_dropped_total")) >= received;
  }, 20s));
  const double events = test::sample(m, of_udp("socd_source_events_total"));
  const double dropped = test::sample(m, of_udp("socd_source_dropped_total"));
  EXPECT_GT(events, 0);
  EXPECT_GT(dropped, 0);
  EXPECT_LE(events + dropped, kFlood);
  EXPECT_EQ(test::sample(m, series("socd_limit_hits_total", {{"limit", "rate"}, {"source", udp_name}})), dropped);
  EXPECT_TRUE(service_->wait_stderr(udp_name + ": over its rate of 200 lines/s (source-rate): "));
  EXPECT_TRUE(service_->wait_stderr("messages dropped (UDP cannot wait; counted in "
                                    "socd_limit_hits_total{limit=\"rate\"} and socd_source_dropped_total)"));
  expect_good_source_served();
}

TEST_F(HostileInputTest, ARuleOverThePatternLimitIsLeftOutAndTheOthersFire) {
  constexpr const char* kAtLimit = "5e1f0000-0000-4000-8000-0000000000e4";
  constexpr const char* kOver = "5e1f0000-0000-4000-8000-0000000000e5";
  std::vector<std::string> keywords{std::string(test::kHitToken)};
  for (int i = 1; i < 10; ++i) keywords.push_back("socd-test-other-" + std::to_string(i));
  test::write_file(dir_.path() / "rules" / "ten.yml", keywords_rule(kAtLimit, keywords));
  keywords.push_back("socd-test-other-10");
  test::write_file(dir_.path() / "rules" / "eleven.yml", keywords_rule(kOver, keywords));
  start({"--max-rule-patterns", "10"});
  EXPECT_TRUE(service_->wait_stderr("eleven.yml:1: rule '" + std::string(kOver) +
                                    "' tests 11 values, over the limit of 10 (max-rule-patterns); the rule is left "
                                    "out [limit-patterns-per-rule]"));
  EXPECT_EQ(service_->occurrences("[limit-"), 1u) << service_->err();
  EXPECT_EQ(test::sample(service_->metrics(), "socd_rules_over_limit"), 1);
  write_good(0, kGoodLines);
  expect_good_source_served();
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts_, kAtLimit), hit_seqs_), "") << "the rule at the limit";
  EXPECT_TRUE(test::seq_counts(alerts_, kOver).empty()) << "the rule over the limit fired";
}

TEST_F(HostileInputTest, ARegexNestedTooDeepIsLeftOutAndTheOthersFire) {
  constexpr const char* kAtLimit = "5e1f0000-0000-4000-8000-0000000000e6";
  constexpr const char* kOver = "5e1f0000-0000-4000-8000-0000000000e7";
  test::write_file(dir_.path() / "rules" / "eight.yml", nested_regex_rule(kAtLimit, 8));
  test::write_file(dir_.path() / "rules" / "nine.yml", nested_regex_rule(kOver, 9));
  start({"--max-regex-nesting", "8"});
  EXPECT_TRUE(service_->wait_stderr("nine.yml:7: regular expression '" + std::string(9, '(') +
                                    "socd-test-hit" + std::string(9, ')') + "' over the limit: nested parentheses "
                                    "9 > 8 (max-regex-nesting; the rule is left out) [limit-regex-complexity]"));
  EXPECT_EQ(service_->occurrences("eight.yml"), 0u) << service_->err();
  EXPECT_EQ(test::sample(service_->metrics(), "socd_rules_over_limit"), 1);
  write_good(0, kGoodLines);
  expect_good_source_served();
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts_, kAtLimit), hit_seqs_), "") << "the regex at the limit";
  EXPECT_TRUE(test::seq_counts(alerts_, kOver).empty()) << "the regex over the limit fired";
}

}  // namespace
}  // namespace socd
