#include "replay_capture.h"

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <fstream>

namespace socd {
namespace {

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string address(const uint8_t* p, bool v6) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, p, buf, sizeof buf);
  return buf;
}

std::string endpoint(const std::string& ip, bool v6, uint16_t port) {
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

constexpr size_t kMaxOctetDigits = 9;

}  // namespace

bool looks_like_capture(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint8_t m[4] = {};
  if (!in.read(reinterpret_cast<char*>(m), 4)) return false;
  uint32_t v = be32(m);
  return v == 0xa1b2c3d4 || v == 0xd4c3b2a1 || v == 0xa1b23c4d || v == 0x4d3cb2a1 || v == 0x0a0d0d0a;
}

Expected<std::unique_ptr<CaptureReader>> CaptureReader::open(const std::string& path, uint16_t port) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) return Status::error(path + ": cannot read the capture: " + err);
  std::unique_ptr<CaptureReader> r(new CaptureReader());
  r->pcap_ = p;
  r->link_ = pcap_datalink(p);
  r->port_ = port;
  switch (r->link_) {
    case DLT_EN10MB: case DLT_NULL: case DLT_LOOP: case DLT_RAW: case 14: case 101: case 228: case 229:
    case DLT_LINUX_SLL: case 276:
      break;
    default:
      return Status::error(path + ": link type " + std::to_string(r->link_) +
                           " is not supported (Ethernet, Linux cooked, loopback or raw IP captures are)");
  }
  return r;
}

CaptureReader::~CaptureReader() {
  if (pcap_) pcap_close(pcap_);
}

uint64_t CaptureReader::file_position() const {
  FILE* f = pcap_file(pcap_);
  if (!f) return 0;
  long pos = std::ftell(f);
  return pos > 0 ? static_cast<uint64_t>(pos) : 0;
}

bool CaptureReader::next(CapturedMessage& out) {
  while (ready_.empty() && !at_end_) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    int rc = pcap_next_ex(pcap_, &h, &data);
    if (rc == 1) {
      ++counters_.packets;
      packet(data, h->caplen, h->ts.tv_sec + h->ts.tv_usec / 1e6);
      continue;
    }
    if (rc == PCAP_ERROR) status_ = Status::error(std::string("reading the capture: ") + pcap_geterr(pcap_));
    at_end_ = true;  // the end: every stream still open passes on what it holds
    for (auto& [key, flow] : flows_) frame(flow, flow.last_time, true);
    flows_.clear();
  }
  if (ready_.empty()) return false;
  out = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

void CaptureReader::packet(const uint8_t* d, size_t n, double time) {
  size_t off = 0;
  uint16_t proto = 0;  // ethertype; 0: look at the IP version
  switch (link_) {
    case DLT_EN10MB:
      if (n < 14) return void(++counters_.truncated);
      proto = be16(d + 12);
      off = 14;
      while ((proto == 0x8100 || proto == 0x88a8) && n >= off + 4) {
        proto = be16(d + off + 2);
        off += 4;
      }
      break;
    case DLT_NULL: case DLT_LOOP: off = 4; break;
    case DLT_LINUX_SLL:
      if (n < 16) return void(++counters_.truncated);
      proto = be16(d + 14);
      off = 16;
      break;
    case 276:  // Linux cooked v2
      if (n < 20) return void(++counters_.truncated);
      proto = be16(d);
      off = 20;
      break;
    default: break;  // raw IP
  }
  if (proto != 0 && proto != 0x0800 && proto != 0x86dd) return void(++counters_.other);
  if (n <= off) return void(++counters_.truncated);
  ip(d + off, n - off, time);
}

void CaptureReader::ip(const uint8_t* d, size_t n, double time) {
  int version = d[0] >> 4;
  if (version == 4) {
    if (n < 20) return void(++counters_.truncated);
    size_t ihl = (d[0] & 0x0f) * 4u, total = be16(d + 2);
    if (ihl < 20 || total < ihl || n < total) return void(++counters_.truncated);
    uint16_t frag = be16(d + 6);
    if ((frag & 0x2000) || (frag & 0x1fff)) return void(++counters_.fragments);
    transport(d[9], d + ihl, total - ihl, address(d + 12, false), address(d + 16, false), false, time);
  } else if (version == 6) {
    if (n < 40) return void(++counters_.truncated);
    size_t len = be16(d + 4);
    if (n < 40 + len) return void(++counters_.truncated);
    int next = d[6];
    const uint8_t* p = d + 40;
    // Hop-by-hop, routing and destination options headers are stepped over; a fragment header sets it aside.
    while (next == 0 || next == 43 || next == 60) {
      if (len < 8 || len < (p[1] + 1u) * 8) return void(++counters_.truncated);
      size_t ext = (p[1] + 1u) * 8;
      next = p[0];
      p += ext;
      len -= ext;
    }
    if (next == 44) return void(++counters_.fragments);
    transport(next, p, len, address(d + 8, true), address(d + 24, true), true, time);
  } else {
    ++counters_.other;
  }
}

