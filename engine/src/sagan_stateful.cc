// Validation of the Sagan options kept for the stateful stage (Rule::stateful_options): their syntax as
// Sagan's rule keyword documentation gives it, and the older forms the Sagan 1.2.0 rule set is written in
// ("xbits: set,brute_force,21600", "xbits: isset,by_src,a|b").
#include <set>

#include "sagan_internal.h"

namespace socd::sagan_detail {
namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// "word rest" -> (word, rest)
std::pair<std::string, std::string> first_word(const std::string& item) {
  size_t sp = item.find_first_of(" \t");
  if (sp == std::string::npos) return {item, ""};
  return {item.substr(0, sp), trim(item.substr(sp))};
}

bool is_bit_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

// Names joined by '|' (any of) or '&' (all of).
bool is_bit_names(std::string_view s) {
  size_t start = 0;
  for (;;) {
    size_t p = s.find_first_of("|&", start);
    if (!is_bit_name(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start)))
      return false;
    if (p == std::string_view::npos) return true;
    start = p + 1;
  }
}

// by_src&by_username ...
std::string check_track(const std::string& value, const std::set<std::string>& allowed) {
  for (const auto& t : split(value, '&'))
    if (!allowed.count(t)) return "unknown track '" + t + "'";
  return {};
}

const std::set<std::string> kTrackBy = {"by_src",    "by_dst",     "by_username",
                                        "by_string", "by_srcport", "by_dstport"};

// threshold / after: comma-separated "type X", "track Y", "count N", "seconds N" in any order.
std::string check_counting(const std::string& keyword, const std::string& value, std::string& warning) {
  bool type = false, count = false, seconds = false;
  for (const auto& item : split(value, ',')) {
    auto [word, rest] = first_word(item);
    int n = 0;
    if (word == "type" && keyword == "threshold") {
      if (rest != "limit" && rest != "suppress" && rest != "threshold" && rest != "both")
        return "threshold type '" + rest + "' is not limit or suppress";
      type = true;
    } else if (word == "track") {
      std::string why = check_track(rest, kTrackBy);
      if (!why.empty()) return why + " (by_src, by_dst, by_username, by_string joined by '&')";
    } else if (word == "count") {
      if (!parse_uint(rest, n)) return "count '" + rest + "' is not a number";
      count = true;
    } else if (word == "seconds") {
      if (!parse_uint(rest, n)) return "seconds '" + rest + "' is not a number";
      seconds = true;
    } else if (parse_uint(word, n) && rest == "seconds") {
      warning = "'" + item + "' read as 'seconds " + word + "'";
      seconds = true;
    } else {
      return "unknown item '" + item + "' (expected type, track, count, seconds)";
    }
  }
  if (keyword == "threshold" && !type) return "threshold needs 'type limit' or 'type suppress'";
  if (!count) return keyword + " needs 'count N'";
  if (!seconds) return keyword + " needs 'seconds N'";
  return {};
}

// xbits and flexbits, in the forms of the documentation and of the 1.2.0 rule set:
//   noalert | noeve | nounified2
//   set, NAMES, EXPIRE                               set, NAMES, track ip_src|ip_dst|ip_pair [, expire N]
//   unset|isset|isnotset, DIRECTION, NAMES           unset|isset|isnotset, NAMES, track ip_src|ip_dst|ip_pair
std::string check_bits(const std::string& keyword, const std::string& value) {
  std::vector<std::string> parts = split(value, ',');
  static const std::set<std::string> kFlags = {"noalert", "noeve", "nounified2"};
  static const std::set<std::string> kDirections = {"by_src",  "by_dst", "both",
                                                    "reverse", "none",   "username"};
  static const std::set<std::string> kTracks = {"ip_src", "ip_dst", "ip_pair"};
  const std::string& op = parts[0];
  if (parts.size() == 1) {
    if (kFlags.count(op)) return {};
    return "'" + op + "' is not noalert, noeve or nounified2 (an operation needs a name)";
  }
  int n = 0;
  auto track_part = [&](const std::string& p) {
    auto [word, rest] = first_word(p);
    return word == "track" && kTracks.count(rest);
  };
  if (op == "set" || op == "toggle") {
    if (parts.size() < 3) return op + " needs a name and an expiry in seconds";
    if (!is_bit_names(parts[1])) return "'" + parts[1] + "' is not a " + keyword + " name";
    if (parse_uint(parts[2], n) && parts.size() == 3) return {};
    if (!track_part(parts[2]))
      return "'" + parts[2] + "' is neither an expiry in seconds nor 'track ip_src|ip_dst|ip_pair'";
    if (parts.size() == 3) return {};
    auto [word, rest] = first_word(parts[3]);
    if (parts.size() == 4 && word == "expire" && parse_uint(rest, n)) return {};
    return "'" + parts[3] + "' is not 'expire N'";
  }
  if (op == "unset" || op == "isset" || op == "isnotset") {
    if (parts.size() != 3) return op + " needs a direction and a name (" + op + ",by_src,name)";
    if (kDirections.count(parts[1]) && is_bit_names(parts[2])) return {};
    if (is_bit_names(parts[1]) && track_part(parts[2])) return {};
    return "'" + value + "' is not " + op + ",by_src|by_dst|both|reverse|none,name nor " + op +
           ",name,track ip_src|ip_dst|ip_pair";
  }
  return "unknown " + keyword + " operation '" + op + "' (set, unset, isset, isnotset, noalert, noeve)";
}

