#include "socd/intel.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "config_yaml.h"
#include "ip_ranges.h"
#include "socd/json.h"
#include "socd/read_file.h"

namespace socd {

using detail::config_error;
using detail::yaml_line;

namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr size_t kMaxIndicator = 4096;       // longer entries are malformed
constexpr size_t kDiagnosticsPerFile = 100;  // malformed entries reported per file; all are counted

uint64_t hash_bytes(std::string_view s) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (s.size() * 0xff51afd7ed558ccdull);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  return h * 0xff51afd7ed558ccdull ^ (h >> 32);
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool hash_length(size_t n) { return n == 32 || n == 40 || n == 64; }

bool domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

const char* indicator_type_name(IndicatorType type) {
  switch (type) {
    case IndicatorType::Ip:
      return "ip";
    case IndicatorType::Domain:
      return "domain";
    case IndicatorType::Hash:
      return "hash";
    case IndicatorType::Url:
      return "url";
  }
  return "?";
}

IntelFields IntelFields::defaults() {
  // From config/mappings.yml and the parsers: where each log shape keeps addresses, names, hashes and URLs.
  IntelFields f;
  f.by_type[int(IndicatorType::Ip)] = {
      "SourceIp",      "DestinationIp",  // Sysmon 3 (ECS source.ip / destination.ip through the mappings)
      "IpAddress",                     // Security logons, Kerberos, NTLM (4624, 4625, 4648, 4768, 4769, 4776)
      "SourceAddress", "DestAddress",  // Windows Filtering Platform (5156, 5157)
      "c-ip",                          // web access logs (the client)
      "id.orig_h",     "id.resp_h"};   // Zeek
  f.by_type[int(IndicatorType::Domain)] = {"QueryName",            // Sysmon 22 (ECS dns.question.name)
                                           "DestinationHostname",  // Sysmon 3 (ECS destination.domain)
                                           "query"};               // Zeek dns
  f.by_type[int(IndicatorType::Hash)] = {
      "Hashes",                  // Sysmon 1, 6, 7, 23, 26, 29: "SHA1=..,MD5=..,SHA256=..,IMPHASH=.."
      "Hash",                    // Sysmon 15
      "md5", "sha1", "sha256"};  // Zeek files
  f.by_type[int(IndicatorType::Url)] = {"c-uri",        // proxy logs (the full URL)
                                        "cs-referer"};  // web access logs
  return f;
}

// ---- the indicator store
// -------------------------------------------------------------------------------------

struct IntelSet::Impl {
  struct Indicator {
    uint32_t list;
    uint32_t key_off, text_off;
    uint16_t key_len, text_len;
    uint32_t next = kNone;  // the same key in another list
  };

  // Open addressing: key -> first indicator of that key; keys live in `arena`.
  class KeyTable {
  public:
    bool empty() const { return count_ == 0; }
    uint32_t find(const Impl& impl, std::string_view key, uint64_t h) const {
      if (count_ == 0) return kNone;
      const size_t mask = slots_.size() - 1;
      const auto tag = static_cast<uint32_t>(h >> 32);
      for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.index == kNone) return kNone;
        if (s.tag == tag && impl.key(s.index) == key) return s.index;
      }
    }
    void insert(const Impl& impl, uint64_t h, uint32_t index) {
      if ((count_ + 1) * 2 > slots_.size()) grow(impl);
      place(h, index);
      ++count_;
    }
    void reserve(const Impl& impl, size_t n) {
      while (slots_.size() < n * 2) grow(impl);
    }
    size_t memory() const { return slots_.capacity() * sizeof(Slot); }

