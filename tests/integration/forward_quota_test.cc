// The outbox quota's two policies with a real `socd run` following a file whose every hit is routed to layer 4,
// while the receiver (a TAXII endpoint written here) is down:
//   shed_oldest  the file is read to its end, the outbox stays at the quota and the shed are counted;
//   pause        the file source stops reading near the quota (socd_outbox_paused), nothing is shed, and once
//                the receiver is up every alert arrives and the whole file is read.
// And the gate itself: a push that may not block (UDP) is refused while paused and counted.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <set>

#include "forward.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"
#include "support/https_test_server.h"
#include "support/socd_service.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000f002";
constexpr const char* kMedia = "application/taxii+json;version=2.1";

struct Collection {
  std::mutex mutex;
  std::set<std::string> sightings;
  test::HttpAnswer handle(const test::HttpRequest& r) {
    if (r.target == "/taxii2/") return {200, "{\"title\":\"t\",\"default\":\"/api1/\"}", kMedia};
    if (r.target == "/api1/") return {200, "{\"title\":\"a\",\"max_content_length\":10485760}", kMedia};
    if (r.target == "/api1/collections/")
      return {200, "{\"collections\":[{\"id\":\"c1\",\"can_read\":false,\"can_write\":true}]}", kMedia};
    std::lock_guard lock(mutex);
    for (size_t p = r.body.find("\"id\":\"sighting--"); p != std::string::npos;
         p = r.body.find("\"id\":\"sighting--", p + 1))
      sightings.insert(r.body.substr(p + 6, 46));
    return {202, "{\"id\":\"s\",\"status\":\"complete\",\"failure_count\":0}", kMedia};
  }
  size_t count() {
    std::lock_guard lock(mutex);
    return sightings.size();
  }
};

struct QuotaRun {
  test::TempDir dir;
  Collection collection;
  std::unique_ptr<test::HttpsTestServer> server;
  test::SocdService::Options options;
  uint64_t hits = 0;

  bool prepare(const std::string& policy, uint64_t lines) {
    const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                            "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + dir.file("key.pem") +
                            " -out " + dir.file("cert.pem") + " 2>/dev/null";
    if (!dir.ok() || std::system(cmd.c_str()) != 0) return false;
    server = std::make_unique<test::HttpsTestServer>(dir.file("cert.pem"), dir.file("key.pem"),
                                                     [this](const test::HttpRequest& r) { return collection.handle(r); });
    server->stop_listening();
    fs::create_directories(dir.path() / "rules");
    test::write_file(dir.path() / "rules" / "hit.yml", test::keyword_rule(kHitRule, "Test hit", test::kHitToken));
    test::write_file(dir.file("routing.yml"), "layer4:\n  when:\n    - rules: ['" + std::string(kHitRule) + "']\n");
    test::write_file(dir.file("forwarding.yml"),
                     "outbox_quota: 300\nquota_warning_ratio: 0.5\nquota_policy: " + policy +
                         "\nsinks:\n  - name: national\n    type: taxii\n    url: https://127.0.0.1:" +
                         std::to_string(server->port()) + "/taxii2/\n    collection: c1\n    ca_file: " +
                         dir.file("cert.pem") + "\n    batch_size: 100\n    timeout_ms: 1000\n"
                         "    backoff_initial_ms: 50\n    backoff_max_ms: 200\n    breaker_failures: 3\n"
                         "    breaker_open_ms: 200\n");
    hits = lines;
    test::write_file(dir.file("input.log"), "");
    options.data_dir = dir.file("store");
    options.rules = dir.file("rules");
    options.cache_dir = dir.file("cache");
    options.log = dir.file("socd.log");
    options.sources = {"--file", dir.file("input.log"), "--routing", dir.file("routing.yml"), "--forwarding",
                       dir.file("forwarding.yml")};
    return true;
  }
  // The lines arrive 100 at a time, every 40 ms (each chunk a batch of the file source), on a thread.
  std::thread appender;
  void start_appending() {
    appender = std::thread([this] {
      for (uint64_t first = 0; first < hits; first += 100) {
        std::string text;
        for (uint64_t seq = first; seq < first + 100 && seq < hits; ++seq) text += test::numbered_line(seq, true);
        std::ofstream(dir.file("input.log"), std::ios::app) << text;
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
      }
    });
  }
  ~QuotaRun() {
    if (appender.joinable()) appender.join();
  }
};

