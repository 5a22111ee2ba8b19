#include "forward.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cef.h"
#include "misp.h"
#include "socd/json.h"
#include "socd/read_file.h"
#include "socd/thread_name.h"
#include "stix.h"

namespace socd {
namespace {

using Clock = std::chrono::steady_clock;

int64_t now_steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

void log(const char* format, const std::string& a, const std::string& b = {}) {
  std::fprintf(stderr, "socd run: forward: ");
  std::fprintf(stderr, format, a.c_str(), b.c_str());
  std::fputc('\n', stderr);
}

Status config_error(const std::string& file, int line, const std::string& what) {
  return Status::error(file + ":" + std::to_string(line) + ": " + what);
}

// A secret from a file (first line, trailing newline removed) or an environment variable.
Expected<std::string> secret(const std::string& file, const YAML::Node& node, const char* file_key,
                             const char* env_key) {
  if (node[file_key]) {
    const std::string path = node[file_key].as<std::string>();
    std::string value;
    if (!read_file(path, value))
      return config_error(file, node[file_key].Mark().line + 1,
                          std::string(file_key) + ": cannot read '" + path + "': " + std::strerror(errno) +
                              " (check the path and permissions)");
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
    return value;
  }
  if (node[env_key]) {
    const std::string name = node[env_key].as<std::string>();
    const char* v = std::getenv(name.c_str());
    if (!v || !*v)
      return config_error(file, node[env_key].Mark().line + 1,
                          std::string(env_key) + ": the environment variable " + name + " is not set");
    return std::string(v);
  }
  return std::string();
}

std::string hex(const unsigned char* data, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

std::string hmac_sha256_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(body.data()),
       body.size(), mac, &n);
  return hex(mac, n);
}

size_t collect_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string error;  // transport failure (no status)
};

// One HTTPS client per sink (libcurl easy handle, kept so connections are reused).
class HttpClient {
public:
  explicit HttpClient(const SinkConfig& c) : c_(c) { curl_ = curl_easy_init(); }
  ~HttpClient() {
    if (curl_) curl_easy_cleanup(curl_);
  }
  HttpResponse request(const char* method, const std::string& url, const std::vector<std::string>& headers,
                       const std::string& body) {
    HttpResponse r;
    if (!curl_) {
      r.error = "cannot create an HTTP client";
      return r;
    }
    curl_easy_reset(curl_);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, static_cast<long>(c_.timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(c_.timeout_ms, 5000)));
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!c_.ca_file.empty()) curl_easy_setopt(curl_, CURLOPT_CAINFO, c_.ca_file.c_str());
    if (!c_.client_cert.empty()) curl_easy_setopt(curl_, CURLOPT_SSLCERT, c_.client_cert.c_str());
    if (!c_.client_key.empty()) curl_easy_setopt(curl_, CURLOPT_SSLKEY, c_.client_key.c_str());
    if (!c_.username.empty()) {
      curl_easy_setopt(curl_, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(curl_, CURLOPT_USERNAME, c_.username.c_str());
      curl_easy_setopt(curl_, CURLOPT_PASSWORD, c_.password.c_str());
    }
    curl_slist* list = nullptr;
    for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
    std::string auth;
    if (!c_.token.empty()) {
      auth = "Authorization: Bearer " + c_.token;
      list = curl_slist_append(list, auth.c_str());
    }
    std::string signature;
    if (!body.empty() && !c_.hmac_key.empty()) {
      signature = c_.signature_header + ": sha256=" + hmac_sha256_hex(c_.hmac_key, body);
      list = curl_slist_append(list, signature.c_str());
    }
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, list);
    if (std::string_view(method) == "POST") {
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &r.body);
    CURLcode rc = curl_easy_perform(curl_);
    curl_slist_free_all(list);
    if (rc != CURLE_OK) {
      r.error = curl_easy_strerror(rc);
      return r;
    }
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
  }

private:
  const SinkConfig& c_;
  CURL* curl_ = nullptr;
};

