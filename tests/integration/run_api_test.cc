// `socd run --api` as a process, over a real TLS connection: the alerts of the events it read are listed, an
// analyst acknowledges the incident they formed, the auditor's token is refused (403) on a write endpoint and a
// request without a token is refused (401); after the run, `socd audit verify` passes and the chain holds the
// requests. SIGHUP reloads the tokens file with the rules: a new token works, a removed one no longer does, and a
// broken file is refused with a message while the tokens in force stay.
#include <gtest/gtest.h>

#include <regex>

#include "socd/alert_store.h"
#include "socd/ledger.h"
#include "support/api_https_client.h"
#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;

constexpr const char* kRule = "5e1f0000-0000-4000-8000-00000000a001";
constexpr const char* kAuditKey = "a-run-api-test-key-of-32-bytes!!";
constexpr const char* kAnalyst = "analyst-token-run-api-1";
constexpr const char* kAuditor = "auditor-token-run-api-2";
constexpr const char* kNewAnalyst = "analyst-token-run-api-3";

std::string token_line(const std::string& name, const std::string& role, const std::string& token) {
  return name + " " + role + " sha256:" + sha256_hex(token) + "\n";
}

std::string event_line(int n) {
  return R"({"Computer":"dc01","message":"socd-test-hit n=)" + std::to_string(n) + "\"}\n";
}

class RunApi : public ::testing::Test {
protected:
  void SetUp() override {
    if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is not installed";
    ASSERT_TRUE(dir_.ok());
    pki_ = std::make_unique<test::TestPki>(dir_.path());
    ASSERT_TRUE(pki_->error.empty()) << pki_->error;
    const std::filesystem::path rules = dir_.path() / "rules";
    std::filesystem::create_directories(rules);
    std::string rule = test::keyword_rule(kRule, "Test hit", test::kHitToken);
    rule.replace(rule.find("level: low"), 10, "level: high");  // high: the alerts form an incident
    ASSERT_TRUE(test::write_file(rules / "hit.yml", rule));
    tokens_ = dir_.file("tokens");
    ASSERT_TRUE(test::write_file(tokens_, "# name role hash\n" + token_line("alice", "analyst", kAnalyst) +
                                              token_line("carol", "auditor", kAuditor)));
    key_file_ = dir_.file("audit.key");
    ASSERT_TRUE(test::write_file(key_file_, kAuditKey));
    options_.data_dir = dir_.file("store");
    options_.rules = rules.string();
    options_.cache_dir = dir_.file("cache");
    options_.log = dir_.file("socd.log");
    options_.sources = {"--stdin",   "--api",          "127.0.0.1:0",  "--api-cert", pki_->server_cert,
                        "--api-key", pki_->server_key, "--api-tokens", tokens_,      "--audit-key-file",
                        key_file_};
    options_.stdin_pipe = true;
    socd_ = std::make_unique<test::SocdService>(options_);
    std::string error;
    ASSERT_TRUE(socd_->start(error)) << error;
    std::smatch m;
    std::string err = socd_->err();
    ASSERT_TRUE(std::regex_search(err, m, std::regex("API on 127\\.0\\.0\\.1:0 \\(port (\\d+)\\)"))) << err;
    port_ = static_cast<uint16_t>(std::stoi(m[1]));
  }

  std::unique_ptr<test::HttpsClient> client() { return std::make_unique<test::HttpsClient>(port_, pki_->ca); }

  // Polls GET /alerts until `count` alerts are listed (bounded); returns the last body.
  std::string wait_alerts(test::HttpsClient& c, size_t count) {
    std::string body;
    test::eventually(
        [&] {
          test::Reply r = c.request("GET", "/alerts", kAnalyst);
          body = r.body;
          size_t n = 0;
          for (size_t at = body.find("\"rule\":{"); at != std::string::npos; at = body.find("\"rule\":{", at + 1)) ++n;
          return r.status == 200 && n >= count;
        },
        20s);
    return body;
  }

  test::TempDir dir_;
  std::unique_ptr<test::TestPki> pki_;
  std::string tokens_, key_file_;
  test::SocdService::Options options_;
  std::unique_ptr<test::SocdService> socd_;
  uint16_t port_ = 0;
};

