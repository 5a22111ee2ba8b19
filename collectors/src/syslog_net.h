// What the UDP and the stream listeners share: binding, peer names, a wake-up descriptor, rate-limited logs.
#pragma once
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "socd/status.h"
#include "socd/syslog_sources.h"

namespace socd::net {

// The limits a listener can work with, or why not (names the field and what is allowed).
Status check_limits(const ListenerLimits& limits);

// A socket bound to `address` (SOCK_DGRAM or SOCK_STREAM; streams also listen), non-blocking, close-on-exec.
// `what` names the listener in errors: "syslog-udp 127.0.0.1:5514: cannot bind: Address already in use".
Expected<int> bind_socket(const ListenAddress& address, int type, const std::string& what);
// The port a bound socket listens on.
uint16_t bound_port(int fd);
// "192.0.2.7:514", "[2001:db8::1]:514"
std::string peer_name(const sockaddr* address, socklen_t length);

// An eventfd another thread writes to wake a loop that waits on it.
class WakeFd {
public:
  WakeFd();
  ~WakeFd();
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const { return fd_; }
  void notify();
  void drain();

private:
  int fd_ = -1;
};

// Diagnostics on stderr, "socd: <who>: <message>", at most `burst` lines a minute; the number left out is said
// when the next minute starts, so a flood of failing peers does not flood the log. Thread-safe.
class RateLimitedLog {
public:
  explicit RateLimitedLog(int burst = 20) : burst_(burst) {}
  void set_name(std::string who) { who_ = std::move(who); }
  void write(std::string_view message);

private:
  std::mutex mutex_;
  std::string who_;
  int burst_;
  int written_ = 0;
  uint64_t suppressed_ = 0;
  std::chrono::steady_clock::time_point window_start_{};
};

// `text` made safe to show in a log line: at most `max` bytes, control and non-ASCII bytes as \xHH.
std::string printable(std::string_view text, size_t max = 64);

// Milliseconds from now until `deadline`, clamped to [0, cap], rounded up (a timeout for poll/epoll_wait).
int millis_until(std::chrono::steady_clock::time_point deadline, int cap);

}  // namespace socd::net