// What an HTTP answer means for delivery. Authentication, a missing collection or a media type refused are
// configuration faults, not the alert's: retried (the breaker opens) rather than dead-lettered.
SendResult classify(const HttpResponse& r, const std::string& what) {
  if (!r.error.empty()) return {SendResult::kTransient, what + ": " + r.error};
  const std::string text = what + ": HTTP " + std::to_string(r.status) + (r.body.empty() ? "" : ": " +
                           r.body.substr(0, 300));
  if (r.status >= 200 && r.status < 300) return {SendResult::kOk, {}};
  if (r.status == 413) return {SendResult::kTooLarge, text};
  if (r.status == 401 || r.status == 403 || r.status == 404 || r.status == 405 || r.status == 406 ||
      r.status == 408 || r.status == 409 || r.status == 415 || r.status == 429 || r.status >= 500 || r.status < 200)
    return {SendResult::kTransient, text};
  return {SendResult::kRejected, text};
}

class WebhookSink final : public Sink {
public:
  explicit WebhookSink(const SinkConfig& c) : c_(c), http_(c_) {}
  SendResult send(const std::vector<const OutboxItem*>& items) override {
    std::string body = "{\"alerts\":[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) body.push_back(',');
      body += items[i]->alert.json;
    }
    body += "]}";
    auto r = http_.request("POST", c_.url, {"Content-Type: application/json"}, body);
    return classify(r, "POST " + c_.url);
  }

private:
  SinkConfig c_;
  HttpClient http_;
};

constexpr const char* kTaxiiType = "application/taxii+json;version=2.1";

std::string with_slash(std::string url) {
  if (url.empty() || url.back() != '/') url.push_back('/');
  return url;
}

// The absolute URL of `ref` (a path or a URL) as seen from `base`.
std::string resolve(const std::string& base, const std::string& ref) {
  if (ref.rfind("http://", 0) == 0 || ref.rfind("https://", 0) == 0) return ref;
  const size_t scheme = base.find("://");
  const size_t path = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const std::string origin = path == std::string::npos ? base : base.substr(0, path);
  return ref.rfind('/', 0) == 0 ? origin + ref : with_slash(base) + ref;
}

class TaxiiSink final : public Sink {
public:
  TaxiiSink(const SinkConfig& c, const ForwardingConfig& f) : c_(c), soc_(f.soc_name), http_(c_) {}

  SendResult send(const std::vector<const OutboxItem*>& items) override {
    if (!ready_) {
      SendResult d = discover();
      if (d.kind != SendResult::kOk) return d;
      ready_ = true;
    }
    std::string body = "{\"objects\":[";
    std::vector<std::string> objects;
    bool identity_written = false;
    size_t count = 0;
    for (const auto* item : items) {
      objects.clear();
      stix::alert_objects(item->alert, soc_, objects);
      for (auto& o : objects) {
        const bool identity = o.rfind("{\"type\":\"identity\"", 0) == 0;
        if (identity && identity_written) continue;
        identity_written = identity_written || identity;
        if (count++) body.push_back(',');
        body += o;
      }
    }
    body += "]}";
    if (max_content_length_ > 0 && body.size() > max_content_length_)
      return {SendResult::kTooLarge, "the envelope of " + std::to_string(body.size()) +
                                         " bytes is over the API root's max_content_length " +
                                         std::to_string(max_content_length_)};
    const std::string url = api_root_ + "collections/" + c_.collection + "/objects/";
    auto r = http_.request("POST", url, {std::string("Accept: ") + kTaxiiType,
                                         std::string("Content-Type: ") + kTaxiiType}, body);
    SendResult result = classify(r, "POST " + url);
    if (result.kind != SendResult::kOk) {
      if (result.kind == SendResult::kTransient && (r.status == 404 || r.status == 401 || r.status == 403))
        ready_ = false;  // discover again next time
      return result;
    }
    return follow_status(r.body);
  }

private:
  // GET with the TAXII media type; the parsed body in `doc` (owned by the client's parser).
  SendResult get_json(const std::string& url, simdjson::dom::element& doc) {
    auto r = http_.request("GET", url, {std::string("Accept: ") + kTaxiiType}, {});
    SendResult result = classify(r, "GET " + url);
    if (result.kind != SendResult::kOk) {
      result.kind = SendResult::kTransient;  // discovery failures are never the alert's fault
      return result;
    }
    body_ = std::move(r.body);
    if (parser_.parse(body_).get(doc) != simdjson::SUCCESS || !doc.is_object())
      return {SendResult::kTransient, "GET " + url + ": the answer is not a JSON object"};
    return {};
  }