  private:
    struct Slot {
      uint32_t tag = 0;
      uint32_t index = kNone;
    };
    void place(uint64_t h, uint32_t index) {
      const size_t mask = slots_.size() - 1;
      size_t i = h & mask;
      while (slots_[i].index != kNone) i = (i + 1) & mask;
      slots_[i] = {static_cast<uint32_t>(h >> 32), index};
    }
    void grow(const Impl& impl) {
      std::vector<Slot> old = std::move(slots_);
      slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
      for (const Slot& s : old)
        if (s.index != kNone) place(hash_bytes(impl.key(s.index)), s.index);
    }
    std::vector<Slot> slots_;
    size_t count_ = 0;
  };

  std::vector<IntelList> lists;
  IntelFields fields;
  std::vector<Indicator> indicators;
  std::string arena;
  KeyTable tables[kIndicatorTypes];   // ip: 16-byte addresses; the others: normalised text
  KeyTable networks;                  // networks: 16-byte first address + prefix length
  detail::RangeMap<uint32_t> ranges;  // networks -> first indicator of the most specific one
  int domain_min_labels = 127, domain_max_labels = 0;
  uint64_t total = 0, malformed = 0;
  double seconds = 0;

  std::string_view key(uint32_t i) const {
    return {arena.data() + indicators[i].key_off, indicators[i].key_len};
  }
  std::string_view text(uint32_t i) const {
    return {arena.data() + indicators[i].text_off, indicators[i].text_len};
  }

  // Adds an indicator of list `list` under `key` in `table`; false when the list has it already.
  bool add(KeyTable& table, uint32_t list, std::string_view key, std::string_view text,
           uint32_t* added = nullptr) {
    const uint64_t h = hash_bytes(key);
    uint32_t first = table.find(*this, key, h);
    uint32_t last = kNone;
    for (uint32_t i = first; i != kNone; i = indicators[i].next) {
      if (indicators[i].list == list) return false;
      last = i;
    }
    Indicator ind;
    ind.list = list;
    ind.key_off = static_cast<uint32_t>(arena.size());
    ind.key_len = static_cast<uint16_t>(key.size());
    arena.append(key);
    if (text == key) {
      ind.text_off = ind.key_off;
    } else {
      ind.text_off = static_cast<uint32_t>(arena.size());
      arena.append(text);
    }
    ind.text_len = static_cast<uint16_t>(text.size());
    const auto index = static_cast<uint32_t>(indicators.size());
    indicators.push_back(ind);
    if (last != kNone)
      indicators[last].next = index;
    else
      table.insert(*this, h, index);
    if (added) *added = first == kNone ? index : kNone;
    return true;
  }
};

IntelSet::IntelSet() : impl_(std::make_unique<Impl>()) {}
IntelSet::~IntelSet() = default;
const std::vector<IntelList>& IntelSet::lists() const { return impl_->lists; }
const IntelFields& IntelSet::fields() const { return impl_->fields; }
uint64_t IntelSet::size() const { return impl_->total; }
uint64_t IntelSet::malformed() const { return impl_->malformed; }
double IntelSet::load_seconds() const { return impl_->seconds; }
std::string_view IntelSet::indicator(uint32_t index) const { return impl_->text(index); }
uint32_t IntelSet::indicator_list(uint32_t index) const { return impl_->indicators[index].list; }

std::vector<std::string> IntelSet::field_names() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (int t = 0; t < kIndicatorTypes; ++t) {
    bool used = !impl_->tables[t].empty() || (t == int(IndicatorType::Ip) && !impl_->ranges.empty());
    // URL fields also carry hosts, checked against the domains and addresses.
    if (t == int(IndicatorType::Url))
      used = used || !impl_->tables[int(IndicatorType::Domain)].empty() ||
             !impl_->tables[int(IndicatorType::Ip)].empty() || !impl_->ranges.empty();
    if (!used) continue;
    for (const auto& f : impl_->fields.by_type[t])
      if (seen.insert(f).second) out.push_back(f);
  }
  return out;
}

// ---- reading entries
// -------------------------------------------------------------------------------------------

