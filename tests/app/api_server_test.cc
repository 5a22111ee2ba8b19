// The HTTP JSON API over TLS, against the real server on 127.0.0.1 with a real store: every write endpoint refuses
// a request without a token (401) and the auditor's token (403), endpoint by endpoint; an analyst works an incident
// through the API and every change and request is in the audit chain, which `socd audit verify` accepts.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>

#include "api_server.h"
#include "socd/ledger.h"
#include "storage/store_test_support.h"
#include "support/api_https_client.h"
#include "support/socd_process.h"
#include "support/syslog_test_support.h"

namespace socd::test {
namespace {

constexpr const char* kKey = "an-api-test-key-of-more-than-16-bytes";
constexpr const char* kAnalystToken = "analyst-token-7f3c";
constexpr const char* kAuditorToken = "auditor-token-91ab";
constexpr const char* kAdminToken = "admin-token-55e0";

StoredAlert on_system(StoredAlert a, std::string system, int level) {
  a.system = std::move(system);
  a.system_level = level;
  a.layers = kLayer2 | kLayer3;
  return a;
}

std::string token_line(const std::string& name, const std::string& role, const std::string& token) {
  return name + " " + role + " sha256:" + sha256_hex(token) + "\n";
}

class ApiServerTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    if (find_program("openssl").empty()) return;
    pki_dir_ = new TempDir();
    pki_ = new TestPki(pki_dir_->path());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete pki_dir_;
    pki_ = nullptr;
    pki_dir_ = nullptr;
  }

