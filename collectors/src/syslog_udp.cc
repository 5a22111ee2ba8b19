// Syslog over UDP: one datagram is one message. One thread receives datagrams (recvmmsg, many per call) into a
// batch and pushes it without blocking; a batch the pipeline has no room for is counted in `dropped`.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <vector>

#include "socd/syslog_sources.h"
#include "socd/thread_name.h"
#include "syslog_net.h"

namespace socd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kDatagramsPerCall = 32;
constexpr size_t kMaxDatagram = 65535;        // an IPv4/IPv6 UDP payload is never longer
constexpr size_t kOversizedHead = 256;        // bytes kept of an oversized message
constexpr size_t kMaxBatchBytes = 4u << 20;   // a batch is pushed at this size even if it holds few messages
constexpr int kReceiveBuffer = 8 << 20;       // asked for; the kernel caps it at net.core.rmem_max

class SyslogUdpSource final : public NetworkSource {
public:
  SyslogUdpSource(ListenAddress address, const ListenerLimits& limits) : address_(std::move(address)), limits_(limits) {
    log_.set_name(name());
  }
  ~SyslogUdpSource() override { stop(); }

  std::string name() const override { return "syslog-udp:" + current_address(); }
  uint16_t port() const override { return port_.load(); }

  Status bind() override {
    if (fd_ >= 0) return {};
    if (wake_.fd() < 0) return Status::error(name() + ": cannot create an eventfd: " + std::strerror(errno));
    auto fd = net::bind_socket(address_, SOCK_DGRAM, "syslog-udp");
    if (!fd) return fd.error();
    fd_ = *fd;
    // A large receive buffer absorbs bursts while the thread is busy. SO_RCVBUFFORCE passes the system cap when
    // the process may (CAP_NET_ADMIN); otherwise SO_RCVBUF gets what the cap allows.
    int size = kReceiveBuffer;
    if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    port_ = net::bound_port(fd_);
    origin_ = "udp://" + current_address();
    log_.set_name(name());
    return {};
  }

  Status start(BatchSink& sink) override {
    if (started_) return Status::error(name() + ": already started");
    if (Status s = bind(); !s.ok()) return s;
    sink_ = &sink;
    started_ = true;
    thread_ = std::thread([this] {
      name_this_thread("socd-udp");
      run();
    });
    return {};
  }

  void stop() override {
    if (!started_ && fd_ >= 0) {  // bound, never started
      ::close(fd_);
      fd_ = -1;
    }
    if (!started_ || stopped_.exchange(true)) return;
    wake_.notify();
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    fd_ = -1;
  }

private:
  std::string current_address() const {
    ListenAddress a = address_;
    if (port_.load() != 0) a.port = port_.load();
    return a.to_string();
  }

