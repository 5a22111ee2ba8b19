// `socd run` as a service receiving syslog from real senders on the loopback: rsyslog forwarding a file it
// follows over TCP with octet counting and over TLS with a client certificate the service requires, and
// util-linux `logger` over UDP (IPv4 and IPv6 listeners in one service). Each test counts what arrived three
// ways: the service's metrics while it runs, its summary line after SIGTERM, and the alerts in its store
// (`socd alerts list --json`), where a rule written by the test fires on every line with the hit token,
// exactly once per line. Last, the test's own sockets send messages whose text is a JSON object, over UDP and
// TCP, and a rule on the payload's fields fires on exactly the ones that match.
#include <gtest/gtest.h>

#include <glob.h>

#include <set>
#include <utility>

#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::series;

constexpr const char* kInstallHint =
    "(apt-get install rsyslog rsyslog-openssl bsdutils openssl; .ci/setup does)";
constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000a001";

// A temporary directory with a rule set, a store, a cache and a log for one socd service.
struct ServiceDir {
  test::TempDir dir;
  ServiceDir() {
    std::filesystem::create_directories(dir.path() / "rules");
    test::write_file(dir.path() / "rules" / "hit.yml",
                     test::keyword_rule(kHitRule, "Test hit", test::kHitToken));
  }
  test::SocdService::Options options(std::vector<std::string> sources) const {
    test::SocdService::Options o;
    o.data_dir = dir.file("store");
    o.rules = dir.file("rules");
    o.cache_dir = dir.file("cache");
    o.log = dir.file("socd.log");
    o.sources = std::move(sources);
    return o;
  }
};

// The lines [first, first + count) and the seqs among them that should fire.
std::string lines_between(uint64_t first, uint64_t count, std::vector<uint64_t>& hit_seqs) {
  std::string text;
  for (uint64_t seq = first; seq < first + count; ++seq) {
    text += test::numbered_line(seq, test::hits(seq));
    if (test::hits(seq)) hit_seqs.push_back(seq);
  }
  return text;
}

// The checks every test ends with: summary and store agree with what was sent.
void expect_summary_and_alerts(const test::Summary& summary, const std::string& data_dir, uint64_t sent,
                               const std::vector<uint64_t>& hit_seqs) {
  EXPECT_EQ(test::summary_number(summary, "events"), static_cast<double>(sent));
  EXPECT_EQ(test::summary_number(summary, "malformed"), 0);
  EXPECT_EQ(test::summary_number(summary, "dropped"), 0);
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), static_cast<double>(hit_seqs.size()));
  std::string error;
  auto alerts = test::list_alerts(data_dir, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(alerts.size(), hit_seqs.size());
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts, kHitRule), hit_seqs), "");
}

// ---- rsyslog ----------------------------------------------------------------------------------------------

// rsyslogd in the foreground, following `input.log` (imfile) and forwarding each line with an omfwd action.
class Rsyslog {
public:
  Rsyslog(const std::filesystem::path& dir, const std::string& globals, const std::string& action)
      : dir_(dir) {
    std::filesystem::create_directories(dir / "work");
    std::string config =
        "global(workDirectory=\"" + (dir / "work").string() + "\"" + globals + ")\n" +
        "module(load=\"imfile\" mode=\"polling\" PollingInterval=\"1\")\n"
        "input(type=\"imfile\" File=\"" +
        input().string() +
        "\" Tag=\"socdtest:\" Facility=\"local0\" Severity=\"info\" ruleset=\"forward\")\n"
        "ruleset(name=\"forward\") {\n  action(type=\"omfwd\" Target=\"127.0.0.1\" Protocol=\"tcp\" " +
        action + " action.resumeRetryCount=\"-1\")\n}\n";
    test::write_file(dir / "rsyslog.conf", config);
  }
  bool start(const std::string& rsyslogd) {
    return process_.start(
        rsyslogd, {"-n", "-f", (dir_ / "rsyslog.conf").string(), "-i", (dir_ / "rsyslogd.pid").string()},
        (dir_ / "rsyslogd.log").string(), {});
  }
  bool running() { return process_.running(); }
  std::string log() const { return process_.log(); }
  std::filesystem::path input() const { return dir_ / "input.log"; }

private:
  std::filesystem::path dir_;
  test::ChildProcess process_;
};

