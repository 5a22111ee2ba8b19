// Layer-4 forwarding against a TAXII 2.1 endpoint written here (HTTPS on 127.0.0.1, OpenSSL): it checks the media
// types, basic auth, the HMAC signature and the STIX required fields of every object, and can be told to fail.
// At-least-once across an outage and a restart of the forwarder and store; dead letters on 422, and their retry.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "forward.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
const char* kMedia = "application/taxii+json;version=2.1";

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

class TaxiiServer {
public:
  enum Mode { kOk, k500, k413, kReset, kSlow };
  std::atomic<int> mode{kOk};
  std::string reject_rule;  // objects of this rule: 422
  std::mutex mutex;
  std::map<std::string, int> received;  // object id -> times received
  std::vector<std::string> problems;    // what a check found wrong
  std::atomic<int> posts{0};

  TaxiiServer(const std::string& cert, const std::string& key, std::string hmac_key) : hmac_key_(std::move(hmac_key)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~TaxiiServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
    SSL_CTX_free(ctx_);
  }
  int port = 0;

private:
  void accept_loop() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      timeval tv{5, 0};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      workers_.emplace_back([this, c] { serve(c); });
    }
  }
  void problem(const std::string& p) {
    std::lock_guard lock(mutex);
    problems.push_back(p);
  }
  void serve(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string buf;
      char chunk[16384];
      while (!stop_) {
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
          int n = SSL_read(ssl, chunk, sizeof chunk);
          if (n <= 0) goto done;
          buf.append(chunk, n);
        }
        std::string head = buf.substr(0, end);
        std::map<std::string, std::string> headers;
        size_t pos = head.find("\r\n");
        const std::string line = head.substr(0, pos);
        while (pos != std::string::npos && pos < head.size()) {
          size_t next = head.find("\r\n", pos + 2);
          std::string h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
          size_t colon = h.find(':');
          if (colon != std::string::npos) {
            std::string name = h.substr(0, colon);
            for (auto& ch : name) ch = static_cast<char>(std::tolower(ch));
            headers[name] = h.substr(h.find_first_not_of(' ', colon + 1));
          }
          pos = next;
        }
        size_t length = headers.count("content-length") ? std::stoul(headers["content-length"]) : 0;
        while (buf.size() < end + 4 + length) {
          int n = SSL_read(ssl, chunk, sizeof chunk);
          if (n <= 0) goto done;
          buf.append(chunk, n);
        }
        std::string body = buf.substr(end + 4, length);
        buf.erase(0, end + 4 + length);
        const int m = mode.load();
        if (m == kReset) goto done;
        if (m == kSlow) std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        auto [status, answer] = handle(line, headers, body);
        if (m == k500) status = 500, answer = "{\"title\":\"down\"}";
        if (m == k413 && line.rfind("POST", 0) == 0) status = 413, answer = "{\"title\":\"too large\"}";
        std::string out = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + kMedia +
                          "\r\nContent-Length: " + std::to_string(answer.size()) + "\r\n\r\n" + answer;
        if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) goto done;
      }
    }
  done:
    SSL_free(ssl);
    ::close(c);
  }
  std::pair<int, std::string> handle(const std::string& line, std::map<std::string, std::string>& h,
                                     const std::string& body) {
    if (h["authorization"] != "Basic c29jOnNlY3JldA==") return {401, "{\"title\":\"auth\"}"};  // soc:secret
    if (h["accept"] != kMedia) {
      problem("Accept " + h["accept"]);
      return {406, "{}"};
    }
    if (line == "GET /taxii2/ HTTP/1.1") return {200, "{\"title\":\"t\",\"default\":\"/api1/\",\"api_roots\":[\"/api1/\"]}"};
    if (line == "GET /api1/ HTTP/1.1") return {200, "{\"title\":\"a\",\"versions\":[\"" + std::string(kMedia) +
                                                        "\"],\"max_content_length\":10485760}"};
    if (line == "GET /api1/collections/ HTTP/1.1")
      return {200, "{\"collections\":[{\"id\":\"c1\",\"title\":\"alerts\",\"can_read\":false,\"can_write\":true}]}"};
    if (line.rfind("GET /api1/status/", 0) == 0)
      return {200, "{\"id\":\"s\",\"status\":\"complete\",\"total_count\":1,\"success_count\":1,\"failure_count\":0,"
                   "\"pending_count\":0}"};
    if (line != "POST /api1/collections/c1/objects/ HTTP/1.1") return {404, "{}"};
    if (h["content-type"] != kMedia) {
      problem("Content-Type " + h["content-type"]);
      return {415, "{}"};
    }
    if (h["x-socd-signature"] != "sha256=" + hmac_hex(hmac_key_, body)) problem("bad signature");
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array objects;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS || doc["objects"].get(objects) != simdjson::SUCCESS)
      return {400, "{}"};
    std::vector<std::string> ids;
    for (auto o : objects) {
      std::string_view type, id, spec, created, modified;
      if (o["type"].get(type) || o["id"].get(id) || o["spec_version"].get(spec) || spec != "2.1" ||
          id.rfind(std::string(type) + "--", 0) != 0)
        problem("object without type/id/spec_version: " + std::string(simdjson::to_string(o)));
      const bool sco = type == "ipv4-addr" || type == "file" || type == "process";
      if (!sco && (o["created"].get(created) || o["modified"].get(modified) || created.back() != 'Z'))
        problem("object without created/modified: " + std::string(id));
      if (type == "indicator" && !reject_rule.empty() &&
          std::string(simdjson::to_string(o)).find("rule:" + reject_rule) != std::string::npos)
        return {422, "{\"title\":\"refused\",\"description\":\"indicator of a withdrawn rule\"}"};
      ids.emplace_back(id);
    }
    {
      std::lock_guard lock(mutex);
      for (const auto& id : ids) ++received[id];
    }
    // Every other post answers pending first (the client polls the status).
    const bool pending = ++posts % 2 == 0;
    return {202, std::string("{\"id\":\"s") + std::to_string(posts.load()) + "\",\"status\":\"" +
                     (pending ? "pending" : "complete") + "\",\"total_count\":" + std::to_string(ids.size()) +
                     ",\"success_count\":" + std::to_string(pending ? 0 : ids.size()) +
                     ",\"failure_count\":0,\"pending_count\":" + std::to_string(pending ? ids.size() : 0) + "}"};
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::string hmac_key_;
  std::thread thread_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
};

