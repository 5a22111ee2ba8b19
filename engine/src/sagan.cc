// The Sagan rule parser: one rule per line, options to the rule model (see socd/sagan.h for the mapping).
//
// How a rule line is read, as Sagan 1.2.0 reads it: the options are the text between the first '(' and the
// last ')', split at every ';' that is not written "\;" (quotes do not protect a ';': rule writers escape it,
// and an option missing its closing quote ends at the next ';'); "\;" stands for ';'. An option is
// "keyword: value" or a bare keyword. A content's value is everything after its ':' with the '"' characters
// taken out; other quoted values run from their first '"' to the next. Inside quotes a backslash is an
// ordinary byte (content:"\svchost.exe" looks for the backslash), and |3a 3b| writes bytes in hex.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "socd/lognorm.h"
#include "sagan_internal.h"
#include "value_match.h"

namespace socd {
namespace {

using namespace sagan_detail;
using Op = ValueTest::Op;

std::string_view trim_view(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return s.substr(b, e - b);
}

std::string trim(std::string_view s) { return std::string(trim_view(s)); }

std::string remove_spaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != ' ' && c != '\t') out.push_back(c);
  return out;
}

std::vector<std::string> split_list(std::string_view s, char sep) {
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

bool is_keyword(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

// Why a rule is skipped: a reason code and a message.
struct Skip {
  std::string reason, message;
};

// A quoted value: optional '!', then "text"; `rest` is what follows the closing quote.
struct Quoted {
  bool negated = false;
  bool closed = true;
  std::string text;  // as written between the quotes
  std::string rest;
};

bool read_quoted(std::string_view v, Quoted& q) {
  size_t i = 0;
  while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  if (i < v.size() && v[i] == '!') {
    q.negated = true;
    ++i;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
  }
  if (i >= v.size() || v[i] != '"') return false;
  size_t close = v.find('"', i + 1);
  if (close == std::string_view::npos) {
    q.closed = false;
    q.text = std::string(v.substr(i + 1));
    return true;
  }
  q.text = std::string(v.substr(i + 1, close - i - 1));
  q.rest = trim(v.substr(close + 1));
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// content text -> bytes: |41 42| sections are hex bytes (spaces between them allowed).
bool decode_content(std::string_view raw, std::string& out, std::string& why) {
  out.clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '|') {
      out.push_back(raw[i]);
      continue;
    }
    size_t close = raw.find('|', i + 1);
    if (close == std::string_view::npos) {
      why = "'|' at byte " + std::to_string(i) + " opens a hex section that is never closed";
      return false;
    }
    int high = -1;
    for (size_t k = i + 1; k < close; ++k) {
      char c = raw[k];
      if (c == ' ' || c == '\t') {
        if (high >= 0) {
          why = "a hex byte needs two digits in '" + std::string(raw.substr(i, close - i + 1)) + "'";
          return false;
        }
        continue;
      }
      int d = hex_digit(c);
      if (d < 0) {
        why = "'" + std::string(1, c) + "' is not a hex digit in '" +
              std::string(raw.substr(i, close - i + 1)) + "'";
        return false;
      }
      if (high < 0) {
        high = d;
      } else {
        out.push_back(static_cast<char>(high * 16 + d));
        high = -1;
      }
    }
    if (high >= 0) {
      why = "a hex byte needs two digits in '" + std::string(raw.substr(i, close - i + 1)) + "'";
      return false;
    }
    i = close;
  }
  return true;
}

// A glob pattern (ValueTest::Op::Glob) from a Sagan program name with '*' and '?' wildcards.
std::string program_glob(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '\\')
      out += "\\\\";
    else
      out.push_back(c);
  }
  return out;
}

ValueTest string_test(Op op, std::string text, bool cased) {
  ValueTest t;
  t.op = op;
  t.text = std::move(text);
  t.cased = cased;
  return t;
}

// Tokens of the header, keeping "[a, b]" lists together.
std::vector<std::string> header_tokens(std::string_view h) {
  std::vector<std::string> out;
  size_t start = 0;  // of the token being read
  int depth = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    const char c = h[i];
    if (c == '[') ++depth;
    if (c == ']' && depth > 0) --depth;
    if ((c == ' ' || c == '\t') && depth == 0) {
      if (i > start) out.emplace_back(h.substr(start, i - start));
      start = i + 1;
    }
  }
  if (h.size() > start) out.emplace_back(h.substr(start));
  return out;
}

// The rule being built from its options.
class RuleBuilder {
public:
  RuleBuilder(const std::string& file, int line, const SaganVariables& vars)
      : file_(file), line_(line), vars_(vars) {}

  std::vector<Diagnostic> warnings;

  std::optional<Skip> parse(std::string_view text, Rule& rule) {
    size_t open = text.find('('), close = text.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open)
      return Skip{"sagan-bad-header", "expected 'action proto src sport -> dst dport (options)': no '(...)'"};
    std::string tail = trim(text.substr(close + 1));
    if (!tail.empty() && tail.find_first_not_of(';') != std::string::npos)
      warn("warning-sagan-option-value", "text after the closing ')' ignored: '" + tail + "'");
    std::vector<std::string> options = split_options(text.substr(open + 1, close - open - 1));
    // Options that decide the rule's fate whatever else it holds are reported first, in this order.
    for (const char* fateful : {"dynamic_load", "bluedot"})
      for (const auto& o : options)
        if (trim_view(std::string_view(o).substr(0, o.find(':'))) == fateful) return option(o);
    if (auto s = header(text.substr(0, open))) return s;
    for (const auto& o : options)
      if (auto s = option(o)) return s;
    if (auto s = finish(rule)) return s;
    return std::nullopt;
  }

