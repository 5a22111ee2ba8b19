// Support for the network source tests: a BatchSink that collects what it is given (and can play a full
// pipeline), loopback clients (UDP, TCP, TLS), and a throw-away PKI made with the openssl command.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "socd/source.h"
#include "socd/syslog_sources.h"

namespace socd::test {

struct ReceivedMessage {
  std::string text;
  std::string peer;
  bool oversized = false;
  uint64_t full_length = 0;
};

// Collects batches. While `set_full(true)`, a non-blocking push is refused and a blocking one waits.
class CollectingSink : public BatchSink {
public:
  bool push(std::unique_ptr<SourceBatch> batch, bool may_block) override {
    std::unique_lock lock(mutex_);
    if (full_) {
      if (!may_block) {
        ++refused_;
        return false;
      }
      ++blocked_pushes_;
      changed_.wait(lock, [&] { return !full_ || closed_; });
    }
    if (closed_) return false;
    for (const Line& l : batch->lines.lines) {
      messages_.push_back({std::string(batch->lines.text(l)), std::string(batch->lines.peer(l)), l.oversized,
                           l.full_length});
    }
    batches_.push_back(std::move(batch));
    changed_.notify_all();
    return true;
  }
  std::optional<std::string> checkpoint(const std::string&) override { return std::nullopt; }

  void set_full(bool full) {
    std::lock_guard lock(mutex_);
    full_ = full;
    changed_.notify_all();
  }
  // Every waiting and later push returns false, as a pipeline that shuts down.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    changed_.notify_all();
  }
  // Waits until at least `count` messages arrived (or the time is up); returns how many there are.
  size_t wait_for(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return messages_.size() >= count; });
    return messages_.size();
  }
  std::vector<ReceivedMessage> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  size_t batch_count() {
    std::lock_guard lock(mutex_);
    return batches_.size();
  }
  // Runs `check` on every batch under the lock.
  void for_each_batch(const std::function<void(const SourceBatch&)>& check) {
    std::lock_guard lock(mutex_);
    for (auto& b : batches_) check(*b);
  }
  size_t refused() {
    std::lock_guard lock(mutex_);
    return refused_;
  }
  size_t blocked_pushes() {
    std::lock_guard lock(mutex_);
    return blocked_pushes_;
  }

private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::unique_ptr<SourceBatch>> batches_;
  std::vector<ReceivedMessage> messages_;
  bool full_ = false, closed_ = false;
  size_t refused_ = 0, blocked_pushes_ = 0;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

inline uint16_t port_of(const Source& source) { return dynamic_cast<const NetworkSource&>(source).port(); }

// A socket address for the loopback host `host` ("127.0.0.1" or "::1") and `port`.
inline socklen_t loopback_address(const std::string& host, uint16_t port, sockaddr_storage& out) {
  out = {};
  if (host.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr);
    return sizeof(sockaddr_in6);
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&out);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &in->sin_addr);
  return sizeof(sockaddr_in);
}

// A connected blocking TCP socket, or -1.
inline int tcp_connect(const std::string& host, uint16_t port) {
  sockaddr_storage address;
  socklen_t length = loopback_address(host, port, address);
  int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{10, 0};  // no test read or write waits longer
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

inline bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// True when the peer closed the connection (read returns 0 or a reset) within `timeout`.
inline bool closed_by_peer(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno == ECONNRESET);
}