class ForwardTaxii : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("socd-fwd-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                            "-addext subjectAltName=IP:127.0.0.1 -keyout " + (dir_ / "key.pem").string() +
                            " -out " + (dir_ / "cert.pem").string() + " 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
    server_ = std::make_unique<TaxiiServer>((dir_ / "cert.pem").string(), (dir_ / "key.pem").string(), "k3y");
    std::ofstream(dir_ / "password") << "secret\n";
    std::ofstream(dir_ / "hmac") << "k3y\n";
    std::ofstream(dir_ / "forwarding.yml")
        << "soc_name: Test SOC\nmax_rejections: 2\nsinks:\n  - name: national\n    type: taxii\n"
        << "    url: https://127.0.0.1:" << server_->port << "/taxii2/\n    collection: c1\n"
        << "    ca_file: " << (dir_ / "cert.pem").string() << "\n    username: soc\n"
        << "    password_file: " << (dir_ / "password").string() << "\n"
        << "    hmac_key_file: " << (dir_ / "hmac").string() << "\n"
        << "    batch_size: 50\n    timeout_ms: 1000\n    backoff_initial_ms: 20\n    backoff_max_ms: 200\n"
        << "    breaker_failures: 3\n    breaker_open_ms: 300\n";
    open();
  }
  void TearDown() override {
    forwarder_.reset();
    store_.reset();
    server_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    forwarder_.reset();
    store_.reset();
    auto s = AlertStore::open((dir_ / "store").string());
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    auto config = load_forwarding((dir_ / "forwarding.yml").string());
    ASSERT_TRUE(config) << config.error().message();
    forwarder_ = std::make_unique<Forwarder>(*store_->outbox(), std::move(*config));
    ASSERT_TRUE(forwarder_->start().ok());
  }
  std::vector<StoredAlert> l4_alerts(uint64_t first, uint64_t n, const std::string& rule = "rule-a") {
    std::vector<StoredAlert> out;
    for (uint64_t i = first; i < first + n; ++i) {
      StoredAlert a = test::make_alert(i, test::kBaseTimeMs + static_cast<int64_t>(i), rule);
      a.layers = kLayer2 | kLayer3 | kLayer4;
      out.push_back(std::move(a));
    }
    return out;
  }
  size_t sightings_received(std::set<std::string>* twice = nullptr) {
    std::lock_guard lock(server_->mutex);
    size_t n = 0;
    for (const auto& [id, times] : server_->received) n += id.rfind("sighting--", 0) == 0;
    return n;
  }
  fs::path dir_;
  std::unique_ptr<TaxiiServer> server_;
  std::unique_ptr<AlertStore> store_;
  std::unique_ptr<Forwarder> forwarder_;
};