  SendResult discover() {
    simdjson::dom::element doc;
    std::string root = c_.api_root;
    if (root.empty()) {
      if (auto r = get_json(c_.url, doc); r.kind != SendResult::kOk) return r;
      std::string_view def;
      simdjson::dom::array roots;
      if (doc["default"].get(def) == simdjson::SUCCESS && !def.empty()) root = std::string(def);
      else if (doc["api_roots"].get(roots) == simdjson::SUCCESS && roots.size() > 0 &&
               roots.at(0).get_string().error() == simdjson::SUCCESS)
        root = std::string(roots.at(0).get_string().value());
      else
        return {SendResult::kTransient, "GET " + c_.url + ": the discovery names no API root (set api_root)"};
    }
    api_root_ = with_slash(resolve(c_.url, root));
    if (auto r = get_json(api_root_, doc); r.kind != SendResult::kOk) return r;
    uint64_t max = 0;
    if (doc["max_content_length"].get(max) == simdjson::SUCCESS) max_content_length_ = max;
    if (auto r = get_json(api_root_ + "collections/", doc); r.kind != SendResult::kOk) return r;
    simdjson::dom::array collections;
    if (doc["collections"].get(collections) == simdjson::SUCCESS) {
      for (auto col : collections) {
        std::string_view id;
        bool can_write = false;
        if (col["id"].get(id) != simdjson::SUCCESS || id != c_.collection) continue;
        if (col["can_write"].get(can_write) != simdjson::SUCCESS || !can_write)
          return {SendResult::kTransient, "collection " + c_.collection + " at " + api_root_ +
                                              " does not allow writing (can_write false): ask the centre for access"};
        return {};
      }
    }
    return {SendResult::kTransient, "no collection " + c_.collection + " at " + api_root_ +
                                        "collections/ (check `collection` in the forwarding file)"};
  }

  // The status resource of a 202: complete without failures is success; failures are the alerts' fault; still
  // pending after status_poll_ms is sent again (the ids make that harmless).
  SendResult follow_status(const std::string& first) {
    std::string text = first;
    const int64_t deadline = now_steady_ms() + c_.status_poll_ms;
    for (;;) {
      simdjson::dom::element doc;
      body_ = text;
      if (parser_.parse(body_).get(doc) != simdjson::SUCCESS || !doc.is_object())
        return {SendResult::kOk, {}};  // accepted without a status resource
      std::string_view status, id;
      uint64_t failures = 0;
      if (doc["status"].get(status) != simdjson::SUCCESS) status = {};
      if (doc["id"].get(id) != simdjson::SUCCESS) id = {};
      if (doc["failure_count"].get(failures) != simdjson::SUCCESS) failures = 0;
      if (failures > 0) {
        std::string reason = "the collection refused " + std::to_string(failures) + " object(s)";
        simdjson::dom::array list;
        if (doc["failures"].get(list) == simdjson::SUCCESS)
          for (auto f : list) {
            std::string_view msg;
            if (f["message"].get(msg) == simdjson::SUCCESS) {
              reason += ": " + std::string(msg);
              break;
            }
          }
        return {SendResult::kRejected, reason};
      }
      if (status != "pending") return {};
      if (id.empty() || now_steady_ms() > deadline)
        return {SendResult::kTransient, "the status stayed pending; sending again"};
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::string url = api_root_ + "status/" + std::string(id) + "/";
      auto r = http_.request("GET", url, {std::string("Accept: ") + kTaxiiType}, {});
      SendResult result = classify(r, "GET " + url);
      if (result.kind != SendResult::kOk) {
        result.kind = SendResult::kTransient;
        return result;
      }
      text = std::move(r.body);
    }
  }

  SinkConfig c_;
  std::string soc_;
  HttpClient http_;
  bool ready_ = false;
  std::string api_root_;
  uint64_t max_content_length_ = 0;
  simdjson::dom::parser parser_;
  std::string body_;
};

