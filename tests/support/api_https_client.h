// An HTTPS/1.1 client for the tests of the HTTP JSON API: connects to 127.0.0.1, verifies the server against the
// test CA (its certificate names localhost), keeps its connection, and reads Content-Length replies.
#pragma once
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <string>
#include <string_view>

#include "support/syslog_test_support.h"

namespace socd::test {

struct Reply {
  int status = 0;
  std::string head, body;
};

// An HTTPS/1.1 client on the loopback verifying the server against the test CA; keeps its connection.
class HttpsClient {
public:
  HttpsClient(uint16_t port, const std::string& ca) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) error_ = "cannot load " + ca;
    fd_ = tcp_connect("127.0.0.1", port);
    if (fd_ < 0) {
      error_ = "cannot connect";
      return;
    }
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) error_ = "handshake failed";
  }
  ~HttpsClient() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;
  bool connected() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  Reply request(const std::string& method, const std::string& target, const std::string& token = "",
                const std::string& body = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (!send_raw(req)) return Reply{};
    return read_reply();
  }
  bool send_raw(std::string_view data) {
    while (!data.empty()) {
      int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  Reply read_reply() {
    Reply r;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos)
      if (!read_more()) return r;
    r.head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    std::smatch m;
    if (std::regex_search(r.head, m, std::regex("^HTTP/1\\.1 (\\d{3})"))) r.status = std::stoi(m[1]);
    size_t length = 0;
    if (std::regex_search(r.head, m, std::regex("Content-Length: (\\d+)", std::regex::icase)))
      length = std::stoul(m[1]);
    while (buffer_.size() < length)
      if (!read_more()) return r;
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

private:
  bool read_more() {
    char chunk[16384];
    int n = SSL_read(ssl_, chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string error_, buffer_;
};

}  // namespace socd::test
