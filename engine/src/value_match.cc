#include "value_match.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace socd::detail {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

static bool same(const char* a, const char* b, size_t n, bool cased) {
  if (cased) return std::memcmp(a, b, n) == 0;
  for (size_t i = 0; i < n; ++i)
    if (ascii_lower(a[i]) != b[i]) return false;
  return true;
}

bool equals(std::string_view v, std::string_view p, bool cased) {
  return v.size() == p.size() && same(v.data(), p.data(), p.size(), cased);
}

bool starts_with(std::string_view v, std::string_view p, bool cased) {
  return v.size() >= p.size() && same(v.data(), p.data(), p.size(), cased);
}

bool ends_with(std::string_view v, std::string_view p, bool cased) {
  return v.size() >= p.size() && same(v.data() + v.size() - p.size(), p.data(), p.size(), cased);
}

bool contains(std::string_view v, std::string_view p, bool cased) {
  if (p.empty()) return true;
  if (v.size() < p.size()) return false;
  if (cased) return v.find(p) != std::string_view::npos;
  const char first = p[0];
  const char first_upper = (first >= 'a' && first <= 'z') ? static_cast<char>(first - 32) : first;
  const size_t last = v.size() - p.size();
  for (size_t i = 0; i <= last; ++i) {
    char c = v[i];
    if ((c == first || c == first_upper) && same(v.data() + i + 1, p.data() + 1, p.size() - 1, false)) return true;
  }
  return false;
}

bool glob_match(std::string_view v, std::string_view p, bool cased) {
  size_t vi = 0, pi = 0;
  size_t star_p = std::string_view::npos, star_v = 0;
  while (vi < v.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        star_p = ++pi;
        star_v = vi;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++vi;
        continue;
      }
      size_t step = 1;
      if (pc == '\\' && pi + 1 < p.size()) {
        pc = p[pi + 1];
        step = 2;
      }
      char vc = cased ? v[vi] : ascii_lower(v[vi]);
      if (vc == pc) {
        pi += step;
        ++vi;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    vi = ++star_v;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::string glob_longest_literal(std::string_view p) {
  std::string best, cur;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '*' || c == '?') {
      if (cur.size() > best.size()) best = cur;
      cur.clear();
      continue;
    }
    if (c == '\\' && i + 1 < p.size()) c = p[++i];
    cur.push_back(c);
  }
  if (cur.size() > best.size()) best = cur;
  return best;
}

static bool parse_address(std::string_view text, std::array<uint8_t, 16>& out, bool& v4) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    out.fill(0);
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &a4, 4);
    v4 = true;
    return true;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, buf, &a6) == 1) {
    std::memcpy(out.data(), &a6, 16);
    v4 = false;
    return true;
  }
  return false;
}

std::optional<Network> parse_network(std::string_view text) {
  Network net;
  size_t slash = text.find('/');
  bool v4 = false;
  if (!parse_address(text.substr(0, slash), net.addr, v4)) return std::nullopt;
  int max_bits = v4 ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view b = text.substr(slash + 1);
    auto r = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (r.ec != std::errc() || r.ptr != b.data() + b.size() || bits < 0 || bits > max_bits) return std::nullopt;
  }
  net.prefix = v4 ? bits + 96 : bits;
  return net;
}

bool network_contains(const Network& net, std::string_view address) {
  std::array<uint8_t, 16> a;
  bool v4;
  // Trim surrounding whitespace and brackets of "[::1]".
  while (!address.empty() && (address.front() == ' ' || address.front() == '[')) address.remove_prefix(1);
  while (!address.empty() && (address.back() == ' ' || address.back() == ']')) address.remove_suffix(1);
  if (!parse_address(address, a, v4)) return false;
  int bits = net.prefix;
  int full = bits / 8;
  if (std::memcmp(a.data(), net.addr.data(), full) != 0) return false;
  if (bits % 8 == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - bits % 8));
  return (a[full] & mask) == (net.addr[full] & mask);
}

std::optional<double> parse_number(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    uint64_t x;
    auto r = std::from_chars(v.data() + 2, v.data() + v.size(), x, 16);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
    return static_cast<double>(x);
  }
  if (v.front() == '+') v.remove_prefix(1);
  double d;
  auto r = std::from_chars(v.data(), v.data() + v.size(), d);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) return std::nullopt;
  return d;
}

static bool digits(std::string_view v, size_t pos, size_t n, int& out) {
  if (pos + n > v.size()) return false;
  int x = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (v[i] < '0' || v[i] > '9') return false;
    x = x * 10 + (v[i] - '0');
  }
  out = x;
  return true;
}

