// socd replay --forwarding: the alerts routed to layer 4 go through the forwarder of socd run to a webhook sink
// (an HTTPS server written here on 127.0.0.1, OpenSSL), and the replay ends once every one was delivered.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "../support/socd_process.h"

namespace socd::test {
namespace {

// Answers every POST with 200 and counts the alerts of its {"alerts":[...]} body.
class WebhookServer {
public:
  std::atomic<uint64_t> alerts{0}, posts{0};
  int port = 0;
  WebhookServer(const std::string& cert, const std::string& key) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        timeval tv{5, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        workers_.emplace_back([this, c] { serve(c); });
      }
    });
  }
  ~WebhookServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
    SSL_CTX_free(ctx_);
  }

private:
  void serve(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string buf;
      char chunk[16384];
      for (;;) {
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
          int n = SSL_read(ssl, chunk, sizeof chunk);
          if (n <= 0) goto done;
          buf.append(chunk, static_cast<size_t>(n));
        }
        std::string head = buf.substr(0, end);
        for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        size_t cl = head.find("content-length:");
        size_t length = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
        while (buf.size() < end + 4 + length) {
          int n = SSL_read(ssl, chunk, sizeof chunk);
          if (n <= 0) goto done;
          buf.append(chunk, static_cast<size_t>(n));
        }
        std::string body = buf.substr(end + 4, length);
        buf.erase(0, end + 4 + length);
        simdjson::dom::parser parser;
        simdjson::dom::array list;
        if (parser.parse(body)["alerts"].get(list) == simdjson::SUCCESS) {
          alerts += list.size();
          ++posts;
        }
        std::string out = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) goto done;
      }
    }
  done:
    SSL_free(ssl);
    ::close(c);
  }
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::thread thread_;
  std::vector<std::thread> workers_;
};

TEST(ReplayForwarding, EveryLayer4AlertReachesTheWebhookBeforeTheReplayEnds) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir.file("key.pem") + " -out " +
                          dir.file("cert.pem") + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a test certificate";
  WebhookServer server(dir.file("cert.pem"), dir.file("key.pem"));
  write_file(dir.path() / "routing.yml", "layer1:\n  min_rule_level: low\nlayer4:\n  when:\n    - {min_rule_level: low}\n");
  write_file(dir.path() / "forwarding.yml",
             "soc_name: Test SOC\nsinks:\n  - name: hook\n    type: webhook\n    url: https://127.0.0.1:" +
                 std::to_string(server.port) + "/alerts\n    ca_file: " + dir.file("cert.pem") +
                 "\n    batch_size: 25\n    timeout_ms: 2000\n    backoff_initial_ms: 20\n    backoff_max_ms: 200\n");
  // The shipped Windows rules on the Windows events of a golden case.
  ProcessResult r = run_socd({"replay", "--rules", "rules/windows", "--cache-dir", "none", "--progress", "never",
                              "--routing", dir.file("routing.yml"), "--forwarding", dir.file("forwarding.yml"),
                              "--forward-timeout", "30", "--json", "-", "tests/golden/shipped-windows/input.jsonl"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.err, 20);
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.parse(r.out).get(report), simdjson::SUCCESS) << r.out;
  uint64_t stored = report["alerts_stored"];
  ASSERT_GT(stored, 0u);
  EXPECT_TRUE(bool(report["forwarding"]["all_delivered"])) << r.out;
  EXPECT_EQ(uint64_t(report["forwarding"]["acknowledged"]), stored) << r.out;
  EXPECT_EQ(server.alerts.load(), stored);  // each once: nothing failed, so nothing was sent twice
  EXPECT_GE(server.posts.load(), (stored + 24) / 25);
}

}  // namespace
}  // namespace socd::test