TEST_F(RunApi, AlertsIncidentsRolesAndTheAuditChainOverTls) {
  ASSERT_TRUE(socd_->write_stdin(event_line(1) + event_line(2)));
  auto c = client();
  ASSERT_TRUE(c->connected()) << c->error();
  std::string alerts = wait_alerts(*c, 2);
  EXPECT_NE(alerts.find(kRule), std::string::npos) << alerts;
  EXPECT_NE(alerts.find("socd-test-hit n=2"), std::string::npos) << alerts;

  // The two high alerts of one rule on one host form an incident.
  std::string incident_id;
  ASSERT_TRUE(test::eventually(
      [&] {
        test::Reply r = c->request("GET", "/incidents", kAnalyst);
        std::smatch m;
        if (r.status == 200 && std::regex_search(r.body, m, std::regex("\"id\":\"(INC-[0-9]+)\"")))
          incident_id = m[1];
        return !incident_id.empty();
      },
      20s));
  const std::string ack = "/incidents/" + incident_id + "/ack";

  test::Reply no_token = c->request("POST", ack, "", "{}");
  EXPECT_EQ(no_token.status, 401) << no_token.body;
  test::Reply wrong_token = c->request("POST", ack, "not-a-token", "{}");
  EXPECT_EQ(wrong_token.status, 401) << wrong_token.body;
  test::Reply auditor = c->request("POST", ack, kAuditor, "{}");
  EXPECT_EQ(auditor.status, 403) << auditor.body;
  test::Reply auditor_reads = c->request("GET", "/incidents/" + incident_id, kAuditor);
  EXPECT_EQ(auditor_reads.status, 200) << auditor_reads.body;
  EXPECT_NE(auditor_reads.body.find("\"state\":\"new\""), std::string::npos) << auditor_reads.body;
  test::Reply analyst = c->request("POST", ack, kAnalyst, "{}");
  EXPECT_EQ(analyst.status, 200) << analyst.body;
  test::Reply after = c->request("GET", "/incidents/" + incident_id, kAnalyst);
  EXPECT_NE(after.body.find("\"state\":\"acknowledged\""), std::string::npos) << after.body;
  c.reset();

  test::Summary summary;
  std::string stopped = socd_->stop(summary);
  ASSERT_EQ(stopped, "") << stopped;

  // The chain of the store verifies, and holds the incident change and every request with its status.
  test::ProcessResult verify =
      test::run_socd({"audit", "verify", "--data-dir", options_.data_dir, "--key-file", key_file_});
  EXPECT_TRUE(verify.exited_with(0)) << verify.describe() << "\n" << verify.out << verify.err;
  EXPECT_NE(verify.out.find("verified: OK"), std::string::npos) << verify.out;
  StoreOptions ro;
  ro.read_only = true;
  auto store = AlertStore::open(options_.data_dir, ro);
  ASSERT_TRUE(store.ok()) << store.error().message();
  std::vector<std::string> requests;  // "holder payload"
  bool ack_recorded = false, token_in_chain = false;
  ASSERT_TRUE((*store)->ledger()->chain(1, [&](const ChainRecord& r) {
    if (r.kind == ChainKind::Request) requests.push_back(r.subject + " " + r.payload);
    if (r.kind == ChainKind::Incident && r.subject == incident_id && r.payload.find("ack") != std::string::npos)
      ack_recorded = true;
    for (const char* token : {kAnalyst, kAuditor})
      if (r.payload.find(token) != std::string::npos || r.subject.find(token) != std::string::npos)
        token_in_chain = true;
    return true;
  }).ok());
  EXPECT_TRUE(ack_recorded);
  EXPECT_FALSE(token_in_chain);
  auto recorded = [&](const std::string& holder, const std::string& request) {
    for (const auto& r : requests)
      if (r.rfind(holder + " ", 0) == 0 && r.find(request) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(recorded("-", "role none\tPOST " + ack + "\tstatus 401\tpeer 127.0.0.1"));
  EXPECT_TRUE(recorded("carol", "role auditor\tPOST " + ack + "\tstatus 403"));
  EXPECT_TRUE(recorded("alice", "role analyst\tPOST " + ack + "\tstatus 200"));
  EXPECT_TRUE(recorded("alice", "role analyst\tGET /alerts\tstatus 200"));
  EXPECT_GE(requests.size(), 8u);
}

TEST_F(RunApi, SighupReloadsTheTokensAndABrokenFileKeepsThoseInForce) {
  auto c = client();
  ASSERT_TRUE(c->connected()) << c->error();
  EXPECT_EQ(c->request("GET", "/alerts", kAnalyst).status, 200);
  EXPECT_EQ(c->request("GET", "/alerts", kNewAnalyst).status, 401);

  // alice's token replaced by dave's.
  ASSERT_TRUE(test::write_file(tokens_, token_line("dave", "analyst", kNewAnalyst) +
                                            token_line("carol", "auditor", kAuditor)));
  socd_->signal(SIGHUP);
  ASSERT_TRUE(socd_->wait_stderr("API tokens reloaded: 2 token(s)")) << socd_->err();
  EXPECT_EQ(c->request("GET", "/alerts", kNewAnalyst).status, 200);
  EXPECT_EQ(c->request("GET", "/alerts", kAnalyst).status, 401);
  EXPECT_EQ(c->request("GET", "/alerts", kAuditor).status, 200);

  // A broken file (a token in clear): refused, with its file and line, never the token; dave's stays in force.
  ASSERT_TRUE(test::write_file(tokens_, "erin analyst " + std::string(kAnalyst) + "\n"));
  socd_->signal(SIGHUP);
  ASSERT_TRUE(socd_->wait_stderr("API tokens not reloaded, the tokens in force stay")) << socd_->err();
  std::string err = socd_->err();
  EXPECT_NE(err.find(tokens_ + ":1"), std::string::npos) << err;
  EXPECT_EQ(err.find(kAnalyst), std::string::npos) << "the token in the log:\n" << err;
  EXPECT_EQ(c->request("GET", "/alerts", kNewAnalyst).status, 200);
  EXPECT_EQ(c->request("GET", "/alerts", kAnalyst).status, 401);
  c.reset();
  test::Summary summary;
  std::string stopped = socd_->stop(summary);
  EXPECT_EQ(stopped, "") << stopped;
}

}  // namespace
}  // namespace socd
