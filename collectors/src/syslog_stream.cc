// Syslog over TCP and TLS (RFC 6587 framing; RFC 5425 for TLS). One thread runs an epoll loop over the listening
// socket and every connection, TLS handshakes included (non-blocking); a second thread only hands finished batches
// to the pipeline.
//
// Back-pressure, lossless: the loop never calls the sink itself. It queues a finished batch for the hand-off
// thread, which pushes it with may_block=true. While that thread is still busy with an earlier batch when the
// next one is finished, the loop stops reading from every connection (the epoll set of the connections leaves the
// loop's set, one call) and resumes when the hand-off thread takes the queued batch. Bytes not read stay in the
// kernel's socket buffers, so TCP flow control slows the senders down; meanwhile the loop still accepts
// connections, answers stop() and keeps its timers, and at most two batches wait outside the pipeline.
//
// Epoll sets: `epoll_` holds the listener, the wake-up eventfd and `connections_epoll_`, which holds the
// connections. Events carry a connection id, not a descriptor, so a descriptor number reused after a close in the
// same round is never mistaken for the old connection.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "socd/stream_framer.h"
#include "socd/syslog_sources.h"
#include "syslog_net.h"

namespace socd {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr int kReadsPerTurn = 16;            // reads from one connection before the others get a turn
constexpr uint64_t kListenerId = 0, kWakeId = 1, kConnectionsId = 2, kFirstConnectionId = 3;
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);  // after running out of descriptors
constexpr size_t kStopDrainBytes = 16u << 20;  // read at stop() from all connections together, at most

// The OpenSSL error queue as one line (reasons only: no key material is ever in it), then cleared.
std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "no detail from OpenSSL" : out;
}

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

struct Connection {
  explicit Connection(size_t max_message_bytes) : framer(max_message_bytes) {}
  uint64_t id = 0;
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshaking = false;
  std::string peer;  // "192.0.2.7:49152"
  StreamFramer framer;  // the bytes read and not framed yet, and the framing state
  uint32_t events = 0;  // interest registered in the connections' epoll set
  Clock::time_point last_activity;
  // When the message now in progress (or the TLS handshake) started; the epoch when none is.
  Clock::time_point partial_since{};
  uint64_t peer_batch = 0;  // the batch in which `peer_slot` is this connection's Line::peer
  uint32_t peer_slot = 0;
};

enum class ReadResult { data, again, eof, failed };

class SyslogStreamSource final : public NetworkSource {
public:
  SyslogStreamSource(ListenAddress address, const ListenerLimits& limits, std::optional<TlsOptions> tls)
      : address_(std::move(address)), limits_(limits), tls_(std::move(tls)) {
    log_.set_name(name());
  }
  ~SyslogStreamSource() override { stop(); }

  std::string name() const override { return std::string(tls_ ? "syslog-tls:" : "syslog-tcp:") + current_address(); }
  uint16_t port() const override { return port_.load(); }

  Status bind() override {
    if (listen_fd_ >= 0) return {};
    if (wake_.fd() < 0) return Status::error(name() + ": cannot create an eventfd: " + std::strerror(errno));
    if (tls_) {
      if (Status s = make_tls_context(); !s.ok()) return s;
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    connections_epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0 || connections_epoll_ < 0) {
      Status error = Status::error(name() + ": cannot create an epoll set: " + std::strerror(errno));
      close_loop_descriptors();
      return error;
    }
    auto fd = net::bind_socket(address_, SOCK_STREAM, tls_ ? "syslog-tls" : "syslog-tcp");
    if (!fd) {
      close_loop_descriptors();
      return fd.error();
    }
    listen_fd_ = *fd;
    port_ = net::bound_port(listen_fd_);
    origin_ = std::string(tls_ ? "tls://" : "tcp://") + current_address();
    log_.set_name(name());
    add_to_epoll(epoll_, listen_fd_, EPOLLIN, kListenerId);
    add_to_epoll(epoll_, wake_.fd(), EPOLLIN, kWakeId);
    add_to_epoll(epoll_, connections_epoll_, EPOLLIN, kConnectionsId);
    return {};
  }