namespace {

struct ListSpec {
  IntelList list;
  std::optional<IndicatorType> type;  // every entry of this type
  bool csv = false;
  std::string column, type_column;  // CSV: names or 1-based numbers; empty: found from the header
  int line = 0;                     // in the configuration (0: given on the command line)
  std::string config;
};

bool type_from_name(std::string_view name, IndicatorType& out) {
  const std::string n = detail::lower_ascii(trim(name));
  static const std::pair<const char*, IndicatorType> kNames[] = {{"ip", IndicatorType::Ip},
                                                                 {"ipv4", IndicatorType::Ip},
                                                                 {"ipv6", IndicatorType::Ip},
                                                                 {"ip-src", IndicatorType::Ip},
                                                                 {"ip-dst", IndicatorType::Ip},
                                                                 {"ip_address", IndicatorType::Ip},
                                                                 {"ipaddress", IndicatorType::Ip},
                                                                 {"ipv4-addr", IndicatorType::Ip},
                                                                 {"ipv6-addr", IndicatorType::Ip},
                                                                 {"cidr", IndicatorType::Ip},
                                                                 {"network", IndicatorType::Ip},
                                                                 {"domain", IndicatorType::Domain},
                                                                 {"hostname", IndicatorType::Domain},
                                                                 {"fqdn", IndicatorType::Domain},
                                                                 {"domain-name", IndicatorType::Domain},
                                                                 {"host", IndicatorType::Domain},
                                                                 {"hash", IndicatorType::Hash},
                                                                 {"md5", IndicatorType::Hash},
                                                                 {"sha1", IndicatorType::Hash},
                                                                 {"sha256", IndicatorType::Hash},
                                                                 {"sha-1", IndicatorType::Hash},
                                                                 {"sha-256", IndicatorType::Hash},
                                                                 {"filehash", IndicatorType::Hash},
                                                                 {"file-hash", IndicatorType::Hash},
                                                                 {"filehash-md5", IndicatorType::Hash},
                                                                 {"filehash-sha1", IndicatorType::Hash},
                                                                 {"filehash-sha256", IndicatorType::Hash},
                                                                 {"url", IndicatorType::Url},
                                                                 {"uri", IndicatorType::Url},
                                                                 {"link", IndicatorType::Url}};
  for (const auto& [text, type] : kNames)
    if (n == text) {
      out = type;
      return true;
    }
  return false;
}

// Undoes the usual defanging: hxxp:// and hxxps://, [.] (.) {.}, [:], [://].
std::string_view refang(std::string_view s, std::string& buf) {
  bool bracket = s.find_first_of("[({") != std::string_view::npos;
  bool hxxp = s.size() > 4 && (s[0] == 'h' || s[0] == 'H') && (s[1] == 'x' || s[1] == 'X') &&
              (s[2] == 'x' || s[2] == 'X');
  if (!bracket && !hxxp) return s;
  buf.clear();
  size_t i = 0;
  if (hxxp) {
    buf += "http";
    i = 4;
  }
  for (; i < s.size(); ++i) {
    if (bracket && i + 2 < s.size() && (s[i] == '[' || s[i] == '(' || s[i] == '{') &&
        (s[i + 1] == '.' || s[i + 1] == ':') && (s[i + 2] == ']' || s[i + 2] == ')' || s[i + 2] == '}')) {
      buf += s[i + 1];
      i += 2;
    } else if (bracket && s.compare(i, 5, "[://]") == 0) {
      buf += "://";
      i += 4;
    } else {
      buf += s[i];
    }
  }
  return buf;
}

// A domain name: lower-cased letters, digits, '-', '_' in dot-separated labels, at least two labels, not all
// digits (that is a broken address).
bool valid_domain(std::string_view d, std::string* why) {
  if (d.empty() || d.size() > 253) {
    if (why) *why = "not a domain name";
    return false;
  }
  bool letter = false;
  size_t labels = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    char c = d[i];
    if (!domain_char(c)) {
      if (why) *why = "not an IP address, network, domain, hash or URL";
      return false;
    }
    if (c == '.') {
      if (i == 0 || d[i - 1] == '.' || i + 1 == d.size()) {
        if (why) *why = "a domain name with an empty label";
        return false;
      }
      ++labels;
    } else if (!(c >= '0' && c <= '9')) {
      letter = true;
    }
  }
  if (!letter) {
    if (why) *why = "looks like an IP address but is not one";
    return false;
  }
  if (labels < 2) {
    if (why) *why = "a domain needs at least two labels (example.com)";
    return false;
  }
  return true;
}

// "scheme://[user@]host[:port]/path?query#fragment" (the scheme optional) -> the key
// "host[:port]/path?query", host lower-cased, the fragment and a lone "/" path dropped; `host` receives the
// host alone (no port, no brackets). False when there is no host.
bool url_key(std::string_view url, std::string& key, std::string_view* host_out = nullptr) {
  size_t scheme = url.find("://");
  if (scheme != std::string_view::npos) {
    for (size_t i = 0; i < scheme; ++i) {
      char c = url[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
            c == '-' || c == '.'))
        return false;
    }
    if (scheme == 0) return false;
    url.remove_prefix(scheme + 3);
  }
  if (size_t hash = url.find('#'); hash != std::string_view::npos) url = url.substr(0, hash);
  size_t end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty()) return false;
  key.clear();
  for (char c : authority) key += lower(c);
  if (rest == "/") rest = {};
  key.append(rest);
  if (host_out) {
    std::string_view host(key.data(), authority.size());
    if (!host.empty() && host.front() == '[') {
      size_t close = host.find(']');
      host = close == std::string_view::npos ? std::string_view() : host.substr(1, close - 1);
    } else if (size_t colon = host.find(':');
               colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
      host = host.substr(0, colon);
    }
    *host_out = host;
  }
  return true;
}

class Loader {
public:
  Loader(IntelSet::Impl& impl, std::vector<Diagnostic>& diags) : impl_(impl), diags_(diags) {}

