// IP addresses and networks for the asset inventory and the threat-intelligence lists: one 128-bit form for
// both families (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d), and a longest-prefix map of networks flattened
// into disjoint sorted intervals, so a lookup is one binary search whatever the nesting. Internal to engine/.
#pragma once
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace socd::detail {

struct Address {
  uint64_t hi = 0, lo = 0;
  friend bool operator==(const Address& a, const Address& b) { return a.hi == b.hi && a.lo == b.lo; }
  friend bool operator<(const Address& a, const Address& b) {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
  }
  friend bool operator<=(const Address& a, const Address& b) { return !(b < a); }
  bool is_max() const { return hi == ~uint64_t{0} && lo == ~uint64_t{0}; }
  Address next() const { return lo == ~uint64_t{0} ? Address{hi + 1, 0} : Address{hi, lo + 1}; }
  Address prev() const { return lo == 0 ? Address{hi - 1, ~uint64_t{0}} : Address{hi, lo - 1}; }
  // The 16 bytes, big-endian (a key for hash tables).
  void bytes(char out[16]) const {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<char>(lo >> (56 - 8 * i));
  }
};

inline Address from_ipv4(uint32_t v4) { return {0, (uint64_t{0xffff} << 32) | v4}; }
inline bool is_ipv4(const Address& a) { return a.hi == 0 && (a.lo >> 32) == 0xffff; }

// Dotted-quad IPv4 only ("10.1.2.3"; no leading '+', no octal, at most 3 digits per part).
inline bool parse_ipv4(std::string_view s, uint32_t& out) {
  if (s.size() < 7 || s.size() > 15) return false;
  uint32_t v = 0;
  int parts = 0;
  size_t i = 0;
  while (true) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    uint32_t part = 0;
    size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      part = part * 10 + static_cast<uint32_t>(s[i] - '0');
      ++i;
      if (++digits > 3) return false;
    }
    if (part > 255) return false;
    v = (v << 8) | part;
    if (++parts == 4) break;
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
  if (i != s.size()) return false;
  out = v;
  return true;
}

// An IPv4 or IPv6 address as text: "10.1.2.3", "2001:db8::1", "::ffff:10.1.2.3", "[::1]", "fe80::1%12" (the
// zone is ignored). Anything else (names, "-", empty) is not an address.
inline bool parse_address(std::string_view s, Address& out) {
  if (s.empty()) return false;
  uint32_t v4;
  char c = s.front();
  if (c >= '0' && c <= '9' && s.find(':') == std::string_view::npos) {
    if (!parse_ipv4(s, v4)) return false;
    out = from_ipv4(v4);
    return true;
  }
  if (s.size() > 2 && c == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (size_t zone = s.find('%'); zone != std::string_view::npos) s = s.substr(0, zone);
  if (s.size() < 2 || s.size() > 45 || s.find(':') == std::string_view::npos) return false;
  char buf[48];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  unsigned char b[16];
  if (inet_pton(AF_INET6, buf, b) != 1) return false;
  out = {};
  for (int i = 0; i < 8; ++i) out.hi = (out.hi << 8) | b[i];
  for (int i = 8; i < 16; ++i) out.lo = (out.lo << 8) | b[i];
  return true;
}

// A network "10.0.0.0/8", "2001:db8::/32" or a single address (a /32 or /128); `first`..`last` is its range
// and `prefix` its length in bits of the 128-bit form. Host bits set under the mask ("10.1.2.3/8") are an
// error: the writer meant something else, and it is reported rather than guessed.
inline bool parse_network(std::string_view s, Address& first, Address& last, int& prefix,
                          std::string* why = nullptr) {
  size_t slash = s.find('/');
  Address a;
  if (!parse_address(s.substr(0, slash), a)) {
    if (why) *why = "not an IPv4 or IPv6 address";
    return false;
  }
  const bool v4 = is_ipv4(a) && s.substr(0, slash).find(':') == std::string_view::npos;
  int max_bits = v4 ? 32 : 128, bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view b = s.substr(slash + 1);
    if (b.empty() || b.size() > 3) {
      if (why) *why = "bad prefix length";
      return false;
    }
    bits = 0;
    for (char ch : b) {
      if (ch < '0' || ch > '9') {
        if (why) *why = "bad prefix length";
        return false;
      }
      bits = bits * 10 + (ch - '0');
    }
    if (bits > max_bits) {
      if (why) *why = "prefix length over " + std::to_string(max_bits);
      return false;
    }
  }
  prefix = v4 ? bits + 96 : bits;
  // Mask of the host bits.
  Address host;
  int host_bits = 128 - prefix;
  if (host_bits >= 64) {
    host.lo = ~uint64_t{0};
    host.hi = host_bits >= 128 ? ~uint64_t{0} : (host_bits == 64 ? 0 : (~uint64_t{0} >> (128 - host_bits)));
  } else {
    host.lo = host_bits == 0 ? 0 : (~uint64_t{0} >> (64 - host_bits));
  }
  if ((a.hi & host.hi) || (a.lo & host.lo)) {
    if (why) *why = "host bits set under the prefix (write the network address, e.g. 10.0.0.0/8)";
    return false;
  }
  first = a;
  last = {a.hi | host.hi, a.lo | host.lo};
  return true;
}

