// Syslog messages out of a packet capture (pcap or pcapng, read with libpcap): every UDP datagram is one message
// (one trailing LF or CRLF stripped, as the UDP listener does); every TCP stream is reassembled in sequence order
// (retransmissions and overlaps dropped, segments out of order held until the gap fills) and framed as the TCP
// listener frames it (RFC 6587): a first byte that is a digit means octet counting ("LEN SP MSG"), anything
// else a terminator after each message (LF, CRLF or NUL). A message still open when its stream ends (FIN, RST or
// the end of the capture) is passed on as it is. Link types: Ethernet (with VLAN tags), Linux cooked (v1, v2),
// BSD loopback and raw IPv4/IPv6. IP fragments are not reassembled: they are counted and set aside.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "socd/status.h"

struct pcap;

namespace socd {

struct CapturedMessage {
  std::string text;
  std::string peer;   // the sender, "192.0.2.7:514" or "[2001:db8::1]:514"
  double time = 0;    // capture time of the packet that completed the message (seconds since the epoch)
};

struct CaptureCounters {
  uint64_t packets = 0;         // packets read
  uint64_t other = 0;           // packets that are not UDP or TCP over IP (set aside)
  uint64_t fragments = 0;       // IP fragments (not reassembled: set aside)
  uint64_t truncated = 0;       // packets captured shorter than their headers say (set aside)
  uint64_t tcp_streams = 0;     // TCP streams seen
  uint64_t framing_errors = 0;  // malformed octet counts: the rest of that stream is set aside
  uint64_t payload_bytes = 0;   // UDP and TCP payload bytes taken in
};

class CaptureReader {
public:
  // Opens `path`; `port` non-zero keeps only packets to that destination port.
  static Expected<std::unique_ptr<CaptureReader>> open(const std::string& path, uint16_t port = 0);
  ~CaptureReader();
  // The next message; false at the end of the capture (status() tells a read error from the end).
  bool next(CapturedMessage& out);
  const Status& status() const { return status_; }
  const CaptureCounters& counters() const { return counters_; }
  // Bytes of the capture file read so far (for progress).
  uint64_t file_position() const;

private:
  struct Flow {
    bool synced = false;                 // `next_seq` is known
    uint32_t next_seq = 0;
    std::map<uint32_t, std::string> ahead;  // segments past a gap, by sequence number
    std::string buffer;                  // reassembled bytes not yet framed
    int framing = -1;                    // -1 unknown, 0 terminator, 1 octet counting
    bool broken = false;                 // a malformed octet count: the rest is set aside
    std::string peer;
    double last_time = 0;                // capture time of its last segment
  };
  CaptureReader() = default;
  void packet(const uint8_t* data, size_t caplen, double time);
  void ip(const uint8_t* data, size_t len, double time);
  void transport(int proto, const uint8_t* data, size_t len, const std::string& src, const std::string& dst,
                 bool v6, double time);
  void tcp_data(const std::string& key, Flow& flow, uint32_t seq, std::string_view payload, double time);
  void frame(Flow& flow, double time, bool closing);
  void emit(std::string_view text, const std::string& peer, double time);

  pcap* pcap_ = nullptr;
  int link_ = 0;
  uint16_t port_ = 0;
  std::map<std::string, Flow> flows_;
  std::deque<CapturedMessage> ready_;
  bool at_end_ = false;
  Status status_;
  CaptureCounters counters_;
};

// True when the file starts like a pcap or pcapng capture.
bool looks_like_capture(const std::string& path);

}  // namespace socd
