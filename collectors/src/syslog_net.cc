#include "syslog_net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace socd {

namespace {

Status address_error(const std::string& text, const std::string& why) {
  return Status::error("listen address '" + text + "': " + why +
                       " (write IPv4:PORT or [IPv6]:PORT with numeric addresses, e.g. 127.0.0.1:5514 or [::1]:5514)");
}

}  // namespace

std::string ListenAddress::to_string() const {
  std::string out;
  if (ipv6) out.append("[").append(host).append("]");
  else out.append(host);
  return out.append(":").append(std::to_string(port));
}

Expected<ListenAddress> parse_listen_address(const std::string& text) {
  ListenAddress out;
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return address_error(text, "no ']' after the IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':') return address_error(text, "no ':PORT' after ']'");
    out.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    out.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return address_error(text, "no ':PORT'");
    out.host = text.substr(0, colon);
    if (out.host.find(':') != std::string::npos) return address_error(text, "an IPv6 address needs brackets");
    port_text = text.substr(colon + 1);
  }
  if (out.host.empty()) return address_error(text, "no address before the port");
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
    return address_error(text, "the port is not a number from 0 to 65535");
  unsigned long port = std::stoul(port_text);
  if (port > 65535) return address_error(text, "the port is not a number from 0 to 65535");
  out.port = static_cast<uint16_t>(port);

  addrinfo hints{};
  hints.ai_family = out.ipv6 ? AF_INET6 : AF_INET;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(out.host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return address_error(text, std::string("'") + out.host + "' is not a numeric " + (out.ipv6 ? "IPv6" : "IPv4") +
                                   " address");
  }
  ::freeaddrinfo(found);
  return out;
}

namespace net {

Status check_limits(const ListenerLimits& limits) {
  if (limits.max_message_bytes == 0 || limits.max_message_bytes > (64u << 20))
    return Status::error("max_message_bytes must be between 1 and 67108864 (64 MiB)");
  if (limits.max_connections == 0) return Status::error("max_connections must be at least 1");
  if (limits.idle_timeout_seconds < 0) return Status::error("idle_timeout_seconds must be 0 (never) or more");
  if (limits.frame_timeout_seconds < 0) return Status::error("frame_timeout_seconds must be 0 (never) or more");
  if (limits.batch_messages == 0) return Status::error("batch_messages must be at least 1");
  if (limits.batch_flush_ms < 1) return Status::error("batch_flush_ms must be at least 1");
  return {};
}

Expected<int> bind_socket(const ListenAddress& address, int type, const std::string& what) {
  addrinfo hints{};
  hints.ai_family = address.ipv6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = type;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  addrinfo* found = nullptr;
  std::string port = std::to_string(address.port);
  int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr)
    return Status::error(what + ": cannot resolve '" + address.host + "': " + ::gai_strerror(rc));

  auto fail = [&](const char* step, int fd) -> Expected<int> {
    int saved = errno;
    if (fd >= 0) ::close(fd);
    ::freeaddrinfo(found);
    return Status::error(what + ": cannot " + step + " " + address.to_string() + ": " + std::strerror(saved) +
                         (saved == EADDRINUSE ? " (another program listens there: pick another port)"
                          : saved == EACCES   ? " (ports below 1024 need privileges: pick a port above 1023)"
                          : saved == EADDRNOTAVAIL ? " (no interface has this address)"
                                                   : ""));
  };
  int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("open a socket for", -1);
  int one = 1;
  if (address.ipv6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  // Streams: a restarted listener may bind again while old connections linger in TIME_WAIT. (Not for UDP, where
  // SO_REUSEADDR would let a second program share the port and split the messages.)
  if (type == SOCK_STREAM) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, found->ai_addr, found->ai_addrlen) != 0) return fail("bind", fd);
  if (type == SOCK_STREAM && ::listen(fd, SOMAXCONN) != 0) return fail("listen on", fd);
  ::freeaddrinfo(found);
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string peer_name(const sockaddr* address, socklen_t length) {
  char host[INET6_ADDRSTRLEN] = "";
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    auto* in = reinterpret_cast<const sockaddr_in*>(address);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    std::string out;
    out.reserve(sizeof host + 8);
    out.append("[").append(host).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
    return out;
  }
  return "unknown";
}

WakeFd::WakeFd() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

WakeFd::~WakeFd() {
  if (fd_ >= 0) ::close(fd_);
}

void WakeFd::notify() {
  uint64_t one = 1;
  // A full counter (never in practice) still leaves the descriptor readable, which is all a waiter needs.
  [[maybe_unused]] ssize_t n = ::write(fd_, &one, sizeof one);
}

void WakeFd::drain() {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(fd_, &value, sizeof value);
}

void RateLimitedLog::write(std::string_view message) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (now - window_start_ >= std::chrono::minutes(1)) {
    if (suppressed_ > 0) {
      std::fprintf(stderr, "socd: %s: %llu more messages like the ones above were left out in the last minute\n",
                   who_.c_str(), static_cast<unsigned long long>(suppressed_));
    }
    window_start_ = now;
    written_ = 0;
    suppressed_ = 0;
  }
  if (written_ >= burst_) {
    ++suppressed_;
    return;
  }
  ++written_;
  std::fprintf(stderr, "socd: %s: %.*s\n", who_.c_str(), static_cast<int>(message.size()), message.data());
}

std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (size_t i = 0; i < text.size() && i < max; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (text.size() > max) out += "...";
  return out;
}

int millis_until(std::chrono::steady_clock::time_point deadline, int cap) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
  if (left < 0) return 0;
  return left > cap ? cap : static_cast<int>(left);
}

}  // namespace net
}  // namespace socd