bool rsyslog_has_openssl_driver() {
  bool any = false;
  for (const char* pattern : {"/usr/lib/*/rsyslog/lmnsd_ossl.so", "/usr/lib/rsyslog/lmnsd_ossl.so"}) {
    glob_t found{};
    any = any || (::glob(pattern, 0, nullptr, &found) == 0 && found.gl_pathc > 0);
    ::globfree(&found);
  }
  return any;
}

// rsyslog forwards `count` numbered lines to the listener `kind` ("syslog-tcp" or "syslog-tls") of a service;
// every line must be an event and every hit an alert, exactly once.
void rsyslog_to_service(const std::string& kind, std::vector<std::string> service_args,
                        const std::string& rsyslog_globals, const std::string& rsyslog_action_extra,
                        uint64_t count) {
  std::string rsyslogd = test::find_program("rsyslogd");
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  test::SocdService socd(dir.options(std::move(service_args)));
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string source = socd.source_name(kind, "127.0.0.1");
  ASSERT_NE(socd.port_of(kind, "127.0.0.1"), 0) << socd.running_line();

  std::filesystem::create_directories(dir.dir.path() / "rsyslog");
  Rsyslog rsyslog(dir.dir.path() / "rsyslog", rsyslog_globals,
                  "Port=\"" + std::to_string(socd.port_of(kind, "127.0.0.1")) + "\" " + rsyslog_action_extra);
  std::vector<uint64_t> hit_seqs;
  ASSERT_TRUE(test::write_file(rsyslog.input(), lines_between(0, count, hit_seqs)));
  ASSERT_TRUE(rsyslog.start(rsyslogd));

  const std::string events = series("socd_source_events_total", {{"source", source}});
  double seen = socd.wait_metric_at_least(events, static_cast<double>(count), 60s);
  ASSERT_EQ(seen, static_cast<double>(count)) << "events of " << source << " (-1: no such series); rsyslogd "
                                              << (rsyslog.running() ? "runs" : "has ended") << ", its log:\n"
                                              << test::last_lines(rsyslog.log(), 20) << "socd:\n"
                                              << test::last_lines(socd.err(), 20) << "metrics:\n"
                                              << test::http_get(socd.metrics_port(), "/metrics").body;
  auto metrics = socd.metrics();
  EXPECT_EQ(test::sample(metrics, series("socd_source_lines_total", {{"source", source}})), count);
  EXPECT_EQ(test::sample(metrics, series("socd_source_malformed_total", {{"source", source}})), 0);
  EXPECT_EQ(test::sample(metrics, series("socd_source_errors_total", {{"source", source}})), 0);
  EXPECT_GE(test::sample(metrics, series("socd_source_connections_total", {{"source", source}})), 1);
  EXPECT_EQ(test::sample(metrics, series("socd_rule_matches_total", {{"rule", kHitRule}})), hit_seqs.size());

  test::Summary summary;
  std::string stopped = socd.stop(summary);
  ASSERT_EQ(stopped, "");
  expect_summary_and_alerts(summary, dir.dir.file("store"), count, hit_seqs);
}

TEST(RunSyslog, RsyslogForwardsOverTcpWithOctetCounting) {
  if (test::find_program("rsyslogd").empty()) GTEST_SKIP() << "rsyslogd is not installed " << kInstallHint;
  rsyslog_to_service("syslog-tcp", {"--syslog-tcp", "127.0.0.1:0"}, "", "TCP_Framing=\"octet-counted\"",
                     2000);
}