// MISP: one event per alert, POSTed to the events API. A resend of an event MISP holds already is answered with
// an error naming the existing uuid: that is a delivery, not a rejection.
class MispSink final : public Sink {
public:
  MispSink(const SinkConfig& c, const ForwardingConfig& f) : c_(c), http_(c_) {
    options_.distribution = c_.distribution;
    options_.analysis = c_.analysis;
    options_.tag = c_.tag;
    options_.soc_name = f.soc_name;
  }
  SendResult send(const std::vector<const OutboxItem*>& items) override {
    for (const auto* item : items) {
      const std::string body = misp::event_json(item->alert, options_);
      std::vector<std::string> headers = {"Content-Type: application/json", "Accept: application/json"};
      if (!c_.auth_key.empty()) headers.push_back("Authorization: " + c_.auth_key);
      auto r = http_.request("POST", c_.url, headers, body);
      if (r.error.empty() && r.status >= 400 && r.status < 500 && r.status != 401 && r.status != 404 &&
          r.body.find("already exists") != std::string::npos)
        continue;  // the same uuid is there: delivered before
      SendResult result = classify(r, "POST " + c_.url + " (event " + misp::event_uuid(item->alert) + ")");
      if (result.kind != SendResult::kOk) return result;
    }
    return {};
  }

private:
  SinkConfig c_;
  HttpClient http_;
  misp::EventOptions options_;
};

}  // namespace

Expected<ForwardingConfig> load_forwarding(const std::string& path) {
  YAML::Node root;
  std::string text;
  if (!read_file(path, text))
    return Status::error(path + ": cannot read the forwarding file: " + std::strerror(errno) + " (check --forwarding)");
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return config_error(path, e.mark.line + 1, std::string("not valid YAML: ") + e.msg);
  }
  ForwardingConfig f;
  try {
    if (!root.IsMap()) return config_error(path, 1, "expected a mapping with `sinks:`");
    if (root["soc_name"]) f.soc_name = root["soc_name"].as<std::string>();
    if (root["max_rejections"]) f.max_rejections = root["max_rejections"].as<uint32_t>();
    if (root["outbox_quota"]) f.outbox_quota = root["outbox_quota"].as<uint64_t>();
    if (root["quota_warning_ratio"]) f.quota_warning_ratio = root["quota_warning_ratio"].as<double>();
    if (root["quota_policy"]) {
      const std::string policy = root["quota_policy"].as<std::string>();
      if (policy == "pause") f.quota_policy = Outbox::QuotaPolicy::kPause;
      else if (policy != "shed_oldest")
        return config_error(path, root["quota_policy"].Mark().line + 1,
                            "quota_policy must be shed_oldest or pause, not '" + policy + "'");
    }
    if (f.max_rejections == 0) return config_error(path, root["max_rejections"].Mark().line + 1,
                                                   "max_rejections must be 1 or more");
    const YAML::Node sinks = root["sinks"];
    if (!sinks || !sinks.IsSequence() || sinks.size() == 0)
      return config_error(path, 1, "no `sinks:` list: name at least one sink (type taxii, misp, cef or webhook)");
    for (const auto& n : sinks) {
      const int line = n.Mark().line + 1;
      SinkConfig s;
      auto text = [&](const char* key, std::string& out) {
        if (n[key]) out = n[key].as<std::string>();
      };
      text("name", s.name);
      text("type", s.type);
      text("url", s.url);
      text("api_root", s.api_root);
      text("collection", s.collection);
      text("ca_file", s.ca_file);
      text("client_cert", s.client_cert);
      text("client_key", s.client_key);
      text("username", s.username);
      text("signature_header", s.signature_header);
      text("server_name", s.server_name);
      text("hostname", s.hostname);
      text("distribution", s.distribution);
      text("analysis", s.analysis);
      text("tag", s.tag);
      if (n["facility"]) s.facility = n["facility"].as<int>();
      if (n["batch_size"]) s.batch_size = n["batch_size"].as<size_t>();
      if (n["timeout_ms"]) s.timeout_ms = n["timeout_ms"].as<int64_t>();
      if (n["backoff_initial_ms"]) s.backoff_initial_ms = n["backoff_initial_ms"].as<int64_t>();
      if (n["backoff_max_ms"]) s.backoff_max_ms = n["backoff_max_ms"].as<int64_t>();
      if (n["breaker_failures"]) s.breaker_failures = n["breaker_failures"].as<uint32_t>();
      if (n["breaker_open_ms"]) s.breaker_open_ms = n["breaker_open_ms"].as<int64_t>();
      if (n["status_poll_ms"]) s.status_poll_ms = n["status_poll_ms"].as<int64_t>();
      if (s.name.empty()) return config_error(path, line, "a sink without `name`");
      for (const auto& other : f.sinks)
        if (other.name == s.name) return config_error(path, line, "a second sink named '" + s.name + "'");
      if (s.type != "taxii" && s.type != "webhook" && s.type != "misp" && s.type != "cef")
        return config_error(path, line, "sink '" + s.name + "': `type` must be taxii, misp, cef or webhook");
      if (s.type == "cef" && (s.url.rfind("tls://", 0) != 0 || s.url.size() <= 6))
        return config_error(path, line, "sink '" + s.name + "': a cef sink's `url` is tls://HOST:PORT (syslog over "
                                        "TLS, RFC 5425; 6514 is the usual port)");
      if (s.type != "cef" && s.url.rfind("https://", 0) != 0)
        return config_error(path, line, "sink '" + s.name + "': `url` must be an https:// URL");
      if (s.facility < 0 || s.facility > 23)
        return config_error(path, line, "sink '" + s.name + "': facility must be 0..23");
      for (const auto* value : {&s.distribution, &s.analysis})
        if (value->size() != 1 || (*value)[0] < '0' || (*value)[0] > (value == &s.analysis ? '2' : '4'))
          return config_error(path, line, "sink '" + s.name + "': distribution is 0..4 and analysis 0..2");
      if (s.type == "taxii" && s.collection.empty())
        return config_error(path, line, "sink '" + s.name + "': a taxii sink needs `collection` (its id)");
      if (s.batch_size == 0 || s.breaker_failures == 0)
        return config_error(path, line, "sink '" + s.name + "': batch_size and breaker_failures must be 1 or more");
      auto password = secret(path, n, "password_file", "password_env");
      if (!password) return password.error();
      s.password = *password;
      auto token = secret(path, n, "token_file", "token_env");
      if (!token) return token.error();
      s.token = *token;
      auto key = secret(path, n, "hmac_key_file", "hmac_key_env");
      if (!key) return key.error();
      s.hmac_key = *key;
      auto auth_key = secret(path, n, "auth_key_file", "auth_key_env");
      if (!auth_key) return auth_key.error();
      s.auth_key = *auth_key;
      if (s.type == "misp" && s.auth_key.empty())
        return config_error(path, line, "sink '" + s.name + "': a misp sink needs its API key (auth_key_file or "
                                        "auth_key_env)");
      f.sinks.push_back(std::move(s));
    }
  } catch (const YAML::Exception& e) {
    return config_error(path, e.mark.line + 1, std::string("bad value: ") + e.msg);
  }
  return f;
}

