// The forwarding benchmark (issue #6): alerts/s delivered by the real Forwarder (app/forward.h) from an outbox in
// a temporary RocksDB store to a receiver on 127.0.0.1:
//   - taxii: an HTTPS TAXII 2.1 endpoint (tests/support/https_test_server.h): discovery, one API root, one
//     writable collection; each POST of objects is parsed and its sightings counted, and answered with a status
//     where every object succeeded;
//   - cef: a real rsyslogd with TLS and a client certificate (tests/support/rsyslog_cef_receiver.h), the lines
//     it wrote counted.
// The N alerts are queued first; the clock runs from the forwarder's start until the outbox is drained and the
// receiver holds all N. One line per sink:
//   forward sink=taxii alerts=N seconds=F alerts_per_s=F peak_rss_mib=F
// peak_rss_mib is this process's peak (store, forwarder and the TAXII receiver's threads; rsyslogd not counted),
// so run one sink per process for a clean figure (bench/forward.sh does).
//
//   forward_bench [--sink taxii|cef|both] [--alerts N] [--batch-size B] [--dir DIR]
#include <simdjson.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "forward.h"
#include "socd/alert_store.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"
#include "support/https_test_server.h"
#include "support/rsyslog_cef_receiver.h"

namespace fs = std::filesystem;
using socd::test::HttpAnswer;
using socd::test::HttpRequest;

namespace {

constexpr const char* kMedia = "application/taxii+json;version=2.1";

struct Options {
  std::string sink = "both";
  uint64_t alerts = 200000;
  size_t batch_size = 0;  // 0: the sink's default (socd::SinkConfig::batch_size)
  fs::path dir;
};

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "forward_bench: %s\nusage: forward_bench [--sink taxii|cef|both] [--alerts N] [--batch-size B] "
               "[--dir DIR]\n",
               why);
  return 2;
}

// The TAXII 2.1 side: sightings counted per POST, every object answered as a success.
struct TaxiiReceiver {
  std::atomic<uint64_t> sightings{0}, posts{0}, bad{0};

  HttpAnswer handle(const HttpRequest& r) {
    if (r.header("accept") != kMedia) return {406, "{}", kMedia};
    if (r.method == "GET" && r.target == "/taxii2/")
      return {200, "{\"title\":\"bench\",\"default\":\"/api1/\",\"api_roots\":[\"/api1/\"]}", kMedia};
    if (r.method == "GET" && r.target == "/api1/")
      return {200, "{\"title\":\"a\",\"versions\":[\"" + std::string(kMedia) + "\"],\"max_content_length\":104857600}",
              kMedia};
    if (r.method == "GET" && r.target == "/api1/collections/")
      return {200, "{\"collections\":[{\"id\":\"c1\",\"title\":\"alerts\",\"can_read\":false,\"can_write\":true}]}",
              kMedia};
    if (r.method != "POST" || r.target != "/api1/collections/c1/objects/") return {404, "{}", kMedia};
    if (r.header("content-type") != kMedia) return {415, "{}", kMedia};
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array objects;
    if (parser.parse(r.body).get(doc) || doc["objects"].get(objects)) {
      ++bad;
      return {400, "{\"title\":\"not a TAXII envelope\"}", kMedia};
    }
    uint64_t n = 0, seen = 0;
    for (auto o : objects) {
      std::string_view type;
      if (o["type"].get(type)) continue;
      ++n;
      seen += type == "sighting";
    }
    sightings += seen;
    const uint64_t id = ++posts;
    return {202, "{\"id\":\"s" + std::to_string(id) + "\",\"status\":\"complete\",\"total_count\":" +
                     std::to_string(n) + ",\"success_count\":" + std::to_string(n) +
                     ",\"failure_count\":0,\"pending_count\":0}",
            kMedia};
  }
};

// A store at `path` whose outbox holds N alerts routed to layer 4, committed in chunks (each commit queues them
// in the outbox in the same write). On failure it says why on stderr and returns null.
std::unique_ptr<socd::AlertStore> open_filled_store(const fs::path& path, uint64_t n) {
  auto store = socd::AlertStore::open(path.string());
  if (!store) {
    std::fprintf(stderr, "forward_bench: %s\n", store.error().message().c_str());
    return nullptr;
  }
  const uint64_t chunk = 5000;
  for (uint64_t first = 0; first < n; first += chunk) {
    std::vector<socd::StoredAlert> alerts;
    for (uint64_t i = first; i < std::min(n, first + chunk); ++i) {
      socd::StoredAlert a = socd::test::make_alert(i, socd::test::kBaseTimeMs + static_cast<int64_t>(i),
                                                   i % 2 ? "rule-a" : "rule-b");
      a.layers = socd::kLayer2 | socd::kLayer4;
      alerts.push_back(std::move(a));
    }
    if (auto s = (*store)->commit(alerts, {}, nullptr); !s.ok()) {
      std::fprintf(stderr, "forward_bench: queueing alerts: %s\n", s.message().c_str());
      return nullptr;
    }
  }
  return std::move(*store);
}

struct Figure {
  bool ok = false;
  double seconds = 0;
  std::string error;
};