std::optional<double> time_part(std::string_view v, TimePart part) {
  int y, mo, d, h = 0, mi = 0;
  if (!digits(v, 0, 4, y) || v.size() < 10 || v[4] != '-' || !digits(v, 5, 2, mo) || v[7] != '-' ||
      !digits(v, 8, 2, d))
    return std::nullopt;
  bool has_time = v.size() >= 16 && (v[10] == 'T' || v[10] == ' ') && digits(v, 11, 2, h) && v[13] == ':' &&
                  digits(v, 14, 2, mi);
  switch (part) {
    case TimePart::Year: return y;
    case TimePart::Month: return mo;
    case TimePart::Day: return d;
    case TimePart::Hour: return has_time ? std::optional<double>(h) : std::nullopt;
    case TimePart::Minute: return has_time ? std::optional<double>(mi) : std::nullopt;
    case TimePart::Week: {
      // ISO 8601 week number.
      auto days_from_civil = [](int yy, int mm, int dd) {
        yy -= mm <= 2;
        int era = (yy >= 0 ? yy : yy - 399) / 400;
        int yoe = yy - era * 400;
        int doy = (153 * (mm + (mm > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
        int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
      };
      int days = days_from_civil(y, mo, d);
      int wday = ((days % 7) + 10) % 7;  // Monday = 0 (1970-01-01 was a Thursday)
      int thursday = days - wday + 3;
      int ty = y + (thursday >= days_from_civil(y + 1, 1, 1)) - (thursday < days_from_civil(y, 1, 1));
      return (thursday - days_from_civil(ty, 1, 1)) / 7 + 1;
    }
    case TimePart::None: break;
  }
  return std::nullopt;
}

}  // namespace socd::detail

namespace socd::detail {
namespace {

// The first position p in [from, to - text.size()] where `text` occurs, or npos. `text` is lower-case when
// nocase.
size_t find_in_window(std::string_view v, std::string_view text, size_t from, size_t to, bool nocase) {
  if (to > v.size()) to = v.size();
  if (from > to || to - from < text.size()) return std::string_view::npos;
  const size_t last = to - text.size();
  if (!nocase) {
    size_t p = v.substr(0, to).find(text, from);
    return p != std::string_view::npos && p <= last ? p : std::string_view::npos;
  }
  for (size_t p = from; p <= last; ++p)
    if (same(v.data() + p, text.data(), text.size(), false)) return p;
  return std::string_view::npos;
}

class ContentSearch {
public:
  ContentSearch(std::string_view v, const std::vector<ContentStep>& steps, pcre2_match_data* md,
                pcre2_match_context* mc)
      : v_(v), steps_(steps), md_(md), mc_(mc) {}

  // Do steps i.. match, the previous matched content having ended at `end`?
  bool run(size_t i, size_t end) {
    if (i == steps_.size()) return true;
    if (--budget_ < 0) return false;  // a pathological sequence on a hostile value: no match
    const ContentStep& s = steps_[i];
    if (s.regex) {
      bool hit = pcre2_match(s.regex, reinterpret_cast<PCRE2_SPTR>(v_.data()), v_.size(), 0, 0, md_, mc_) >= 0;
      return hit != s.negated && run(i + 1, end);
    }
    size_t from, to;
    if (s.relative()) {
      from = end + static_cast<size_t>(s.distance > 0 ? s.distance : 0);
      to = s.within >= 0 ? from + static_cast<size_t>(s.within) : v_.size();
    } else {
      from = s.offset > 0 ? static_cast<size_t>(s.offset) : 0;
      to = s.depth >= 0 ? from + static_cast<size_t>(s.depth) : v_.size();
    }
    size_t pos = find_in_window(v_, s.text, from, to, s.nocase);
    if (s.negated) return pos == std::string_view::npos && run(i + 1, end);
    const bool retry = later_relative(i);
    while (pos != std::string_view::npos) {
      if (run(i + 1, pos + s.text.size())) return true;
      if (!retry) return false;
      pos = find_in_window(v_, s.text, pos + 1, to, s.nocase);
    }
    return false;
  }

private:
  // Does a later content depend on where step i matched (a relative one before the next positive content)?
  bool later_relative(size_t i) const {
    for (size_t j = i + 1; j < steps_.size(); ++j) {
      const ContentStep& s = steps_[j];
      if (s.regex) continue;
      if (s.relative()) return true;
      if (!s.negated) return false;
    }
    return false;
  }

  std::string_view v_;
  const std::vector<ContentStep>& steps_;
  pcre2_match_data* md_;
  pcre2_match_context* mc_;
  long budget_ = 100000;
};

}  // namespace

bool contents_match(std::string_view value, const std::vector<ContentStep>& steps, pcre2_match_data* match_data,
                    pcre2_match_context* context) {
  ContentSearch search(value, steps, match_data, context);
  return search.run(0, 0);
}

}  // namespace socd::detail
