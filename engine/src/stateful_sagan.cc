// The stateful options of Sagan rules for the stateful stage: compiling them from Rule::stateful_options (as
// the Sagan front end validated them), reading the blacklist and bro-intel lists, and what a worker reads
// from an event for them (addresses, ports, the conditions that need no state). Semantics: socd/stateful.h.
#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "stateful_impl.h"
#include "value_match.h"

namespace socd {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (;;) {
    size_t p = s.find(sep);
    out.push_back(trim(s.substr(0, p)));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

bool number(std::string_view s, int64_t& out) {
  if (s.empty() || s.size() > 12) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = detail::ascii_lower(c);
  return out;
}

// "type limit, track by_src&by_username, count 5, seconds 300" (the front end checked the form).
SaganCount counting(const std::string& keyword, const std::string& value) {
  SaganCount c;
  c.text = value;
  c.kind = keyword == "after" ? SaganCount::Kind::After : SaganCount::Kind::None;
  for (const auto& item : split(value, ',')) {
    size_t sp = item.find_first_of(" \t");
    std::string word = item.substr(0, sp), rest = sp == std::string::npos ? "" : trim(item.substr(sp));
    int64_t n = 0;
    if (word == "type") {
      c.kind = rest == "limit" ? SaganCount::Kind::Limit
               : rest == "suppress" ? SaganCount::Kind::Suppress
                                    : SaganCount::Kind::None;  // "threshold", "both": Sagan applies none
    } else if (word == "track") {
      for (const auto& t : split(rest, '&')) {
        if (t == "by_src") c.src = true;
        if (t == "by_dst") c.dst = true;
        if (t == "by_username") c.username = true;
        if (t == "by_string") c.string = true;
        if (t == "by_srcport") c.src_port = true;
        if (t == "by_dstport") c.dst_port = true;
      }
    } else if (word == "count" && number(rest, n)) {
      c.count = static_cast<uint64_t>(n);
    } else if (word == "seconds" && number(rest, n)) {
      c.window_ms = n * 1000;
    } else if (rest == "seconds" && number(word, n)) {  // "300 seconds"
      c.window_ms = n * 1000;
    }
  }
  return c;
}

// xbits / flexbits, both syntaxes (see sagan_stateful.cc).
bool bits(const std::string& keyword, const std::string& value, SaganRule& out) {
  std::vector<std::string> parts = split(value, ',');
  const std::string& op = parts[0];
  if (parts.size() == 1) {
    if (op == "noalert") out.noalert = true;
    return true;  // noalert, noeve, nounified2: outputs
  }
  SaganBits b;
  b.flex = keyword == "flexbits";
  auto names = [&](const std::string& text) {
    b.all = text.find('&') != std::string::npos;
    for (const auto& n : split(text, b.all ? '&' : '|'))
      if (!n.empty()) b.names.push_back(n);
  };
  auto track = [&](const std::string& p) {
    std::string t = trim(p.substr(p.find_first_of(" \t") == std::string::npos ? p.size() : p.find_first_of(" \t")));
    b.dir = t == "ip_src" ? SaganBits::Dir::Src : t == "ip_dst" ? SaganBits::Dir::Dst : SaganBits::Dir::Both;
  };
  int64_t n = 0;
  if (op == "set" || op == "toggle") {
    b.op = SaganBits::Op::Set;
    names(parts[1]);
    if (parts.size() == 3 && number(parts[2], n)) {
      b.dir = SaganBits::Dir::Both;  // the older form records source and destination
      b.expire_ms = n * 1000;
    } else {
      track(parts[2]);
      b.expire_ms = 0;
      if (parts.size() == 4) {
        std::string e = trim(parts[3].substr(parts[3].find_first_of(" \t") + 1));
        if (number(e, n)) b.expire_ms = n * 1000;
      }
    }
  } else {
    b.op = op == "unset" ? SaganBits::Op::Unset : op == "isset" ? SaganBits::Op::IsSet : SaganBits::Op::IsNotSet;
    static const std::map<std::string, SaganBits::Dir> kDirs = {
        {"by_src", SaganBits::Dir::Src},         {"by_dst", SaganBits::Dir::Dst}, {"both", SaganBits::Dir::Both},
        {"reverse", SaganBits::Dir::Reverse},   {"none", SaganBits::Dir::Any},   {"username", SaganBits::Dir::Any}};
    auto dir = kDirs.find(parts[1]);
    if (dir != kDirs.end()) {
      b.dir = dir->second;
      names(parts[2]);
    } else {
      names(parts[1]);
      track(parts[2]);
    }
  }
  out.bits.push_back(std::move(b));
  return true;
}

void alert_time(const std::string& value, SaganRule& out) {
  out.alert_time = true;
  for (const auto& item : split(value, ',')) {
    size_t sp = item.find_first_of(" \t");
    std::string word = item.substr(0, sp), rest = sp == std::string::npos ? "" : trim(item.substr(sp));
    if (word == "days") {
      out.days = 0;
      for (char c : rest)
        if (c >= '0' && c <= '6') out.days |= static_cast<uint8_t>(1u << (c - '0'));
    } else if (word == "hours" && rest.size() == 9) {
      int64_t a = 0, b = 0;
      if (number(rest.substr(0, 4), a) && number(rest.substr(5), b)) {
        out.hours_from = static_cast<int>(a);
        out.hours_to = static_cast<int>(b);
      }
    }
  }
}

// The 16 bytes of an address, or false.
bool address_bytes(std::string_view text, std::array<uint8_t, 16>& out) {
  auto net = detail::parse_network(text);
  if (!net || text.find('/') != std::string_view::npos) return false;
  out = net->addr;
  return true;
}

std::string masked(const std::array<uint8_t, 16>& a, int prefix) {
  std::string out(reinterpret_cast<const char*>(a.data()), 16);
  for (int i = 0; i < 16; ++i) {
    int keep = std::max(0, std::min(8, prefix - i * 8));
    out[i] = static_cast<char>(static_cast<uint8_t>(out[i]) & static_cast<uint8_t>(0xff00 >> keep));
  }
  return out;
}

// A blacklist file: one address or network per line ('#' comments, blanks ignored). A bro-intel file: Zeek's
// intel format, tab-separated, "#fields" naming the columns (indicator, indicator_type); Intel::ADDR and
// Intel::SUBNET lines are addresses, the others indicators by type.
std::shared_ptr<const SaganList> read_list(const std::string& path, bool blacklist, std::string& problem) {
  std::ifstream in(path);
  if (!in) {
    problem = "cannot read " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto list = std::make_shared<SaganList>();
  std::string line;
  int n = 0, bad = 0, first_bad = 0;
  size_t indicator = 0, type = 1;
  auto add_network = [&](const std::string& text) {
    auto net = detail::parse_network(text);
    if (!net) return false;
    list->networks[net->prefix].insert(masked(net->addr, net->prefix));
    return true;
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (blacklist) {
      std::string t = trim(line.substr(0, line.find('#')));
      if (t.empty()) continue;
      if (!add_network(t) && !bad++) first_bad = n;
      continue;
    }
    if (line.rfind("#fields", 0) == 0) {
      std::vector<std::string> cols = split(line, '\t');
      for (size_t i = 1; i < cols.size(); ++i) {
        if (cols[i] == "indicator") indicator = i - 1;
        if (cols[i] == "indicator_type") type = i - 1;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> cols = split(line, '\t');
    if (cols.size() <= std::max(indicator, type) || cols[indicator].empty()) {
      if (!bad++) first_bad = n;
      continue;
    }
    std::string kind = cols[type].rfind("Intel::", 0) == 0 ? cols[type].substr(7) : cols[type];
    if (kind == "ADDR" || kind == "SUBNET") {
      if (!add_network(cols[indicator]) && !bad++) first_bad = n;
    } else {
      list->indicators[kind].push_back(lower(cols[indicator]));
    }
  }
  if (bad)
    problem = path + ":" + std::to_string(first_bad) + ": " + std::to_string(bad) +
              " line(s) that are no " + (blacklist ? "address or network" : "intel entry") + " were left out";
  return list;
}

// ---- addresses in a message ----

bool address_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

bool word_char(char c) { return (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z') || c == '_'; }

// A dotted quad without leading zeros: its length in `s`, or 0.
size_t ipv4_length(std::string_view s) {
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
    size_t start = i;
    int v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 4) v = v * 10 + (s[i++] - '0');
    size_t len = i - start;
    if (len == 0 || len > 3 || v > 255 || (len > 1 && s[start] == '0')) return 0;
  }
  return i;
}

struct FoundAddress {
  std::string_view address;  // in the message
  int port = -1;
};

// The addresses of `m`, in order, up to `want` of them, into `out` (cleared first).
void addresses(std::string_view m, size_t want, std::vector<FoundAddress>& out) {
  out.clear();
  size_t i = 0;
  while (i < m.size() && out.size() < want) {
    if (!address_char(m[i]) || (i > 0 && (address_char(m[i - 1]) || word_char(m[i - 1])))) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < m.size() && address_char(m[j])) ++j;
    std::string_view run = m.substr(i, j - i);
    const bool glued = j < m.size() && word_char(m[j]);  // "1.2.3.4abc" is no address
    i = j;
    if (glued) continue;
    if (size_t n = ipv4_length(run)) {
      FoundAddress a;
      a.address = run.substr(0, n);
      std::string_view rest = run.substr(n);
      std::string_view after = m.substr(j);
      std::string_view digits;
      if (rest.size() > 1 && rest[0] == ':') {
        digits = rest.substr(1);
      } else if (rest.empty() && after.size() > 1 && after[0] == '#') {
        digits = after.substr(1, after.find_first_not_of("0123456789", 1) - 1);
      } else if (!rest.empty() && rest != "." && rest != ":") {
        continue;  // "1.2.3.4.5", "1.2.3.4:x"
      }
      int64_t port = 0;
      if (!digits.empty() && number(digits, port) && port <= 65535) a.port = static_cast<int>(port);
      out.push_back(std::move(a));
      continue;
    }
    size_t colons = 0;
    for (char c : run) colons += c == ':';
    if (colons < 3) continue;
    char v6[64];
    if (run.size() >= sizeof v6) continue;
    std::memcpy(v6, run.data(), run.size());
    v6[run.size()] = '\0';
    unsigned char buf[16];
    if (inet_pton(AF_INET6, v6, buf) == 1) out.push_back({run, -1});
  }
}

// A scratch list per thread: finding the addresses of a message allocates nothing once warm.
std::vector<FoundAddress>& found_addresses() {
  thread_local std::vector<FoundAddress> found;
  return found;
}

bool loopback(std::string_view a) { return a.substr(0, 4) == "127." || a == "::1"; }

bool lookup_hit(const SaganLookup& l, const SaganFacts& f, std::string_view message) {
  for (const auto& list : l.lists) {
    if (l.src && !f.src.empty() && list->contains_address(f.src)) return true;
    if (l.dst && !f.dst.empty() && list->contains_address(f.dst)) return true;
    if (l.all) {
      std::vector<FoundAddress>& found = found_addresses();
      addresses(message, SIZE_MAX, found);
      for (const auto& a : found)
        if (list->contains_address(a.address)) return true;
    }
    if (!l.searches.empty()) {
      std::string text = lower(message);
      for (const auto& kind : l.searches) {
        auto it = list->indicators.find(kind);
        if (it == list->indicators.end()) continue;
        for (const auto& v : it->second)
          if (text.find(v) != std::string::npos) return true;
      }
    }
  }
  return false;
}

// The entries of a header list as the front end keeps it ("[10.0.0.0/8,!10.1.2.3]", "![a,b]", spaces
// removed), each with whether it is negated ('!' before it or before a list holding it; two cancel out).
void list_entries(std::string_view s, bool negated, std::vector<std::pair<std::string, bool>>& out) {
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '[') ++depth;
    if (i < s.size() && s[i] == ']') --depth;
    if (i < s.size() && (s[i] != ',' || depth > 0)) continue;
    std::string_view item = s.substr(start, i - start);
    start = i + 1;
    bool n = negated;
    while (!item.empty() && item[0] == '!') {
      n = !n;
      item.remove_prefix(1);
    }
    if (item.size() >= 2 && item.front() == '[' && item.back() == ']')
      list_entries(item.substr(1, item.size() - 2), n, out);
    else if (!item.empty())
      out.emplace_back(std::string(item), n);
  }
}

void address_check(const std::string& value, SaganAddressCheck& out) {
  std::vector<std::pair<std::string, bool>> entries;
  list_entries(value, false, entries);
  for (const auto& [x, negated] : entries) {
    if (x == "any") {
      if (!negated) out.in.push_back(detail::Network{{}, 0});  // a plain "any" lets every address in
      continue;
    }
    if (auto net = detail::parse_network(x)) (negated ? out.out : out.in).push_back(*net);
  }
}

void port_check(const std::string& value, SaganPortCheck& out) {
  std::vector<std::pair<std::string, bool>> entries;
  list_entries(value, false, entries);
  for (const auto& [x, negated] : entries) {
    std::pair<int, int> range{0, 65535};
    if (x != "any") {
      size_t colon = x.find(':');
      int64_t a = 0, b = 65535;
      if (colon == std::string::npos) {
        if (!number(x, a)) continue;
        b = a;
      } else if ((colon > 0 && !number(x.substr(0, colon), a)) ||
                 (colon + 1 < x.size() && !number(x.substr(colon + 1), b))) {
        continue;
      }
      range = {static_cast<int>(a), static_cast<int>(b)};
    }
    (negated ? out.out : out.in).push_back(range);
  }
}

bool in_network(const detail::Network& net, const std::array<uint8_t, 16>& a) {
  for (int i = 0, bits = net.prefix; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = static_cast<uint8_t>(0xff00 >> std::min(bits, 8));
    if ((a[i] & mask) != (net.addr[i] & mask)) return false;
  }
  return true;
}

// An address that is not one (no syslog host address, no default host) is not checked.
bool address_passes(const SaganAddressCheck& c, std::string_view address) {
  if (!c.active()) return true;
  std::array<uint8_t, 16> a;
  if (!address_bytes(address, a)) return true;
  bool in = c.in.empty();
  for (const auto& n : c.in)
    if (in_network(n, a)) {
      in = true;
      break;
    }
  if (!in) return false;
  for (const auto& n : c.out)
    if (in_network(n, a)) return false;
  return true;
}

bool port_passes(const SaganPortCheck& c, int port) {
  if (!c.active()) return true;
  bool in = c.in.empty();
  for (const auto& [lo, hi] : c.in)
    if (port >= lo && port <= hi) {
      in = true;
      break;
    }
  if (!in) return false;
  for (const auto& [lo, hi] : c.out)
    if (port >= lo && port <= hi) return false;
  return true;
}

// The compiled rulebases, one per file (and its size and time), shared by every rule set built in the
// process: rule sets are rebuilt on reload, the rulebase is compiled again only when its file changed.
std::shared_ptr<const lognorm::Rulebase> compiled_rulebase(const std::string& path, std::string& problem) {
  static std::mutex mutex;
  static std::map<std::string, std::pair<std::string, std::shared_ptr<const lognorm::Rulebase>>> cache;
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  auto time = std::filesystem::last_write_time(path, ec);
  if (ec) {
    problem = "cannot read the normalization rulebase " + path + ": " + ec.message();
    return nullptr;
  }
  std::string stamp = std::to_string(size) + "/" + std::to_string(time.time_since_epoch().count());
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[path];
  if (entry.second && entry.first == stamp) return entry.second;
  std::vector<Diagnostic> ignored;  // the front end reported them when it loaded the rules
  entry.second = lognorm::Rulebase::load(path, ignored);
  entry.first = stamp;
  if (!entry.second) problem = "cannot read the normalization rulebase " + path;
  return entry.second;
}

bool in_alert_time(const SaganRule& r, int64_t time_ms) {
  std::time_t t = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  const int hm = tm.tm_hour * 100 + tm.tm_min, day = tm.tm_wday, before = (day + 6) % 7;
  auto on = [&](int d) { return (r.days >> d & 1) != 0; };
  if (r.hours_from < 0) return on(day);
  if (r.hours_from <= r.hours_to) return on(day) && hm >= r.hours_from && hm <= r.hours_to;
  // Across midnight: from the start on a listed day, or up to the end on the day after one.
  return (on(day) && hm >= r.hours_from) || (on(before) && hm <= r.hours_to);
}

// `normalize`: the rulebase on " " + message (rsyslog's msg property keeps the space after the tag's ':', and
// Sagan's rulebases expect it); what it finds replaces what parse_src_ip and the others found.
// The last message's result is kept per thread: the normalize rules an event matches (often several) share it.
void normalize(const std::shared_ptr<const lognorm::Rulebase>& rulebase, std::string_view message,
               SaganFacts& f) {
  thread_local std::shared_ptr<const lognorm::Rulebase> last;  // held: its address is not reused meanwhile
  thread_local std::string text;
  thread_local std::vector<lognorm::Capture> found;  // views into `text`
  thread_local bool matched = false;
  // (Compared as views: an empty message may have no buffer, and memcmp must not see its null pointer.)
  const bool same = last == rulebase && !text.empty() && std::string_view(text).substr(1) == message;
  if (!same) {
    text.assign(1, ' ');
    text.append(message);
    matched = rulebase->normalize(text, found);
    last = rulebase;
  }
  if (!matched) {
    f.normalized = 2;
    return;
  }
  f.normalized = 1;
  std::array<uint8_t, 16> bytes;
  for (const auto& [name, value] : found) {
    int64_t port = 0;
    if (name == "src-ip" && address_bytes(value, bytes)) f.src.assign(value);
    else if (name == "dst-ip" && address_bytes(value, bytes)) f.dst.assign(value);
    else if (name == "src-port" && number(value, port) && port <= 65535) f.src_port = static_cast<int>(port);
    else if (name == "dst-port" && number(value, port) && port <= 65535) f.dst_port = static_cast<int>(port);
    else if (name == "username") f.username.assign(value);
  }
}

}  // namespace

bool SaganList::contains_address(std::string_view address) const {
  std::array<uint8_t, 16> a;
  if (!address_bytes(address, a)) return false;
  for (const auto& [prefix, set] : networks)
    if (set.count(masked(a, prefix))) return true;
  return false;
}

bool has_sagan_state(const Rule& rule) {
  for (const auto& [k, v] : rule.stateful_options)
    if (k == "threshold" || k == "after" || k == "xbits" || k == "flexbits" || k == "alert_time" ||
        k == "blacklist" || k == "zeek-intel" || k == "source" || k == "destination" || k == "source_port" ||
        k == "destination_port" || k == "protocol")
      return true;
  return false;
}

bool compile_sagan_rule(const Rule& rule, uint32_t index,
                        std::map<std::string, std::shared_ptr<const SaganList>>& lists, SaganRule& out,
                        std::vector<Diagnostic>& diags) {
  if (!has_sagan_state(rule)) return false;
  out.rule = index;
  for (size_t i = 0; i < rule.state_fields.size(); ++i) {
    if (rule.state_fields[i] == "host") out.host_slot = static_cast<int>(i);
    if (rule.state_fields[i] == "message") out.message_slot = static_cast<int>(i);
  }
  std::string blacklist_files, intel_files;
  for (const auto& [k, v] : rule.stateful_options) {
    if (k == "blacklist_files") blacklist_files = v;
    if (k == "zeek_intel_files") intel_files = v;
  }
  for (const auto& [k, v] : rule.stateful_options) {
    int64_t n = 0;
    if (k == "threshold") {
      out.threshold = counting(k, v);
    } else if (k == "after") {
      out.after = counting(k, v);
    } else if (k == "xbits" || k == "flexbits") {
      bits(k, v, out);
    } else if (k == "alert_time") {
      alert_time(v, out);
    } else if (k == "parse_src_ip" && number(v, n)) {
      out.parse_src = static_cast<int>(n);
    } else if (k == "parse_dst_ip" && number(v, n)) {
      out.parse_dst = static_cast<int>(n);
    } else if (k == "default_src_port" && number(v, n)) {
      out.default_src_port = static_cast<int>(n);
    } else if (k == "default_dst_port" && number(v, n)) {
      out.default_dst_port = static_cast<int>(n);
    } else if (k == "default_host") {
      out.default_host = v;
    } else if (k == "normalize_rulebase") {
      std::string problem;
      out.rulebase = compiled_rulebase(v, problem);
      if (!problem.empty())
        diags.push_back({rule.file, rule.line, "warning-sagan-normalize",
                         problem + ": `normalize` extracts nothing for this rule"});
    } else if (k == "source" || k == "destination") {
      address_check(v, k == "source" ? out.source : out.destination);
    } else if (k == "source_port" || k == "destination_port") {
      port_check(v, k == "source_port" ? out.source_port : out.destination_port);
    } else if (k == "protocol") {
      out.protocol = v;
    } else if (k == "default_proto") {
      out.event_protocol = v;
    } else if (k == "sagan_default_proto") {
      if (out.event_protocol.empty()) out.event_protocol = v;
    } else if (k == "sagan_default_port" && number(v, n)) {
      out.default_port = static_cast<int>(n);
    } else if (k == "blacklist" || k == "zeek-intel") {
      SaganLookup l;
      l.blacklist = k == "blacklist";
      for (const auto& item : split(v, ',')) {
        if (item == "by_src" || item == "src_ipaddr") l.src = true;
        else if (item == "by_dst" || item == "dst_ipaddr") l.dst = true;
        else if (item == "both" || item == "both_ipaddr") l.src = l.dst = true;
        else if (item == "all" || item == "all_ipaddr") l.all = true;
        else {
          std::string kind;
          for (char c : item) kind.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
          l.searches.push_back(kind);  // file_hash -> FILE_HASH ...
        }
      }
      for (const auto& file : split(l.blacklist ? blacklist_files : intel_files, ',')) {
        if (file.empty()) continue;
        std::string key = std::string(l.blacklist ? "b:" : "i:") + file;
        auto it = lists.find(key);
        if (it == lists.end()) {
          std::string problem;
          auto list = read_list(file, l.blacklist, problem);
          if (!problem.empty())
            diags.push_back({file, 0, "warning-sagan-lookup-list",
                             problem + (list ? "" : "; rules looking addresses up in it cannot fire")});
          it = lists.emplace(key, list).first;
        }
        if (it->second) l.lists.push_back(it->second);
      }
      out.lookups.push_back(std::move(l));
    }
  }
  return true;
}

void sagan_facts(const SaganRule& r, const std::vector<std::optional<std::string>>& values, int64_t time_ms,
                 SaganFacts& f) {
  auto value = [&](int slot) -> const std::optional<std::string>* {
    return slot >= 0 && static_cast<size_t>(slot) < values.size() ? &values[slot] : nullptr;
  };
  const std::optional<std::string>* host = value(r.host_slot);
  const std::optional<std::string>* msg = value(r.message_slot);
  std::string_view message = msg && msg->has_value() ? std::string_view(**msg) : std::string_view();
  std::array<uint8_t, 16> bytes;
  std::string_view sender =
      host && host->has_value() && address_bytes(**host, bytes) ? std::string_view(**host) : r.default_host;
  // Assigned field by field (not a fresh SaganFacts): a reused hit keeps its strings' memory.
  f.src.assign(sender);
  f.dst.assign(r.default_host);
  f.username.clear();
  f.src_port = r.default_src_port;
  f.dst_port = r.default_dst_port;
  f.message_digest = 0;
  f.unmet = 0;
  f.normalized = 0;
  const size_t want = static_cast<size_t>(std::max(r.parse_src, r.parse_dst));
  if (want > 0) {
    std::vector<FoundAddress>& found = found_addresses();
    addresses(message, want, found);
    auto take = [&](int pos, std::string& addr, int& port) {
      if (pos <= 0 || static_cast<size_t>(pos) > found.size()) return;
      const FoundAddress& a = found[pos - 1];
      addr.assign(loopback(a.address) ? sender : a.address);
      if (a.port >= 0) port = a.port;
    };
    take(r.parse_src, f.src, f.src_port);
    take(r.parse_dst, f.dst, f.dst_port);
  }
  if (r.rulebase) normalize(r.rulebase, message, f);
  if (!address_passes(r.source, f.src) || !address_passes(r.destination, f.dst) ||
      !port_passes(r.source_port, f.src_port >= 0 ? f.src_port : r.default_port) ||
      !port_passes(r.destination_port, f.dst_port >= 0 ? f.dst_port : r.default_port) ||
      (!r.protocol.empty() && r.protocol != r.event_protocol)) {
    f.unmet = 3;
    return;
  }
  if (r.threshold.string || r.after.string) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : message) h = (h ^ c) * 1099511628211ull;
    f.message_digest = h;
  }
  if (r.alert_time && !in_alert_time(r, time_ms)) {
    f.unmet = 1;
    return;
  }
  for (const auto& l : r.lookups)
    if (!lookup_hit(l, f, message)) {
      f.unmet = 2;
      return;
    }
}

}  // namespace socd