TEST(RunSyslog, RsyslogForwardsOverTlsWithARequiredClientCertificate) {
  if (test::find_program("rsyslogd").empty()) GTEST_SKIP() << "rsyslogd is not installed " << kInstallHint;
  if (!rsyslog_has_openssl_driver())
    GTEST_SKIP() << "rsyslog's openssl driver is not installed " << kInstallHint;
  if (test::find_program("openssl").empty())
    GTEST_SKIP() << "the openssl command is not installed " << kInstallHint;
  test::TempDir pki_dir;
  ASSERT_TRUE(pki_dir.ok());
  test::TestPki pki(pki_dir.path());
  ASSERT_TRUE(pki.error.empty()) << pki.error;
  // rsyslog presents a certificate from the CA the service requires, and checks the service's name
  // (localhost).
  rsyslog_to_service("syslog-tls",
                     {"--syslog-tls", "127.0.0.1:0", "--tls-cert", pki.server_cert, "--tls-key",
                      pki.server_key, "--tls-ca", pki.ca},
                     " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" + pki.ca +
                         "\" DefaultNetstreamDriverCertFile=\"" + pki.client_cert +
                         "\" DefaultNetstreamDriverKeyFile=\"" + pki.client_key + "\"",
                     "StreamDriver=\"ossl\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\" "
                     "StreamDriverPermittedPeers=\"localhost\" TCP_Framing=\"octet-counted\"",
                     1000);
}

// With --tls-ca, a client without a certificate, or with one from another CA, is refused, and nothing it sent
// is an event; a client with a certificate from the CA is heard.
TEST(RunSyslog, TlsListenerRefusesClientsWithoutACertificateFromItsCa) {
  if (test::find_program("openssl").empty())
    GTEST_SKIP() << "the openssl command is not installed " << kInstallHint;
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  std::filesystem::create_directories(dir.dir.path() / "pki");
  test::TestPki pki(dir.dir.path() / "pki");
  ASSERT_TRUE(pki.error.empty()) << pki.error;
  test::SocdService socd(dir.options({"--syslog-tls", "127.0.0.1:0", "--tls-cert", pki.server_cert,
                                      "--tls-key", pki.server_key, "--tls-ca", pki.ca}));
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  uint16_t port = socd.port_of("syslog-tls", "127.0.0.1");
  ASSERT_NE(port, 0) << socd.running_line();
  const std::string source = socd.source_name("syslog-tls", "127.0.0.1");
  std::vector<uint64_t> unused;
  std::string refused_lines = lines_between(1000, 3, unused);
  {
    test::TlsClient anonymous("127.0.0.1", port, pki.ca);
    bool heard = anonymous.connected() && anonymous.send(refused_lines) && !anonymous.refused_by_server();
    EXPECT_FALSE(heard) << "a client without a certificate was heard";
  }
  {
    test::TlsClient stranger("127.0.0.1", port, pki.ca, pki.stranger_cert, pki.stranger_key);
    bool heard = stranger.connected() && stranger.send(refused_lines) && !stranger.refused_by_server();
    EXPECT_FALSE(heard) << "a client with a certificate from another CA was heard";
  }
  std::vector<uint64_t> hit_seqs;
  {
    test::TlsClient client("127.0.0.1", port, pki.ca, pki.client_cert, pki.client_key);
    ASSERT_TRUE(client.connected()) << client.error();
    ASSERT_TRUE(client.send(lines_between(0, 50, hit_seqs)));
  }
  EXPECT_EQ(socd.wait_metric_at_least(series("socd_source_events_total", {{"source", source}}), 50, 20s), 50);
  EXPECT_GE(socd.wait_metric_at_least(series("socd_source_errors_total", {{"source", source}}), 2, 5s), 2)
      << "each refused handshake is counted as an error";
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  expect_summary_and_alerts(summary, dir.dir.file("store"), 50, hit_seqs);
}

// ---- logger over UDP --------------------------------------------------------------------------------------

// Sends `count` numbered lines from `first` with logger to `host`:`port` in chunks, waiting after each chunk
// (bounded) until the service has framed them, so the socket buffer never overflows; returns false when
// logger failed.
bool send_with_logger(test::SocdService& socd, const std::string& logger, const std::filesystem::path& dir,
                      const std::string& host, uint16_t port, const std::string& source, uint64_t first,
                      uint64_t count, std::vector<uint64_t>& hit_seqs, std::string& error) {
  constexpr uint64_t kChunk = 100;
  const std::string lines = series("socd_source_lines_total", {{"source", source}});
  const std::string dropped = series("socd_source_dropped_total", {{"source", source}});
  for (uint64_t at = first; at < first + count; at += kChunk) {
    uint64_t n = std::min(kChunk, first + count - at);
    std::string chunk_file = (dir / ("chunk-" + std::to_string(at))).string();
    test::write_file(chunk_file, lines_between(at, n, hit_seqs));
    auto sent = test::run_process(
        logger, {"-n", host, "-P", std::to_string(port), "-d", "-t", "socdtest", "-f", chunk_file});
    if (!sent.exited_with(0)) {
      error = "logger: " + sent.describe() + "\n" + sent.err;
      return false;
    }
    uint64_t expected = at + n - first;
    test::eventually([&] {
      auto m = socd.metrics();
      return test::sample(m, lines) + test::sample(m, dropped) >= static_cast<double>(expected);
    });
  }
  return true;
}