  Status load_list(const ListSpec& spec, uint32_t list_index) {
    std::string text;
    if (Status s = read_file(spec.list.file, text); !s.ok()) {
      if (spec.line > 0) return config_error(spec.config, spec.line, s.message());
      return s;
    }
    list_ = list_index;
    file_ = &spec.list.file;
    shown_ = 0;
    IntelList& list = impl_.lists[list_index];
    size_t line_no = 0;
    int column = 0, type_column = -1;
    bool header_done = !spec.csv;
    std::vector<std::string_view> cells;
    std::string cell_buf;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      std::string_view line = trim(std::string_view(text).substr(pos, nl - pos));
      pos = nl + 1;
      ++line_no;
      if (line.empty() || line.front() == '#') continue;
      if (!header_done) {
        if (!split_csv(line, cells, cell_buf))
          return Status::error(spec.list.file + ":" + std::to_string(line_no) +
                               ": the CSV header has an unclosed "
                               "quote");
        if (Status s = pick_columns(spec, cells, line_no, column, type_column); !s.ok()) return s;
        header_done = true;
        continue;
      }
      std::optional<IndicatorType> type = spec.type;
      std::string_view entry = line;
      if (spec.csv) {
        if (!split_csv(line, cells, cell_buf)) {
          bad(list, line_no, line, "an unclosed quote");
          continue;
        }
        if (static_cast<size_t>(column) >= cells.size()) {
          bad(list, line_no, line, "no column " + std::to_string(column + 1));
          continue;
        }
        entry = trim(cells[column]);
        if (type_column >= 0 && static_cast<size_t>(type_column) < cells.size() &&
            !trim(cells[type_column]).empty()) {
          IndicatorType t;
          if (!type_from_name(cells[type_column], t)) {
            bad(list, line_no, line,
                "unknown type '" + std::string(trim(cells[type_column])) + "' (use ip, domain, hash or url)");
            continue;
          }
          type = t;
        }
        if (entry.empty()) {
          bad(list, line_no, line, "an empty indicator");
          continue;
        }
      } else {
        if (size_t comment = entry.find(" #"); comment != std::string_view::npos)
          entry = trim(entry.substr(0, comment));
        if (size_t comment = entry.find("\t#"); comment != std::string_view::npos)
          entry = trim(entry.substr(0, comment));
        if (entry.find_first_of(" \t") != std::string_view::npos) {
          bad(list, line_no, line, "one indicator per line (use a CSV file for more columns)");
          continue;
        }
      }
      add_entry(list, line_no, entry, type);
    }
    return Status();
  }

