// Least privilege of `socd run`: started as root with --user, it binds a TCP syslog port below 1024, drops to the
// user (/proc/PID/status shows the ids changed), still serves the port, and every file and directory of its store is
// the user's, 0600 / 0700. A data directory the user does not own is refused with what to do. Secrets given in
// files or the environment never appear on stderr, also when the configuration is broken.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "support/socd_service.h"
#include "support/syslog_test_support.h"

namespace socd {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRule = "5e1f0000-0000-4000-8000-00000000b001";

// A free TCP port below 1024 on 127.0.0.1 (0 when none is found).
uint16_t free_privileged_port() {
  for (uint16_t port = 990; port > 600; --port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;
}

// The four ids of a "Uid:" or "Gid:" line of /proc/PID/status.
std::vector<unsigned> proc_ids(pid_t pid, const std::string& which) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::vector<unsigned> ids;
  while (std::getline(in, line)) {
    if (line.rfind(which + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(which.size() + 1));
    unsigned v;
    while (fields >> v) ids.push_back(v);
  }
  return ids;
}

class RunPrivileges : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    // The user must reach the data directory: the test's directory is opened to others (not the store).
    ::chmod(dir_.path().c_str(), 0755);
    rules_ = (dir_.path() / "rules").string();
    std::filesystem::create_directories(rules_);
    ASSERT_TRUE(test::write_file(rules_ + "/hit.yml", test::keyword_rule(kRule, "Test hit", test::kHitToken)));
  }
  test::TempDir dir_;
  std::string rules_;
};

TEST_F(RunPrivileges, DropsToTheUserAfterBindingAPrivilegedPortAndKeepsItsFilesPrivate) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (run the integration tests as root, as CI does)";
  passwd* nobody = ::getpwnam("nobody");
  if (!nobody) GTEST_SKIP() << "no user 'nobody' on this system";
  const uid_t uid = nobody->pw_uid;
  const uint16_t port = free_privileged_port();
  ASSERT_NE(port, 0) << "no free port below 1024 on 127.0.0.1";

  test::SocdService::Options options;
  options.data_dir = dir_.file("store");  // created by socd for the user (--chown-data-dir)
  options.rules = rules_;
  options.cache_dir = dir_.file("cache");
  options.log = dir_.file("socd.log");
  options.sources = {"--syslog-tcp", "127.0.0.1:" + std::to_string(port), "--user", "nobody", "--chown-data-dir"};
  test::SocdService socd(options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  ASSERT_NE(socd.err().find("running as nobody (uid " + std::to_string(uid)), std::string::npos) << socd.err();
  const pid_t pid = socd.process().pid();
  EXPECT_EQ(proc_ids(pid, "Uid"), std::vector<unsigned>(4, uid));
  EXPECT_EQ(proc_ids(pid, "Gid"), std::vector<unsigned>(4, nobody->pw_gid));

  // The privileged port is still served after the drop.
  int fd = test::tcp_connect("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(test::send_all(fd, "<13>Nov 23 04:00:00 web01 app: " + std::string(test::kHitToken) + " n=1\n"));
  ::close(fd);
  double alerts = socd.wait_metric_at_least("socd_alerts_stored_total", 1);
  EXPECT_GE(alerts, 1) << socd.err();
  test::Summary summary;
  std::string stopped = socd.stop(summary);
  ASSERT_EQ(stopped, "") << stopped;

  // Everything in the store is the user's, files 0600 and directories 0700.
  size_t files = 0;
  struct stat top{};
  ASSERT_EQ(::stat(options.data_dir.c_str(), &top), 0);
  EXPECT_EQ(top.st_uid, uid);
  EXPECT_EQ(top.st_mode & 07777, 0700u);
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options.data_dir)) {
    struct stat st{};
    ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid) << entry.path();
    if (S_ISDIR(st.st_mode)) {
      EXPECT_EQ(st.st_mode & 07777, 0700u) << entry.path();
    }
    if (S_ISREG(st.st_mode)) {
      EXPECT_EQ(st.st_mode & 07777, 0600u) << entry.path();
      ++files;
    }
  }
  EXPECT_GT(files, 3u);
  test::ProcessResult listed = test::run_socd({"alerts", "list", "--json", "--data-dir", options.data_dir});
  ASSERT_TRUE(listed.exited_with(0)) << listed.describe() << "\n" << listed.err;
  EXPECT_NE(listed.out.find(kRule), std::string::npos) << listed.out;
}