std::unique_ptr<Sink> make_sink(const SinkConfig& config, const ForwardingConfig& forwarding) {
  if (config.type == "taxii") return std::make_unique<TaxiiSink>(config, forwarding);
  if (config.type == "misp") return std::make_unique<MispSink>(config, forwarding);
  if (config.type == "cef") return make_cef_sink(config);
  return std::make_unique<WebhookSink>(config);
}

struct Forwarder::SinkState {
  const SinkConfig* config = nullptr;
  std::unique_ptr<Sink> sink;
  SinkCounters* counters = nullptr;
  size_t batch_limit = 0;
  uint32_t failures_in_row = 0;
  int64_t next_attempt_ms = 0;
  std::mt19937_64 random{std::random_device{}()};
};

Forwarder::Forwarder(Outbox& outbox, ForwardingConfig config) : outbox_(outbox), config_(std::move(config)) {
  static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)curl_ready;
  for (const auto& c : config_.sinks) {
    auto counters = std::make_unique<SinkCounters>();
    counters->name = c.name;
    auto s = std::make_unique<SinkState>();
    s->config = &c;
    s->sink = make_sink(c, config_);
    s->counters = counters.get();
    s->batch_limit = c.batch_size;
    sinks_.push_back(std::move(s));
    counters_.push_back(std::move(counters));
  }
}

Forwarder::~Forwarder() { stop(); }

Status Forwarder::start() {
  std::vector<std::string> names;
  for (const auto& c : config_.sinks) names.push_back(c.name);
  if (Status s = outbox_.set_sinks(names); !s.ok()) return s;
  outbox_.set_quota(config_.outbox_quota);
  outbox_.set_quota_policy(config_.quota_policy);
  thread_ = std::thread([this] {
    name_this_thread("socd-forward");
    loop();
  });
  return Status();
}

void Forwarder::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Forwarder::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