  void SetUp() override {
    if (pki_ == nullptr) GTEST_SKIP() << "the openssl command is not installed (apt-get install openssl)";
    ASSERT_TRUE(pki_->error.empty()) << pki_->error;
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("store");
    auto store = AlertStore::open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(*store);
    ledger_ = store_->ledger();
    Status st = ledger_->configure(IncidentSettings(), kKey);
    ASSERT_TRUE(st.ok()) << st.message();
    // Two high alerts of one rule on one system: grouped into INC-000001.
    std::vector<StoredAlert> alerts = {on_system(make_alert(1, kBaseTimeMs), "portal", 3),
                                       on_system(make_alert(2, kBaseTimeMs + 60'000), "portal", 3),
                                       on_system(make_alert(3, kBaseTimeMs + 120'000, "rule-b", "low"), "mail", 2)};
    alert_id_ = alerts[0].id;
    size_t stored = 0;
    st = store_->commit(alerts, {}, &stored);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(stored, 3u);

    auto tokens = parse_api_tokens("tokens", "# name role hash\n" + token_line("alice", "analyst", kAnalystToken) +
                                                 token_line("carol", "auditor", kAuditorToken) +
                                                 token_line("root", "admin", kAdminToken));
    ASSERT_TRUE(tokens.ok()) << tokens.error().message();
    ApiServerOptions o;
    o.address = "127.0.0.1:0";
    o.cert = pki_->server_cert;
    o.key = pki_->server_key;
    o.tokens = *tokens;
    o.max_header_bytes = 4096;
    o.idle_timeout_ms = 3000;
    ApiContext c;
    c.store = store_.get();
    c.ledger = ledger_;
    c.metrics_text = [] { return std::string("socd_test_metric 1\n"); };
    c.reload = [this] {
      ++reloads_;
      return Status();
    };
    c.retention = [this]() -> Expected<RetentionResult> {
      ++retentions_;
      return RetentionResult{};
    };
    c.audit_key = [] { return std::string(kKey); };
    auto server = ApiServer::start(std::move(o), std::move(c));
    ASSERT_TRUE(server.ok()) << server.error().message();
    server_ = std::move(*server);
  }

  void TearDown() override {
    if (server_) server_->stop();
  }

  std::unique_ptr<HttpsClient> client() { return std::make_unique<HttpsClient>(server_->port(), pki_->ca); }

  // The chain records of a kind.
  std::vector<ChainRecord> records(ChainKind kind) {
    std::vector<ChainRecord> out;
    Status st = ledger_->chain(1, [&](const ChainRecord& r) {
      if (r.kind == kind) out.push_back(r);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  IncidentState state_of(const std::string& id) {
    auto inc = ledger_->incident(id);
    EXPECT_TRUE(inc.ok() && inc->has_value());
    return inc.ok() && inc->has_value() ? (*inc)->state : IncidentState::Closed;
  }

  static TempDir* pki_dir_;
  static TestPki* pki_;
  TempDir dir_;
  std::string path_, alert_id_;
  std::unique_ptr<AlertStore> store_;
  Ledger* ledger_ = nullptr;
  std::unique_ptr<ApiServer> server_;
  std::atomic<int> reloads_{0}, retentions_{0};
};
TempDir* ApiServerTest::pki_dir_ = nullptr;
TestPki* ApiServerTest::pki_ = nullptr;

struct WriteEndpoint {
  const char* target;
  const char* body;
};
const WriteEndpoint kWriteEndpoints[] = {
    {"/incidents/INC-000001/ack", ""},
    {"/incidents/INC-000001/start", ""},
    {"/incidents/INC-000001/assign", R"({"assignee":"mallory"})"},
    {"/incidents/INC-000001/note", R"({"text":"written by someone who may not"})"},
    {"/incidents/INC-000001/resolve", R"({"text":"done"})"},
    {"/incidents/INC-000001/false_positive", ""},
    {"/incidents/INC-000001/close", ""},
    {"/incidents/INC-000001/reopen", ""},
    {"/admin/reload", ""},
    {"/admin/retention", ""},
};

TEST_F(ApiServerTest, EveryWriteEndpointAnswers401WithoutATokenAnd403ToTheAuditor) {
  const uint64_t changes_before = records(ChainKind::Incident).size();
  auto c = client();
  ASSERT_TRUE(c->connected()) << c->error();
  for (const auto& e : kWriteEndpoints) {
    SCOPED_TRACE(e.target);
    Reply none = c->request("POST", e.target, "", e.body);
    EXPECT_EQ(none.status, 401) << none.body;
    EXPECT_NE(none.head.find("WWW-Authenticate: Bearer"), std::string::npos) << none.head;
    Reply wrong = c->request("POST", e.target, "not-a-token-anyone-holds", e.body);
    EXPECT_EQ(wrong.status, 401) << wrong.body;
    Reply auditor = c->request("POST", e.target, kAuditorToken, e.body);
    EXPECT_EQ(auditor.status, 403) << auditor.body;
  }
  // The admin endpoints refuse the analyst too.
  EXPECT_EQ(c->request("POST", "/admin/reload", kAnalystToken).status, 403);
  EXPECT_EQ(c->request("POST", "/admin/retention", kAnalystToken).status, 403);
  // Nothing changed.
  EXPECT_EQ(state_of("INC-000001"), IncidentState::New);
  EXPECT_EQ(records(ChainKind::Incident).size(), changes_before);
  EXPECT_EQ(reloads_, 0);
  EXPECT_EQ(retentions_, 0);
  // The admin may.
  EXPECT_EQ(c->request("POST", "/admin/reload", kAdminToken).status, 202);
  EXPECT_EQ(reloads_, 1);
  EXPECT_EQ(c->request("POST", "/admin/retention", kAdminToken).status, 200);
  EXPECT_EQ(retentions_, 1);
}

TEST_F(ApiServerTest, AnalystWorksAnIncidentAndEveryStepIsInTheChain) {
  auto c = client();
  ASSERT_TRUE(c->connected()) << c->error();
  // Closing a new incident is refused, and nothing is changed.
  Reply refused = c->request("POST", "/incidents/INC-000001/close", kAnalystToken);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(state_of("INC-000001"), IncidentState::New);
  EXPECT_EQ(c->request("POST", "/incidents/INC-000999/ack", kAnalystToken).status, 404);
  EXPECT_EQ(c->request("POST", "/incidents/INC-000001/assign", kAnalystToken, "{}").status, 400);

  struct Step {
    const char* action;
    const char* body;
    const char* state;
  };
  const Step steps[] = {{"ack", "", "acknowledged"},
                        {"assign", R"({"assignee":"bob"})", "acknowledged"},
                        {"start", "", "in_progress"},
                        {"note", R"({"text":"blocked 203.0.113.7 at the edge"})", "in_progress"},
                        {"resolve", R"({"text":"password reset, address blocked"})", "resolved"},
                        {"close", "", "closed"}};
  for (const auto& s : steps) {
    SCOPED_TRACE(s.action);
    Reply r = c->request("POST", std::string("/incidents/INC-000001/") + s.action, kAnalystToken, s.body);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(std::string("\"state\":\"") + s.state + "\""), std::string::npos) << r.body;
  }
  auto inc = ledger_->incident("INC-000001");
  ASSERT_TRUE(inc.ok() && inc->has_value());
  EXPECT_EQ((*inc)->state, IncidentState::Closed);
  EXPECT_EQ((*inc)->assignee, "bob");
  ASSERT_EQ((*inc)->notes.size(), 1u);
  EXPECT_EQ((*inc)->notes[0].author, "api:alice");

  // Each change is an incident record of the chain made by api:alice.
  size_t by_alice = 0;
  for (const auto& r : records(ChainKind::Incident)) {
    auto cmd = IncidentCommand::decode(std::string_view(r.payload).substr(32));
    if (cmd && cmd->actor == "api:alice") ++by_alice;
  }
  EXPECT_EQ(by_alice, std::size(steps));
  // Every request, refused or not, is a request record naming the token's holder, never the token.
  auto requests = records(ChainKind::Request);
  EXPECT_EQ(requests.size(), 3 + std::size(steps));
  for (const auto& r : requests) {
    EXPECT_EQ(r.subject, "alice");
    EXPECT_EQ(r.payload.find(kAnalystToken), std::string::npos);
  }
  EXPECT_NE(requests.front().payload.find("POST /incidents/INC-000001/close\tstatus 409"), std::string::npos)
      << requests.front().payload;

  // The chain verifies, through the API (auditor) and with `socd audit verify` on the closed store.
  Reply verify = c->request("GET", "/audit/verify", kAuditorToken);
  EXPECT_EQ(verify.status, 200);
  EXPECT_NE(verify.body.find("\"ok\":true"), std::string::npos) << verify.body;
  EXPECT_EQ(c->request("GET", "/audit/verify", kAnalystToken).status, 403);
  server_->stop();
  server_.reset();
  store_.reset();
  ASSERT_TRUE(write_file(dir_.file("key"), kKey));
  ProcessResult cli = run_socd({"audit", "verify", "--data-dir", path_, "--key-file", dir_.file("key")});
  EXPECT_TRUE(cli.exited_with(0)) << cli.describe() << "\n" << cli.out << cli.err;
  EXPECT_NE(cli.out.find("verified: OK"), std::string::npos) << cli.out;
}

TEST_F(ApiServerTest, ReadsAlertsIncidentsReportsHealthAndMetricsOnOneConnection) {
  auto c = client();
  ASSERT_TRUE(c->connected()) << c->error();
  Reply health = c->request("GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(c->request("GET", "/alerts").status, 401);

  Reply high = c->request("GET", "/alerts?level=high", kAuditorToken);
  EXPECT_EQ(high.status, 200) << high.body;
  EXPECT_NE(high.body.find("\"count\":2"), std::string::npos) << high.body;
  Reply rule_b = c->request("GET", "/alerts?rule=rule-b&limit=10", kAnalystToken);
  EXPECT_NE(rule_b.body.find("\"count\":1"), std::string::npos) << rule_b.body;
  EXPECT_NE(rule_b.body.find("\"system\":\"mail\""), std::string::npos) << rule_b.body;
  Reply later = c->request("GET", "/alerts?since=" + std::to_string(kBaseTimeMs + 1), kAnalystToken);
  EXPECT_NE(later.body.find("\"count\":2"), std::string::npos) << later.body;
  EXPECT_EQ(c->request("GET", "/alerts?since=yesterday", kAnalystToken).status, 400);

  Reply one = c->request("GET", "/alerts/" + alert_id_, kAnalystToken);
  EXPECT_EQ(one.status, 200);
  EXPECT_NE(one.body.find(alert_id_), std::string::npos);
  EXPECT_EQ(c->request("GET", "/alerts/0000", kAnalystToken).status, 404);

  Reply incidents = c->request("GET", "/incidents?state=new", kAuditorToken);
  EXPECT_NE(incidents.body.find("\"count\":1"), std::string::npos) << incidents.body;
  Reply incident = c->request("GET", "/incidents/INC-000001", kAuditorToken);
  EXPECT_EQ(incident.status, 200);
  const size_t members = incident.body.find("\"alerts\":[");
  ASSERT_NE(members, std::string::npos) << incident.body;
  EXPECT_NE(incident.body.find("\"" + alert_id_ + "\"", members), std::string::npos) << incident.body;

  const std::string period = "from=2024-05-01T00:00:00Z&to=2024-05-02T00:00:00Z";
  Reply json = c->request("GET", "/report?" + period, kAuditorToken);
  EXPECT_EQ(json.status, 200) << json.body;
  Reply md = c->request("GET", "/report?" + period + "&format=md", kAuditorToken);
  EXPECT_EQ(md.status, 200);
  EXPECT_NE(md.head.find("text/markdown"), std::string::npos);
  EXPECT_EQ(c->request("GET", "/report?from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z", kAuditorToken).status,
            400);

  Reply metrics = c->request("GET", "/metrics", kAnalystToken);
  EXPECT_EQ(metrics.body, "socd_test_metric 1\n");
  Reply chain = c->request("GET", "/audit/chain?from=1&limit=2", kAuditorToken);
  EXPECT_EQ(chain.status, 200);
  EXPECT_NE(chain.body.find("\"seq\":2"), std::string::npos);
  EXPECT_EQ(chain.body.find("\"seq\":3"), std::string::npos);
  EXPECT_EQ(c->request("GET", "/nowhere", kAnalystToken).status, 404);
  EXPECT_EQ(c->request("DELETE", "/alerts", kAnalystToken).status, 405);
}

TEST_F(ApiServerTest, OversizedHeadsAndBodiesAreRefused) {
  {
    auto c = client();
    ASSERT_TRUE(c->connected()) << c->error();
    ASSERT_TRUE(c->send_raw("GET /health HTTP/1.1\r\nX-Pad: " + std::string(8000, 'a') + "\r\n\r\n"));
    EXPECT_EQ(c->read_reply().status, 431);
  }
  {
    auto c = client();
    ASSERT_TRUE(c->connected()) << c->error();
    ASSERT_TRUE(c->send_raw("POST /incidents/INC-000001/note HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"));
    EXPECT_EQ(c->read_reply().status, 413);
  }
  {
    auto c = client();
    ASSERT_TRUE(c->connected()) << c->error();
    ASSERT_TRUE(c->send_raw("NONSENSE\r\n\r\n"));
    EXPECT_EQ(c->read_reply().status, 400);
  }
}

TEST(ApiTokens, FileFormatIsCheckedAndTokensAreNeverInClear) {
  auto ok = parse_api_tokens("t", token_line("alice", "analyst", "x") + "\n# comment\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 1u);
  EXPECT_EQ(ok->at(sha256_hex("x")).name, "alice");
  auto clear = parse_api_tokens("t", "alice analyst my-secret-token\n");
  ASSERT_FALSE(clear.ok());
  EXPECT_NE(clear.error().message().find("t:1:"), std::string::npos);
  EXPECT_EQ(clear.error().message().find("my-secret-token"), std::string::npos);
  auto role = parse_api_tokens("t", "\nbob boss sha256:" + sha256_hex("y") + "\n");
  ASSERT_FALSE(role.ok());
  EXPECT_NE(role.error().message().find("t:2: unknown role 'boss'"), std::string::npos) << role.error().message();
  EXPECT_FALSE(parse_api_tokens("t", "# none\n").ok());
}

}  // namespace
}  // namespace socd::test