TEST_F(ForwardTaxii, EveryAlertArrivesAcrossAnOutageResetsSlownessAndARestart) {
  server_->mode = TaxiiServer::k500;
  ASSERT_TRUE(store_->commit(l4_alerts(0, 120), {}, nullptr).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(sightings_received(), 0u);
  EXPECT_GT(forwarder_->counters()[0]->failed.load(), 0u);
  EXPECT_TRUE(forwarder_->counters()[0]->breaker_open.load());
  server_->mode = TaxiiServer::kReset;
  ASSERT_TRUE(store_->commit(l4_alerts(120, 80), {}, nullptr).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  open();  // the process restarts: the outbox and cursors come back from the store
  server_->mode = TaxiiServer::kSlow;  // over the client's timeout: sent again, the receiver dedups by id
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  server_->mode = TaxiiServer::kOk;
  ASSERT_TRUE(forwarder_->drain(20000)) << "the outbox did not empty";
  EXPECT_EQ(sightings_received(), 200u);
  auto st = store_->outbox()->state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->entries, 0u);
  std::lock_guard lock(server_->mutex);
  EXPECT_TRUE(server_->problems.empty()) << server_->problems.front();
}

TEST_F(ForwardTaxii, AnAlertRefusedWith422GoesToTheDeadLettersAndRetryDeliversIt) {
  server_->reject_rule = "withdrawn";
  auto alerts = l4_alerts(0, 10);
  alerts[4] = l4_alerts(4, 1, "withdrawn")[0];
  ASSERT_TRUE(store_->commit(alerts, {}, nullptr).ok());
  ASSERT_TRUE(forwarder_->drain(20000));
  EXPECT_EQ(sightings_received(), 9u);
  auto letters = store_->outbox()->dead_letters("national", 0);
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].alert.id, alerts[4].id);
  EXPECT_NE((*letters)[0].reason.find("HTTP 422"), std::string::npos) << (*letters)[0].reason;
  EXPECT_EQ(forwarder_->counters()[0]->dead_lettered.load(), 1u);

  server_->reject_rule.clear();
  auto retried = store_->outbox()->retry("national");
  ASSERT_TRUE(retried);
  EXPECT_EQ(*retried, 1u);
  ASSERT_TRUE(forwarder_->drain(20000));
  EXPECT_EQ(sightings_received(), 10u);
  EXPECT_TRUE(store_->outbox()->dead_letters("", 0)->empty());
  EXPECT_EQ(store_->outbox()->state()->entries, 0u);
}

}  // namespace
}  // namespace socd