  Status start(BatchSink& sink) override {
    if (started_) return Status::error(name() + ": already started");
    if (Status s = bind(); !s.ok()) return s;
    sink_ = &sink;
    started_ = true;
    new_batch();
    handoff_thread_ = std::thread([this] { hand_off(); });
    loop_thread_ = std::thread([this] { run(); });
    return {};
  }

  void stop() override {
    if (!started_) {
      close_loop_descriptors();  // bound, never started
      return;
    }
    if (stopped_.exchange(true)) return;
    wake_.notify();
    if (loop_thread_.joinable()) loop_thread_.join();
    {
      std::lock_guard lock(handoff_mutex_);
      handoff_done_ = true;
    }
    handoff_ready_.notify_all();
    if (handoff_thread_.joinable()) handoff_thread_.join();
    close_loop_descriptors();
  }

private:
  std::string current_address() const {
    ListenAddress a = address_;
    if (port_.load() != 0) a.port = port_.load();
    return a.to_string();
  }

  // ---- TLS context -------------------------------------------------------------------------------------------

  Status make_tls_context() {
    const TlsOptions& o = *tls_;
    auto fail = [&](const std::string& what, const std::string& file, const std::string& hint) {
      std::string detail = openssl_errors();
      return Status::error(name() + ": " + what + " '" + file + "': " + detail + " (" + hint + ")");
    };
    auto readable = [&](const std::string& file, const char* what, const char* hint) -> Status {
      if (file.empty()) return Status::error(name() + ": no " + what + " file given (" + hint + ")");
      if (::access(file.c_str(), R_OK) != 0)
        return Status::error(name() + ": cannot read the " + what + " '" + file + "': " + std::strerror(errno) +
                             " (" + hint + ")");
      return {};
    };
    if (Status s = readable(o.cert_file, "server certificate", "set cert_file to a PEM certificate"); !s.ok())
      return s;
    if (Status s = readable(o.key_file, "server key", "set key_file to a PEM private key"); !s.ok()) return s;
    if (!o.ca_file.empty()) {
      if (Status s = readable(o.ca_file, "client CA", "set ca_file to PEM CA certificates, or leave it empty");
          !s.ok())
        return s;
    }
    ERR_clear_error();
    tls_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    if (!tls_ctx_) return Status::error(name() + ": cannot create a TLS context: " + openssl_errors());
    SSL_CTX* ctx = tls_ctx_.get();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Senders often close without a TLS close_notify; that ends the stream like a TCP close, not as an error.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    // An encrypted key would make OpenSSL ask for a passphrase on the terminal: refuse it instead.
    SSL_CTX_set_default_passwd_cb(ctx, [](char*, int, int, void*) { return 0; });
    if (SSL_CTX_use_certificate_chain_file(ctx, o.cert_file.c_str()) != 1)
      return fail("cannot load the server certificate", o.cert_file, "cert_file must be a PEM certificate");
    if (SSL_CTX_use_PrivateKey_file(ctx, o.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      return fail("cannot load the server key", o.key_file,
                  "key_file must be the private key of cert_file, PEM, not encrypted");
    if (SSL_CTX_check_private_key(ctx) != 1)
      return fail("the server key does not match the certificate", o.key_file,
                  "key_file must be the private key of cert_file, PEM, not encrypted");
    if (!o.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr) != 1)
        return fail("cannot load the client CA", o.ca_file, "ca_file must hold PEM CA certificates");
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);  // tells clients which certificate to send
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    static const unsigned char kSessionContext[] = "socd-syslog";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
    return {};
  }

  // ---- epoll helpers -----------------------------------------------------------------------------------------