// alert_time: "days 0123456, hours 0800-1800" (either part may be left out).
std::string check_alert_time(const std::string& value) {
  bool any = false;
  for (const auto& item : split(value, ',')) {
    auto [word, rest] = first_word(item);
    if (word == "days") {
      if (rest.empty()) return "days needs digits 0 (Sunday) to 6";
      for (char c : rest)
        if (c < '0' || c > '6') return "days '" + rest + "' must be digits 0 (Sunday) to 6";
    } else if (word == "hours") {
      int a = 0, b = 0;
      if (rest.size() != 9 || rest[4] != '-' || !parse_uint(rest.substr(0, 4), a) ||
          !parse_uint(rest.substr(5), b) || a % 100 > 59 || b % 100 > 59 || a > 2359 || b > 2359)
        return "hours '" + rest + "' must be HHMM-HHMM";
    } else {
      return "unknown item '" + item + "' (expected days, hours)";
    }
    any = true;
  }
  return any ? std::string() : "alert_time needs days and/or hours";
}

}  // namespace

bool parse_uint(std::string_view s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

namespace {
std::string resolve_nested(std::string_view text, const SaganVariables& vars,
                           std::vector<std::string>& undefined, int depth);
}

std::string resolve_variables(std::string_view text, const SaganVariables& vars,
                              std::vector<std::string>& undefined) {
  return resolve_nested(text, vars, undefined, 0);
}

namespace {
// A value may name other variables (EXTERNAL_NET: "!$HOME_NET"): they are resolved too, 8 levels at most (a
// variable naming itself stays as written beyond that).
std::string resolve_nested(std::string_view text, const SaganVariables& vars,
                           std::vector<std::string>& undefined, int depth) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '$') {
      out.push_back(text[i++]);
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && ((text[j] >= 'A' && text[j] <= 'Z') || (text[j] >= 'a' && text[j] <= 'z') ||
                               (text[j] >= '0' && text[j] <= '9') || text[j] == '_'))
      ++j;
    std::string name(text.substr(i + 1, j - i - 1));
    auto it = vars.values.find(name);
    if (name.empty() || it == vars.values.end()) {
      if (!name.empty()) undefined.push_back("$" + name);
      out.append(text.substr(i, j - i));
    } else {
      out += depth < 8 ? resolve_nested(it->second, vars, undefined, depth + 1) : it->second;
    }
    i = j;
  }
  return out;
}
}  // namespace

std::string check_stateful_option(const std::string& keyword, const std::string& value,
                                  std::string& warning) {
  int n = 0;
  if (keyword == "threshold" || keyword == "after") return check_counting(keyword, value, warning);
  if (keyword == "xbits" || keyword == "flexbits") return check_bits(keyword, value);
  if (keyword == "xbits_pause" || keyword == "xbits_upause" || keyword == "flexbits_pause" ||
      keyword == "flexbits_upause")
    return parse_uint(value, n) ? std::string() : keyword + " needs a number, not '" + value + "'";
  if (keyword == "alert_time") return check_alert_time(value);
  if (keyword == "parse_src_ip" || keyword == "parse_dst_ip")
    return parse_uint(value, n) && n > 0
               ? std::string()
               : keyword + " needs the position of the address (1, 2 ...), not '" + value + "'";
  if (keyword == "parse_hash")
    return value == "md5" || value == "sha1" || value == "sha256"
               ? std::string()
               : "parse_hash is md5, sha1 or sha256, not '" + value + "'";
  if (keyword == "default_proto") {
    if (value == "tcp" || value == "udp" || value == "icmp" || value == "TCP" || value == "UDP" ||
        value == "ICMP")
      return {};
    return "default_proto is tcp, udp or icmp, not '" + value + "'";
  }
  if (keyword == "default_src_port" || keyword == "default_dst_port")
    return parse_uint(value, n) && n <= 65535 ? std::string()
                                              : keyword + " needs a port number, not '" + value + "'";
  if (keyword == "parse_port" || keyword == "parse_proto" || keyword == "parse_proto_program" ||
      keyword == "normalize") {
    if (!value.empty()) warning = keyword + " takes no value; '" + value + "' ignored";
    return {};
  }
  if (keyword == "fwsam" || keyword == "email" || keyword == "external")
    return value.empty() ? keyword + " needs a value" : std::string();
  return {};
}

}  // namespace socd::sagan_detail