bool Forwarder::pump(SinkState& s) {
  const int64_t now = now_steady_ms();
  if (now < s.next_attempt_ms) return false;
  auto items = outbox_.next(s.config->name, s.batch_limit);
  if (!items) {
    log("%s: %s", s.config->name, items.error().message());
    s.next_attempt_ms = now + 1000;
    return false;
  }
  if (items->empty()) return false;
  std::vector<const OutboxItem*> batch;
  for (const auto& item : *items)
    if (item.only_sink.empty() || item.only_sink == s.config->name) batch.push_back(&item);
  if (batch.empty()) {  // only retries meant for other sinks
    Status st = outbox_.acknowledge(s.config->name, items->back().seq);
    return st.ok();
  }
  ++s.counters->attempts;
  SendResult r = s.sink->send(batch);
  const size_t n = batch.size();
  auto back_off = [&](const std::string& reason) {
    s.counters->failed += n;
    ++s.failures_in_row;
    int64_t delay = s.config->backoff_initial_ms;
    for (uint32_t i = 1; i < s.failures_in_row && delay < s.config->backoff_max_ms; ++i) delay *= 2;
    delay = std::min(delay, s.config->backoff_max_ms);
    delay = delay / 2 + static_cast<int64_t>(s.random() % static_cast<uint64_t>(delay / 2 + 1));  // jitter
    if (s.failures_in_row >= s.config->breaker_failures) {
      if (!s.counters->breaker_open.exchange(true))
        log("%s: circuit open after repeated failures: %s", s.config->name, reason);
      delay = std::max(delay, s.config->breaker_open_ms);
      s.batch_limit = 1;  // half-open: one alert probes the receiver
    }
    s.next_attempt_ms = now_steady_ms() + delay;
  };
  switch (r.kind) {
    case SendResult::kOk: {
      s.counters->sent += n;
      // Acknowledged through the last entry looked at (those for other sinks included).
      const uint64_t through = batch.size() == items->size() ? items->back().seq : batch.back()->seq;
      Status st = outbox_.acknowledge(s.config->name, through);
      if (!st.ok()) {
        log("%s: %s", s.config->name, st.message());
        s.next_attempt_ms = now + 1000;
        return false;
      }
      s.counters->acknowledged += n;
      if (config_.quota_policy == Outbox::QuotaPolicy::kPause) gate_cv_.notify_all();
      if (s.counters->breaker_open.exchange(false)) log("%s: circuit closed: %s", s.config->name, "sending again");
      s.failures_in_row = 0;
      s.batch_limit = std::min(s.config->batch_size, s.batch_limit * 2);
      return true;
    }
    case SendResult::kTransient:
      back_off(r.reason);
      if (s.failures_in_row == 1) log("%s: will retry: %s", s.config->name, r.reason);
      return false;
    case SendResult::kTooLarge:
      if (n > 1) {
        s.batch_limit = std::max<size_t>(1, n / 2);
        return true;
      }
      [[fallthrough]];
    case SendResult::kRejected:
      if (n > 1) {  // find the alert at fault: one at a time
        s.batch_limit = 1;
        return true;
      }
      s.counters->failed += 1;
      auto rejected = outbox_.add_rejection(s.config->name, batch[0]->seq);
      if (!rejected) {
        log("%s: %s", s.config->name, rejected.error().message());
        s.next_attempt_ms = now + 1000;
        return false;
      }
      if (*rejected >= config_.max_rejections) {
        Status st = outbox_.dead_letter(s.config->name, *batch[0], r.reason);
        if (!st.ok()) {
          log("%s: %s", s.config->name, st.message());
          s.next_attempt_ms = now + 1000;
          return false;
        }
        ++s.counters->dead_lettered;
        log("%s: dead-lettered alert %s", s.config->name, batch[0]->alert.id + ": " + r.reason);
        return true;
      }
      s.next_attempt_ms = now_steady_ms() + s.config->backoff_initial_ms;
      return false;
  }
  return false;
}

void Forwarder::loop() {
  for (;;) {
    bool moved = false;
    for (auto& s : sinks_) {
      {
        std::lock_guard lock(mutex_);
        if (stop_) return;
      }
      moved = pump(*s) || moved;
    }
    check_quota();
    std::string commands;
    {
      std::lock_guard lock(mutex_);
      commands = command_dir_;
    }
    if (!commands.empty() && now_steady_ms() >= next_command_poll_ms_) {
      next_command_poll_ms_ = now_steady_ms() + 200;
      serve_commands(commands);
    }
    if (moved) continue;
    std::unique_lock lock(mutex_);
    if (stop_) return;
    cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_ || woken_; });
    woken_ = false;
  }
}