// Runs the Forwarder over the outbox with `config` until drained and `received()` reaches n.
template <typename Received>
Figure run_forwarder(socd::AlertStore& store, socd::ForwardingConfig config, uint64_t n, Received received) {
  Figure f;
  socd::Forwarder forwarder(*store.outbox(), std::move(config));
  const auto start = std::chrono::steady_clock::now();
  if (auto s = forwarder.start(); !s.ok()) {
    f.error = "the forwarder did not start: " + s.message();
    return f;
  }
  const bool drained = forwarder.drain(600000);
  forwarder.stop();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t got = received();
  while (got < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    got = received();
  }
  f.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto& c = *forwarder.counters()[0];
  if (!drained || got < n) {
    f.error = "after " + std::to_string(f.seconds) + " s: drained=" + (drained ? "yes" : "no") + ", received " +
              std::to_string(got) + " of " + std::to_string(n) + " (sent " + std::to_string(c.sent.load()) +
              ", failed attempts " + std::to_string(c.failed.load()) + ", dead-lettered " +
              std::to_string(c.dead_lettered.load()) + ")";
    return f;
  }
  f.ok = true;
  return f;
}

int bench_taxii(const Options& o, const fs::path& dir) {
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
                          "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert +
                          " 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "forward_bench: openssl could not make a certificate (is the openssl command there?)\n");
    return 1;
  }
  TaxiiReceiver receiver;
  socd::test::HttpsTestServer server(cert, key, [&](const HttpRequest& r) { return receiver.handle(r); });
  auto store = open_filled_store(dir / "store-taxii", o.alerts);
  if (!store) return 1;
  socd::ForwardingConfig config;
  config.soc_name = "Bench SOC";
  socd::SinkConfig s;
  s.name = "national";
  s.type = "taxii";
  s.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/taxii2/";
  s.collection = "c1";
  s.ca_file = cert;
  s.hmac_key = "bench-key";
  if (o.batch_size) s.batch_size = o.batch_size;
  const size_t batch = s.batch_size;
  config.sinks.push_back(s);
  Figure f = run_forwarder(*store, std::move(config), o.alerts, [&] { return receiver.sightings.load(); });
  if (!f.ok) {
    std::fprintf(stderr, "forward_bench: taxii: %s\n", f.error.c_str());
    return 1;
  }
  std::printf("forward sink=taxii alerts=%llu seconds=%.3f alerts_per_s=%.0f peak_rss_mib=%.1f batch_size=%zu "
              "posts=%llu\n",
              static_cast<unsigned long long>(o.alerts), f.seconds, o.alerts / f.seconds, peak_rss_mib(), batch,
              static_cast<unsigned long long>(receiver.posts.load()));
  std::fflush(stdout);
  return 0;
}

int bench_cef(const Options& o, const fs::path& dir) {
  if (!socd::test::rsyslog_openssl_installed()) {
    std::fprintf(stderr, "forward_bench: rsyslogd with its openssl driver is missing "
                         "(apt-get install rsyslog rsyslog-openssl; .ci/setup does)\n");
    return 1;
  }
  fs::create_directories(dir / "pki");
  socd::test::TestPki pki(dir / "pki");
  if (!pki.error.empty()) {
    std::fprintf(stderr, "forward_bench: %s\n", pki.error.c_str());
    return 1;
  }
  socd::test::RsyslogTlsReceiver rsyslog(dir / "rsyslog", pki.ca, pki.server_cert, pki.server_key);
  std::string error;
  if (!rsyslog.start(error)) {
    std::fprintf(stderr, "forward_bench: %s\n", error.c_str());
    return 1;
  }
  auto store = open_filled_store(dir / "store-cef", o.alerts);
  if (!store) return 1;
  socd::ForwardingConfig config;
  config.soc_name = "Bench SOC";
  socd::SinkConfig s;
  s.name = "national-cef";
  s.type = "cef";
  s.url = "tls://127.0.0.1:" + std::to_string(rsyslog.port());
  s.ca_file = pki.ca;
  s.client_cert = pki.client_cert;
  s.client_key = pki.client_key;
  if (o.batch_size) s.batch_size = o.batch_size;
  const size_t batch = s.batch_size;
  config.sinks.push_back(s);
  // Counting the received lines reads the file; it is done only once the outbox is drained.
  Figure f = run_forwarder(*store, std::move(config), o.alerts, [&] { return rsyslog.line_count(); });
  if (!f.ok) {
    std::fprintf(stderr, "forward_bench: cef: %s\nrsyslogd's log:\n%s\n", f.error.c_str(), rsyslog.log().c_str());
    return 1;
  }
  std::printf("forward sink=cef alerts=%llu seconds=%.3f alerts_per_s=%.0f peak_rss_mib=%.1f batch_size=%zu\n",
              static_cast<unsigned long long>(o.alerts), f.seconds, o.alerts / f.seconds, peak_rss_mib(), batch);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage("forwarding throughput to a local TAXII endpoint and CEF receiver"), 0;
    if (i + 1 >= argc) return usage(("missing the value of " + a).c_str());
    const std::string v = argv[++i];
    if (a == "--sink") o.sink = v;
    else if (a == "--alerts") o.alerts = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--batch-size") o.batch_size = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--dir") o.dir = v;
    else return usage(("unknown option " + a).c_str());
  }
  if (o.sink != "taxii" && o.sink != "cef" && o.sink != "both") return usage("--sink is taxii, cef or both");
  if (o.alerts == 0) return usage("--alerts must be 1 or more");
  const bool own_dir = o.dir.empty();
  fs::path dir = own_dir ? fs::temp_directory_path() / ("socd-forward-bench-" + std::to_string(::getpid())) : o.dir;
  std::error_code ec;
  fs::remove_all(dir / "store-taxii", ec);
  fs::remove_all(dir / "store-cef", ec);
  fs::remove_all(dir / "rsyslog", ec);
  fs::create_directories(dir);
  int rc = 0;
  if (o.sink == "cef" || o.sink == "both") rc |= bench_cef(o, dir);
  if (o.sink == "taxii" || o.sink == "both") rc |= bench_taxii(o, dir);
  if (own_dir) fs::remove_all(dir, ec);
  return rc;
}