TEST_F(RunPrivileges, ADataDirectoryTheUserDoesNotOwnIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (run the integration tests as root, as CI does)";
  if (!::getpwnam("nobody")) GTEST_SKIP() << "no user 'nobody' on this system";
  const std::string data = dir_.file("rootstore");
  std::filesystem::create_directories(data);
  test::ProcessResult r = test::run_socd({"run", "--data-dir", data, "--rules", rules_, "--cache-dir", dir_.file("c"),
                                          "--syslog-tcp", "127.0.0.1:0", "--user", "nobody", "--exit-when-done"});
  EXPECT_TRUE(r.exited_with(1)) << r.describe() << "\n" << r.err;
  EXPECT_NE(r.err.find("is not owned by nobody"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--chown-data-dir"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(data)) << "the store was opened before the refusal";
}

// No input is read before root is given up: a log file only root may read stays unread (the source says why),
// while a file the user may read is read.
TEST_F(RunPrivileges, InputIsReadOnlyAfterTheDrop) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (run the integration tests as root, as CI does)";
  if (!::getpwnam("nobody")) GTEST_SKIP() << "no user 'nobody' on this system";
  const std::string logs = dir_.file("logs");
  std::filesystem::create_directories(logs);
  ::chmod(logs.c_str(), 0755);
  const std::string line = "event " + std::string(test::kHitToken) + "\n";
  ASSERT_TRUE(test::write_file(logs + "/secret.log", line));
  ASSERT_EQ(::chmod((logs + "/secret.log").c_str(), 0600), 0);  // root's alone
  ASSERT_TRUE(test::write_file(logs + "/open.log", line + line));
  ASSERT_EQ(::chmod((logs + "/open.log").c_str(), 0644), 0);
  test::ProcessResult r =
      test::run_socd({"run", "--data-dir", dir_.file("store"), "--rules", rules_, "--cache-dir", dir_.file("c"),
                      "--file", logs + "/*.log", "--user", "nobody", "--chown-data-dir", "--exit-when-done"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  EXPECT_NE(r.err.find("secret.log"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
  auto summary = test::parse_summary(r.err);
  ASSERT_TRUE(summary) << r.err;
  EXPECT_EQ(test::summary_number(*summary, "events"), 2) << r.err;  // open.log's two lines; none of secret.log
  EXPECT_EQ(test::summary_number(*summary, "alerts_stored"), 2) << r.err;
}

TEST_F(RunPrivileges, UnknownUserOrNotRootIsAUsageError) {
  test::ProcessResult r = test::run_socd({"run", "--data-dir", dir_.file("s"), "--rules", rules_, "--syslog-tcp",
                                          "127.0.0.1:0", "--user", "no-such-user-socd-test"});
  EXPECT_TRUE(r.exited_with(2)) << r.describe() << "\n" << r.err;
  EXPECT_NE(r.err.find("--user 'no-such-user-socd-test': no such user"), std::string::npos) << r.err;
}

// Secrets given the intended ways (files, environment) do not leak through the error paths of a broken start.
TEST_F(RunPrivileges, SecretsNeverAppearOnStderr) {
  const std::string env_secret = "env-audit-key-f00dfeed-5ecret-0001";
  const std::string token_secret = "clear-token-5ecret-0002-abcdef";
  const std::string short_key = "5ecret-0003";
  const std::string forward_secret = "forward-pass-5ecret-0004";
  ASSERT_EQ(::setenv("SOCD_AUDIT_KEY", env_secret.c_str(), 1), 0);
  ASSERT_EQ(::setenv("SOCD_TEST_FORWARD_PASSWORD", forward_secret.c_str(), 1), 0);
  std::vector<test::ProcessResult> runs;
  std::vector<std::string> base = {"run", "--data-dir", dir_.file("store"), "--rules", rules_, "--cache-dir",
                                   dir_.file("cache"), "--stdin", "--exit-when-done"};
  auto run = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    runs.push_back(test::run_socd(args));
  };
  // A tokens file with a token in clear (refused), the audit key from the environment.
  ASSERT_TRUE(test::write_file(dir_.file("tokens"), "alice analyst " + token_secret + "\n"));
  ASSERT_TRUE(test::write_file(dir_.file("key.pem"), "-----BEGIN PRIVATE KEY-----\n" + token_secret + "\n"));
  run({"--api", "127.0.0.1:0", "--api-cert", dir_.file("key.pem"), "--api-key", dir_.file("key.pem"),
       "--api-tokens", dir_.file("tokens")});
  // The same with valid tokens: the certificate and key files cannot be loaded.
  ASSERT_TRUE(test::write_file(dir_.file("tokens2"), "alice analyst sha256:" + std::string(64, 'a') + "\n"));
  run({"--api", "127.0.0.1:0", "--api-cert", dir_.file("key.pem"), "--api-key", dir_.file("key.pem"),
       "--api-tokens", dir_.file("tokens2")});
  // An audit key file too short to use.
  ASSERT_TRUE(test::write_file(dir_.file("short.key"), short_key + "\n"));
  run({"--audit-key-file", dir_.file("short.key")});
  // A forwarding file whose password comes from the environment, broken further down.
  ASSERT_TRUE(test::write_file(dir_.file("forwarding.yml"),
                               "sinks:\n  - name: nc\n    type: webhook\n    url: https://127.0.0.1:1/hook\n"
                               "    username: socd\n    password_env: SOCD_TEST_FORWARD_PASSWORD\n"
                               "    batch_size: lots\n"));
  run({"--forwarding", dir_.file("forwarding.yml")});
  // An option the program does not know, with a secret-looking value.
  run({"--no-such-option", token_secret});
  ::unsetenv("SOCD_AUDIT_KEY");
  ::unsetenv("SOCD_TEST_FORWARD_PASSWORD");
  ASSERT_EQ(runs.size(), 5u);
  for (size_t i = 0; i < runs.size(); ++i) {
    const test::ProcessResult& r = runs[i];
    EXPECT_FALSE(r.exited_with(0)) << "run " << i << " should have been refused\n" << r.err;
    EXPECT_FALSE(r.err.empty()) << "run " << i << " said nothing";
    for (const std::string& secret : {env_secret, token_secret, short_key, forward_secret})
      EXPECT_EQ(r.err.find(secret), std::string::npos) << "run " << i << " printed a secret:\n" << r.err;
  }
}

}  // namespace
}  // namespace socd
