#include "cef.h"

#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "stix.h"

namespace socd::cef {

std::string escape_header(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == '|' || c == '\\') out.push_back('\\');
    if (c == '\n' || c == '\r') c = ' ';
    out.push_back(c);
  }
  return out;
}

std::string escape_extension(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else {
      if (c == '=' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

int severity(std::string_view level) {
  if (level == "informational") return 1;
  if (level == "low") return 3;
  if (level == "medium") return 5;
  if (level == "high") return 8;
  if (level == "critical") return 10;
  return 5;
}

namespace {

// Appends ` key=value`, without the space for the first pair (right after the header, `header` bytes); nothing for
// an empty value. The header's length, not its last `|`, tells the first pair: a value may end in `|` (unescaped
// in the extension), and the pair after it needs its space all the same.
void extension(std::string& out, size_t header, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  if (out.size() != header) out.push_back(' ');
  out += key;
  out.push_back('=');
  out += escape_extension(value);
}

int syslog_severity(std::string_view level) {
  if (level == "critical") return 2;
  if (level == "high") return 3;
  if (level == "medium") return 4;
  if (level == "low") return 5;
  return 6;
}

// An RFC 5424 header field (HOSTNAME): printable US-ASCII without spaces, at most 255 characters, "-" if empty.
std::string header_token(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 255))
    if (c > 32 && c < 127) out.push_back(c);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string event(const StoredAlert& alert, std::string_view version) {
  const stix::AlertFacts facts = stix::alert_facts(alert);
  std::string out = "CEF:0|socd|socd|";
  out += escape_header(version);
  out.push_back('|');
  out += escape_header(alert.rule_id);
  out.push_back('|');
  out += escape_header(facts.title);
  out.push_back('|');
  out += std::to_string(severity(alert.level));
  out.push_back('|');
  const size_t header = out.size();
  extension(out, header, "rt", std::to_string(alert.time_ms));
  extension(out, header, "externalId", alert.id);
  extension(out, header, "dvchost", alert.host);
  extension(out, header, "cat", alert.level);
  if (!alert.system.empty()) {
    extension(out, header, "cs1Label", "system");
    extension(out, header, "cs1", alert.system);
  }
  if (alert.system_level > 0) {
    extension(out, header, "cn1Label", "systemLevel");
    extension(out, header, "cn1", std::to_string(alert.system_level));
  }
  if (!facts.ipv4.empty()) extension(out, header, "src", facts.ipv4.front());
  if (!facts.files.empty()) extension(out, header, "fname", facts.files.front());
  if (!facts.command_lines.empty()) extension(out, header, "sproc", facts.command_lines.front());
  extension(out, header, "msg", facts.title);
  return out;
}

std::string syslog_message(const StoredAlert& alert, std::string_view hostname, int facility,
                           std::string_view version) {
  std::string out = "<" + std::to_string(facility * 8 + syslog_severity(alert.level)) + ">1 ";
  // TIMESTAMP has a 4-digit year (RFC 5424, 6.2.3): an alert time before 0000 or from 10000 on (an event's own
  // time can be anything) would make the header unparseable, so it goes as the NILVALUE; rt still carries it.
  constexpr int64_t kYear0Ms = -62167219200000, kYear10000Ms = 253402300800000;
  if (alert.time_ms >= kYear0Ms && alert.time_ms < kYear10000Ms) out += stix::timestamp(alert.time_ms);
  else out.push_back('-');
  out.push_back(' ');
  out += header_token(hostname.empty() ? std::string_view(alert.host) : hostname);
  out += " socd - alert - ";
  out += event(alert, version);
  return out;
}

void append_frame(std::string& out, std::string_view message) {
  out += std::to_string(message.size());
  out.push_back(' ');
  out += message;
}

}  // namespace socd::cef

namespace socd {
namespace {

using Clock = std::chrono::steady_clock;

std::string ssl_error_text() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!text.empty()) text += "; ";
    text += buf;
  }
  return text;
}

class CefSink final : public Sink {
public:
  explicit CefSink(const SinkConfig& c) : c_(c) {
    std::string_view rest(c_.url);
    rest.remove_prefix(std::string_view("tls://").size());
    const size_t colon = rest.rfind(':');
    host_ = std::string(rest.substr(0, colon));
    port_ = colon == std::string_view::npos ? "6514" : std::string(rest.substr(colon + 1));
    while (!port_.empty() && port_.back() == '/') port_.pop_back();
    if (host_.size() > 2 && host_.front() == '[' && host_.back() == ']') host_ = host_.substr(1, host_.size() - 2);
    server_name_ = c_.server_name.empty() ? host_ : c_.server_name;
  }
  ~CefSink() override {
    if (ctx_) SSL_CTX_free(ctx_);
  }

  SendResult send(const std::vector<const OutboxItem*>& items) override {
    if (!ctx_) {
      SendResult r = make_context();
      if (r.kind != SendResult::kOk) return r;
    }
    body_.clear();
    for (const auto* item : items)
      cef::append_frame(body_, cef::syslog_message(item->alert, c_.hostname, c_.facility, kVersion));
    return deliver();
  }

private:
  static constexpr const char* kVersion = "1";

  SendResult fail(const std::string& what) {
    return {SendResult::kTransient, "syslog TLS " + host_ + ":" + port_ + ": " + what};
  }

  SendResult make_context() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return fail("cannot create a TLS context: " + ssl_error_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded = c_.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                           : SSL_CTX_load_verify_locations(ctx, c_.ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      SSL_CTX_free(ctx);
      return fail("cannot load the CA certificates '" + c_.ca_file + "' (check ca_file): " + ssl_error_text());
    }
    if (!c_.client_cert.empty() &&
        (SSL_CTX_use_certificate_chain_file(ctx, c_.client_cert.c_str()) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, (c_.client_key.empty() ? c_.client_cert : c_.client_key).c_str(),
                                     SSL_FILETYPE_PEM) != 1)) {
      SSL_CTX_free(ctx);
      return fail("cannot load the client certificate '" + c_.client_cert + "' or its key (check client_cert, "
                  "client_key): " + ssl_error_text());
    }
    ctx_ = ctx;
    return {};
  }

  // A TCP connection within the timeout, or -1 with `error` set.
  int connect_tcp(std::string& error) {
    addrinfo hints{}, *found = nullptr;
    hints.ai_socktype = SOCK_STREAM;
    if (int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found); rc != 0) {
      error = std::string("cannot resolve the host: ") + gai_strerror(rc);
      return -1;
    }
    int fd = -1;
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        error = std::string("cannot connect: ") + std::strerror(errno);
        ::close(fd);
        fd = -1;
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      int soerr = 0;
      socklen_t len = sizeof soerr;
      if (::poll(&p, 1, static_cast<int>(std::min<int64_t>(c_.timeout_ms, 5000))) != 1 ||
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        error = soerr ? std::string("cannot connect: ") + std::strerror(soerr) : "cannot connect: timed out";
        ::close(fd);
        fd = -1;
      }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return -1;
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(c_.timeout_ms / 1000), static_cast<suseconds_t>((c_.timeout_ms % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
  }

  // One connection: handshake with verification, the frames, our close, then the receiver's close.
  SendResult deliver() {
    std::string error;
    const int fd = connect_tcp(error);
    if (fd < 0) return fail(error);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, server_name_.c_str());
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, server_name_.c_str()) != 1) SSL_set1_host(ssl, server_name_.c_str());
    SendResult result;
    auto done = [&](SendResult r) {
      SSL_free(ssl);
      ::close(fd);
      ERR_clear_error();
      return r;
    };
    if (SSL_connect(ssl) != 1) {
      const long verify = SSL_get_verify_result(ssl);
      std::string why = verify != X509_V_OK ? std::string("the server's certificate is not trusted: ") +
                                                  X509_verify_cert_error_string(verify) + " (check ca_file, server_name)"
                                            : "TLS handshake failed: " + ssl_error_text();
      return done(fail(why));
    }
    std::string_view rest(body_);
    while (!rest.empty()) {
      const int n = SSL_write(ssl, rest.data(), static_cast<int>(std::min<size_t>(rest.size(), 1 << 20)));
      if (n <= 0) return done(fail("the connection failed while sending: " + ssl_error_text()));
      rest.remove_prefix(static_cast<size_t>(n));
    }
    // Our close_notify and FIN; the receiver closes once it has read everything before them.
    SSL_shutdown(ssl);
    ::shutdown(fd, SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::milliseconds(c_.timeout_ms);
    char sink[512];
    for (;;) {
      errno = 0;
      const int n = SSL_read(ssl, sink, sizeof sink);
      if (n > 0) {
        if (Clock::now() > deadline) return done(fail("the receiver did not close the connection in time"));
        continue;
      }
      const int e = SSL_get_error(ssl, n);
      if (e == SSL_ERROR_ZERO_RETURN) return done({});
      if (e == SSL_ERROR_SYSCALL && errno == 0) return done({});  // a plain FIN after everything was read
      if (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK))
        return done(fail("the receiver did not close the connection in time"));
      return done(fail(std::string("the connection ended without a clean close: ") +
                       (e == SSL_ERROR_SYSCALL ? std::strerror(errno) : ssl_error_text())));
    }
  }

  SinkConfig c_;
  std::string host_, port_, server_name_;
  SSL_CTX* ctx_ = nullptr;
  std::string body_;
};

}  // namespace

std::unique_ptr<Sink> make_cef_sink(const SinkConfig& config) { return std::make_unique<CefSink>(config); }

}  // namespace socd