  void run() {
    // Each slot holds a whole datagram up to the limit plus one byte, so a message of exactly the limit followed
    // by a newline still fits; MSG_TRUNC makes the kernel report the real length of a longer one.
    const size_t slot_size = std::min(limits_.max_message_bytes, kMaxDatagram) + 1;
    std::vector<char> buffers(slot_size * kDatagramsPerCall);
    std::vector<sockaddr_storage> senders(kDatagramsPerCall);
    std::vector<iovec> iovecs(kDatagramsPerCall);
    std::vector<mmsghdr> headers(kDatagramsPerCall);

    new_batch();
    Clock::time_point flush_at{};
    while (!stopped_.load()) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_.fd(), POLLIN, 0}};
      int timeout = batch_->lines.lines.empty() ? -1 : net::millis_until(flush_at, limits_.batch_flush_ms);
      int ready = ::poll(fds, 2, timeout);
      if (ready < 0 && errno != EINTR) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        log_.write(std::string("poll failed: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      if (fds[1].revents & POLLIN) wake_.drain();
      if (ready > 0 && (fds[0].revents & POLLIN)) {
        // Several calls per wake-up, but not forever: the flush deadline and stop() are checked in between.
        for (int call = 0; call < 64 && !stopped_.load(); ++call) {
          for (size_t i = 0; i < kDatagramsPerCall; ++i) {
            iovecs[i] = {buffers.data() + i * slot_size, slot_size};
            headers[i] = {};
            headers[i].msg_hdr.msg_name = &senders[i];
            headers[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            headers[i].msg_hdr.msg_iov = &iovecs[i];
            headers[i].msg_hdr.msg_iovlen = 1;
          }
          int received = ::recvmmsg(fd_, headers.data(), kDatagramsPerCall, MSG_DONTWAIT | MSG_TRUNC, nullptr);
          if (received < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
              counters_.errors.fetch_add(1, std::memory_order_relaxed);
              log_.write(std::string("receive failed: ") + std::strerror(errno));
            }
            break;
          }
          for (int i = 0; i < received; ++i) {
            if (batch_->lines.lines.empty()) flush_at = Clock::now() + std::chrono::milliseconds(limits_.batch_flush_ms);
            take(buffers.data() + i * slot_size, slot_size, headers[i].msg_len, headers[i].msg_hdr.msg_name,
                 headers[i].msg_hdr.msg_namelen);
            if (batch_->lines.lines.size() >= limits_.batch_messages || batch_->lines.data.size() >= kMaxBatchBytes)
              flush();
          }
          if (static_cast<size_t>(received) < kDatagramsPerCall) break;
        }
      }
      if (!batch_->lines.lines.empty() && Clock::now() >= flush_at) flush();
    }
    flush();
  }

  // One datagram of `length` bytes (its first `capacity` bytes at `data`) from `sender`.
  void take(const char* data, size_t capacity, size_t length, const void* sender, socklen_t sender_length) {
    counters_.bytes.fetch_add(length, std::memory_order_relaxed);
    counters_.lines.fetch_add(1, std::memory_order_relaxed);
    LineBatch& lines = batch_->lines;
    lines.bytes += length;
    uint32_t peer = peer_index(sender, sender_length);
    ++message_number_;
    if (length > capacity) {
      oversized(std::string_view(data, std::min(capacity, kOversizedHead)), length, peer);
      return;
    }
    std::string_view text(data, length);
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.size() > limits_.max_message_bytes) {
      oversized(text.substr(0, kOversizedHead), text.size(), peer);
      return;
    }
    lines.add(text, message_number_, message_number_, peer);
  }

  void oversized(std::string_view head, uint64_t full_length, uint32_t peer) {
    counters_.oversized.fetch_add(1, std::memory_order_relaxed);
    batch_->lines.add_oversized(head, full_length, message_number_, message_number_, peer);
  }

  // The sender's index in this batch's peer list (+1, as Line::peer wants), added on first sight.
  uint32_t peer_index(const void* sender, socklen_t length) {
    std::string key(static_cast<const char*>(sender), length);
    auto [it, inserted] = peer_of_batch_.try_emplace(std::move(key), 0);
    if (inserted) {
      batch_->lines.peers.push_back(net::peer_name(static_cast<const sockaddr*>(sender), length));
      it->second = static_cast<uint32_t>(batch_->lines.peers.size());
    }
    return it->second;
  }

  void new_batch() {
    batch_ = std::make_unique<SourceBatch>();
    batch_->origin = origin_;
    peer_of_batch_.clear();
  }

  // UDP senders cannot be slowed down, so the batch is offered without waiting; if the pipeline is full (or
  // shutting down) its messages are lost and counted.
  void flush() {
    if (batch_->lines.lines.empty()) return;
    size_t count = batch_->lines.lines.size();
    batch_->lines.sequence = ++batch_sequence_;
    batch_->lines.finish();
    if (!sink_->push(std::move(batch_), /*may_block=*/false)) {
      counters_.dropped.fetch_add(count, std::memory_order_relaxed);
      log_.write("the pipeline is full or the source is over its rate (source-rate): " + std::to_string(count) +
                 " messages dropped (counted in socd_source_dropped_total)");
    }
    new_batch();
  }

  ListenAddress address_;
  ListenerLimits limits_;
  std::string origin_;
  std::atomic<uint16_t> port_{0};
  int fd_ = -1;
  net::WakeFd wake_;
  net::RateLimitedLog log_;
  BatchSink* sink_ = nullptr;
  bool started_ = false;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
  // Loop thread only:
  std::unique_ptr<SourceBatch> batch_;
  std::unordered_map<std::string, uint32_t> peer_of_batch_;  // raw sockaddr bytes -> Line::peer
  uint64_t message_number_ = 0;
  uint64_t batch_sequence_ = 0;
};

}  // namespace

Expected<std::unique_ptr<Source>> make_syslog_udp_source(const std::string& address, const ListenerLimits& limits) {
  auto parsed = parse_listen_address(address);
  if (!parsed) return Status::error("syslog-udp: " + parsed.error().message());
  if (Status s = net::check_limits(limits); !s.ok()) return Status::error("syslog-udp " + address + ": " + s.message());
  return std::unique_ptr<Source>(std::make_unique<SyslogUdpSource>(std::move(*parsed), limits));
}

}  // namespace socd
