// Layer-4 forwarding: a thread of `socd run` (or `socd forward drain`) that sends the outbox (socd/outbox.h) to
// the sinks of forwarding.yml, in batches, at least once, in order per sink. Each sink: retries with exponential
// backoff and jitter, a circuit breaker (after `breaker_failures` failed attempts in a row it waits
// `breaker_open_ms`, then tries one batch), batches halved on 413, a batch narrowed to single alerts on a
// permanent rejection (4xx) so the alert at fault is found; an alert rejected `max_rejections` times goes to the
// dead letters with the reason (the count of rejections is kept in the store, so it survives a restart). Sinks:
// STIX 2.1 over TAXII 2.1, MISP events and a JSON webhook, HTTPS through libcurl (certificate verification,
// client certificates, basic auth, bearer token or MISP key), each body signed with HMAC-SHA256 in a detached
// signature header; CEF over syslog TLS (app/cef.h).
//
// The outbox quota: near it (quota_warning_ratio) a warning and socd_outbox_quota_near; at it, the policy:
// shed_oldest (the store sheds the oldest entries and counts them) or pause (the sources' pushes wait at the gate:
// a file or TCP source stops reading, a UDP source counts what it cannot push; the forwarder's acknowledgements
// open it again).
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
#include "socd/source.h"
#include "socd/status.h"

namespace socd {

struct SinkConfig {
  std::string name, type;  // type: taxii | webhook | misp | cef
  std::string url;         // taxii: the discovery URL (https://host/taxii2/); webhook: where batches are POSTed;
                           // misp: the events API (https://host/events/add); cef: tls://host:port
  std::string api_root;    // taxii: the API root URL (default: the discovery's "default")
  std::string collection;  // taxii: the collection id
  std::string ca_file, client_cert, client_key;
  std::string username, password;  // basic auth (password from password_file or password_env)
  std::string token;               // bearer token (token_file or token_env)
  std::string auth_key;            // misp: the API key sent as `Authorization: KEY` (auth_key_file or _env)
  std::string hmac_key;            // hmac_key_file or hmac_key_env; never logged
  std::string signature_header = "X-Socd-Signature";
  size_t batch_size = 200;
  int64_t timeout_ms = 10000;
  int64_t backoff_initial_ms = 500, backoff_max_ms = 60000;
  uint32_t breaker_failures = 5;
  int64_t breaker_open_ms = 30000;
  int64_t status_poll_ms = 10000;  // taxii: how long to poll a pending status before sending again
  std::string server_name;         // cef: the name the server's certificate must carry (default: the URL's host)
  std::string hostname;            // cef: HOSTNAME of the syslog messages (default: the alert's host)
  int facility = 16;               // cef: syslog facility (16: local0)
  std::string distribution = "0", analysis = "0", tag;  // misp: the events' distribution, analysis, one more tag
};

struct ForwardingConfig {
  std::string soc_name = "socd SOC";
  uint32_t max_rejections = 3;
  uint64_t outbox_quota = 0;         // entries; 0: none
  double quota_warning_ratio = 0.8;  // the warning gauge turns on from here
  Outbox::QuotaPolicy quota_policy = Outbox::QuotaPolicy::kShedOldest;  // quota_policy: shed_oldest | pause
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

  // The pause policy's gate in front of a source's sink: while the outbox is at its quota, a push that may block
  // waits, one that may not is refused (the source counts it). A pass-through under shed_oldest.
  std::unique_ptr<BatchSink> gate(BatchSink& inner);
  bool paused();
  // The gate may ever close (the pause policy, with a quota).
  bool may_pause() const;
  // Opens the gate for good (shutting down: what the sources hold is stored, over the quota if need be).
  void release_gate();
  uint64_t gate_refused() const { return gate_refused_.load(); }
  uint64_t gate_waits() const { return gate_waits_.load(); }

  // `socd forward retry` beside a running writer: DATA_DIR/forward-commands/NAME.retry (the sink, or empty for
  // every sink), renamed NAME.taken while applied, answered in NAME.reply ("ok N" or "error MESSAGE").
  void serve_commands(const std::string& data_dir);
  const std::vector<std::unique_ptr<SinkCounters>>& counters() const { return counters_; }
  Outbox& outbox() { return outbox_; }
  const ForwardingConfig& config() const { return config_; }

private:
  struct SinkState;
  bool pump(SinkState& s);  // one batch; true when something moved
  void loop();
  void check_quota();       // the warning near the quota, and waking the gate

  Outbox& outbox_;
  ForwardingConfig config_;
  std::vector<std::unique_ptr<SinkState>> sinks_;
  std::vector<std::unique_ptr<SinkCounters>> counters_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false, woken_ = false;
  std::mutex gate_mutex_;
  std::condition_variable gate_cv_;
  std::atomic<bool> gate_released_{false}, near_quota_{false};
  std::atomic<uint64_t> gate_refused_{0}, gate_waits_{0};
  std::string command_dir_;  // guarded by mutex_
  int64_t next_command_poll_ms_ = 0;
};

}  // namespace socd

#include <prometheus/metric_family.h>

namespace socd {
// The forwarding metrics (per sink: queued, sent, acknowledged, failed, dead-lettered, age of the oldest unsent
// alert, breaker; the outbox: entries, quota warning, shed) appended to a scrape.
void append_forward_metrics(Forwarder& forwarder, std::vector<prometheus::MetricFamily>& out);
}  // namespace socd