// Two UDP listeners (IPv4, IPv6) in one service; logger sends to each at a gentle pace. What each listener
// heard is counted under its own name; every datagram is an event or counted as dropped, and on the loopback
// at this pace none is dropped.
TEST(RunSyslog, LoggerSendsUdpToIpv4AndIpv6Listeners) {
  std::string logger = test::find_program("logger");
  if (logger.empty()) GTEST_SKIP() << "logger is not installed " << kInstallHint;
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  int probe = test::udp_socket("::1");  // is there an IPv6 loopback?
  bool ipv6 = probe >= 0;
  if (ipv6) ::close(probe);
  std::vector<std::string> sources{"--syslog-udp", "127.0.0.1:0"};
  if (ipv6) sources.insert(sources.end(), {"--syslog-udp", "[::1]:0"});
  test::SocdService socd(dir.options(sources));
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;

  struct Listener {
    std::string host, source;
    uint16_t port;
    uint64_t first, count;
  };
  std::vector<Listener> listeners{{"127.0.0.1", socd.source_name("syslog-udp", "127.0.0.1"),
                                   socd.port_of("syslog-udp", "127.0.0.1"), 0, 600}};
  if (ipv6)
    listeners.push_back(
        {"::1", socd.source_name("syslog-udp", "::1"), socd.port_of("syslog-udp", "::1"), 600, 400});
  else
    std::fprintf(stderr, "(no IPv6 loopback here: the IPv6 listener is left out)\n");
  std::vector<uint64_t> hit_seqs;
  uint64_t sent = 0;
  for (const auto& l : listeners) {
    ASSERT_NE(l.port, 0) << socd.running_line();
    ASSERT_TRUE(send_with_logger(socd, logger, dir.dir.path(), l.host, l.port, l.source, l.first, l.count,
                                 hit_seqs, error))
        << error;
    sent += l.count;
  }
  for (const auto& l : listeners) {
    const std::string events = series("socd_source_events_total", {{"source", l.source}});
    double got = socd.wait_metric_at_least(events, static_cast<double>(l.count), 20s);
    auto metrics = socd.metrics();
    double dropped = test::sample(metrics, series("socd_source_dropped_total", {{"source", l.source}}));
    EXPECT_EQ(got + dropped, static_cast<double>(l.count))
        << l.source << ": events " << got << " + dropped " << dropped << " (-1: no such series)";
    EXPECT_EQ(dropped, 0) << l.source << " dropped datagrams on the loopback at a gentle pace";
  }
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  expect_summary_and_alerts(summary, dir.dir.file("store"), sent, hit_seqs);
}

// ---- JSON payloads -----------------------------------------------------------------------------------------

