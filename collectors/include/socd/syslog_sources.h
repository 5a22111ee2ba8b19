// Network syslog sources (layer 1): a UDP listener and a TCP listener (plain or TLS). They frame messages into
// lines and attach each sender's address; parsing happens later in the pipeline (socd/syslog_parser.h).
//
// UDP: one datagram is one message (one trailing LF or CRLF is stripped). Batches are pushed without blocking:
// when the pipeline is full, the batch's messages are counted in `dropped` (UDP has no back-pressure).
//
// TCP and TLS: the framing of each connection is detected from its first byte (RFC 6587): a digit means octet
// counting ("LEN SP MSG"), anything else means a terminator after each message: LF, CRLF or NUL. Messages over
// `max_message_bytes` are passed on as oversized lines (their first bytes and their real length) and the stream
// resynchronises after them. A malformed octet count closes the connection (counted in `errors`). When the
// pipeline is full, the listener stops reading, so TCP flow control slows the senders down: nothing is lost.
// A message cut off by the sender closing the connection is passed on as it is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "socd/source.h"
#include "socd/status.h"

namespace socd {

struct TlsOptions {
  std::string cert_file;  // server certificate, PEM (intermediate certificates may follow it in the file)
  std::string key_file;   // its private key, PEM, not encrypted
  std::string ca_file;    // non-empty: clients must present a certificate issued by one of these CAs (PEM)
};

struct ListenerLimits {
  size_t max_message_bytes = 64 * 1024;  // longer messages are passed on as oversized lines
  size_t max_connections = 1024;         // stream listeners: connections over this are refused (counted)
  int idle_timeout_seconds = 300;        // stream listeners: a connection silent this long is closed; 0: never
  // Stream listeners: a message (or a TLS handshake) must be complete this long after its first byte arrived,
  // or the connection is closed (a slow sender, "slow loris", holding a partial frame open); 0: never.
  int frame_timeout_seconds = 30;
  size_t batch_messages = 1024;          // a batch is pushed once it holds this many messages ...
  int batch_flush_ms = 50;               // ... or this long after its first message arrived
};

// A listening address: "127.0.0.1:5514", "0.0.0.0:514", "[::1]:5514", "[::]:6514". Port 0: the system picks one.
// An IPv6 address listens on IPv6 only ([::] does not take IPv4 traffic; add a 0.0.0.0 listener for that).
struct ListenAddress {
  std::string host;  // numeric, without brackets
  uint16_t port = 0;
  bool ipv6 = false;
  std::string to_string() const;  // "127.0.0.1:5514", "[::1]:5514"
};
Expected<ListenAddress> parse_listen_address(const std::string& text);

// What the listeners offer beyond Source. The factories return Source; dynamic_cast to reach this.
class NetworkSource : public Source {
public:
  // The port bound by start(): the configured one, or the one the system chose for port 0. 0 before start().
  virtual uint16_t port() const = 0;
};

// The factories check the address (and the limits); start() binds and returns bind errors, naming the address
// and the system's reason, and (TLS) certificate or key errors, naming the file.
Expected<std::unique_ptr<Source>> make_syslog_udp_source(const std::string& address, const ListenerLimits& limits);
// `tls` null: plain TCP.
Expected<std::unique_ptr<Source>> make_syslog_tcp_source(const std::string& address, const ListenerLimits& limits,
                                                         const TlsOptions* tls);

}  // namespace socd