void Forwarder::check_quota() {
  const uint64_t quota = config_.outbox_quota;
  if (quota == 0) return;
  const uint64_t entries = outbox_.entries();
  const bool near = static_cast<double>(entries) >= config_.quota_warning_ratio * static_cast<double>(quota);
  if (near != near_quota_.exchange(near)) {
    if (near)
      log("warning: the outbox holds %s entries, near its quota of %s: the sinks are not keeping up (see socd "
          "forward status)", std::to_string(entries), std::to_string(quota) +
          (config_.quota_policy == Outbox::QuotaPolicy::kPause ? "; at the quota the sources pause"
                                                                : "; at the quota the oldest are shed"));
    else
      log("the outbox is below its warning level again (%s of %s entries)", std::to_string(entries),
          std::to_string(quota));
  }
  if (config_.quota_policy == Outbox::QuotaPolicy::kPause && entries < quota) gate_cv_.notify_all();
}

bool Forwarder::may_pause() const {
  return config_.quota_policy == Outbox::QuotaPolicy::kPause && config_.outbox_quota > 0;
}

bool Forwarder::paused() {
  return may_pause() && !gate_released_.load() && outbox_.entries() >= config_.outbox_quota;
}

void Forwarder::release_gate() {
  gate_released_ = true;
  gate_cv_.notify_all();
}

namespace {

class QuotaGate final : public BatchSink {
public:
  QuotaGate(Forwarder& forwarder, BatchSink& inner, std::mutex& mutex, std::condition_variable& cv,
            std::atomic<uint64_t>& refused, std::atomic<uint64_t>& waits)
      : forwarder_(forwarder), inner_(inner), mutex_(mutex), cv_(cv), refused_(refused), waits_(waits) {}
  bool push(std::unique_ptr<SourceBatch> batch, bool may_block) override {
    if (forwarder_.paused()) {
      if (!may_block) {
        ++refused_;
        return false;  // the source counts it as dropped
      }
      ++waits_;
      std::unique_lock lock(mutex_);
      while (forwarder_.paused()) cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    return inner_.push(std::move(batch), may_block);
  }
  std::optional<std::string> checkpoint(const std::string& key) override { return inner_.checkpoint(key); }
  // Workers reading a source would pass the gate by: only where it never closes.
  bool pull(PulledInput& input) override { return !forwarder_.may_pause() && inner_.pull(input); }
  void withdraw(PulledInput& input) override { inner_.withdraw(input); }

private:
  Forwarder& forwarder_;
  BatchSink& inner_;
  std::mutex& mutex_;
  std::condition_variable& cv_;
  std::atomic<uint64_t>&refused_, &waits_;
};

void write_reply(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
}

}  // namespace

std::unique_ptr<BatchSink> Forwarder::gate(BatchSink& inner) {
  return std::make_unique<QuotaGate>(*this, inner, gate_mutex_, gate_cv_, gate_refused_, gate_waits_);
}

void Forwarder::serve_commands(const std::string& data_dir) {
  namespace fs = std::filesystem;
  {
    std::lock_guard lock(mutex_);
    command_dir_ = data_dir;
  }
  const fs::path dir = fs::path(data_dir) / "forward-commands";
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".retry")) names.push_back(name.substr(0, name.size() - 6));
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    const fs::path taken = dir / (name + ".taken");
    fs::rename(dir / (name + ".retry"), taken, ec);
    if (ec) continue;  // withdrawn
    std::string sink, reply;
    if (!read_file(taken.string(), sink)) {
      reply = "error cannot read " + taken.string();
    } else {
      while (!sink.empty() && (sink.back() == '\n' || sink.back() == '\r')) sink.pop_back();
      auto n = outbox_.retry(sink);
      reply = n ? "ok " + std::to_string(*n) : "error " + n.error().message();
      if (n && *n > 0) log("retry: %s dead letter(s) queued again", std::to_string(*n));
    }
    write_reply(dir / (name + ".reply"), reply);
    fs::remove(taken, ec);
  }
  wake();
}

