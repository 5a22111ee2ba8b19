// A small HTTPS/1.1 server on 127.0.0.1 for the forwarding tests and benchmark (OpenSSL, a thread per
// connection, keep-alive, Content-Length bodies). The test's handler answers each request; the server can be
// told to fail: answer 500, reset connections, answer slowly, or stop listening altogether (connections
// refused) and listen again on the same port.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace socd::test {

struct HttpRequest {
  std::string method, target;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

class HttpsTestServer {
public:
  enum Fault { kNone, k500, kReset, kSlow };
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;

  HttpsTestServer(const std::string& cert, const std::string& key, Handler handler) : handler_(std::move(handler)) {
    ::signal(SIGPIPE, SIG_IGN);  // a client that gave up must not end the test: its write fails with EPIPE instead
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM);
    listen_on(0);
  }
  ~HttpsTestServer() {
    stop_ = true;
    stop_listening();
    std::vector<std::thread> workers;
    {
      std::lock_guard lock(workers_mutex_);
      workers.swap(workers_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers) t.join();
    SSL_CTX_free(ctx_);
  }
  uint16_t port() const { return port_; }
  std::atomic<int> fault{kNone};
  std::atomic<int> slow_ms{1500};
  std::atomic<uint64_t> requests{0};

  // Down: the port refuses connections, and the open ones are cut.
  void stop_listening() {
    std::lock_guard lock(listen_mutex_);
    if (listen_fd_ < 0) return;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    listen_fd_ = -1;
    if (accept_thread_.joinable()) accept_thread_.join();
    std::lock_guard wl(workers_mutex_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  }
  // Up again on the same port.
  bool listen_again() { return listen_on(port_); }

private:
  bool listen_on(uint16_t port) {
    std::lock_guard lock(listen_mutex_);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
      ::close(fd);
      return false;
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen_fd_ = fd;
    accept_thread_ = std::thread([this, fd] { accept_loop(fd); });
    return true;
  }
  void accept_loop(int fd) {
    while (!stop_) {
      int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      timeval tv{10, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::lock_guard lock(workers_mutex_);
      open_fds_.push_back(c);
      workers_.emplace_back([this, c] { serve(c); });
    }
  }
  static bool read_more(SSL* ssl, std::string& buf) {
    char chunk[65536];
    int n = SSL_read(ssl, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
  void serve(int c) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, c);
    if (SSL_accept(ssl) == 1) {
      std::string buf;
      for (;;) {
        size_t end;
        bool ok = true;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos)
          if (!(ok = read_more(ssl, buf))) break;
        if (!ok) break;
        HttpRequest req;
        const std::string head = buf.substr(0, end);
        size_t pos = head.find("\r\n");
        const std::string line = head.substr(0, pos);
        const size_t sp1 = line.find(' '), sp2 = line.find(' ', sp1 + 1);
        req.method = line.substr(0, sp1);
        req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
        while (pos != std::string::npos && pos < head.size()) {
          const size_t next = head.find("\r\n", pos + 2);
          const std::string h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
          const size_t colon = h.find(':');
          if (colon != std::string::npos) {
            std::string name = h.substr(0, colon);
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            const size_t v = h.find_first_not_of(' ', colon + 1);
            req.headers[name] = v == std::string::npos ? "" : h.substr(v);
          }
          pos = next;
        }
        const size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
        while (buf.size() < end + 4 + length)
          if (!(ok = read_more(ssl, buf))) break;
        if (!ok) break;
        req.body = buf.substr(end + 4, length);
        buf.erase(0, end + 4 + length);
        ++requests;
        const int f = fault.load();
        if (f == kReset) {
          linger hard{1, 0};
          ::setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
          break;
        }
        if (f == kSlow) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms.load()));
        HttpAnswer a = f == k500 ? HttpAnswer{500, "{\"title\":\"down for maintenance\"}"} : handler_(req);
        const std::string out = "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Type: " + a.content_type +
                                "\r\nContent-Length: " + std::to_string(a.body.size()) + "\r\n\r\n" + a.body;
        if (SSL_write(ssl, out.data(), static_cast<int>(out.size())) <= 0) break;
      }
    }
    SSL_free(ssl);
    {
      std::lock_guard lock(workers_mutex_);
      for (auto it = open_fds_.begin(); it != open_fds_.end(); ++it)
        if (*it == c) {
          open_fds_.erase(it);
          break;
        }
    }
    ::close(c);
  }

  SSL_CTX* ctx_ = nullptr;
  Handler handler_;
  std::mutex listen_mutex_, workers_mutex_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
  std::atomic<bool> stop_{false};
};

}  // namespace socd::test