  static void add_to_epoll(int epoll, int fd, uint32_t events, uint64_t id) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = id;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &e);
  }

  void set_interest(Connection& c, uint32_t events) {
    if (c.events == events) return;
    epoll_event e{};
    e.events = events;
    e.data.u64 = c.id;
    ::epoll_ctl(connections_epoll_, EPOLL_CTL_MOD, c.fd, &e);
    c.events = events;
  }

  void close_loop_descriptors() {
    for (int* fd : {&listen_fd_, &connections_epoll_, &epoll_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
  }

  // ---- the loop ----------------------------------------------------------------------------------------------

  void run() {
    // TLS writes (handshake replies, session tickets, close_notify) to a peer that has reset the connection must
    // fail with EPIPE, not end the process with SIGPIPE: the signal is blocked for this thread only, the process's
    // own handling of it is left alone.
    sigset_t pipe_signal;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);
    std::vector<epoll_event> events(64);
    next_idle_check_ = Clock::now() + idle_check_interval();
    while (!stopped_.load()) {
      int timeout = next_timeout();
      int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout);
      if (n < 0 && errno != EINTR) {
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        log_.write(std::string("epoll_wait failed: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      for (int i = 0; i < n; ++i) {
        switch (events[i].data.u64) {
          case kListenerId: accept_connections(); break;
          case kWakeId: wake_.drain(); break;
          case kConnectionsId: serve_ready_connections(); break;
        }
      }
      if (paused_ && handoff_has_room()) resume_reading();
      if (!paused_) serve_unfinished();
      Clock::time_point now = Clock::now();
      if (!paused_ && !batch_->lines.lines.empty() && now >= flush_at_) flush();
      if (accept_paused_ && now >= accept_resume_at_) {
        add_to_epoll(epoll_, listen_fd_, EPOLLIN, kListenerId);
        accept_paused_ = false;
      }
      if (now >= next_idle_check_) {
        close_idle_connections(now);
        next_idle_check_ = now + idle_check_interval();
      }
    }
    // Stopping: what the kernel has received already is read (up to a bound), messages cut off by the close are
    // passed on like at EOF, then the last batch.
    paused_ = false;  // from here on flush() never pauses: the loop is done with epoll
    std::vector<uint64_t> ids;
    for (auto& [id, c] : connections_) ids.push_back(id);
    size_t budget = kStopDrainBytes;
    for (uint64_t id : ids) {
      drain_at_stop(id, budget);
      close_connection(id, /*pass_partial=*/true);
    }
    flush();
  }

  void drain_at_stop(uint64_t id, size_t& budget) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second->handshaking) return;
    Connection& c = *it->second;
    while (budget > 0) {
      size_t before = c.framer.buffered();
      if (read_some(c) != ReadResult::data) return;
      budget -= std::min(budget, c.framer.buffered() - before);
      if (!frame(c, /*at_eof=*/false)) return;
    }
  }

  Clock::duration idle_check_interval() const {
    int shortest = 0;
    for (int t : {limits_.idle_timeout_seconds, limits_.frame_timeout_seconds})
      if (t > 0 && (shortest == 0 || t < shortest)) shortest = t;
    if (shortest == 0) return std::chrono::hours(1);
    // A tenth of the shortest timeout, at most a second: a connection is closed at most 10% late.
    return std::min<Clock::duration>(std::chrono::seconds(1), std::chrono::milliseconds(100 * shortest));
  }

  int next_timeout() {
    if (!paused_ && !unfinished_.empty()) return 0;
    Clock::time_point deadline = next_idle_check_;
    if (!paused_ && !batch_->lines.lines.empty()) deadline = std::min(deadline, flush_at_);
    if (accept_paused_) deadline = std::min(deadline, accept_resume_at_);
    return net::millis_until(deadline, 60'000);
  }

  void accept_connections() {
    for (;;) {
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &from_length, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        if (errno == ECONNABORTED || errno == EPROTO) continue;  // the peer gave up before we took it
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        log_.write(std::string("cannot accept a connection: ") + std::strerror(errno) +
                   (errno == EMFILE || errno == ENFILE ? " (raise the open-file limit or lower max_connections)" : ""));
        // Out of descriptors: the listener would stay readable and spin; leave it out of the set for a moment.
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        accept_paused_ = true;
        accept_resume_at_ = Clock::now() + kAcceptBackoff;
        return;
      }
      std::string peer = net::peer_name(reinterpret_cast<sockaddr*>(&from), from_length);
      if (connections_.size() >= limits_.max_connections) {
        counters_.refused.fetch_add(1, std::memory_order_relaxed);
        ::close(fd);
        log_.write("refused a connection from " + peer + ": " + std::to_string(limits_.max_connections) +
                   " connections are open (limit max_connections; counted in "
                   "socd_limit_hits_total{limit=\"connections\"})");
        continue;
      }
      auto c = std::make_unique<Connection>(limits_.max_message_bytes);
      c->id = next_connection_id_++;
      c->fd = fd;
      c->peer = std::move(peer);
      c->last_activity = Clock::now();
      c->framer.reserve(kReadChunk);
      if (tls_) {
        ERR_clear_error();
        c->ssl = SSL_new(tls_ctx_.get());
        if (c->ssl == nullptr || SSL_set_fd(c->ssl, fd) != 1) {
          counters_.errors.fetch_add(1, std::memory_order_relaxed);
          log_.write("cannot set up TLS for " + c->peer + ": " + openssl_errors());
          if (c->ssl) SSL_free(c->ssl);
          ::close(fd);
          continue;
        }
        SSL_set_accept_state(c->ssl);
        c->handshaking = true;
        c->partial_since = c->last_activity;  // the handshake must end within frame_timeout_seconds
      }
      counters_.connections.fetch_add(1, std::memory_order_relaxed);
      c->events = EPOLLIN | EPOLLRDHUP;
      add_to_epoll(connections_epoll_, fd, c->events, c->id);
      connections_.emplace(c->id, std::move(c));
    }
  }

  void serve_ready_connections() {
    epoll_event events[64];
    int n = ::epoll_wait(connections_epoll_, events, 64, 0);
    for (int i = 0; i < n && !paused_; ++i) serve(events[i].data.u64);
    // Events not served because reading paused come back (level-triggered) once the set is watched again.
  }

  // Connections that may have bytes to frame without their socket saying so: cut short by their turn's end or by
  // a pause, or with TLS records OpenSSL has decrypted already.
  void serve_unfinished() {
    if (unfinished_.empty()) return;
    std::vector<uint64_t> ids(unfinished_.begin(), unfinished_.end());
    unfinished_.clear();
    for (uint64_t id : ids) {
      if (paused_) {
        unfinished_.insert(id);
        continue;
      }
      serve(id);
    }
  }

  void serve(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if (c.handshaking && !continue_handshake(c)) return;
    // Messages left in the buffer by a pause are framed before anything more is read, so the buffer never grows
    // past one read beyond a message.
    if (c.framer.interrupted() && !frame(c, /*at_eof=*/false)) return;  // false: closed (malformed frame)
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      if (paused_) {
        unfinished_.insert(id);
        return;
      }
      switch (read_some(c)) {
        case ReadResult::data:
          c.last_activity = Clock::now();
          if (!frame(c, /*at_eof=*/false)) return;
          break;
        case ReadResult::again:
          return;
        case ReadResult::eof:
          close_connection(id, /*pass_partial=*/true);
          return;
        case ReadResult::failed:
          counters_.errors.fetch_add(1, std::memory_order_relaxed);
          close_connection(id, /*pass_partial=*/true);
          return;
      }
    }
    unfinished_.insert(id);
  }

  // Returns true when the handshake is done and the connection can be read.
  bool continue_handshake(Connection& c) {
    ERR_clear_error();
    int rc = SSL_do_handshake(c.ssl);
    if (rc == 1) {
      c.handshaking = false;
      c.last_activity = Clock::now();
      c.partial_since = {};
      set_interest(c, EPOLLIN | EPOLLRDHUP);
      return true;
    }
    int error = SSL_get_error(c.ssl, rc);
    if (error == SSL_ERROR_WANT_READ) {
      set_interest(c, EPOLLIN | EPOLLRDHUP);
      return false;
    }
    if (error == SSL_ERROR_WANT_WRITE) {
      set_interest(c, EPOLLOUT | EPOLLRDHUP);
      return false;
    }
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    std::string why = error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                          ? (errno != 0 ? std::string(std::strerror(errno)) : std::string("the peer closed the connection"))
                          : openssl_errors();
    log_.write("TLS handshake with " + c.peer + " failed: " + why);
    close_connection(c.id, /*pass_partial=*/false);
    return false;
  }

  ReadResult read_some(Connection& c) {
    char* into = c.framer.room(kReadChunk);
    ssize_t n;
    if (c.ssl == nullptr) {
      n = ::read(c.fd, into, kReadChunk);
      if (n < 0) {
        int saved = errno;
        c.framer.commit(0);
        if (saved == EAGAIN || saved == EWOULDBLOCK || saved == EINTR) return ReadResult::again;
        log_.write("reading from " + c.peer + " failed: " + std::strerror(saved));
        return ReadResult::failed;
      }
      if (n == 0) {
        c.framer.commit(0);
        return ReadResult::eof;
      }
    } else {
      ERR_clear_error();
      errno = 0;
      n = SSL_read(c.ssl, into, static_cast<int>(kReadChunk));
      if (n <= 0) {
        c.framer.commit(0);
        int error = SSL_get_error(c.ssl, static_cast<int>(n));
        switch (error) {
          case SSL_ERROR_WANT_READ:
            set_interest(c, EPOLLIN | EPOLLRDHUP);
            return ReadResult::again;
          case SSL_ERROR_WANT_WRITE:  // a TLS 1.3 key update wants an answer sent first
            set_interest(c, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
            return ReadResult::again;
          case SSL_ERROR_ZERO_RETURN:
            return ReadResult::eof;
          default: {
            std::string why = error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                                  ? std::string(errno != 0 ? std::strerror(errno) : "connection lost")
                                  : openssl_errors();
            log_.write("TLS read from " + c.peer + " failed: " + why);
            return ReadResult::failed;
          }
        }
      }
      if (c.events & EPOLLOUT) set_interest(c, EPOLLIN | EPOLLRDHUP);
    }
    c.framer.commit(static_cast<size_t>(n));
    counters_.bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    return ReadResult::data;
  }

  // ---- framing -----------------------------------------------------------------------------------------------

  // What a connection's framer passes on goes into the current batch, counted; framing stops for now when
  // reading has paused (a full batch could not be handed off).
  class ConnectionOutput final : public StreamFramerOutput {
  public:
    ConnectionOutput(SyslogStreamSource& source, Connection& c) : source_(source), c_(c) {}
    void message(std::string_view text, uint64_t raw_bytes) override {
      source_.start_message();
      source_.batch_->lines.add(text, source_.message_number_, source_.message_number_, source_.peer_slot(c_));
      source_.end_message(raw_bytes);
    }
    void oversized(std::string_view head, uint64_t full_length, uint64_t raw_bytes) override {
      source_.start_message();
      source_.counters_.oversized.fetch_add(1, std::memory_order_relaxed);
      source_.batch_->lines.add_oversized(head, full_length, source_.message_number_, source_.message_number_,
                                          source_.peer_slot(c_));
      source_.end_message(raw_bytes);
    }
    bool paused() const override { return source_.paused_; }

  private:
    SyslogStreamSource& source_;
    Connection& c_;
  };

  void start_message() {
    if (batch_->lines.lines.empty()) flush_at_ = Clock::now() + std::chrono::milliseconds(limits_.batch_flush_ms);
    ++message_number_;
    counters_.lines.fetch_add(1, std::memory_order_relaxed);
  }

  void end_message(uint64_t raw_bytes) {
    batch_->lines.bytes += raw_bytes;
    if (batch_->lines.lines.size() >= limits_.batch_messages) flush();
  }

  // Frames the complete messages in the connection's buffer into the batch, until reading pauses; at EOF every
  // message and the incomplete rest, paused or not. Returns false when the connection was closed (a malformed
  // octet count).
  bool frame(Connection& c, bool at_eof) {
    const uint64_t messages_before = message_number_;
    ConnectionOutput out(*this, c);
    switch (c.framer.frame(out, at_eof)) {
      case StreamFramer::Result::ok: break;
      case StreamFramer::Result::malformed:
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        log_.write("malformed octet-counted frame from " + c.peer + " (expected 'LENGTH SPACE MESSAGE', got '" +
                   net::printable(c.framer.malformed_text()) + "'): connection closed");
        close_connection(c.id, /*pass_partial=*/false);
        return false;
      case StreamFramer::Result::cut_in_frame:
        counters_.errors.fetch_add(1, std::memory_order_relaxed);
        log_.write("connection from " + c.peer +
                   " closed inside an octet-counted frame; its partial message is passed on");
        break;
    }
    // The slow-sender clock: a message in progress started at the last read that completed one (or at the
    // first read of it).
    if (!c.framer.partial()) c.partial_since = {};
    else if (message_number_ != messages_before || c.partial_since == Clock::time_point{}) c.partial_since = Clock::now();
    return true;
  }

  uint32_t peer_slot(Connection& c) {
    if (c.peer_batch != batch_number_ || c.peer_slot == 0) {
      // Several connections from one sender share one entry in the batch's peer list.
      auto [it, inserted] = peer_of_batch_.try_emplace(c.peer, 0);
      if (inserted) {
        batch_->lines.peers.push_back(c.peer);
        it->second = static_cast<uint32_t>(batch_->lines.peers.size());
      }
      c.peer_batch = batch_number_;
      c.peer_slot = it->second;
    }
    return c.peer_slot;
  }

  // ---- connections -------------------------------------------------------------------------------------------

  void close_connection(uint64_t id, bool pass_partial) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    if (pass_partial && !c.handshaking) frame(c, /*at_eof=*/true);
    // frame() may have closed it already (a malformed frame); look again.
    it = connections_.find(id);
    if (it == connections_.end()) return;
    std::unique_ptr<Connection> owned = std::move(it->second);
    connections_.erase(it);
    unfinished_.erase(id);
    ::epoll_ctl(connections_epoll_, EPOLL_CTL_DEL, owned->fd, nullptr);
    if (owned->ssl != nullptr) {
      if (!owned->handshaking) {
        ERR_clear_error();
        SSL_shutdown(owned->ssl);  // one try, never waits: the close_notify is a courtesy
      }
      SSL_free(owned->ssl);
      ERR_clear_error();
    }
    ::close(owned->fd);
  }

  void close_idle_connections(Clock::time_point now) {
    if (paused_) return;
    // While reading was paused nobody could be heard: silence is counted from the resumption at the earliest.
    const bool idle_limit = limits_.idle_timeout_seconds > 0, frame_limit = limits_.frame_timeout_seconds > 0;
    if (!idle_limit && !frame_limit) return;
    Clock::time_point idle_before = now - std::chrono::seconds(limits_.idle_timeout_seconds);
    Clock::time_point frame_before = now - std::chrono::seconds(limits_.frame_timeout_seconds);
    std::vector<uint64_t> idle, slow;
    for (auto& [id, c] : connections_) {
      if (frame_limit && c->partial_since != Clock::time_point{} && std::max(c->partial_since, resumed_at_) <= frame_before)
        slow.push_back(id);
      else if (idle_limit && std::max(c->last_activity, resumed_at_) <= idle_before)
        idle.push_back(id);
    }
    for (uint64_t id : idle) {
      counters_.idle_closed.fetch_add(1, std::memory_order_relaxed);
      log_.write("closing the connection from " + connections_[id]->peer + ": silent for " +
                 std::to_string(limits_.idle_timeout_seconds) + " s (limit idle_timeout_seconds; counted in "
                 "socd_limit_hits_total{limit=\"idle_timeout\"})");
      close_connection(id, /*pass_partial=*/true);
    }
    for (uint64_t id : slow) {
      Connection& c = *connections_[id];
      counters_.slow_closed.fetch_add(1, std::memory_order_relaxed);
      log_.write("closing the connection from " + c.peer + ": " +
                 (c.handshaking ? std::string("its TLS handshake")
                                : "a message of " + std::to_string(c.framer.partial_bytes()) + " bytes so far") +
                 " not complete after " + std::to_string(limits_.frame_timeout_seconds) +
                 " s (slow sender; limit frame_timeout_seconds; counted in "
                 "socd_limit_hits_total{limit=\"slow_sender\"}); its partial message is passed on");
      close_connection(id, /*pass_partial=*/true);
    }
  }

  // ---- batches and the hand-off ------------------------------------------------------------------------------

  void new_batch() {
    batch_ = std::make_unique<SourceBatch>();
    batch_->origin = origin_;
    peer_of_batch_.clear();
    ++batch_number_;
  }

  // Queues the current batch for the hand-off thread; pauses reading when that thread is still busy.
  void flush() {
    if (batch_->lines.lines.empty()) return;
    batch_->lines.sequence = batch_number_;
    batch_->lines.finish();
    bool must_pause;
    {
      std::lock_guard lock(handoff_mutex_);
      handoff_queue_.push_back(std::move(batch_));
      must_pause = handoff_busy_ || handoff_queue_.size() > 1;
    }
    handoff_ready_.notify_one();
    new_batch();
    if (must_pause && !paused_ && !stopped_.load()) pause_reading();
  }

  bool handoff_has_room() {
    std::lock_guard lock(handoff_mutex_);
    return handoff_queue_.empty();
  }

  void pause_reading() {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, connections_epoll_, nullptr);
    paused_ = true;
  }

  void resume_reading() {
    add_to_epoll(epoll_, connections_epoll_, EPOLLIN, kConnectionsId);
    paused_ = false;
    resumed_at_ = Clock::now();
  }

  // The hand-off thread: pushes queued batches, waiting while the pipeline is full. It wakes the loop each time
  // it takes a batch from the queue, since that is when a paused loop may read again.
  void hand_off() {
    for (;;) {
      std::unique_ptr<SourceBatch> batch;
      {
        std::unique_lock lock(handoff_mutex_);
        handoff_ready_.wait(lock, [&] { return !handoff_queue_.empty() || handoff_done_; });
        if (handoff_queue_.empty()) return;  // done, and nothing left
        batch = std::move(handoff_queue_.front());
        handoff_queue_.pop_front();
        handoff_busy_ = true;
      }
      wake_.notify();
      size_t count = batch->lines.lines.size();
      if (!sink_->push(std::move(batch), /*may_block=*/true)) {
        counters_.dropped.fetch_add(count, std::memory_order_relaxed);
        log_.write("the pipeline refused a batch (shutting down): " + std::to_string(count) +
                   " messages dropped (counted in 'dropped')");
      }
      std::lock_guard lock(handoff_mutex_);
      handoff_busy_ = false;
    }
  }

  ListenAddress address_;
  ListenerLimits limits_;
  std::optional<TlsOptions> tls_;
  std::unique_ptr<SSL_CTX, SslCtxDeleter> tls_ctx_;
  std::string origin_;
  std::atomic<uint16_t> port_{0};
  int listen_fd_ = -1, epoll_ = -1, connections_epoll_ = -1;
  net::WakeFd wake_;
  net::RateLimitedLog log_;
  BatchSink* sink_ = nullptr;
  bool started_ = false;
  std::atomic<bool> stopped_{false};
  std::thread loop_thread_, handoff_thread_;

  // Loop thread only:
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_set<uint64_t> unfinished_;
  uint64_t next_connection_id_ = kFirstConnectionId;
  std::unique_ptr<SourceBatch> batch_;
  std::unordered_map<std::string, uint32_t> peer_of_batch_;  // peer name -> Line::peer in the current batch
  uint64_t batch_number_ = 0;
  uint64_t message_number_ = 0;
  Clock::time_point flush_at_{}, next_idle_check_{}, resumed_at_{}, accept_resume_at_{};
  bool paused_ = false;
  bool accept_paused_ = false;

  // Shared with the hand-off thread:
  std::mutex handoff_mutex_;
  std::condition_variable handoff_ready_;
  std::deque<std::unique_ptr<SourceBatch>> handoff_queue_;
  bool handoff_busy_ = false;
  bool handoff_done_ = false;
};

}  // namespace

Expected<std::unique_ptr<Source>> make_syslog_tcp_source(const std::string& address, const ListenerLimits& limits,
                                                         const TlsOptions* tls) {
  const char* kind = tls ? "syslog-tls" : "syslog-tcp";
  auto parsed = parse_listen_address(address);
  if (!parsed) return Status::error(std::string(kind) + ": " + parsed.error().message());
  if (Status s = net::check_limits(limits); !s.ok())
    return Status::error(std::string(kind) + " " + address + ": " + s.message());
  std::optional<TlsOptions> tls_options;
  if (tls) tls_options = *tls;
  return std::unique_ptr<Source>(std::make_unique<SyslogStreamSource>(std::move(*parsed), limits, tls_options));
}

}  // namespace socd