void CaptureReader::transport(int proto, const uint8_t* d, size_t n, const std::string& src,
                              const std::string& dst, bool v6, double time) {
  if (proto == 17) {  // UDP
    if (n < 8) return void(++counters_.truncated);
    size_t len = be16(d + 4);
    if (len < 8 || len > n) return void(++counters_.truncated);
    if (port_ && be16(d + 2) != port_) return void(++counters_.other);
    std::string_view payload(reinterpret_cast<const char*>(d + 8), len - 8);
    counters_.payload_bytes += payload.size();
    if (!payload.empty() && payload.back() == '\n') payload.remove_suffix(1);
    if (!payload.empty() && payload.back() == '\r') payload.remove_suffix(1);
    if (!payload.empty()) emit(payload, endpoint(src, v6, be16(d)), time);
  } else if (proto == 6) {  // TCP
    if (n < 20) return void(++counters_.truncated);
    size_t hl = (d[12] >> 4) * 4u;
    if (hl < 20 || hl > n) return void(++counters_.truncated);
    uint16_t sport = be16(d), dport = be16(d + 2);
    if (port_ && dport != port_) return void(++counters_.other);
    uint32_t seq = be32(d + 4);
    uint8_t flags = d[13];
    std::string from = endpoint(src, v6, sport);
    std::string key = from + ">" + endpoint(dst, v6, dport);
    auto [it, fresh] = flows_.try_emplace(key);
    Flow& flow = it->second;
    if (fresh) {
      ++counters_.tcp_streams;
      flow.peer = from;
    }
    if (flags & 0x02) {  // SYN: the stream's data starts after it
      flow.synced = true;
      flow.next_seq = seq + 1;
    }
    std::string_view payload(reinterpret_cast<const char*>(d + hl), n - hl);
    if (!payload.empty()) tcp_data(key, flow, seq, payload, time);
    if (flags & 0x05) {  // FIN or RST: what the stream holds is passed on
      frame(flow, time, true);
      flows_.erase(it);
    }
  } else {
    ++counters_.other;
  }
}

void CaptureReader::tcp_data(const std::string& key, Flow& flow, uint32_t seq, std::string_view payload,
                             double time) {
  counters_.payload_bytes += payload.size();
  flow.last_time = time;
  if (!flow.synced) {  // the capture started inside the stream
    flow.synced = true;
    flow.next_seq = seq;
  }
  auto take = [&](uint32_t s, std::string_view bytes) {
    auto ahead = static_cast<int32_t>(s - flow.next_seq);
    if (ahead > 0) {  // past a gap: held until the gap fills
      std::string& held = flow.ahead[s];
      if (bytes.size() > held.size()) held.assign(bytes);
      return false;
    }
    size_t skip = static_cast<size_t>(-static_cast<int64_t>(ahead));  // bytes already taken (retransmission)
    if (skip >= bytes.size()) return false;
    flow.buffer.append(bytes.substr(skip));
    flow.next_seq += static_cast<uint32_t>(bytes.size() - skip);
    return true;
  };
  if (take(seq, payload)) {
    // Held segments that now follow on.
    for (bool progress = true; progress && !flow.ahead.empty();) {
      progress = false;
      for (auto it = flow.ahead.begin(); it != flow.ahead.end();) {
        auto ahead = static_cast<int32_t>(it->first - flow.next_seq);
        if (ahead > 0) {
          ++it;
          continue;
        }
        std::string bytes = std::move(it->second);
        uint32_t s = it->first;
        it = flow.ahead.erase(it);
        if (take(s, bytes)) progress = true;
      }
    }
  }
  frame(flow, time, false);
}

void CaptureReader::frame(Flow& flow, double time, bool closing) {
  std::string& b = flow.buffer;
  size_t pos = 0;
  if (!flow.broken && flow.framing < 0 && !b.empty())
    flow.framing = (b[0] >= '0' && b[0] <= '9') ? 1 : 0;
  while (!flow.broken && pos < b.size()) {
    if (flow.framing == 1) {
      size_t sp = pos;
      while (sp < b.size() && b[sp] >= '0' && b[sp] <= '9' && sp - pos <= kMaxOctetDigits) ++sp;
      if (sp == b.size()) break;  // the count continues in a later segment
      if (sp == pos || b[sp] != ' ' || sp - pos > kMaxOctetDigits) {
        ++counters_.framing_errors;  // the listener closes such a connection: nothing after it is read
        flow.broken = true;
        break;
      }
      size_t len = std::stoul(b.substr(pos, sp - pos));
      if (b.size() - (sp + 1) < len) break;  // the message continues in a later segment
      std::string_view m(b.data() + sp + 1, len);
      if (!m.empty() && m.back() == '\n') m.remove_suffix(1);
      if (!m.empty()) emit(m, flow.peer, time);
      pos = sp + 1 + len;
    } else {
      size_t end = b.find_first_of(std::string_view("\n\0", 2), pos);
      if (end == std::string::npos) break;
      std::string_view m(b.data() + pos, end - pos);
      if (!m.empty() && m.back() == '\r') m.remove_suffix(1);
      if (!m.empty()) emit(m, flow.peer, time);
      pos = end + 1;
    }
  }
  if (flow.broken) pos = b.size();
  if (closing && pos < b.size()) {  // cut off by the sender: passed on as it is
    std::string_view rest(b.data() + pos, b.size() - pos);
    if (flow.framing == 1) {
      size_t sp = rest.find(' ');
      if (sp != std::string_view::npos) rest.remove_prefix(sp + 1);
    }
    if (!rest.empty() && rest.back() == '\r') rest.remove_suffix(1);
    if (!rest.empty()) emit(rest, flow.peer, time);
    pos = b.size();
  }
  b.erase(0, pos);
}

void CaptureReader::emit(std::string_view text, const std::string& peer, double time) {
  CapturedMessage& m = ready_.emplace_back();
  m.text.assign(text);
  m.peer = peer;
  m.time = time;
}

}  // namespace socd