private:
  static Status read_file(const std::string& path, std::string& out) {
    if (!socd::read_file(path, out))
      return Status::error("cannot read the intelligence list '" + path + "': " + std::strerror(errno));
    return Status();
  }

  // RFC 4180 fields of one line ("" inside quotes is a quote); false on an unclosed quote.
  static bool split_csv(std::string_view line, std::vector<std::string_view>& cells, std::string& buf) {
    cells.clear();
    buf.clear();
    buf.reserve(line.size());  // views into buf stay valid: it never grows past this
    size_t i = 0;
    while (true) {
      size_t start = buf.size();
      if (i < line.size() && line[i] == '"') {
        ++i;
        bool closed = false;
        while (i < line.size()) {
          if (line[i] == '"') {
            if (i + 1 < line.size() && line[i + 1] == '"') {
              buf += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          buf += line[i++];
        }
        if (!closed) return false;
        while (i < line.size() && line[i] != ',') buf += line[i++];
      } else {
        while (i < line.size() && line[i] != ',') buf += line[i++];
      }
      cells.emplace_back(buf.data() + start, buf.size() - start);
      if (i >= line.size()) break;
      ++i;  // the comma
    }
    return true;
  }

  Status pick_columns(const ListSpec& spec, const std::vector<std::string_view>& header, size_t line_no,
                      int& column, int& type_column) {
    auto find = [&](std::string_view want) -> int {
      for (size_t i = 0; i < header.size(); ++i)
        if (detail::lower_ascii(trim(header[i])) == detail::lower_ascii(want)) return static_cast<int>(i);
      return -1;
    };
    auto resolve = [&](const std::string& name, int& out) -> Status {
      int number = 0;
      bool digits = !name.empty() && name.find_first_not_of("0123456789") == std::string::npos;
      if (digits) number = std::atoi(name.c_str());
      out = digits ? number - 1 : find(name);
      if (out < 0 || static_cast<size_t>(out) >= header.size())
        return Status::error(spec.list.file + ":" + std::to_string(line_no) +
                             ": the CSV header has no column '" + name +
                             "' (named by the list's configuration" +
                             (spec.line ? " at " + spec.config + ":" + std::to_string(spec.line) : "") + ")");
      return Status();
    };
    if (!spec.column.empty()) {
      if (Status s = resolve(spec.column, column); !s.ok()) return s;
    } else {
      column = 0;
      for (const char* name :
           {"indicator", "ioc", "value", "ip", "domain", "url", "hash", "sha256", "sha1", "md5"})
        if (int c = find(name); c >= 0) {
          column = c;
          break;
        }
    }
    if (!spec.type_column.empty()) {
      if (Status s = resolve(spec.type_column, type_column); !s.ok()) return s;
    } else if (!spec.type) {
      type_column = find("type");
    }
    return Status();
  }

  void bad(IntelList& list, size_t line_no, std::string_view line, const std::string& why) {
    ++list.malformed;
    ++impl_.malformed;
    if (shown_ < kDiagnosticsPerFile) {
      std::string shown(line.substr(0, 120));
      diags_.push_back({*file_, static_cast<int>(line_no), "bad-indicator",
                        "'" + shown + "': " + why + "; the entry is set aside"});
    } else if (shown_ == kDiagnosticsPerFile) {
      diags_.push_back({*file_, static_cast<int>(line_no), "bad-indicator",
                        "more malformed entries in this file are counted but not shown"});
    }
    ++shown_;
  }

  void add_entry(IntelList& list, size_t line_no, std::string_view raw, std::optional<IndicatorType> type) {
    if (raw.size() > kMaxIndicator) {
      bad(list, line_no, raw, "longer than " + std::to_string(kMaxIndicator) + " bytes");
      return;
    }
    std::string_view e = refang(raw, refanged_);
    std::string why;
    const char* of_type = type ? indicator_type_name(*type) : nullptr;
    auto wrong = [&](const char* what) {
      bad(list, line_no, raw,
          std::string(what) + (of_type ? std::string(" (the list is of type ") + of_type + ")" : ""));
    };
    // URL: a scheme, or (when guessing) a host followed by a path.
    const bool has_scheme = e.find("://") != std::string_view::npos;
    if (has_scheme || type == IndicatorType::Url) {
      if (type && type != IndicatorType::Url) return wrong("a URL where another type was expected");
      std::string_view host;
      if (!url_key(e, key_, &host) || host.empty()) return wrong("not a URL (no host)");
      detail::Address a;
      if (!detail::parse_address(host, a) && !valid_domain(host, nullptr))
        return wrong("not a URL (bad host)");
      if (key_.size() > kMaxIndicator) return wrong("a URL longer than the limit");
      text_.assign(e);
      count(list, IndicatorType::Url, impl_.add(impl_.tables[int(IndicatorType::Url)], list_, key_, key_));
      return;
    }
    // Address or network.
    detail::Address first, last;
    int prefix = 0;
    const bool address_like = !e.empty() && (is_hex(e.front()) || e.front() == ':') &&
                              e.find_first_not_of("0123456789abcdefABCDEF:./%[]") == std::string_view::npos &&
                              (e.find(':') != std::string_view::npos ||
                               e.find_first_not_of("0123456789./") == std::string_view::npos);
    if (type == IndicatorType::Ip ||
        (!type && address_like &&
         !(hash_length(e.size()) &&
           e.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos))) {
      if (!detail::parse_network(e, first, last, prefix, &why)) return wrong(why.c_str());
      lower_into(e, text_);
      if (prefix == 128) {
        char bytes[16];
        first.bytes(bytes);
        count(list, IndicatorType::Ip,
              impl_.add(impl_.tables[int(IndicatorType::Ip)], list_, std::string_view(bytes, 16), text_));
      } else {
        char bytes[17];
        first.bytes(bytes);
        bytes[16] = static_cast<char>(prefix);
        uint32_t head = kNone;
        bool fresh = impl_.add(impl_.networks, list_, std::string_view(bytes, 17), text_, &head);
        if (head != kNone) impl_.ranges.add(first, last, head);
        count(list, IndicatorType::Ip, fresh);
      }
      return;
    }
    // Hash.
    if (hash_length(e.size()) && e.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
      if (type && type != IndicatorType::Hash) return wrong("a hash where another type was expected");
      lower_into(e, text_);
      count(list, IndicatorType::Hash,
            impl_.add(impl_.tables[int(IndicatorType::Hash)], list_, text_, text_));
      return;
    }
    if (type == IndicatorType::Hash)
      return wrong("not an MD5, SHA-1 or SHA-256 hash (32, 40 or 64 hex digits)");
    // Domain ("*.example.com" and ".example.com" mean the same: domains always take their subdomains).
    lower_into(e, text_);
    std::string_view d = text_;
    if (d.size() > 2 && d[0] == '*' && d[1] == '.')
      d.remove_prefix(2);
    else if (!d.empty() && d[0] == '.')
      d.remove_prefix(1);
    if (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (valid_domain(d, &why)) {
      size_t labels = 1 + static_cast<size_t>(std::count(d.begin(), d.end(), '.'));
      impl_.domain_min_labels = std::min<int>(impl_.domain_min_labels, static_cast<int>(labels));
      impl_.domain_max_labels = std::max<int>(impl_.domain_max_labels, static_cast<int>(labels));
      count(list, IndicatorType::Domain, impl_.add(impl_.tables[int(IndicatorType::Domain)], list_, d, d));
      return;
    }
    // A host and a path without a scheme: a URL.
    if (!type && e.find('/') != std::string_view::npos) {
      std::string_view host;
      if (url_key(e, key_, &host) && valid_domain(host, nullptr)) {
        count(list, IndicatorType::Url, impl_.add(impl_.tables[int(IndicatorType::Url)], list_, key_, key_));
        return;
      }
    }
    wrong(why.c_str());
  }

  void count(IntelList& list, IndicatorType type, bool fresh) {
    if (fresh) {
      ++list.indicators[int(type)];
      ++impl_.total;
    } else {
      ++list.duplicates;
    }
  }

  static void lower_into(std::string_view s, std::string& out) {
    out.resize(s.size());
    for (size_t i = 0; i < s.size(); ++i) out[i] = lower(s[i]);
  }

  IntelSet::Impl& impl_;
  std::vector<Diagnostic>& diags_;
  uint32_t list_ = 0;
  const std::string* file_ = nullptr;
  size_t shown_ = 0;
  std::string refanged_, key_, text_;
};

bool valid_list_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_' || c == '.'))
      return false;
  return true;
}

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && detail::lower_ascii(s.substr(s.size() - n)) == suffix;
}

