// The forwarding fault test with real processes: `socd run` follows a file whose lines fire a rule routed to
// layer 4 and forwards to a TAXII 2.1 endpoint written here (HTTPS on 127.0.0.1). The endpoint is down for a
// while (connections refused), then flaps (500s and connection resets), then is slow; `socd run` is killed
// with SIGKILL while it sends and started again. At the end every L4 alert the store holds reached the
// receiver (once after dedup by alert id, nothing it does not know of), and `socd forward status` shows an
// empty outbox.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "support/https_test_server.h"
#include "support/socd_service.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000f001";
constexpr const char* kMedia = "application/taxii+json;version=2.1";

// The TAXII side: discovery, one writable collection, objects by alert id (the indicator's external_id).
struct Receiver {
  std::mutex mutex;
  std::map<std::string, int> alerts;  // alert id -> times received
  std::vector<std::string> problems;

  test::HttpAnswer handle(const test::HttpRequest& r) {
    test::HttpAnswer a;
    a.content_type = kMedia;
    if (r.header("authorization") != "Basic c29jOnNlY3JldA==") return {401, "{\"title\":\"auth\"}", kMedia};
    if (r.header("accept") != kMedia) return {406, "{}", kMedia};
    if (r.method == "GET" && r.target == "/taxii2/")
      return {200, "{\"title\":\"t\",\"default\":\"/api1/\",\"api_roots\":[\"/api1/\"]}", kMedia};
    if (r.method == "GET" && r.target == "/api1/")
      return {200, "{\"title\":\"a\",\"versions\":[\"" + std::string(kMedia) + "\"],\"max_content_length\":10485760}",
              kMedia};
    if (r.method == "GET" && r.target == "/api1/collections/")
      return {200, "{\"collections\":[{\"id\":\"c1\",\"title\":\"alerts\",\"can_read\":false,\"can_write\":true}]}",
              kMedia};
    if (r.method != "POST" || r.target != "/api1/collections/c1/objects/") return {404, "{}", kMedia};
    if (r.header("content-type") != kMedia) return {415, "{}", kMedia};
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array objects;
    if (parser.parse(r.body).get(doc) || doc["objects"].get(objects)) return {400, "{}", kMedia};
    std::vector<std::string> ids;
    for (auto o : objects) {
      std::string_view type, id, spec;
      if (o["type"].get(type) || o["id"].get(id) || o["spec_version"].get(spec) || spec != "2.1") {
        std::lock_guard lock(mutex);
        problems.push_back("an object without type/id/spec_version");
      }
      if (type != "indicator") continue;
      simdjson::dom::array refs;
      std::string_view external;
      if (o["external_references"].get(refs) || refs.size() == 0 || refs.at(0)["external_id"].get(external)) {
        std::lock_guard lock(mutex);
        problems.push_back("an indicator without the alert id");
        continue;
      }
      ids.emplace_back(external);
    }
    {
      std::lock_guard lock(mutex);
      for (const auto& id : ids) ++alerts[id];
    }
    return {202, "{\"id\":\"s1\",\"status\":\"complete\",\"total_count\":" + std::to_string(ids.size()) +
                     ",\"success_count\":" + std::to_string(ids.size()) + ",\"failure_count\":0,\"pending_count\":0}",
            kMedia};
  }
  size_t distinct() {
    std::lock_guard lock(mutex);
    return alerts.size();
  }
};

std::string lines(uint64_t first, uint64_t count, uint64_t& hits) {
  std::string text;
  for (uint64_t seq = first; seq < first + count; ++seq) {
    text += test::numbered_line(seq, test::hits(seq));
    hits += test::hits(seq);
  }
  return text;
}

void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