// A UDP socket bound to `host`, port chosen by the system (so its address is known), or -1.
inline int udp_socket(const std::string& host) {
  sockaddr_storage address;
  socklen_t length = loopback_address(host, 0, address);
  int fd = ::socket(address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool udp_send(int fd, const std::string& host, uint16_t port, std::string_view datagram) {
  sockaddr_storage address;
  socklen_t length = loopback_address(host, port, address);
  return ::sendto(fd, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&address), length) ==
         static_cast<ssize_t>(datagram.size());
}

// "127.0.0.1:40000" or "[::1]:40000": the local address of a socket, as a source names its peers.
inline std::string local_name(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  char host[INET6_ADDRSTRLEN] = "";
  if (address.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    return std::string("[") + host + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&address);
  ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
}

// A CA, a server certificate for localhost/127.0.0.1/::1 and a client certificate it issued, plus a client
// certificate from another CA, made with the openssl command in `dir`. `error` says what failed.
struct TestPki {
  std::filesystem::path dir;
  std::string error;
  std::string ca, server_cert, server_key, client_cert, client_key, stranger_cert, stranger_key;

  explicit TestPki(const std::filesystem::path& where) : dir(where) {
    std::ofstream config(dir / "openssl.cnf");
    config << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
              "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
              "subjectKeyIdentifier = hash\n"
              "[server]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1\n"
              "[client]\nbasicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage = clientAuth\n";
    config.close();
    std::string d = dir.string();
    std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto run = [&](const std::string& command) {
      if (!error.empty()) return;
      std::string full = "cd '" + d + "' && " + command + " >>openssl.log 2>&1";
      if (std::system(full.c_str()) != 0) error = "'" + command + "' failed (see " + d + "/openssl.log)";
    };
    auto issue = [&](const std::string& name, const std::string& ca_name, const std::string& extensions) {
      run("openssl req -new -config openssl.cnf" + key + " -keyout " + name + ".key -out " + name +
          ".csr -subj /CN=" + (extensions == "server" ? std::string("localhost") : "socd-test-" + name));
      run("openssl x509 -req -in " + name + ".csr -CA " + ca_name + ".pem -CAkey " + ca_name +
          ".key -CAcreateserial -days 2 -extfile openssl.cnf -extensions " + extensions + " -out " + name + ".pem");
    };
    for (const char* ca_name : {"ca", "other-ca"}) {
      run(std::string("openssl req -x509 -new -config openssl.cnf") + key + " -keyout " + ca_name +
          ".key -out " + ca_name + ".pem -days 2 -extensions ca -subj /CN=socd-test-" + ca_name);
    }
    issue("server", "ca", "server");
    issue("client", "ca", "client");
    issue("stranger", "other-ca", "client");
    ca = d + "/ca.pem";
    server_cert = d + "/server.pem";
    server_key = d + "/server.key";
    client_cert = d + "/client.pem";
    client_key = d + "/client.key";
    stranger_cert = d + "/stranger.pem";
    stranger_key = d + "/stranger.key";
  }
};

// A blocking TLS client on the loopback, verifying the server against `ca`, with an optional client certificate.
class TlsClient {
public:
  TlsClient(const std::string& host, uint16_t port, const std::string& ca, const std::string& cert = "",
            const std::string& key = "") {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx_, ca.c_str(), nullptr) != 1) error_ = "cannot load " + ca;
    if (!cert.empty() && (SSL_CTX_use_certificate_file(ctx_, cert.c_str(), SSL_FILETYPE_PEM) != 1 ||
                          SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1))
      error_ = "cannot load " + cert;
    fd_ = tcp_connect(host, port);
    if (fd_ < 0) {
      error_ = "cannot connect";
      return;
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, host == "::1" ? "::1" : "localhost");
    if (host == "::1") X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "::1");
    if (SSL_connect(ssl_) != 1) error_ = "handshake failed: " + last_error();
  }
  // Closes gracefully: close_notify, then reads until the server closes too, so no unread bytes (TLS 1.3 session
  // tickets) make the kernel reset the connection and discard what the server has not read yet.
  ~TlsClient() {
    if (ssl_) {
      NoSigpipe guard;
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) {
      ::shutdown(fd_, SHUT_WR);
      char sink[4096];
      while (::recv(fd_, sink, sizeof sink, 0) > 0) {
      }
      ::close(fd_);
    }
    SSL_CTX_free(ctx_);
  }
  // Resets the connection (RST, no close_notify), as a sender that crashed.
  void reset() {
    linger hard{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    ::close(fd_);
    fd_ = -1;
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  bool connected() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }
  bool send(std::string_view data) {
    NoSigpipe guard;
    while (!data.empty()) {
      int n = SSL_write(ssl_, data.data(), static_cast<int>(data.size()));
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // True when the server ended the session (an alert, a close or a reset) within the socket's read timeout.
  bool refused_by_server() {
    NoSigpipe guard;
    char byte;
    int n = SSL_read(ssl_, &byte, 1);
    return n <= 0;
  }

private:
  // Blocks SIGPIPE in this thread while the client writes, and takes a pending one away after: a write to a
  // server that closed fails with EPIPE instead. (Only this thread: the listener's threads must cope alone.)
  struct NoSigpipe {
    sigset_t pipe, old;
    NoSigpipe() {
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, &old);
    }
    ~NoSigpipe() {
      timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) > 0) {
      }
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
  };
  static std::string last_error() {
    char text[256] = "";
    unsigned long code = ERR_get_error();
    if (code) ERR_error_string_n(code, text, sizeof text);
    ERR_clear_error();
    return text;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string error_;
};

// The path of a program in PATH or the usual system directories, or "" when it is not installed.
inline std::string find_program(const std::string& name) {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string p = path;
    size_t start = 0;
    while (start <= p.size()) {
      size_t end = p.find(':', start);
      if (end == std::string::npos) end = p.size();
      dirs.push_back(p.substr(start, end - start));
      start = end + 1;
    }
  }
  for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"}) dirs.push_back(d);
  for (const auto& d : dirs) {
    if (d.empty()) continue;
    std::string candidate = d + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace socd::test