// A configuration file: its lists (appended to `specs`) and its fields (merged into `fields`).
Status read_config(const std::string& path, std::vector<ListSpec>& specs,
                   std::optional<std::vector<std::string>> (&fields)[kIndicatorTypes]) {
  YAML::Node root;
  if (Status s = detail::load_yaml_file(path, nullptr, root); !s.ok()) return s;
  if (!root.IsMap() || !root["lists"])
    return config_error(
        path, root.IsDefined() ? yaml_line(root) : 1,
        "an intelligence configuration is a map with a 'lists' list (see config/intel/lists.yml)");
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (key == "lists") {
      if (!kv.second.IsSequence()) return config_error(path, yaml_line(kv.second), "'lists' must be a list");
      for (const auto& node : kv.second) {
        ListSpec spec;
        spec.config = path;
        spec.line = yaml_line(node);
        if (!node.IsMap())
          return config_error(path, spec.line, "each list must be a map (name, file, level ...)");
        std::string format;
        for (const auto& item : node) {
          const std::string k = item.first.Scalar();
          const YAML::Node& v = item.second;
          const int line = yaml_line(item.first);
          if (k == "tags") {
            if (!detail::yaml_strings(v, spec.list.tags))
              return config_error(path, line, "'tags' must be a list of tags");
            continue;
          }
          if (!v.IsScalar() || v.Scalar().empty())
            return config_error(path, line, "'" + k + "' must be a non-empty value");
          const std::string value = v.Scalar();
          if (k == "name")
            spec.list.name = value;
          else if (k == "file") {
            std::filesystem::path p(value);
            spec.list.file = p.is_absolute() || dir.empty() ? value : (dir / p).string();
          } else if (k == "level") {
            if (detail::alert_level_rank(value) < 0)
              return config_error(path, line, "'level' must be informational, low, medium, high or critical");
            spec.list.level = value;
          } else if (k == "title")
            spec.list.title = value;
          else if (k == "type") {
            IndicatorType t;
            if (!type_from_name(value, t))
              return config_error(path, line, "'type' must be ip, domain, hash or url");
            spec.type = t;
          } else if (k == "format") {
            if (value != "plain" && value != "csv")
              return config_error(path, line, "'format' must be plain or csv");
            format = value;
          } else if (k == "column")
            spec.column = value;
          else if (k == "type_column")
            spec.type_column = value;
          else
            return config_error(path, line,
                                "unknown key '" + k +
                                    "' (a list has name, file, level, title, tags, "
                                    "type, format, column, type_column)");
        }
        if (spec.list.file.empty()) return config_error(path, spec.line, "the list has no 'file'");
        if (spec.list.name.empty()) spec.list.name = stem(spec.list.file);
        spec.csv = format.empty() ? ends_with(spec.list.file, ".csv") : format == "csv";
        if (!spec.csv && (!spec.column.empty() || !spec.type_column.empty()))
          return config_error(path, spec.line, "'column' and 'type_column' are for CSV lists (format: csv)");
        specs.push_back(std::move(spec));
      }
    } else if (key == "fields") {
      if (!kv.second.IsMap())
        return config_error(path, yaml_line(kv.second),
                            "'fields' must map ip, domain, hash, url to field names");
      for (const auto& f : kv.second) {
        IndicatorType t;
        const std::string name = f.first.Scalar();
        if (name != "ip" && name != "domain" && name != "hash" && name != "url")
          return config_error(path, yaml_line(f.first),
                              "unknown type '" + name + "' (use ip, domain, hash, url)");
        type_from_name(name, t);
        auto& out = fields[int(t)];
        if (!out) out.emplace();
        if (!detail::yaml_strings(f.second, *out))
          return config_error(path, yaml_line(f.first), "'" + name + "' must be a list of field names");
      }
    } else {
      return config_error(path, yaml_line(kv.first), "unknown key '" + key + "' (use lists, fields)");
    }
  }
  return Status();
}