// Messages whose text is a JSON object, sent by the test itself over UDP and TCP: a Sigma rule on the payload's
// fields fires on the ones that match and only on them, through the same parser the listeners feed; a payload
// that is not JSON is an event like any other line, and one naming another sender does not pass for it.
TEST(RunSyslog, JsonPayloadFieldsFireRulesOverUdpAndTcp) {
  constexpr const char* kLoginRule = "5e1f0000-0000-4000-8000-00000000b001";
  constexpr const char* kSenderRule = "5e1f0000-0000-4000-8000-00000000b002";
  ServiceDir dir;
  ASSERT_TRUE(dir.dir.ok());
  ASSERT_TRUE(test::write_file(dir.dir.path() / "rules" / "login.yml",
                               std::string("title: Login by alice\nid: ") + kLoginRule +
                                   "\nstatus: test\nlogsource: {product: linux}\ndetection:\n    selection:\n"
                                   "        user: alice\n        action: login\n    condition: selection\n"
                                   "level: medium\n"));
  ASSERT_TRUE(test::write_file(dir.dir.path() / "rules" / "sender.yml",
                               std::string("title: Sent from 203.0.113.66\nid: ") + kSenderRule +
                                   "\nstatus: test\nlogsource: {}\ndetection:\n    selection:\n"
                                   "        fromhost-ip: 203.0.113.66\n    condition: selection\nlevel: low\n"));
  test::SocdService socd(dir.options({"--syslog-udp", "127.0.0.1:0", "--syslog-tcp", "127.0.0.1:0"}));
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string udp_source = socd.source_name("syslog-udp", "127.0.0.1");
  const std::string tcp_source = socd.source_name("syslog-tcp", "127.0.0.1");
  ASSERT_NE(socd.port_of("syslog-udp", "127.0.0.1"), 0) << socd.running_line();
  ASSERT_NE(socd.port_of("syslog-tcp", "127.0.0.1"), 0) << socd.running_line();

  const std::vector<std::string> udp_messages{
      R"(<134>1 2026-11-23T10:00:00Z web01 authsvc 12 - - {"user":"alice","action":"login","seq":1})",
      R"(<134>1 2026-11-23T10:00:01Z web01 authsvc 12 - - {"user":"alice","action":"logout","seq":2})",
      R"(<134>1 2026-11-23T10:00:02Z web01 authsvc 12 - - {"user":"alice" "action":"login","seq":3})",
      R"(<134>1 2026-11-23T10:00:03Z web01 authsvc 12 - - {"fromhost-ip":"203.0.113.66","seq":4})"};
  const std::vector<std::string> tcp_messages{
      R"(<13>Nov 23 10:00:04 web01 authsvc[12]: @cee: {"user":"alice","action":"login","seq":5})",
      R"(<13>Nov 23 10:00:05 web01 authsvc[12]: {"user":{"name":"alice"},"action":"login","seq":6})",
      R"(<13>Nov 23 10:00:06 web01 authsvc[12]: {"user":"alice","action":"login","seq":7})"};
  const std::set<std::string> fire{udp_messages[0].substr(udp_messages[0].find('{')),
                                   tcp_messages[0].substr(tcp_messages[0].find("@cee")),
                                   tcp_messages[2].substr(tcp_messages[2].find('{'))};

  int udp = test::udp_socket("127.0.0.1");
  ASSERT_GE(udp, 0);
  for (const std::string& m : udp_messages)
    EXPECT_TRUE(test::udp_send(udp, "127.0.0.1", socd.port_of("syslog-udp", "127.0.0.1"), m));
  ::close(udp);
  int tcp = test::tcp_connect("127.0.0.1", socd.port_of("syslog-tcp", "127.0.0.1"));
  ASSERT_GE(tcp, 0);
  for (const std::string& m : tcp_messages) EXPECT_TRUE(test::send_all(tcp, m + "\n"));
  ::close(tcp);

  for (const auto& [source, count] : {std::pair{udp_source, udp_messages.size()}, {tcp_source, tcp_messages.size()}}) {
    const std::string events = series("socd_source_events_total", {{"source", source}});
    EXPECT_EQ(socd.wait_metric_at_least(events, static_cast<double>(count), 20s), static_cast<double>(count))
        << source << " (-1: no such series)";
  }
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), udp_messages.size() + tcp_messages.size());
  EXPECT_EQ(test::summary_number(summary, "malformed"), 0);  // invalid JSON in a message is still a syslog line
  auto alerts = test::list_alerts(dir.dir.file("store"), error);
  ASSERT_TRUE(error.empty()) << error;
  std::multiset<std::string> fired;
  for (const auto& a : alerts) {
    EXPECT_EQ(a.rule_id, kLoginRule) << a.message;
    fired.insert(a.message);
  }
  EXPECT_EQ(fired, std::multiset<std::string>(fire.begin(), fire.end()));
}

}  // namespace
}  // namespace socd