TEST(ForwardQuota, ShedOldestReadsOnAndCountsWhatItSheds) {
  if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is missing (.ci/setup)";
  QuotaRun run;
  ASSERT_TRUE(run.prepare("shed_oldest", 2000));
  test::SocdService socd(run.options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  run.start_appending();
  run.appender.join();
  ASSERT_EQ(socd.wait_metric_at_least("socd_outbox_shed_total", 1700, 30s), 1700) << test::last_lines(socd.err(), 20);
  auto metrics = socd.metrics();
  EXPECT_EQ(test::sample(metrics, "socd_outbox_entries"), 300);
  EXPECT_EQ(test::sample(metrics, "socd_outbox_quota_near"), 1);
  EXPECT_EQ(test::sample(metrics, "socd_outbox_paused"), 0);
  EXPECT_NE(socd.err().find("near its quota of 300"), std::string::npos) << test::last_lines(socd.err(), 20);
  ASSERT_TRUE(run.server->listen_again());
  ASSERT_TRUE(test::eventually([&] { return run.collection.count() >= 300; }, 30s));
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), 2000);
  EXPECT_EQ(run.collection.count(), 300u) << "the newest 300 arrive; the 1700 shed are counted, not sent";
}

TEST(ForwardQuota, PauseStopsTheFileSourceUntilTheReceiverFreesRoom) {
  if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is missing (.ci/setup)";
  QuotaRun run;
  ASSERT_TRUE(run.prepare("pause", 2000));
  test::SocdService socd(run.options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  run.start_appending();
  ASSERT_EQ(socd.wait_metric_at_least("socd_outbox_paused", 1, 30s), 1) << test::last_lines(socd.err(), 20);
  std::this_thread::sleep_for(500ms);  // paused: nothing more is read
  auto metrics = socd.metrics();
  const double entries = test::sample(metrics, "socd_outbox_entries");
  EXPECT_GE(entries, 300);
  EXPECT_LT(entries, 900) << "the overshoot is what was in flight at the pause";
  EXPECT_EQ(test::sample(metrics, "socd_outbox_shed_total"), 0);
  EXPECT_GE(test::sample(metrics, "socd_outbox_pause_waits_total"), 1);
  const double stored = test::sample(metrics, "socd_alerts_stored_total");
  EXPECT_LT(stored, 1000) << "the file source went on reading while paused";
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(test::sample(socd.metrics(), "socd_alerts_stored_total"), stored) << "paused means no reading";

  run.appender.join();
  ASSERT_TRUE(run.server->listen_again());
  ASSERT_TRUE(test::eventually([&] { return run.collection.count() >= 2000; }, 60s))
      << run.collection.count() << " of 2000; socd:\n" << test::last_lines(socd.err(), 20);
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), 2000);
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), 2000);
}

// A sink that records pushes.
struct CountingSink : BatchSink {
  std::atomic<int> pushed{0};
  bool push(std::unique_ptr<SourceBatch>, bool) override {
    ++pushed;
    return true;
  }
  std::optional<std::string> checkpoint(const std::string&) override { return std::nullopt; }
};

TEST(ForwardQuota, TheGateRefusesPushesThatCannotWaitAndReleasesOnShutdown) {
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  auto store = AlertStore::open(dir.file("store"));
  ASSERT_TRUE(store) << store.error().message();
  ForwardingConfig config;
  config.outbox_quota = 10;
  config.quota_policy = Outbox::QuotaPolicy::kPause;
  SinkConfig sink;
  sink.name = "down";
  sink.type = "webhook";
  sink.url = "https://127.0.0.1:1/";  // refused
  sink.backoff_initial_ms = sink.backoff_max_ms = 50;
  config.sinks.push_back(sink);
  Forwarder forwarder(*(*store)->outbox(), config);
  ASSERT_TRUE(forwarder.start().ok());
  CountingSink inner;
  auto gate = forwarder.gate(inner);
  EXPECT_TRUE(gate->push(std::make_unique<SourceBatch>(), false));
  std::vector<StoredAlert> alerts;
  for (uint64_t i = 0; i < 12; ++i) {
    alerts.push_back(test::make_alert(i, test::kBaseTimeMs + static_cast<int64_t>(i)));
    alerts.back().layers = kLayer4;
  }
  ASSERT_TRUE((*store)->commit(alerts, {}, nullptr).ok());
  EXPECT_EQ((*store)->outbox()->entries(), 12u) << "the pause policy sheds nothing";
  EXPECT_TRUE(forwarder.paused());
  EXPECT_FALSE(gate->push(std::make_unique<SourceBatch>(), false));
  EXPECT_EQ(forwarder.gate_refused(), 1u);
  std::atomic<bool> returned{false};
  std::thread blocked([&] {
    gate->push(std::make_unique<SourceBatch>(), true);
    returned = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(returned.load()) << "a push that may wait went through while paused";
  forwarder.release_gate();
  blocked.join();
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(inner.pushed.load(), 2);
  forwarder.stop();
}

}  // namespace
}  // namespace socd