void render_rule(IntelList& l) {
  l.rule_id = "intel:" + l.name;
  if (l.title.empty()) l.title = "Indicator of compromise from the threat-intelligence list " + l.name;
  l.rule_json = "{\"rule\":{\"id\":";
  append_json_string(l.rule_json, l.rule_id);
  l.rule_json += ",\"title\":";
  append_json_string(l.rule_json, l.title);
  l.rule_json += ",\"level\":";
  append_json_string(l.rule_json, l.level);
  l.rule_json += ",\"tags\":[";
  for (size_t i = 0; i < l.tags.size(); ++i) {
    if (i) l.rule_json += ',';
    append_json_string(l.rule_json, l.tags[i]);
  }
  l.rule_json += "]}";
}

}  // namespace

Expected<std::shared_ptr<const IntelSet>> IntelSet::load(const std::vector<std::string>& paths,
                                                         std::vector<Diagnostic>& diagnostics) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<ListSpec> specs;
  std::optional<std::vector<std::string>> fields[kIndicatorTypes];
  for (const auto& path : paths) {
    if (ends_with(path, ".yml") || ends_with(path, ".yaml")) {
      if (Status s = read_config(path, specs, fields); !s.ok()) return s;
    } else {
      ListSpec spec;
      spec.list.file = path;
      spec.list.name = stem(path);
      spec.csv = ends_with(path, ".csv");
      specs.push_back(std::move(spec));
    }
  }
  std::shared_ptr<IntelSet> set(new IntelSet());
  Impl& impl = *set->impl_;
  IntelFields defaults = IntelFields::defaults();
  for (int t = 0; t < kIndicatorTypes; ++t)
    impl.fields.by_type[t] = fields[t] ? std::move(*fields[t]) : std::move(defaults.by_type[t]);
  std::map<std::string, const ListSpec*> names;
  for (const auto& spec : specs) {
    auto where = [](const ListSpec& s) {
      return s.line ? s.config + ":" + std::to_string(s.line) : "--intel " + s.list.file;
    };
    if (!valid_list_name(spec.list.name))
      return Status::error(where(spec) + ": the list name '" + spec.list.name +
                           "' must be letters, digits, '-', '_' or '.' (set 'name', or rename the file)");
    auto [it, fresh] = names.emplace(spec.list.name, &spec);
    if (!fresh)
      return Status::error(where(spec) + ": a second list named '" + spec.list.name +
                           "' (the first: " + where(*it->second) + "); list names must be unique");
    impl.lists.push_back(spec.list);
    render_rule(impl.lists.back());
  }
  Loader loader(impl, diagnostics);
  for (size_t i = 0; i < specs.size(); ++i)
    if (Status s = loader.load_list(specs[i], static_cast<uint32_t>(i)); !s.ok()) return s;
  impl.ranges.build();
  impl.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return std::shared_ptr<const IntelSet>(std::move(set));
}

// ---- matching
// ----------------------------------------------------------------------------------------------------

IntelMatcher::IntelMatcher(std::shared_ptr<const IntelSet> intel, std::shared_ptr<const RuleSet> rules)
    : intel_(std::move(intel)), rules_(std::move(rules)) {
  const IntelSet::Impl& impl = intel_->impl();
  std::set<std::string> wanted;
  for (const auto& name : intel_->field_names()) wanted.insert(name);
  for (int t = 0; t < kIndicatorTypes; ++t) {
    for (const auto& name : impl.fields.by_type[t]) {
      if (!wanted.count(name)) continue;  // no indicator of a type this field is checked for
      uint32_t id = rules_->paths().find_field(name);
      if (id == PathIndex::npos) {
        unreadable_.push_back(name);
        continue;
      }
      fields_.push_back({id, static_cast<IndicatorType>(t)});
    }
  }
}

namespace {

struct Matching {
  const IntelSet::Impl& impl;
  std::vector<IntelHit>& hits;
  size_t first_hit;  // this event's hits start here
  uint32_t field;
  std::string_view value;
  std::string& buf;

  void hit_chain(uint32_t index, IndicatorType type) {
    for (uint32_t i = index; i != kNone; i = impl.indicators[i].next) {
      const uint32_t list = impl.indicators[i].list;
      bool seen = false;
      for (size_t h = first_hit; h < hits.size() && !seen; ++h)
        seen = hits[h].list == list && hits[h].indicator == i;
      if (!seen) hits.push_back({list, i, type, field, value});
    }
  }

  void address(std::string_view text) {
    detail::Address a;
    if (!detail::parse_address(text, a)) return;
    const auto& exact = impl.tables[int(IndicatorType::Ip)];
    if (!exact.empty()) {
      char bytes[16];
      a.bytes(bytes);
      std::string_view key(bytes, 16);
      if (uint32_t i = exact.find(impl, key, hash_bytes(key)); i != kNone) hit_chain(i, IndicatorType::Ip);
    }
    if (!impl.ranges.empty())
      if (const uint32_t* i = impl.ranges.find(a)) hit_chain(*i, IndicatorType::Ip);
  }

