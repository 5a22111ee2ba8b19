// Layer-4 forwarding to a MISP events API written here (HTTPS on 127.0.0.1): it checks the Authorization key,
// the body signature and the required fields of the MISP core format (Event: uuid, info, date, timestamp,
// threat_level_id, analysis, distribution; each Attribute: uuid, type, category valid for the type, value,
// to_ids; Tag names), keeps events by uuid and answers a second event with a uuid it holds as MISP does. A
// resend after a timeout is the same event; a refused event's rejections are counted in the store, so they
// survive a restart.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "forward.h"
#include "misp.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"
#include "support/https_test_server.h"
#include "support/socd_process.h"
#include "support/syslog_test_support.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) (out += kHex[mac[i] >> 4]) += kHex[mac[i] & 15];
  return out;
}

// The MISP side: events by uuid, and what a check found wrong.
struct MispInstance {
  std::mutex mutex;
  std::map<std::string, int> created;      // event uuid -> 1
  std::map<std::string, int> posts;        // event uuid -> POSTs seen
  int duplicates = 0;                      // POSTs of a uuid already held
  std::vector<std::string> problems;
  std::string refuse_rule;                 // events of this rule: 400

  void problem(const std::string& p) { problems.push_back(p); }

  test::HttpAnswer handle(const test::HttpRequest& r) {
    std::lock_guard lock(mutex);
    if (r.header("authorization") != "misp-k3y")
      return {403, "{\"name\":\"Authentication failed.\",\"message\":\"Authentication failed.\"}"};
    if (r.method != "POST" || r.target != "/events/add") return {404, "{\"name\":\"Not found\"}"};
    if (r.header("content-type") != "application/json") problem("Content-Type " + r.header("content-type"));
    if (r.header("x-socd-signature") != "sha256=" + hmac_hex("sig-k3y", r.body)) problem("bad signature");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object event;
    if (parser.parse(r.body).get(doc) || doc["Event"].get(event)) return {400, "{\"message\":\"not an Event\"}"};
    std::string_view uuid, info, date, timestamp, threat, analysis, distribution, sharing;
    if (event["uuid"].get(uuid) || event["info"].get(info) || event["date"].get(date) ||
        event["timestamp"].get(timestamp) || event["threat_level_id"].get(threat) ||
        event["analysis"].get(analysis) || event["distribution"].get(distribution) ||
        event["sharing_group_id"].get(sharing))
      problem("an Event without a required field: " + std::string(r.body.substr(0, 200)));
    static const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
    if (!std::regex_match(std::string(uuid), kUuid)) problem("uuid " + std::string(uuid));
    if (info.empty() || info.size() > 256 || info.find('\n') != std::string_view::npos) problem("info");
    if (!std::regex_match(std::string(date), std::regex("\\d{4}-\\d{2}-\\d{2}"))) problem("date");
    if (!std::regex_match(std::string(timestamp), std::regex("\\d+"))) problem("timestamp");
    if (threat.size() != 1 || threat < "1" || threat > "4") problem("threat_level_id " + std::string(threat));
    if (analysis.size() != 1 || analysis < "0" || analysis > "2") problem("analysis");
    if (distribution.size() != 1 || distribution < "0" || distribution > "4") problem("distribution");
    simdjson::dom::array attributes, tags;
    if (event["Attribute"].get(attributes) || attributes.size() == 0) problem("no Attribute list");
    static const std::map<std::string, std::set<std::string>> kCategories = {
        {"Internal reference", {"text", "link", "comment", "other"}},
        {"Network activity", {"ip-src", "ip-dst", "hostname", "domain", "text"}},
        {"Payload delivery", {"filename", "ip-src", "hostname", "text"}},
        {"Other", {"text", "comment", "other"}}};
    bool refused = false;
    for (auto a : attributes) {
      std::string_view type, category, value, auuid;
      bool to_ids = false;
      if (a["type"].get(type) || a["category"].get(category) || a["value"].get(value) || a["uuid"].get(auuid) ||
          a["to_ids"].get(to_ids)) {
        problem("an Attribute without type/category/value/uuid/to_ids");
        continue;
      }
      auto c = kCategories.find(std::string(category));
      if (c == kCategories.end() || !c->second.count(std::string(type)))
        problem("type " + std::string(type) + " in category " + std::string(category));
      if (value.empty()) problem("empty attribute value");
    }
    if (event["Tag"].get(tags)) problem("no Tag list");
    for (auto t : tags) {
      std::string_view name;
      if (t["name"].get(name) || name.empty()) problem("a Tag without name");
      if (!refuse_rule.empty() && name == "socd:rule=\"" + refuse_rule + "\"") refused = true;
    }
    ++posts[std::string(uuid)];
    if (refused) return {400, "{\"name\":\"Could not add Event\",\"message\":\"The event was refused by policy.\"}"};
    if (created.count(std::string(uuid))) {
      ++duplicates;
      return {403, "{\"name\":\"Event already exists, if you would like to edit it, use the url in the "
                   "location header.\",\"message\":\"An event with this uuid already exists.\"}"};
    }
    created[std::string(uuid)] = 1;
    return {200, std::string("{\"Event\":{\"id\":\"") + std::to_string(created.size()) + "\",\"uuid\":\"" +
                     std::string(uuid) + "\"}}"};
  }
};