TEST(ForwardFault, EveryL4AlertArrivesOnceAcrossOutagesFlappingSlownessAndAKill9) {
  if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is missing (.ci/setup)";
  const auto started = std::chrono::steady_clock::now();
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                          "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + dir.file("key.pem") +
                          " -out " + dir.file("cert.pem") + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  Receiver receiver;
  test::HttpsTestServer server(dir.file("cert.pem"), dir.file("key.pem"),
                               [&](const test::HttpRequest& r) { return receiver.handle(r); });
  server.stop_listening();  // down from the start: connections refused

  fs::create_directories(dir.path() / "rules");
  test::write_file(dir.path() / "rules" / "hit.yml", test::keyword_rule(kHitRule, "Test hit", test::kHitToken));
  test::write_file(dir.file("routing.yml"), "layer4:\n  when:\n    - rules: ['" + std::string(kHitRule) + "']\n");
  test::write_file(dir.file("password"), "secret\n");
  test::write_file(dir.file("forwarding.yml"),
                   "soc_name: Test SOC\nsinks:\n  - name: national\n    type: taxii\n    url: https://127.0.0.1:" +
                       std::to_string(server.port()) + "/taxii2/\n    collection: c1\n    ca_file: " +
                       dir.file("cert.pem") + "\n    username: soc\n    password_file: " + dir.file("password") +
                       "\n    batch_size: 40\n    timeout_ms: 800\n    backoff_initial_ms: 50\n"
                       "    backoff_max_ms: 400\n    breaker_failures: 4\n    breaker_open_ms: 400\n");
  const std::string input = dir.file("input.log");
  test::write_file(input, "");
  uint64_t hits = 0;

  test::SocdService::Options o;
  o.data_dir = dir.file("store");
  o.rules = dir.file("rules");
  o.cache_dir = dir.file("cache");
  o.log = dir.file("socd.log");
  o.sources = {"--file", input, "--routing", dir.file("routing.yml"), "--forwarding", dir.file("forwarding.yml")};
  auto socd = std::make_unique<test::SocdService>(o);
  std::string error;
  ASSERT_TRUE(socd->start(error)) << error;
  const std::string stored = test::series("socd_forward_queued", {{"sink", "national"}});

  // 1. Down: the alerts queue up.
  append(input, lines(0, 1000, hits));
  ASSERT_EQ(socd->wait_metric_at_least(stored, static_cast<double>(hits), 30s), static_cast<double>(hits))
      << test::last_lines(socd->err(), 20);
  EXPECT_EQ(receiver.distinct(), 0u);

  // 2. Up but flapping: 500s, resets and good answers by turns, while more lines come.
  ASSERT_TRUE(server.listen_again());
  append(input, lines(1000, 1000, hits));
  for (int i = 0; i < 12; ++i) {
    server.fault = i % 3 == 0 ? test::HttpsTestServer::k500 : i % 3 == 1 ? test::HttpsTestServer::kReset
                                                                          : test::HttpsTestServer::kNone;
    std::this_thread::sleep_for(150ms);
  }

  // 3. Slow, and killed with SIGKILL while it sends.
  server.slow_ms = 300;
  server.fault = test::HttpsTestServer::kSlow;
  append(input, lines(2000, 1000, hits));
  ASSERT_TRUE(test::eventually([&] { return receiver.distinct() > 0; }, 30s));
  const uint64_t before_kill = server.requests.load();
  ASSERT_TRUE(test::eventually([&] { return server.requests.load() >= before_kill + 2; }, 10s));
  EXPECT_LT(receiver.distinct(), hits) << "everything was sent before the kill: the test proves less than it says";
  socd->signal(SIGKILL);
  ASSERT_TRUE(socd->process().wait_exit(10s));

  // 4. Started again; the receiver recovers; the rest of the lines come.
  server.fault = test::HttpsTestServer::kNone;
  socd = std::make_unique<test::SocdService>(o);
  ASSERT_TRUE(socd->start(error)) << error;
  append(input, lines(3000, 500, hits));
  const bool all = test::eventually([&] { return receiver.distinct() >= hits; }, 60s);
  test::Summary summary;
  ASSERT_EQ(socd->stop(summary), "");
  ASSERT_TRUE(all) << receiver.distinct() << " of " << hits << " alerts arrived; socd:\n"
                   << test::last_lines(socd->err(), 30);

  // Every stored L4 alert arrived, once after dedup by id; nothing else did.
  auto alerts = test::list_alerts(o.data_dir, error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(alerts.size(), hits);
  std::set<std::string> expected;
  for (const auto& a : alerts) expected.insert(a.id);
  {
    std::lock_guard lock(receiver.mutex);
    std::set<std::string> got;
    for (const auto& [id, times] : receiver.alerts) got.insert(id);
    EXPECT_EQ(got, expected);
    EXPECT_TRUE(receiver.problems.empty()) << receiver.problems.front();
  }
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts, kHitRule), [&] {
              std::vector<uint64_t> seqs;
              for (uint64_t s = 0; s < 3500; ++s)
                if (test::hits(s)) seqs.push_back(s);
              return seqs;
            }()),
            "");

  // The outbox is empty, as `socd forward status` says.
  test::ChildProcess status;
  ASSERT_TRUE(status.start(SOCD_BINARY, {"forward", "status", "--data-dir", o.data_dir}, dir.file("status.out"), {}));
  ASSERT_TRUE(status.wait_exit(30s));
  const std::string text = test::read_file(dir.file("status.out"));
  EXPECT_TRUE(status.exited_with(0)) << text;
  EXPECT_NE(text.find("outbox: 0 entries"), std::string::npos) << text;
  EXPECT_NE(text.find("sink national: queued 0,"), std::string::npos) << text;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 120s);
}

}  // namespace
}  // namespace socd