  // `name` lower-cased already.
  void domain(std::string_view name) {
    const auto& table = impl.tables[int(IndicatorType::Domain)];
    if (table.empty() || name.empty()) return;
    if (name.back() == '.') name.remove_suffix(1);
    // Label starts, from the right; look up the suffixes of min..max labels.
    size_t labels = 1;
    for (char c : name) {
      if (!domain_char(c)) return;
      labels += c == '.';
    }
    if (static_cast<int>(labels) < impl.domain_min_labels) return;
    std::string_view suffix = name;
    size_t skip = labels > static_cast<size_t>(impl.domain_max_labels) ? labels - impl.domain_max_labels : 0;
    for (size_t k = 0; k < skip; ++k) suffix.remove_prefix(suffix.find('.') + 1);
    for (size_t n = labels - skip;; --n) {
      if (uint32_t i = table.find(impl, suffix, hash_bytes(suffix)); i != kNone)
        hit_chain(i, IndicatorType::Domain);
      if (static_cast<int>(n) <= impl.domain_min_labels) break;
      suffix.remove_prefix(suffix.find('.') + 1);
    }
  }

  void hash(std::string_view hex) {
    if (!hash_length(hex.size())) return;
    buf.resize(hex.size());
    for (size_t i = 0; i < hex.size(); ++i) {
      if (!is_hex(hex[i])) return;
      buf[i] = lower(hex[i]);
    }
    const auto& table = impl.tables[int(IndicatorType::Hash)];
    if (uint32_t i = table.find(impl, buf, hash_bytes(buf)); i != kNone) hit_chain(i, IndicatorType::Hash);
  }

  void hashes() {
    if (impl.tables[int(IndicatorType::Hash)].empty()) return;
    // "SHA1=..,MD5=..,SHA256=..,IMPHASH=..", or one bare hash.
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view part = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t eq = part.find('=');
      if (eq == std::string_view::npos) {
        hash(part);
        continue;
      }
      std::string_view algorithm = part.substr(0, eq);
      if (algorithm.size() > 6) continue;
      char a[8] = {};
      for (size_t i = 0; i < algorithm.size(); ++i) a[i] = lower(algorithm[i]);
      std::string_view alg(a, algorithm.size());
      if (alg == "md5" || alg == "sha1" || alg == "sha256") hash(part.substr(eq + 1));
    }
  }

  void url() {
    std::string_view host;
    static thread_local std::string key;
    if (!url_key(value, key, &host)) return;
    const auto& table = impl.tables[int(IndicatorType::Url)];
    if (!table.empty()) {
      if (uint32_t i = table.find(impl, key, hash_bytes(key)); i != kNone) {
        hit_chain(i, IndicatorType::Url);
      } else if (size_t q = key.find('?'); q != std::string::npos) {
        std::string_view bare(key.data(), q);
        if (uint32_t j = table.find(impl, bare, hash_bytes(bare)); j != kNone)
          hit_chain(j, IndicatorType::Url);
      }
    }
    // Its host against the domains and addresses.
    if (host.empty()) return;
    detail::Address a;
    if (detail::parse_address(host, a))
      address(host);
    else
      domain(host);
  }
};

}  // namespace

void IntelMatcher::match(const Event& ev, std::vector<IntelHit>& hits) const {
  if (fields_.empty()) return;
  static thread_local std::string buf;
  const IntelSet::Impl& impl = intel_->impl();
  Matching m{impl, hits, hits.size(), 0, {}, buf};
  for (const Field& f : fields_) {
    for (uint32_t l = ev.first(f.id); l != Event::end; l = ev.next(l)) {
      const size_t vi = ev.link_value(l);
      if (ev.type(vi) != ValueType::String) continue;
      std::string_view v = ev.value(vi);
      if (v.size() < 3) continue;  // "-", "" and the like
      m.field = f.id;
      m.value = v;
      switch (f.type) {
        case IndicatorType::Ip:
          m.address(v);
          break;
        case IndicatorType::Domain: {
          if (v.size() > 253) break;
          buf.resize(v.size());
          for (size_t i = 0; i < v.size(); ++i) buf[i] = lower(v[i]);
          m.domain(buf);
          break;
        }
        case IndicatorType::Hash:
          m.hashes();
          break;
        case IndicatorType::Url:
          m.url();
          break;
      }
    }
  }
}

void IntelMatcher::append_json(std::string& out, const IntelHit& hit) const {
  const IntelList& list = intel_->lists()[hit.list];
  out += ",\"intel\":{\"list\":";
  append_json_string(out, list.name);
  out += ",\"type\":";
  append_json_string(out, indicator_type_name(hit.type));
  out += ",\"indicator\":";
  append_json_string(out, intel_->indicator(hit.indicator));
  out += ",\"field\":";
  append_json_string(out, field_name(hit.field));
  out += ",\"value\":";
  append_json_string(out, hit.value);
  out += '}';
}

}  // namespace socd