class ForwardMisp : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                            "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + dir_.file("key.pem") +
                            " -out " + dir_.file("cert.pem") + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
    server_ = std::make_unique<test::HttpsTestServer>(dir_.file("cert.pem"), dir_.file("key.pem"),
                                                      [this](const test::HttpRequest& r) { return misp_.handle(r); });
    std::ofstream(dir_.file("key")) << "misp-k3y\n";
    std::ofstream(dir_.file("hmac")) << "sig-k3y\n";
    std::ofstream(dir_.file("forwarding.yml"))
        << "soc_name: Test SOC\nmax_rejections: 3\nsinks:\n  - name: national-misp\n    type: misp\n"
        << "    url: https://127.0.0.1:" << server_->port() << "/events/add\n"
        << "    ca_file: " << dir_.file("cert.pem") << "\n    auth_key_file: " << dir_.file("key") << "\n"
        << "    hmac_key_file: " << dir_.file("hmac") << "\n    distribution: \"1\"\n    tag: \"tlp:amber\"\n"
        << "    batch_size: 20\n    timeout_ms: 700\n    backoff_initial_ms: 400\n    backoff_max_ms: 400\n"
        << "    breaker_failures: 100\n";
  }
  void TearDown() override {
    forwarder_.reset();
    store_.reset();
    server_.reset();
  }
  void open() {
    forwarder_.reset();
    store_.reset();
    auto s = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    auto config = load_forwarding(dir_.file("forwarding.yml"));
    ASSERT_TRUE(config) << config.error().message();
    forwarder_ = std::make_unique<Forwarder>(*store_->outbox(), std::move(*config));
    ASSERT_TRUE(forwarder_->start().ok());
  }
  std::vector<StoredAlert> l4_alerts(uint64_t first, uint64_t n, const std::string& rule = "rule-a") {
    std::vector<StoredAlert> out;
    for (uint64_t i = first; i < first + n; ++i) {
      StoredAlert a = test::make_alert(i, test::kBaseTimeMs + static_cast<int64_t>(i), rule);
      a.json.resize(a.json.size() - 2);  // the event's and the alert's }
      a.json += ",\"SourceIp\":\"203.0.113.7\"}}";
      a.layers = kLayer4;
      out.push_back(std::move(a));
    }
    return out;
  }
  test::TempDir dir_;
  MispInstance misp_;
  std::unique_ptr<test::HttpsTestServer> server_;
  std::unique_ptr<AlertStore> store_;
  std::unique_ptr<Forwarder> forwarder_;
};