private:
  void warn(const std::string& reason, const std::string& message) {
    warnings.push_back({file_, line_, reason, message});
  }

  // Splits at every ';' not written "\;", and turns "\;" into ';'.
  static std::vector<std::string> split_options(std::string_view body) {
    std::vector<std::string> kept;
    std::string cur;    // the option being read, "\;" turned into ';'
    size_t start = 0;  // of the bytes not yet in `cur`
    auto keep = [&] {
      size_t b = cur.find_first_not_of(" \t");
      if (b != std::string::npos) kept.emplace_back(cur, b);  // leading blanks go; trailing ones stay
      cur.clear();
    };
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\\' && i + 1 < body.size() && body[i + 1] == ';') {
        cur.append(body.substr(start, i - start));
        cur.push_back(';');
        start = ++i + 1;
      } else if (body[i] == ';') {
        cur.append(body.substr(start, i - start));
        keep();
        start = i + 1;
      }
    }
    cur.append(body.substr(start));
    keep();
    return kept;
  }

  // ---- header ----
  std::optional<Skip> header(std::string_view h) {
    std::vector<std::string> t = header_tokens(h);
    if (t.size() == 6 && (t[4] == "->" || t[4] == "<>")) {
      // "alert any $HOME_NET any -> any": Sagan 1.2.0 loads it (the destination port left out is any).
      warn("warning-sagan-option-value",
           "header '" + trim(h) + "' has no destination port; read as 'any', as Sagan 1.2.0 loads it");
      t.push_back("any");
    }
    if (t.size() != 7)
      return Skip{"sagan-bad-header",
                  "expected 'action proto src sport -> dst dport' before '(', found '" + trim(h) + "'"};
    if (t[0] == "drop") {
      drop_ = true;
    } else if (t[0] == "pass") {
      return Skip{"sagan-unsupported-option",
                  "a 'pass' rule stops the rules after it for the line; socd evaluates rules independently"};
    } else if (t[0] != "alert") {
      return Skip{"sagan-bad-header", "unknown action '" + t[0] + "' (alert, drop or pass)"};
    }
    if (t[1] == "tcp" || t[1] == "udp" || t[1] == "icmp") {
      stateful_.emplace_back("protocol", t[1]);
    } else if (t[1] != "any" && t[1] != "syslog") {
      return Skip{"sagan-bad-header", "unknown protocol '" + t[1] + "' (any, tcp, udp, icmp)"};
    }
    if (t[4] != "->" && t[4] != "<>")
      return Skip{"sagan-bad-header", "direction '" + t[4] + "' is neither '->' nor '<>'"};
    if (t[4] == "<>") stateful_.emplace_back("direction", "<>");
    if (auto s = network(t[2], "source")) return s;
    if (auto s = port(t[3], "source_port")) return s;
    if (auto s = network(t[5], "destination")) return s;
    if (auto s = port(t[6], "destination_port")) return s;
    return std::nullopt;
  }

  // A network spec (any, address, cidr, [list], !negation, $VAR): kept for the stage that extracts addresses
  // when it is not "any". An undefined variable stands for any, with a warning (as Sagan does).
  std::optional<Skip> network(const std::string& spec, const char* what) {
    std::vector<std::string> undefined;
    std::string v = resolve_variables(spec, vars_, undefined);
    if (!undefined.empty()) {
      warn("warning-sagan-variable",
           std::string(what) + " " + spec + ": variable " + undefined[0] +
               " is not defined, so it matches any address (define it under vars: in "
               "the Sagan YAML)");
      return std::nullopt;
    }
    if (v == "any") return std::nullopt;
    std::string list = remove_spaces(v);
    for (const auto& item : split_list(list, ',')) {
      std::string x = item;
      while (!x.empty() && (x[0] == '!' || x[0] == '[')) x.erase(0, 1);
      while (!x.empty() && x.back() == ']') x.pop_back();
      if (x != "any" && !detail::parse_network(x))
        return Skip{"sagan-bad-header",
                    std::string(what) + " '" + spec + "': '" + x + "' is not an address or network"};
    }
    stateful_.emplace_back(what, list);
    return std::nullopt;
  }

  std::optional<Skip> port(const std::string& spec, const char* what) {
    std::vector<std::string> undefined;
    std::string v = resolve_variables(spec, vars_, undefined);
    if (!undefined.empty()) {
      warn("warning-sagan-variable", std::string(what) + " " + spec + ": variable " + undefined[0] +
                                         " is not defined, so it matches any port");
      return std::nullopt;
    }
    if (v == "any") return std::nullopt;
    std::string list = remove_spaces(v);
    for (const auto& item : split_list(list, ',')) {
      std::string x = item;
      while (!x.empty() && (x[0] == '!' || x[0] == '[')) x.erase(0, 1);
      while (!x.empty() && x.back() == ']') x.pop_back();
      for (const auto& bound : split_list(x, ':')) {
        int n = 0;
        if (!bound.empty() && (!parse_uint(bound, n) || n > 65535))
          return Skip{"sagan-bad-header", std::string(what) + " '" + spec + "' is not a port, range or list"};
      }
    }
    stateful_.emplace_back(what, list);
    return std::nullopt;
  }

  // ---- options ----
  // A simple value ends at a stray ':' as Sagan reads it ("default_dst_port: $FTP_PORT: classtype: x" is a
  // missing ';'); the rest is ignored with a warning.
  std::string simple_value(const std::string& keyword, const std::string& value) {
    size_t colon = value.find(':');
    if (colon == std::string::npos) return value;
    warn("warning-sagan-option-value",
         keyword + ": '" + value.substr(colon) +
             "' after the value is ignored, as Sagan ignores it (a ';' missing?)");
    return trim(value.substr(0, colon));
  }

  ContentPattern* last_content() { return last_content_ < 0 ? nullptr : &contents_[last_content_]; }

  std::optional<Skip> bad(const std::string& message) { return Skip{"sagan-bad-option", message}; }

  std::optional<Skip> option(const std::string& text) {
    size_t colon = text.find(':');
    std::string keyword = trim(text.substr(0, colon));
    std::string untrimmed = colon == std::string::npos ? std::string() : text.substr(colon + 1);
    std::string value = trim(untrimmed);
    if (!is_keyword(keyword)) {
      warn("warning-sagan-unknown-option",
           "'" + text +
               "' is not a 'keyword: value' option (a ':' or ';' missing?); Sagan 1.2.0 ignores it, and "
               "so does socd: fix the rule");
      return std::nullopt;
    }
    if (keyword == "msg") {
      Quoted q;
      if (!read_quoted(value, q)) {
        title_ = value;
      } else {
        title_ = q.text;
        if (!q.closed) warn("warning-sagan-option-value", "msg has no closing '\"'");
      }
      return std::nullopt;
    }
    if (keyword == "content") return content(untrimmed);
    if (keyword == "nocase") {
      if (!last_content()) {
        warn("warning-sagan-option-value",
             "nocase with no content before it is ignored (it does not apply to a "
             "pcre: use the pcre flag i), as Sagan ignores it");
        return std::nullopt;
      }
      last_content()->nocase = true;
      return std::nullopt;
    }
    if (keyword == "offset" || keyword == "depth" || keyword == "distance" || keyword == "within")
      return modifier(keyword, value);
    if (keyword == "pcre") return pcre(value);
    if (keyword == "meta_content") return meta_content(value);
    if (keyword == "meta_nocase" || keyword == "meta_offset" || keyword == "meta_depth")
      return meta_modifier(keyword, value);
    if (keyword == "meta_distance" || keyword == "meta_within")
      return Skip{"sagan-unsupported-option", keyword +
                                                  ": meta_content positions relative to another meta_content "
                                                  "are not supported; use content with distance/within"};
    if (keyword == "program") return alternatives(keyword, value, programs_);
    if (keyword == "facility" || keyword == "syslog_facility")
      return alternatives(keyword, value, facilities_);
    if (keyword == "level" || keyword == "syslog_level") return alternatives(keyword, value, levels_);
    if (keyword == "syslog_tag" || keyword == "tag") return syslog_tag(value);
    if (keyword == "event_id") return event_id(value);
    if (keyword == "classtype") {
      classtype_ = simple_value(keyword, value);
      return std::nullopt;
    }
    if (keyword == "priority") {
      std::string v = simple_value(keyword, value);
      if (!parse_uint(v, priority_)) return bad("priority '" + v + "' is not a number");
      return std::nullopt;
    }
    if (keyword == "sid") {
      sid_ = simple_value(keyword, value);
      int n = 0;
      if (!parse_uint(sid_, n)) return bad("sid '" + sid_ + "' is not a number");
      return std::nullopt;
    }
    if (keyword == "rev") {
      rev_ = simple_value(keyword, value);
      return std::nullopt;
    }
    if (keyword == "reference") return reference(value);
    if (keyword == "json_content" || keyword == "json_pcre" || keyword == "json_meta_content")
      return json(keyword, value);
    if (keyword == "json_nocase" || keyword == "json_contains" || keyword == "json_meta_nocase" ||
        keyword == "json_meta_contains")
      return json_modifier(keyword);
    if (keyword == "json_map") return json_map(value);
    if (keyword.rfind("json_decode_base64", 0) == 0 || keyword.rfind("json_base64_decode", 0) == 0)
      return Skip{"sagan-unsupported-option", keyword + ": decoding base64 JSON values is not supported"};
    if (keyword == "xbits_pause" || keyword == "xbits_upause" || keyword == "flexbits_pause" ||
        keyword == "flexbits_upause")
      return Skip{"sagan-unsupported-option",
                  keyword + ": waiting before a bit is tested is not supported (the test would have to be "
                            "decided after later events); remove the option or the rule"};
    if (keyword == "append_program")
      return Skip{"sagan-unsupported-option",
                  "append_program: matching the message with the program appended is not supported"};
    if (keyword == "dynamic_load")
      return Skip{"sagan-dynamic-load",
                  "dynamic_load: loading rule files on demand (Sagan's dynamic_load "
                  "processor) is not part of socd; load those rule files directly instead"};
    if (keyword == "bluedot")
      return Skip{"sagan-bluedot",
                  "bluedot: queries an external threat-intelligence service socd does not use"};
    if (keyword == "country_code") {
      warn("warning-sagan-geoip",
           "country_code '" + value +
               "' is not applied: socd has no GeoIP database, and neither has Sagan 1.2.0 as Debian builds "
               "it, which loads the rule and fires it as if the option were absent; so does socd (the rule "
               "fires on every line its other options match)");
      return std::nullopt;
    }
    if (keyword == "blacklist" || keyword == "bro-intel" || keyword == "zeek-intel") return lookup(keyword, value);
    static const std::set<std::string> kStateful = {"threshold",
                                                    "after",
                                                    "xbits",
                                                    "flexbits",
                                                    "alert_time",
                                                    "parse_src_ip",
                                                    "parse_dst_ip",
                                                    "parse_port",
                                                    "parse_proto",
                                                    "parse_proto_program",
                                                    "parse_hash",
                                                    "normalize",
                                                    "default_proto",
                                                    "default_src_port",
                                                    "default_dst_port",
                                                    "fwsam",
                                                    "email",
                                                    "external"};
    if (kStateful.count(keyword)) {
      static const std::set<std::string> kSimple = {"parse_src_ip",  "parse_dst_ip",     "parse_hash",
                                                    "default_proto", "default_src_port", "default_dst_port"};
      std::string v = kSimple.count(keyword) ? simple_value(keyword, value) : value;
      std::vector<std::string> undefined;
      v = resolve_variables(v, vars_, undefined);
      if (!undefined.empty()) {
        warn("warning-sagan-variable",
             keyword + ": variable " + undefined[0] +
                 " is not defined, so the option is left out (define it under vars: in "
                 "the Sagan YAML given to socd)");
        return std::nullopt;
      }
      std::string note;
      std::string why = check_stateful_option(keyword, v, note);
      if (!why.empty()) return bad(keyword + ": " + why);
      if (!note.empty()) warn("warning-sagan-option-value", keyword + ": " + note);
      stateful_.emplace_back(keyword, v);
      return std::nullopt;
    }
    warn("warning-sagan-unknown-option", "'" + keyword +
                                             "' is not a Sagan rule option; Sagan 1.2.0 ignores it, "
                                             "and so does socd");
    return std::nullopt;
  }

  // blacklist: by_src|by_dst|both|all; bro-intel / zeek-intel: src_ipaddr, dst_ipaddr, both_ipaddr,
  // all_ipaddr, and the message searches (domain, url, file_hash ...), comma-separated; the 1.2.0 rule set
  // writes the address ones as by_src, by_dst, both, all. The lists come from the Sagan YAML.
  std::optional<Skip> lookup(const std::string& keyword, const std::string& value) {
    std::string v = remove_spaces(simple_value(keyword, value));
    static const std::set<std::string> kBlacklist = {"by_src", "by_dst", "both", "all"};
    static const std::set<std::string> kIntel = {
        "by_src",    "by_dst",   "both",      "all",       "src_ipaddr", "dst_ipaddr", "both_ipaddr",
        "all_ipaddr", "file_hash", "url",      "software",  "email",      "user_name",  "file_name",
        "cert_hash", "domain"};
    const bool blacklist = keyword == "blacklist";
    for (const auto& item : split_list(v, ',')) {
      if (!(blacklist ? kBlacklist : kIntel).count(item))
        return bad(keyword + ": '" + item + "' is not " +
                   (blacklist ? "by_src, by_dst, both or all"
                              : "src_ipaddr, dst_ipaddr, both_ipaddr, all_ipaddr, domain, url, file_hash, "
                                "software, email, user_name, file_name or cert_hash"));
    }
    const auto& files = blacklist ? vars_.blacklist_files : vars_.zeek_intel_files;
    if (files.empty()) {
      warn("warning-sagan-lookup-list",
           keyword + ": no " + (blacklist ? "blacklist" : "bro-intel") +
               " list is enabled in the Sagan YAML (processors: " + (blacklist ? "blacklist" : "bro-intel") +
               ", enabled: yes, filename: ...), so the rule cannot fire, as in Sagan with that processor "
               "off (give socd the YAML with --sagan-vars)");
    }
    std::string joined;
    for (const auto& f : files) joined += (joined.empty() ? "" : ",") + f;
    stateful_.emplace_back(blacklist ? "blacklist" : "zeek-intel", v);
    stateful_.emplace_back(blacklist ? "blacklist_files" : "zeek_intel_files", joined);
    return std::nullopt;
  }

  // content: [!]"text". Sagan reads the value as everything after the ':' with the '"' characters taken out
  // (so `content:"a" default_proto:tcp` looks for 'a default_proto:tcp', and a blank after the closing quote
  // stays part of it); such values are read the same way here, with a warning.
  std::optional<Skip> content(const std::string& untrimmed) {
    size_t b = untrimmed.find_first_not_of(" \t");
    std::string v = b == std::string::npos ? std::string() : untrimmed.substr(b);
    ContentPattern p;
    if (!v.empty() && v[0] == '!') {
      p.negated = true;
      size_t k = v.find_first_not_of(" \t", 1);
      v = k == std::string::npos ? std::string() : v.substr(k);
    }
    Quoted q;
    bool plain = read_quoted(v, q) && q.closed && q.rest.empty() && v.back() == '"';
    std::string raw;
    for (char c : v)
      if (c != '"') raw.push_back(c);
    if (!plain)
      warn("warning-sagan-option-value", "content '" + v +
                                             "' is not one quoted string; read as Sagan reads it, '" + raw +
                                             "' (a ';' or '\"' missing?)");
    std::string why;
    if (!decode_content(raw, p.text, why)) return bad("content \"" + raw + "\": " + why);
    if (p.text.empty()) return bad("content is empty");
    contents_.push_back(std::move(p));
    last_content_ = static_cast<int>(contents_.size()) - 1;
    return std::nullopt;
  }

  std::optional<Skip> modifier(const std::string& keyword, const std::string& value) {
    ContentPattern* c = last_content();
    if (!c) return bad(keyword + " with no content before it");
    int n = 0;
    if (!parse_uint(value, n)) return bad(keyword + " '" + value + "' is not a number of bytes (0 or more)");
    if (keyword == "offset")
      c->offset = n;
    else if (keyword == "depth")
      c->depth = n;
    else if (keyword == "distance")
      c->distance = n;
    else
      c->within = n;
    return std::nullopt;
  }

  std::optional<Skip> pcre(const std::string& value) {
    Quoted q;
    if (!read_quoted(value, q) || !q.closed) return bad("pcre needs a quoted \"/expression/flags\"");
    if (q.negated)
      return bad(
          "pcre cannot be negated (Sagan 1.2.0 never matches such a rule); negate inside the expression");
    if (!q.rest.empty())
      warn("warning-sagan-option-value",
           "pcre: '" + q.rest + "' after the closing quote is ignored (a ';' missing?)");
    std::string s = trim(q.text);
    size_t last = s.rfind('/');
    if (s.empty() || s[0] != '/' || last == 0) return bad("pcre \"" + q.text + "\" is not /expression/flags");
    ContentPattern p;
    p.regex = true;
    p.text = s.substr(1, last - 1);
    std::string ignored;
    for (char f : s.substr(last + 1)) {
      if (f == 'i' || f == 's' || f == 'm' || f == 'x' || f == 'A' || f == 'E' || f == 'G') {
        if (p.regex_flags.find(f) == std::string::npos) p.regex_flags.push_back(f);
      } else {
        ignored.push_back(f);
      }
    }
    if (!ignored.empty())
      warn("warning-sagan-option-value",
           "pcre flags '" + ignored + "' ignored (Sagan knows i, s, m, x, A, E, G)");
    contents_.push_back(std::move(p));
    return std::nullopt;
  }

  // The values of a meta_content list: literals and $VARIABLES holding comma-separated lists. An undefined
  // variable stays as written, "$NAME", which is what Sagan 1.2.0 then looks for (measured: its rule with
  // meta_content "MD5=%sagan%," and an undefined $PSEXEC_MD5 fires on "MD5=$PSEXEC_MD5,").
  std::vector<std::string> meta_values(const std::string& list, const std::string& keyword) {
    std::vector<std::string> out, undefined;
    std::string resolved = resolve_variables(list, vars_, undefined);
    for (const auto& name : undefined)
      warn("warning-sagan-variable",
           keyword + ": " + name + " is not defined, so the rule looks for '" + name +
               "' itself, as Sagan 1.2.0 does (define it under vars: in the Sagan YAML given with "
               "--sagan-vars)");
    for (const auto& item : split_list(resolved, ','))
      if (!item.empty()) out.push_back(item);
    return out;
  }

  std::optional<Skip> meta_content(const std::string& value) {
    Quoted q;
    if (!read_quoted(value, q) || !q.closed) return bad("meta_content needs \"text with %sagan%\", values");
    if (q.rest.empty() || q.rest[0] != ',') return bad("meta_content needs a list of values after the text");
    std::string templ;
    std::string why;
    if (!decode_content(q.text, templ, why)) return bad("meta_content \"" + q.text + "\": " + why);
    size_t at = templ.find("%sagan%");
    if (at == std::string::npos)
      return bad("meta_content \"" + q.text + "\" has no %sagan% where the values go");
    std::vector<std::string> values = meta_values(q.rest.substr(1), "meta_content");
    if (values.empty()) return bad("meta_content has no values");
    FieldCheck check;
    check.negate = q.negated;
    check.line = line_;
    for (const auto& v : values) {
      ValueTest t;
      t.op = Op::Contents;
      t.cased = true;
      ContentPattern p;
      p.text = templ.substr(0, at) + v + templ.substr(at + 7);
      t.contents.push_back(std::move(p));
      check.values.push_back(std::move(t));
    }
    meta_.push_back(std::move(check));
    return std::nullopt;
  }

  std::optional<Skip> meta_modifier(const std::string& keyword, const std::string& value) {
    if (meta_.empty()) return bad(keyword + " with no meta_content before it");
    int n = 0;
    if (keyword != "meta_nocase" && !parse_uint(value, n))
      return bad(keyword + " '" + value + "' is not a number of bytes");
    for (auto& t : meta_.back().values) {
      ContentPattern& p = t.contents[0];
      if (keyword == "meta_nocase")
        p.nocase = true;
      else if (keyword == "meta_offset")
        p.offset = n;
      else
        p.depth = n;
    }
    return std::nullopt;
  }

  std::optional<Skip> alternatives(const std::string& keyword, const std::string& value,
                                   std::vector<std::string>& out) {
    std::string v = simple_value(keyword, value);
    if (v.find_first_of(" \t") != std::string::npos)
      warn("warning-sagan-option-value", keyword + " '" + v + "': Sagan removes the spaces and reads '" +
                                             remove_spaces(v) + "' (a ';' missing?)");
    v = remove_spaces(v);
    if (v.empty()) return bad(keyword + " needs a value");
    for (const auto& alt : split_list(v, '|')) {
      if (alt.empty()) return bad(keyword + " '" + v + "' has an empty alternative");
      out.push_back(alt);
    }
    return std::nullopt;
  }

  // syslog_tag: the tag Sagan's input carries is the syslog priority in hex ("2d"); the events carry it as a
  // decimal `priority`.
  std::optional<Skip> syslog_tag(const std::string& value) {
    std::vector<std::string> tags;
    if (auto s = alternatives("syslog_tag", value, tags)) return s;
    for (const auto& t : tags) {
      int v = 0;
      for (char c : t) {
        int d = hex_digit(c);
        if (d < 0 || v > 255) return bad("syslog_tag '" + t + "' is not a priority in hex (e.g. 2d)");
        v = v * 16 + d;
      }
      priorities_.push_back(std::to_string(v));
    }
    return std::nullopt;
  }

  // event_id: as documented, `meta_content: " %sagan%: ", ids; meta_depth: 10` over a message that begins
  // with a space; the events' messages do not, so "<id>: " must start the message or follow a space, ending
  // within its first 9 bytes.
  std::optional<Skip> event_id(const std::string& value) {
    std::vector<std::string> ids = meta_values(simple_value("event_id", value), "event_id");
    if (ids.empty()) return bad("event_id needs one or more ids");
    FieldCheck check;
    check.line = line_;
    for (const auto& id : ids) {
      int n = 0;
      if (!parse_uint(id, n)) return bad("event_id '" + id + "' is not a number");
      ValueTest t;
      t.op = Op::Contents;
      t.cased = true;
      ContentPattern p;
      p.regex = true;
      int room = 6 - static_cast<int>(id.size());
      p.text = room >= 0 ? "^(?:.{0," + std::to_string(room) + "} )?" + id + ": " : "^" + id + ": ";
      p.regex_flags = "s";
      t.contents.push_back(std::move(p));
      check.values.push_back(std::move(t));
    }
    meta_.push_back(std::move(check));
    return std::nullopt;
  }

  std::optional<Skip> reference(const std::string& value) {
    size_t comma = value.find(',');
    if (comma == std::string::npos)
      return bad("reference needs 'system,id' (e.g. url,example.org/x or cve,2015-7755)");
    std::string system = trim(value.substr(0, comma)), id = trim(value.substr(comma + 1));
    if (system.empty() || id.empty()) return bad("reference needs 'system,id'");
    auto it = vars_.reference_prefix.find(system);
    if (it != vars_.reference_prefix.end())
      references_.push_back(it->second + id);
    else if (system == "url")
      references_.push_back(id.find("://") == std::string::npos ? "http://" + id : id);
    else
      references_.push_back(system + "," + id);
    if (system == "cve") {
      std::string tag = "cve." + id;
      for (char& c : tag) c = detail::ascii_lower(c);
      tags_.push_back(tag);
    }
    return std::nullopt;
  }

  // ".key" -> the event field "key" ("a.b" walks nested objects).
  static std::string json_field(const std::string& key) {
    return key.size() > 0 && key[0] == '.' ? key.substr(1) : key;
  }

  std::optional<Skip> json(const std::string& keyword, const std::string& value) {
    Quoted key;
    if (!read_quoted(value, key) || !key.closed || key.text.empty())
      return bad(keyword + " needs \".key\", then the value");
    if (key.rest.empty() || key.rest[0] != ',') return bad(keyword + " needs a value after the key");
    std::string rest = trim(key.rest.substr(1));
    FieldCheck check;
    check.field = json_field(key.text);
    check.negate = key.negated;
    check.line = line_;
    if (keyword == "json_meta_content") {
      std::vector<std::string> values = meta_values(rest, keyword);
      if (values.empty()) return bad("json_meta_content has no values");
      for (auto& v : values) check.values.push_back(string_test(Op::Equals, v, true));
      json_kind_ = 'm';
    } else {
      Quoted v;
      if (!read_quoted(rest, v) || !v.closed) return bad(keyword + " needs a quoted value after the key");
      if (keyword == "json_pcre") {
        std::string s = trim(v.text);
        size_t last = s.rfind('/');
        if (s.empty() || s[0] != '/' || last == 0)
          return bad("json_pcre \"" + v.text + "\" is not /expression/flags");
        ValueTest t;
        t.op = Op::Regex;
        t.text = s.substr(1, last - 1);
        for (char f : s.substr(last + 1))
          if (f == 'i' || f == 'm' || f == 's') t.regex_flags.push_back(f);
        check.values.push_back(std::move(t));
        json_kind_ = 'p';
      } else {
        check.values.push_back(string_test(Op::Equals, v.text, true));
        json_kind_ = 'c';
      }
    }
    json_.push_back(std::move(check));
    return std::nullopt;
  }

  std::optional<Skip> json_modifier(const std::string& keyword) {
    bool meta = keyword.rfind("json_meta_", 0) == 0;
    if (json_.empty() || (meta ? json_kind_ != 'm' : json_kind_ != 'c'))
      return bad(keyword + " with no " + (meta ? "json_meta_content" : "json_content") + " before it");
    for (auto& t : json_.back().values) {
      if (keyword == "json_nocase" || keyword == "json_meta_nocase")
        t.cased = false;
      else
        t.op = Op::Contains;
    }
    return std::nullopt;
  }

  std::optional<Skip> json_map(const std::string& value) {
    Quoted internal, key;
    if (!read_quoted(value, internal) || !internal.closed || internal.rest.empty() ||
        internal.rest[0] != ',' || !read_quoted(internal.rest.substr(1), key) || !key.closed)
      return bad("json_map needs \"internal\", \".key\"");
    if (internal.text == "message")
      message_field_ = json_field(key.text);
    else if (internal.text == "program" || internal.text == "event_type")
      program_field_ = json_field(key.text);
    else
      stateful_.emplace_back("json_map", internal.text + "," + key.text);
    return std::nullopt;
  }

  // ---- the rule ----
  // What the stateful stage needs besides the options themselves, and the warnings about what it cannot do.
  std::optional<Skip> note_stateful() {
    bool state = false, normalize = false, protocol = false, parse_proto = false, ports = false;
    for (const auto& [k, v] : stateful_) {
      if (k == "threshold" || k == "after" || k == "xbits" || k == "flexbits" || k == "blacklist" ||
          k == "zeek-intel")
        state = true;
      if (k == "source" || k == "destination" || k == "source_port" || k == "destination_port" ||
          k == "protocol")
        state = true;  // the header is checked by the stateful stage too
      if (k == "normalize") normalize = true;
      if (k == "protocol") protocol = true;
      if (k == "parse_proto" || k == "parse_proto_program") parse_proto = true;
      if (k == "source_port" || k == "destination_port") ports = true;
      if (k == "threshold" && (v.find("type threshold") != std::string::npos ||
                               v.find("type both") != std::string::npos))
        warn("warning-sagan-threshold",
             "threshold '" + v +
                 "': only types limit and suppress exist in Sagan; Sagan 1.2.0 loads the rule and applies "
                 "no threshold, and so does socd");
    }
    if (protocol && parse_proto)
      return Skip{"sagan-unsupported-option",
                  "a tcp/udp/icmp header with parse_proto / parse_proto_program: socd does not read the "
                  "protocol from the message (protocol.map); write 'any' in the header or drop the option"};
    if (normalize) {
      if (!vars_.normalize_rulebase.empty())
        stateful_.emplace_back("normalize_rulebase", vars_.normalize_rulebase);
      else
        warn("warning-sagan-normalize",
             "normalize with no rulebase (no normalization.rulebase beside the rules, and no "
             "sagan-core/liblognorm normalize_rulebase in the Sagan YAML): it extracts nothing, so the rule "
             "tracks by the syslog host and no user name, as Sagan does when normalization finds nothing");
    }
    if (ports) stateful_.emplace_back("sagan_default_port", std::to_string(vars_.default_port));
    if (protocol) stateful_.emplace_back("sagan_default_proto", vars_.default_proto);
    if (state && !vars_.default_host.empty()) stateful_.emplace_back("default_host", vars_.default_host);
    return std::nullopt;
  }

  std::optional<Skip> finish(Rule& rule) {
    if (sid_.empty()) return Skip{"sagan-no-sid", "the rule has no sid"};
    for (const auto& c : contents_) {
      if (c.regex) continue;
      bool relative = c.distance >= 0 || c.within >= 0;
      if (relative && (c.offset >= 0 || c.depth >= 0))
        return bad("content \"" + c.text +
                   "\" mixes offset/depth with distance/within (a content is placed "
                   "from the start or from the previous content, not both)");
      if (c.depth >= 0 && static_cast<size_t>(c.depth) < c.text.size())
        return bad("content \"" + c.text + "\": depth " + std::to_string(c.depth) +
                   " is shorter than the content");
      if (c.within >= 0 && static_cast<size_t>(c.within) < c.text.size())
        return bad("content \"" + c.text + "\": within " + std::to_string(c.within) +
                   " is shorter than the content");
    }
    rule.id = sid_;
    rule.title = title_;
    int priority = priority_;
    if (!classtype_.empty()) {
      rule.tags.push_back("classtype." + classtype_);
      auto it = vars_.classification_priority.find(classtype_);
      if (it != vars_.classification_priority.end()) {
        if (priority == 0) priority = it->second;
      } else if (vars_.classifications_loaded) {
        warn("warning-sagan-classtype",
             "classtype '" + classtype_ + "' is not in the classification file; the level is 'medium'");
      }
    }
    rule.level = sagan_priority_level(priority);
    if (drop_) {
      rule.tags.push_back("sagan.drop");
      warn("warning-sagan-drop",
           "a 'drop' rule: loaded as an alert rule tagged sagan.drop (Sagan 1.2.0 matches "
           "and writes it exactly like an alert rule)");
    }
    for (auto& t : tags_) rule.tags.push_back(std::move(t));
    rule.references = std::move(references_);
    rule.description = "Sagan sid " + sid_ + (rev_.empty() ? "" : " rev " + rev_);
    rule.file = file_;
    rule.line = line_;
    if (auto s = note_stateful()) return s;
    rule.stateful_options = std::move(stateful_);

    Conjunction conj;
    if (!contents_.empty()) {
      FieldCheck c;
      c.field = message_field_;
      c.line = line_;
      ValueTest t;
      t.op = Op::Contents;
      t.cased = true;
      t.contents = std::move(contents_);
      c.values.push_back(std::move(t));
      conj.push_back(std::move(c));
    }
    for (auto& m : meta_) {
      m.field = message_field_;
      conj.push_back(std::move(m));
    }
    auto add = [&](const std::string& field, const std::vector<std::string>& alts, bool glob) {
      if (alts.empty()) return;
      FieldCheck c;
      c.field = field;
      c.line = line_;
      for (const auto& a : alts) {
        bool wild = glob && a.find_first_of("*?") != std::string::npos;
        c.values.push_back(string_test(wild ? Op::Glob : Op::Equals, wild ? program_glob(a) : a, true));
      }
      conj.push_back(std::move(c));
    };
    add(program_field_, programs_, true);
    add("facility", facilities_, false);
    add("severity", levels_, false);
    add("priority", priorities_, false);
    for (auto& j : json_) conj.push_back(std::move(j));
    Selection sel;
    sel.name = "sagan";
    sel.alternatives.push_back(std::move(conj));
    rule.selections.push_back(std::move(sel));
    rule.condition.kind = Condition::Kind::Ref;
    rule.condition.selection = 0;
    return std::nullopt;
  }

  const std::string& file_;
  int line_;
  const SaganVariables& vars_;
  bool drop_ = false;
  std::string title_, sid_, rev_, classtype_;
  int priority_ = 0;
  std::vector<ContentPattern> contents_;
  int last_content_ = -1;
  std::vector<FieldCheck> meta_, json_;
  char json_kind_ = 0;
  std::vector<std::string> programs_, facilities_, levels_, priorities_;
  std::vector<std::string> tags_, references_;
  std::vector<std::pair<std::string, std::string>> stateful_;
  std::string message_field_ = "message", program_field_ = "program";
};