// Networks -> values, most specific network first: add() every network, then build(); find() gives the value
// of the longest prefix holding an address. Networks nest or are disjoint (prefixes cannot overlap
// otherwise); the same network added twice keeps the later value.
template <class V>
class RangeMap {
public:
  void add(Address first, Address last, V value) { pending_.push_back({first, last, value}); }
  size_t size() const { return segments_.size(); }
  bool empty() const { return segments_.empty(); }

  void build() {
    // Outer networks before the ones inside them; equal ones in the order added (the later one nests inside).
    std::stable_sort(pending_.begin(), pending_.end(), [](const Range& a, const Range& b) {
      if (!(a.first == b.first)) return a.first < b.first;
      return b.last < a.last;
    });
    segments_.clear();
    std::vector<const Range*> open;  // nested networks holding `cursor`, innermost last
    Address cursor;
    bool done = false;  // the cursor ran past the last address
    auto emit = [&](Address from, Address to, const V& v) {
      if (to < from) return;
      segments_.push_back({from, to, v});
    };
    // Closes the open networks that end before `until` (all of them when `all`).
    auto close = [&](const Address* until) {
      while (!open.empty() && (!until || open.back()->last < *until)) {
        const Range* r = open.back();
        if (!done && cursor <= r->last) emit(cursor, r->last, r->value);
        open.pop_back();
        if (r->last.is_max())
          done = true;
        else if (!done && cursor <= r->last)
          cursor = r->last.next();
      }
    };
    for (const Range& r : pending_) {
      close(&r.first);
      if (!open.empty() && !done && cursor < r.first) emit(cursor, r.first.prev(), open.back()->value);
      cursor = r.first;
      done = false;
      open.push_back(&r);
    }
    close(nullptr);
    pending_.clear();
    pending_.shrink_to_fit();
    starts_.clear();
    starts_.reserve(segments_.size());
    for (const auto& s : segments_) starts_.push_back(s.first);
  }

  const V* find(const Address& a) const {
    auto it = std::upper_bound(starts_.begin(), starts_.end(), a);
    if (it == starts_.begin()) return nullptr;
    const Segment& s = segments_[static_cast<size_t>(it - starts_.begin()) - 1];
    return a <= s.last ? &s.value : nullptr;
  }

private:
  struct Range {
    Address first, last;
    V value;
  };
  struct Segment {
    Address first, last;
    V value;
  };
  std::vector<Range> pending_;
  std::vector<Segment> segments_;
  std::vector<Address> starts_;
};

}  // namespace socd::detail
