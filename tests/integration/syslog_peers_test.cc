// The network syslog sources against real senders on the loopback: util-linux `logger` over UDP (IPv4 and IPv6),
// and rsyslog forwarding a file it follows (imfile) over TCP with octet-counted framing and over TLS (its openssl
// netstream driver, with a client certificate the listener requires). Each checks that every message arrived
// exactly once. rsyslog runs in the foreground with its own configuration and work directory in a temporary
// directory and is stopped at the end; tests skip when a program is not installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <glob.h>

#include <map>
#include <regex>

#include "socd/syslog_sources.h"
#include "support/socd_process.h"
#include "support/syslog_test_support.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::CollectingSink;
using test::port_of;

constexpr const char* kInstallHint = "(apt-get install rsyslog rsyslog-openssl bsdutils openssl; .ci/setup does)";

// A program running in the background, stdout and stderr into `log`; stopped (TERM, then KILL) when destroyed.
class BackgroundProcess {
public:
  BackgroundProcess(const std::string& program, const std::vector<std::string>& args, const std::string& log) {
    std::vector<char*> argv{const_cast<char*>(program.c_str())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~BackgroundProcess() { stop(); }
  bool started() const { return pid_ > 0; }
  bool running() {
    if (pid_ <= 0) return false;
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // 5 s
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

private:
  pid_t pid_ = -1;
};

std::unique_ptr<Source> start_source(Expected<std::unique_ptr<Source>> made, CollectingSink& sink) {
  EXPECT_TRUE(made.ok()) << made.error().message();
  if (!made) return nullptr;
  Status started = (*made)->start(sink);
  EXPECT_TRUE(started.ok()) << started.message();
  if (!started.ok()) return nullptr;
  return std::move(*made);
}

// Lines "socd-it-<n> <filler>" for n in [0, count); some start with digits, to tempt a wrong framing guess.
std::string numbered_lines(size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) {
    if (i % 10 == 3) text += "12 ";
    text += "socd-it-" + std::to_string(i) + " message from a real sender, " + std::string(i % 50, '.') + "\n";
  }
  return text;
}

// Every number in [0, count) is in exactly one received message; says what is missing or repeated.
void expect_each_exactly_once(const std::vector<test::ReceivedMessage>& got, size_t count) {
  static const std::regex token("socd-it-([0-9]+) ");
  std::map<size_t, int> seen;
  for (const auto& m : got) {
    std::smatch match;
    if (std::regex_search(m.text, match, token)) ++seen[std::stoul(match[1].str())];
  }
  size_t missing = 0, repeated = 0;
  for (size_t i = 0; i < count; ++i) {
    auto it = seen.find(i);
    if (it == seen.end()) ++missing;
    else if (it->second > 1) ++repeated;
  }
  EXPECT_EQ(missing, 0u) << "messages that never arrived";
  EXPECT_EQ(repeated, 0u) << "messages that arrived more than once";
  EXPECT_EQ(seen.size(), count);
}

// ---- logger over UDP -------------------------------------------------------------------------------------------

void logger_to_udp(const std::string& listen, const std::string& host) {
  std::string logger = test::find_program("logger");
  if (logger.empty()) GTEST_SKIP() << "logger is not installed " << kInstallHint;
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  constexpr size_t kCount = 300;
  ASSERT_TRUE(test::write_file(dir.path() / "messages", numbered_lines(kCount)));
  CollectingSink sink;
  auto source = start_source(make_syslog_udp_source(listen, {}), sink);
  ASSERT_TRUE(source);
  auto sent = test::run_process(logger, {"-n", host, "-P", std::to_string(port_of(*source)), "-d", "-t", "socdtest",
                                         "-f", dir.file("messages")});
  ASSERT_TRUE(sent.exited_with(0)) << sent.describe() << "\n" << sent.err;
  sink.wait_for(kCount, 20s);
  auto got = sink.messages();
  EXPECT_EQ(got.size(), kCount);
  expect_each_exactly_once(got, kCount);
  std::string peer_prefix = host.find(':') != std::string::npos ? "[" + host + "]:" : host + ":";
  for (const auto& m : got) {
    ASSERT_EQ(m.peer.rfind(peer_prefix, 0), 0u) << m.peer;
    ASSERT_EQ(m.text.rfind("<13>", 0), 0u) << "logger's default priority is user.notice: " << m.text;
    ASSERT_NE(m.text.find("socdtest"), std::string::npos) << m.text;
  }
  EXPECT_EQ(source->counters().dropped.load(), 0u);
}

TEST(SyslogPeers, LoggerSendsUdpOverIpv4) { logger_to_udp("127.0.0.1:0", "127.0.0.1"); }
TEST(SyslogPeers, LoggerSendsUdpOverIpv6) { logger_to_udp("[::1]:0", "::1"); }

// ---- rsyslog over TCP and TLS ----------------------------------------------------------------------------------

// rsyslog following `input` (imfile) and forwarding what it reads with `action` (an omfwd action's parameters).
class Rsyslog {
public:
  Rsyslog(const std::filesystem::path& dir, const std::string& globals, const std::string& action) : dir_(dir) {
    std::filesystem::create_directories(dir / "work");
    std::string config = "global(workDirectory=\"" + (dir / "work").string() + "\"" + globals + ")\n" +
                         "module(load=\"imfile\" mode=\"polling\" PollingInterval=\"1\")\n"
                         "input(type=\"imfile\" File=\"" + (dir / "input.log").string() +
                         "\" Tag=\"socdtest:\" Facility=\"local0\" Severity=\"info\" ruleset=\"forward\")\n"
                         "ruleset(name=\"forward\") {\n  action(type=\"omfwd\" Target=\"127.0.0.1\" Protocol=\"tcp\" " +
                         action + " action.resumeRetryCount=\"-1\")\n}\n";
    test::write_file(dir / "rsyslog.conf", config);
  }
  // Starts rsyslogd in the foreground; the input file must be written first.
  void start(const std::string& rsyslogd) {
    process_ = std::make_unique<BackgroundProcess>(
        rsyslogd,
        std::vector<std::string>{"-n", "-f", (dir_ / "rsyslog.conf").string(), "-i", (dir_ / "rsyslogd.pid").string()},
        (dir_ / "rsyslogd.log").string());
  }
  bool running() { return process_ && process_->running(); }
  std::string log() const { return test::read_file(dir_ / "rsyslogd.log"); }
  std::filesystem::path input() const { return dir_ / "input.log"; }

private:
  std::filesystem::path dir_;
  std::unique_ptr<BackgroundProcess> process_;
};

std::string rsyslogd_or_skip_reason(std::string& reason) {
  std::string rsyslogd = test::find_program("rsyslogd");
  if (rsyslogd.empty()) reason = std::string("rsyslogd is not installed ") + kInstallHint;
  return rsyslogd;
}

bool rsyslog_has_openssl_driver() {
  glob_t found{};
  bool any = ::glob("/usr/lib/*/rsyslog/lmnsd_ossl.so", 0, nullptr, &found) == 0 && found.gl_pathc > 0;
  if (!any) any = ::glob("/usr/lib/rsyslog/lmnsd_ossl.so", 0, nullptr, &found) == 0 && found.gl_pathc > 0;
  ::globfree(&found);
  return any;
}

// Waits for `count` messages while rsyslog runs; on failure shows rsyslog's own log.
void wait_for_forwarded(CollectingSink& sink, Rsyslog& rsyslog, size_t count) {
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (sink.wait_for(count, 200ms) < count && std::chrono::steady_clock::now() < deadline) {
    if (!rsyslog.running()) break;
  }
  EXPECT_GE(sink.messages().size(), count) << "rsyslogd " << (rsyslog.running() ? "runs" : "has exited")
                                           << "; its log:\n"
                                           << rsyslog.log();
}

TEST(SyslogPeers, RsyslogForwardsOverTcpWithOctetCounting) {
  std::string reason;
  std::string rsyslogd = rsyslogd_or_skip_reason(reason);
  if (rsyslogd.empty()) GTEST_SKIP() << reason;
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  CollectingSink sink;
  auto source = start_source(make_syslog_tcp_source("127.0.0.1:0", {}, nullptr), sink);
  ASSERT_TRUE(source);
  constexpr size_t kCount = 2000;
  Rsyslog rsyslog(dir.path(), "",
                  "Port=\"" + std::to_string(port_of(*source)) + "\" TCP_Framing=\"octet-counted\"");
  ASSERT_TRUE(test::write_file(rsyslog.input(), numbered_lines(kCount)));
  rsyslog.start(rsyslogd);
  wait_for_forwarded(sink, rsyslog, kCount);
  auto got = sink.messages();
  EXPECT_EQ(got.size(), kCount);
  expect_each_exactly_once(got, kCount);
  for (const auto& m : got) {
    // <134> is local0.info: each message starts with its priority, so the framing was recognised.
    ASSERT_EQ(m.text.rfind("<134>", 0), 0u) << m.text;
    ASSERT_EQ(m.peer.rfind("127.0.0.1:", 0), 0u) << m.peer;
  }
  EXPECT_EQ(source->counters().errors.load(), 0u);
}

TEST(SyslogPeers, RsyslogForwardsOverTlsWithAClientCertificate) {
  std::string reason;
  std::string rsyslogd = rsyslogd_or_skip_reason(reason);
  if (rsyslogd.empty()) GTEST_SKIP() << reason;
  if (!rsyslog_has_openssl_driver()) GTEST_SKIP() << "rsyslog's openssl driver is not installed " << kInstallHint;
  if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is not installed " << kInstallHint;
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::filesystem::create_directories(dir.path() / "pki");
  test::TestPki pki(dir.path() / "pki");
  ASSERT_TRUE(pki.error.empty()) << pki.error;

  CollectingSink sink;
  TlsOptions tls{pki.server_cert, pki.server_key, pki.ca};  // client certificates required
  auto source = start_source(make_syslog_tcp_source("127.0.0.1:0", {}, &tls), sink);
  ASSERT_TRUE(source);
  constexpr size_t kCount = 1000;
  // rsyslog presents its client certificate and checks the listener's name (localhost) against its CA. Its
  // default framing over TLS is LF.
  Rsyslog rsyslog(dir.path(),
                  " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" + pki.ca +
                      "\" DefaultNetstreamDriverCertFile=\"" + pki.client_cert +
                      "\" DefaultNetstreamDriverKeyFile=\"" + pki.client_key + "\"",
                  "Port=\"" + std::to_string(port_of(*source)) +
                      "\" StreamDriver=\"ossl\" StreamDriverMode=\"1\" StreamDriverAuthMode=\"x509/name\" "
                      "StreamDriverPermittedPeers=\"localhost\"");
  ASSERT_TRUE(test::write_file(rsyslog.input(), numbered_lines(kCount)));
  rsyslog.start(rsyslogd);
  wait_for_forwarded(sink, rsyslog, kCount);
  auto got = sink.messages();
  EXPECT_EQ(got.size(), kCount);
  expect_each_exactly_once(got, kCount);
  for (const auto& m : got) ASSERT_EQ(m.text.rfind("<134>", 0), 0u) << m.text;
  EXPECT_EQ(source->counters().errors.load(), 0u);
  EXPECT_GE(source->counters().connections.load(), 1u);
}

}  // namespace
}  // namespace socd