void load_text(const std::string& file, std::string_view text, const SaganVariables& vars, RuleLoad& out,
               std::set<std::string>& sids) {
  std::string rule_text;
  int rule_line = 0, line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    std::string_view line = trim_view(raw);
    if (rule_text.empty()) {
      if (line.empty() || line[0] == '#') continue;
      rule_line = line_no;
    }
    // A trailing '\' continues the rule on the next line.
    if (!line.empty() && line.back() == '\\') {
      line.remove_suffix(1);
      rule_text += line;
      if (pos <= text.size()) continue;
    } else {
      rule_text += line;
    }
    Rule rule;
    RuleBuilder b(file, rule_line, vars);
    std::optional<Skip> skip = b.parse(rule_text, rule);
    rule_text.clear();
    if (!skip && !sids.insert(rule.id).second)
      skip = Skip{"sagan-duplicate-sid",
                  "sid " + rule.id + " is already loaded; the first rule with it is kept"};
    if (skip) {
      out.diagnostics.push_back({file, rule_line, skip->reason, skip->message});
      ++out.skipped;
      continue;
    }
    for (auto& w : b.warnings) out.diagnostics.push_back(std::move(w));
    out.rules.push_back(std::move(rule));
  }
}

std::set<std::string> loaded_sids(const RuleLoad& out) {
  std::set<std::string> sids;
  for (const auto& r : out.rules)
    if (r.file.size() >= 6 && r.file.compare(r.file.size() - 6, 6, ".rules") == 0) sids.insert(r.id);
  return sids;
}

