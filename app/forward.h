// Layer-4 forwarding: a thread of `socd run` (or `socd forward drain`) that sends the outbox (socd/outbox.h) to
// the sinks of forwarding.yml, in batches, at least once, in order per sink. Each sink: retries with exponential
// backoff and jitter, a circuit breaker (after `breaker_failures` failed attempts in a row it waits
// `breaker_open_ms`, then tries one batch), batches halved on 413, a batch narrowed to single alerts on a
// permanent rejection (4xx) so the alert at fault is found; an alert rejected `max_rejections` times goes to the
// dead letters with the reason. Sinks: STIX 2.1 over TAXII 2.1 and a JSON webhook, both HTTPS through libcurl
// (certificate verification, client certificates, basic auth or bearer token), each body signed with
// HMAC-SHA256 in a detached signature header.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "socd/outbox.h"
#include "socd/status.h"

namespace socd {

struct SinkConfig {
  std::string name, type;  // type: taxii | webhook
  std::string url;         // taxii: the discovery URL (https://host/taxii2/); webhook: where batches are POSTed
  std::string api_root;    // taxii: the API root URL (default: the discovery's "default")
  std::string collection;  // taxii: the collection id
  std::string ca_file, client_cert, client_key;
  std::string username, password;  // basic auth (password from password_file or password_env)
  std::string token;               // bearer token (token_file or token_env)
  std::string hmac_key;            // hmac_key_file or hmac_key_env; never logged
  std::string signature_header = "X-Socd-Signature";
  size_t batch_size = 200;
  int64_t timeout_ms = 10000;
  int64_t backoff_initial_ms = 500, backoff_max_ms = 60000;
  uint32_t breaker_failures = 5;
  int64_t breaker_open_ms = 30000;
  int64_t status_poll_ms = 10000;  // taxii: how long to poll a pending status before sending again
};

struct ForwardingConfig {
  std::string soc_name = "socd SOC";
  uint32_t max_rejections = 3;
  uint64_t outbox_quota = 0;         // entries; 0: none
  double quota_warning_ratio = 0.8;  // the warning gauge turns on from here
  std::vector<SinkConfig> sinks;
};

// Reads forwarding.yml; errors name the file, the line and what to do.
Expected<ForwardingConfig> load_forwarding(const std::string& path);

// What a send attempt came to.
struct SendResult {
  enum Kind { kOk, kTransient, kTooLarge, kRejected } kind = kOk;
  std::string reason;
};

class Sink {
public:
  virtual ~Sink() = default;
  virtual SendResult send(const std::vector<const OutboxItem*>& items) = 0;
};

std::unique_ptr<Sink> make_sink(const SinkConfig& config, const ForwardingConfig& forwarding);

// The counters of one sink, read by the metrics.
struct SinkCounters {
  std::string name;
  std::atomic<uint64_t> sent{0}, acknowledged{0}, failed{0}, dead_lettered{0}, attempts{0};
  std::atomic<bool> breaker_open{false};
};

class Forwarder {
public:
  Forwarder(Outbox& outbox, ForwardingConfig config);
  ~Forwarder();
  Status start();  // the thread
  void stop();
  void wake();     // new alerts may be queued
  // Sends until every sink has nothing pending, or `timeout_ms` passes; true when all was sent.
  bool drain(int64_t timeout_ms);
  const std::vector<std::unique_ptr<SinkCounters>>& counters() const { return counters_; }
  Outbox& outbox() { return outbox_; }
  const ForwardingConfig& config() const { return config_; }

private:
  struct SinkState;
  bool pump(SinkState& s);  // one batch; true when something moved
  void loop();

  Outbox& outbox_;
  ForwardingConfig config_;
  std::vector<std::unique_ptr<SinkState>> sinks_;
  std::vector<std::unique_ptr<SinkCounters>> counters_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
};

}  // namespace socd

#include <prometheus/metric_family.h>

namespace socd {
// The forwarding metrics (per sink: queued, sent, acknowledged, failed, dead-lettered, age of the oldest unsent
// alert, breaker; the outbox: entries, quota warning, shed) appended to a scrape.
void append_forward_metrics(Forwarder& forwarder, std::vector<prometheus::MetricFamily>& out);
}  // namespace socd