bool Forwarder::drain(int64_t timeout_ms) {
  const int64_t deadline = now_steady_ms() + timeout_ms;
  for (;;) {
    auto st = outbox_.state();
    if (st) {
      bool empty = true;
      for (const auto& s : st->sinks) empty = empty && s.pending == 0;
      if (empty) return true;
    }
    if (now_steady_ms() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace socd

namespace socd {

void append_forward_metrics(Forwarder& forwarder, std::vector<prometheus::MetricFamily>& out) {
  using prometheus::ClientMetric;
  using prometheus::MetricFamily;
  using prometheus::MetricType;
  auto family = [](const char* name, const char* help, MetricType type) {
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
  };
  auto add = [](MetricFamily& f, double v, const std::string& sink) {
    ClientMetric m;
    if (!sink.empty()) m.label.push_back({"sink", sink});
    if (f.type == MetricType::Counter) m.counter.value = v;
    else m.gauge.value = v;
    f.metric.push_back(std::move(m));
  };
  auto sent = family("socd_forward_sent_total", "Alerts sent to a layer-4 sink (attempts that reached it).",
                     MetricType::Counter);
  auto acked = family("socd_forward_acknowledged_total", "Alerts a layer-4 sink acknowledged.", MetricType::Counter);
  auto failed = family("socd_forward_failed_total", "Alerts in failed send attempts (retried).", MetricType::Counter);
  auto dead = family("socd_forward_dead_lettered_total", "Alerts set aside after permanent rejections.",
                     MetricType::Counter);
  auto breaker = family("socd_forward_breaker_open", "1 while the sink's circuit breaker is open.",
                        MetricType::Gauge);
  for (const auto& c : forwarder.counters()) {
    add(sent, static_cast<double>(c->sent.load()), c->name);
    add(acked, static_cast<double>(c->acknowledged.load()), c->name);
    add(failed, static_cast<double>(c->failed.load()), c->name);
    add(dead, static_cast<double>(c->dead_lettered.load()), c->name);
    add(breaker, c->breaker_open.load() ? 1 : 0, c->name);
  }
  auto queued = family("socd_forward_queued", "Alerts queued for the sink, not yet acknowledged.", MetricType::Gauge);
  auto age = family("socd_forward_oldest_unsent_age_seconds", "Age of the oldest alert the sink has not acknowledged.",
                    MetricType::Gauge);
  auto dead_now = family("socd_forward_dead_letters", "Dead letters of the sink now in the store.",
                         MetricType::Gauge);
  auto entries = family("socd_outbox_entries", "Entries in the layer-4 outbox.", MetricType::Gauge);
  auto near = family("socd_outbox_quota_near", "1 when the outbox is at or over quota_warning_ratio of its quota.",
                     MetricType::Gauge);
  auto shed = family("socd_outbox_shed_total", "Outbox entries shed at the quota (the oldest first).",
                     MetricType::Counter);
  auto paused = family("socd_outbox_paused", "1 while ingestion is paused at the outbox quota (policy pause).",
                       MetricType::Gauge);
  auto gate_waits = family("socd_outbox_pause_waits_total",
                           "Source batches that waited at the outbox quota (policy pause).", MetricType::Counter);
  auto gate_refused = family("socd_outbox_pause_refused_total",
                             "Source batches refused at the outbox quota (sources that cannot wait, e.g. UDP, "
                             "count them as dropped).", MetricType::Counter);
  if (auto st = forwarder.outbox().state()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& s : st->sinks) {
      add(queued, static_cast<double>(s.pending), s.sink);
      add(age, s.oldest_unsent_ms > 0 ? static_cast<double>(now - s.oldest_unsent_ms) / 1000.0 : 0.0, s.sink);
      add(dead_now, static_cast<double>(s.dead_letters), s.sink);
    }
    add(entries, static_cast<double>(st->entries), {});
    const double ratio = forwarder.config().quota_warning_ratio;
    add(near, st->quota > 0 && static_cast<double>(st->entries) >= ratio * static_cast<double>(st->quota) ? 1 : 0,
        {});
    add(shed, static_cast<double>(st->shed), {});
  }
  add(paused, forwarder.paused() ? 1 : 0, {});
  add(gate_waits, static_cast<double>(forwarder.gate_waits()), {});
  add(gate_refused, static_cast<double>(forwarder.gate_refused()), {});
  for (auto* f : {&sent, &acked, &failed, &dead, &breaker, &queued, &age, &dead_now, &entries, &near, &shed, &paused,
                  &gate_waits, &gate_refused})
    out.push_back(std::move(*f));
}

}  // namespace socd