bool read_file(const std::string& path, std::string& text, RuleLoad& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.diagnostics.push_back({path, 0, "read-error", "cannot read the rule file"});
    ++out.skipped;
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

}  // namespace

void load_sagan_text(const std::string& file, std::string_view text, const SaganVariables& vars,
                     RuleLoad& out) {
  std::set<std::string> sids = loaded_sids(out);
  load_text(file, text, vars, out, sids);
}

namespace {

// `path`: the directory or file given, named in warnings; `dir`: where classification.config and the other
// configuration files beside the rules are looked for.
void load_files(const std::string& path, const std::filesystem::path& dir, const std::vector<std::string>& files,
                const SaganVariables& given, RuleLoad& out) {
  namespace fs = std::filesystem;
  if (files.empty()) return;
  SaganVariables vars = given;
  if (!vars.classifications_loaded) {
    fs::path classification = dir / "classification.config";
    if (fs::exists(classification)) {
      Status s = load_sagan_classifications(classification.string(), vars);
      if (!s.ok())
        out.diagnostics.push_back({classification.string(), 0, "warning-sagan-classtype", s.message()});
    } else {
      out.diagnostics.push_back(
          {path, 0, "warning-sagan-classtype",
           "no classification.config beside the rules: every rule's level is 'medium' (give "
           "the Sagan YAML that names the classification file)"});
    }
    fs::path reference = dir / "reference.config";
    if (vars.reference_prefix.empty() && fs::exists(reference)) {
      Status s = load_sagan_references(reference.string(), vars);
      if (!s.ok()) out.diagnostics.push_back({reference.string(), 0, "warning-sagan-reference", s.message()});
    }
  }
  if (vars.normalize_rulebase.empty()) {
    fs::path rulebase = dir / "normalization.rulebase";
    if (fs::exists(rulebase)) vars.normalize_rulebase = rulebase.string();
  }
  if (!vars.normalize_rulebase.empty()) {
    // Read once here for its diagnostics (the stateful stage compiles it again, once per file).
    if (!lognorm::Rulebase::load(vars.normalize_rulebase, out.diagnostics))
      vars.normalize_rulebase.clear();  // unreadable (diagnosed): `normalize` rules warn that it is missing
  }
  std::set<std::string> sids = loaded_sids(out);
  for (const auto& f : files) {
    std::string text;
    if (read_file(f, text, out)) load_text(f, text, vars, out, sids);
  }
}

}  // namespace

void load_sagan_path(const std::string& path, const SaganVariables& given, RuleLoad& out) {
  namespace fs = std::filesystem;
  fs::file_status st;
  if (!rule_path_status(path, st, out)) return;
  if (fs::is_directory(st)) {
    DirectoryListing listing = list_files(path, [](const fs::path& p) { return p.extension() == ".rules"; });
    note_unreadable_directories(listing, out);
    load_files(path, path, listing.files, given, out);
  } else {
    load_files(path, fs::path(path).parent_path(), {path}, given, out);
  }
}

void load_sagan_files(const std::string& dir, const std::vector<std::string>& files, const SaganVariables& vars,
                      RuleLoad& out) {
  load_files(dir, dir, files, vars, out);
}

}  // namespace socd