TEST_F(ForwardMisp, EveryAlertIsOneValidEventAndAResendAfterATimeoutIsTheSameEvent) {
  open();
  server_->fault = test::HttpsTestServer::kSlow;  // handled, but answered after the client gave up
  server_->slow_ms = 1000;
  const auto alerts = l4_alerts(0, 60);
  ASSERT_TRUE(store_->commit(alerts, {}, nullptr).ok());
  ASSERT_TRUE(test::eventually([&] { return server_->requests.load() >= 2; }, 10s));
  server_->fault = test::HttpsTestServer::kNone;
  ASSERT_TRUE(forwarder_->drain(30000)) << "the outbox did not empty";
  std::lock_guard lock(misp_.mutex);
  EXPECT_TRUE(misp_.problems.empty()) << misp_.problems.front();
  EXPECT_EQ(misp_.created.size(), 60u);
  for (const auto& a : alerts) EXPECT_EQ(misp_.created.count(misp::event_uuid(a)), 1u) << a.id;
  EXPECT_GE(misp_.duplicates, 1) << "the event sent while the client timed out was not sent again";
  EXPECT_EQ(forwarder_->counters()[0]->dead_lettered.load(), 0u);
  EXPECT_EQ(store_->outbox()->state()->entries, 0u);
}

TEST_F(ForwardMisp, EventJsonIsDeterministicPerAlert) {
  StoredAlert a = l4_alerts(3, 1)[0];
  misp::EventOptions o;
  o.distribution = "2";
  const std::string first = misp::event_json(a, o), second = misp::event_json(a, o);
  EXPECT_EQ(first, second);
  EXPECT_NE(first.find("\"uuid\":\"" + misp::event_uuid(a) + "\""), std::string::npos);
  EXPECT_NE(first.find("\"threat_level_id\":\"1\""), std::string::npos) << first;  // high
  EXPECT_NE(first.find("\"distribution\":\"2\""), std::string::npos);
  EXPECT_NE(first.find("\"type\":\"ip-src\",\"category\":\"Network activity\",\"value\":\"203.0.113.7\""),
            std::string::npos) << first;
  EXPECT_NE(misp::event_uuid(a), misp::event_uuid(l4_alerts(4, 1)[0]));
}

// Rejection counts live in the store: two rejections, a restart, and the third sends the alert to the dead
// letters (with counts kept in memory it would take three more).
TEST_F(ForwardMisp, RejectionCountsSurviveARestart) {
  misp_.refuse_rule = "withdrawn";
  open();
  auto alerts = l4_alerts(0, 5);
  alerts[2] = l4_alerts(2, 1, "withdrawn")[0];
  const std::string bad = misp::event_uuid(alerts[2]);
  ASSERT_TRUE(store_->commit(alerts, {}, nullptr).ok());
  uint64_t seq = 0;
  {
    auto items = store_->outbox()->next("national-misp", 10);
    ASSERT_TRUE(items);
    for (const auto& item : *items)
      if (item.alert.id == alerts[2].id) seq = item.seq;
  }
  ASSERT_NE(seq, 0u);
  auto rejections = [&] { return *store_->outbox()->rejections("national-misp", seq); };
  ASSERT_TRUE(test::eventually([&] { return rejections() >= 2; }, 10s));
  forwarder_->stop();  // the next attempt is 400 ms away
  ASSERT_EQ(rejections(), 2u);
  open();  // store and forwarder restart
  EXPECT_EQ(rejections(), 2u);
  ASSERT_TRUE(forwarder_->drain(20000));
  EXPECT_EQ(forwarder_->counters()[0]->failed.load(), 1u) << "one more rejection after the restart";
  EXPECT_EQ(forwarder_->counters()[0]->dead_lettered.load(), 1u);
  auto letters = store_->outbox()->dead_letters("national-misp", 0);
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].alert.id, alerts[2].id);
  EXPECT_NE((*letters)[0].reason.find("HTTP 400"), std::string::npos) << (*letters)[0].reason;
  EXPECT_EQ(rejections(), 0u) << "forgotten once dead-lettered";
  std::lock_guard lock(misp_.mutex);
  EXPECT_EQ(misp_.created.size(), 4u);
  EXPECT_TRUE(misp_.problems.empty()) << misp_.problems.front();
}

}  // namespace
}  // namespace socd
