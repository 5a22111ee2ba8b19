// Sigma values and value modifiers: wildcard strings to ValueTests, and every modifier of the modifiers
// appendix.
#include "sigma_value.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace socd::sigma {
namespace {

using Op = ValueTest::Op;

bool is_wildcard(const Piece& p) { return p.kind != Piece::Literal; }

// Glob text for a pattern: wildcards as they are, literal '*', '?' and '\' escaped with '\'.
std::string glob_text(const Pattern& p) {
  std::string out;
  out.reserve(p.size() + 4);
  for (const Piece& x : p) {
    if (x.kind == Piece::Star) {
      out.push_back('*');
    } else if (x.kind == Piece::Question) {
      out.push_back('?');
    } else {
      if (x.c == '*' || x.c == '?' || x.c == '\\') out.push_back('\\');
      out.push_back(x.c);
    }
  }
  return out;
}

// Removes repeated '*' ("a**b" matches what "a*b" matches).
Pattern collapse_stars(const Pattern& p) {
  Pattern out;
  out.reserve(p.size());
  for (const Piece& x : p) {
    if (x.kind == Piece::Star && !out.empty() && out.back().kind == Piece::Star) continue;
    out.push_back(x);
  }
  return out;
}

// Decodes one code point of UTF-8 at `s[i]`, advancing `i`. An invalid byte stands for itself.
uint32_t next_code_point(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b = byte(i);
  int extra = 0;
  uint32_t cp = 0;
  if (b < 0x80) {
    ++i;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    extra = 1;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    extra = 2;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    extra = 3;
    cp = b & 0x07;
  } else {
    ++i;
    return b;
  }
  for (int k = 1; k <= extra; ++k) {
    if (i + k >= s.size() || (byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return b;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += extra + 1;
  return cp;
}

void push_unit(Pattern& out, uint16_t unit, bool big_endian) {
  char lo = static_cast<char>(unit & 0xFF), hi = static_cast<char>(unit >> 8);
  out.push_back({Piece::Literal, big_endian ? hi : lo, false});
  out.push_back({Piece::Literal, big_endian ? lo : hi, false});
}

constexpr std::string_view kDashes[] = {"-", "/", "\xE2\x80\x93", "\xE2\x80\x94", "\xE2\x80\x95"};

size_t dash_at(const Pattern& p, size_t i) {  // length of the dash starting at p[i], or 0
  if (p[i].kind != Piece::Literal) return 0;
  if (p[i].c == '-' || p[i].c == '/') return 1;
  if (p[i].c == '\xE2' && i + 2 < p.size() && p[i + 1].kind == Piece::Literal &&
      p[i + 2].kind == Piece::Literal && p[i + 1].c == '\x80' &&
      (p[i + 2].c == '\x93' || p[i + 2].c == '\x94' || p[i + 2].c == '\x95'))
    return 3;
  return 0;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_modifier_message(std::string_view name) {
  std::string msg = "unknown modifier '" + std::string(name) + "'";
  std::string_view best;
  size_t best_d = 3;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view m : known_modifiers()) {
    size_t d = edit_distance(lower, m);
    if (d < best_d) {
      best_d = d;
      best = m;
    }
  }
  if (!best.empty())
    msg += "; did you mean '" + std::string(best) + "'?";
  else
    msg += "; see the Sigma modifiers appendix for the valid ones";
  return msg;
}

// A value on its way through the modifier chain.
struct Work {
  enum Kind : uint8_t { String, Number, Bool, Null, Regex, Cidr, Compare, Exists, FieldRef };
  Kind kind = String;
  Pattern pattern;           // String
  bool transformed = false;  // String: a modifier has changed the written value
  std::string text;          // the value as written; regex, network, field name
  double number = 0;         // Number, Compare
  Op compare = Op::Lt;       // Compare
  Op ref_op = Op::Equals;    // FieldRef
  bool expect = true;        // Exists
  TimePart time_part = TimePart::None;
  size_t group = 0;  // index of the value in the rule, to keep `all` per written value
};

const char* kind_name(Work::Kind k) {
  switch (k) {
    case Work::String: return "a string";
    case Work::Number: return "a number";
    case Work::Bool: return "a boolean";
    case Work::Null: return "null";
    case Work::Regex: return "a regular expression";
    case Work::Cidr: return "a network";
    case Work::Compare: return "a comparison";
    case Work::Exists: return "an existence test";
    case Work::FieldRef: return "a field reference";
  }
  return "a value";
}

// Numbers and booleans become strings when a string modifier meets them.
bool as_string(Work& w) {
  if (w.kind == Work::String) return true;
  if (w.kind == Work::Number || w.kind == Work::Bool) {
    w.kind = Work::String;
    w.pattern = literal_pattern(w.text);
    return true;
  }
  return false;
}

bool as_number(Work& w) {
  if (w.kind == Work::Number) return true;
  if (w.kind == Work::String && !w.transformed && parse_number(w.text, w.number)) {
    w.kind = Work::Number;
    return true;
  }
  return false;
}

TimePart time_part_of(std::string_view m) {
  if (m == "minute") return TimePart::Minute;
  if (m == "hour") return TimePart::Hour;
  if (m == "day") return TimePart::Day;
  if (m == "week") return TimePart::Week;
  if (m == "month") return TimePart::Month;
  if (m == "year") return TimePart::Year;
  return TimePart::None;
}

// Replaces the %name% placeholders of `p`; a backslash before '%' makes it a plain '%'.
bool expand_placeholders(const Pattern& p, const FieldMapping& mapping, std::vector<Pattern>& out,
                         Problem& problem) {
  std::vector<std::vector<Pattern>> parts;  // alternatives per part, concatenated in order
  Pattern plain;
  auto flush_plain = [&] {
    parts.push_back({plain});
    plain.clear();
  };
  for (size_t i = 0; i < p.size(); ++i) {
    const Piece& x = p[i];
    if (x.kind == Piece::Literal && x.c == '\\' && !x.escaped && i + 1 < p.size() &&
        p[i + 1].kind == Piece::Literal && p[i + 1].c == '%') {
      plain.push_back({Piece::Literal, '%', true});
      ++i;
      continue;
    }
    if (x.kind == Piece::Literal && x.c == '%' && !x.escaped) {
      size_t j = i + 1;
      std::string name;
      while (j < p.size() && p[j].kind == Piece::Literal && p[j].c != '%' && p[j].c != ' ')
        name.push_back(p[j++].c);
      if (j < p.size() && p[j].kind == Piece::Literal && p[j].c == '%' && !name.empty()) {
        auto it = mapping.placeholders.find(name);
        if (it == mapping.placeholders.end() || it->second.empty()) {
          problem = {"unknown-placeholder", "unknown placeholder '%" + name +
                                                "%'; define its values under 'placeholders' in the mapping "
                                                "file (config/mappings.yml)"};
          return false;
        }
        flush_plain();
        std::vector<Pattern> values;
        for (const auto& v : it->second) values.push_back(parse_pattern(v));
        parts.push_back(std::move(values));
        i = j;
        continue;
      }
    }
    plain.push_back(x);
  }
  flush_plain();
  std::vector<Pattern> acc{Pattern{}};
  for (const auto& alts : parts) {
    std::vector<Pattern> next;
    next.reserve(acc.size() * alts.size());
    for (const auto& a : acc)
      for (const auto& b : alts) {
        Pattern c = a;
        c.insert(c.end(), b.begin(), b.end());
        next.push_back(std::move(c));
      }
    acc = std::move(next);
    if (acc.size() > 10000) {
      problem = {"bad-value", "placeholder expansion gives more than 10000 values"};
      return false;
    }
  }
  out = std::move(acc);
  return true;
}

ValueTest final_test(const Work& w, bool cased, const std::string& regex_flags) {
  ValueTest t;
  switch (w.kind) {
    case Work::String: t = pattern_test(w.pattern); break;
    case Work::Number:
      if (w.time_part != TimePart::None) {
        t.op = Op::Equals;
        t.number = w.number;
        t.time_part = w.time_part;
        t.text = w.text;
      } else {
        t.op = Op::Equals;
        t.text = w.text;
      }
      break;
    case Work::Bool:
      t.op = Op::Equals;
      t.text = w.text;
      break;
    case Work::Null: t.op = Op::Null; break;
    case Work::Regex:
      t.op = Op::Regex;
      t.text = w.text;
      t.regex_flags = regex_flags;
      break;
    case Work::Cidr:
      t.op = Op::Cidr;
      t.text = w.text;
      break;
    case Work::Compare:
      t.op = w.compare;
      t.number = w.number;
      t.time_part = w.time_part;
      t.text = w.text;
      break;
    case Work::Exists:
      t.op = Op::Exists;
      t.expect_exists = w.expect;
      break;
    case Work::FieldRef:
      t.op = Op::FieldRef;
      t.ref_op = w.ref_op;
      t.text = w.text;
      break;
  }
  t.cased = cased;
  return t;
}

}  // namespace

Pattern parse_pattern(std::string_view s) {
  Pattern out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
        out.push_back({Piece::Literal, s[i + 1], true});
        ++i;
      } else {
        out.push_back({Piece::Literal, '\\', false});
      }
    } else if (c == '*') {
      out.push_back({Piece::Star, 0, false});
    } else if (c == '?') {
      out.push_back({Piece::Question, 0, false});
    } else {
      out.push_back({Piece::Literal, c, false});
    }
  }
  return out;
}

Pattern literal_pattern(std::string_view bytes) {
  Pattern out;
  out.reserve(bytes.size());
  for (char c : bytes) out.push_back({Piece::Literal, c, false});
  return out;
}

bool has_wildcards(const Pattern& p) { return std::any_of(p.begin(), p.end(), is_wildcard); }

std::string literal_text(const Pattern& p) {
  std::string out;
  out.reserve(p.size());
  for (const Piece& x : p)
    if (x.kind == Piece::Literal) out.push_back(x.c);
  return out;
}

ValueTest pattern_test(const Pattern& raw) {
  Pattern p = collapse_stars(raw);
  ValueTest t;
  size_t stars = 0, questions = 0;
  for (const Piece& x : p) {
    if (x.kind == Piece::Star) ++stars;
    if (x.kind == Piece::Question) ++questions;
  }
  if (stars == 0 && questions == 0) {
    t.op = Op::Equals;
    t.text = literal_text(p);
    return t;
  }
  if (questions == 0 && p.size() > 1) {
    bool lead = p.front().kind == Piece::Star, trail = p.back().kind == Piece::Star;
    size_t ends = size_t(lead) + size_t(trail);
    if (ends == stars) {  // no star inside
      t.text = literal_text(p);
      t.op = lead && trail ? Op::Contains : lead ? Op::EndsWith : Op::StartsWith;
      return t;
    }
  }
  t.op = Op::Glob;
  t.text = glob_text(p);
  return t;
}

std::string base64_encode(std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = b(i) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::vector<std::string> base64_offset_forms(std::string_view bytes) {
  // With `shift` unknown bytes before the value, the first characters also carry bits of those bytes: drop 0,
  // 2 or 3 of them. At the end, a partial group depends on the bytes after the value: drop the padding and
  // the character that mixes in the unknown bits (none when the total length is a multiple of 3).
  static const size_t kDropStart[3] = {0, 2, 3};
  static const size_t kDropEnd[3] = {0, 3, 2};  // by (shift + size) % 3
  std::vector<std::string> out;
  for (size_t shift = 0; shift < 3; ++shift) {
    std::string padded(shift, '\0');
    padded.append(bytes);
    std::string enc = base64_encode(padded);
    size_t start = kDropStart[shift], end_drop = kDropEnd[padded.size() % 3];
    if (enc.size() <= start + end_drop) continue;
    std::string form = enc.substr(start, enc.size() - start - end_drop);
    if (std::find(out.begin(), out.end(), form) == out.end()) out.push_back(std::move(form));
  }
  return out;
}

Pattern utf16_pattern(const Pattern& p, Utf16 form) {
  Pattern out;
  bool big = form == Utf16::BigEndian;
  if (form == Utf16::WithBom) push_unit(out, 0xFEFF, false);
  size_t i = 0;
  while (i < p.size()) {
    if (p[i].kind != Piece::Literal) {
      out.push_back(p[i++]);
      continue;
    }
    std::string run;
    while (i < p.size() && p[i].kind == Piece::Literal) run.push_back(p[i++].c);
    for (size_t k = 0; k < run.size();) {
      uint32_t cp = next_code_point(run, k);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        push_unit(out, static_cast<uint16_t>(0xD800 + (cp >> 10)), big);
        push_unit(out, static_cast<uint16_t>(0xDC00 + (cp & 0x3FF)), big);
      } else {
        push_unit(out, static_cast<uint16_t>(cp), big);
      }
    }
  }
  return out;
}

bool windash_variants(const Pattern& p, std::vector<Pattern>& out, size_t limit) {
  struct Spot {
    size_t pos, len;
  };
  std::vector<Spot> spots;
  for (size_t i = 0; i < p.size();) {
    size_t n = dash_at(p, i);
    if (n) {
      spots.push_back({i, n});
      i += n;
    } else {
      ++i;
    }
  }
  size_t total = 1;
  for (size_t k = 0; k < spots.size(); ++k) {
    total *= std::size(kDashes);
    if (total > limit) return false;
  }
  out.clear();
  out.reserve(total);
  std::vector<size_t> choice(spots.size(), 0);
  for (size_t v = 0; v < total; ++v) {
    size_t rest = v;
    for (size_t k = 0; k < spots.size(); ++k) {
      choice[k] = rest % std::size(kDashes);
      rest /= std::size(kDashes);
    }
    Pattern q;
    q.reserve(p.size() + 2 * spots.size());
    size_t next = 0;
    for (size_t k = 0; k < spots.size(); ++k) {
      q.insert(q.end(), p.begin() + next, p.begin() + spots[k].pos);
      for (char c : kDashes[choice[k]]) q.push_back({Piece::Literal, c, false});
      next = spots[k].pos + spots[k].len;
    }
    q.insert(q.end(), p.begin() + next, p.end());
    out.push_back(std::move(q));
  }
  return true;
}

bool normalize_network(std::string_view text, std::string& normalized) {
  std::string_view addr = text, prefix;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    addr = text.substr(0, slash);
    prefix = text.substr(slash + 1);
  }
  std::string a(addr);
  unsigned char buf[16];
  int max_prefix;
  if (a.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, a.c_str(), buf) != 1) return false;
    max_prefix = 128;
  } else {
    if (inet_pton(AF_INET, a.c_str(), buf) != 1) return false;
    max_prefix = 32;
  }
  int bits = max_prefix;
  if (slash != std::string_view::npos) {
    if (prefix.empty() || prefix.size() > 3) return false;
    bits = 0;
    for (char c : prefix) {
      if (c < '0' || c > '9') return false;
      bits = bits * 10 + (c - '0');
    }
    if (bits > max_prefix) return false;
  }
  normalized = a + "/" + std::to_string(bits);
  return true;
}

bool parse_number(std::string_view text, double& out) {
  if (text.empty() || text.size() > 64) return false;
  std::string s(text);
  for (char c : s)
    if (c == ' ' || c == '\t' || c == '\n') return false;
  const char* begin = s.c_str();
  char* end = nullptr;
  errno = 0;
  bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  bool octal = s.size() > 2 && s[0] == '0' && s[1] == 'o';
  if (hex || octal) {
    unsigned long long v = std::strtoull(begin + 2, &end, hex ? 16 : 8);
    if (errno || *end || end == begin + 2) return false;
    out = static_cast<double>(v);
    return true;
  }
  // strtod also reads "inf", "nan" and hex floats; a YAML number is digits with sign, point and exponent.
  for (char c : s)
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.' || c == 'e' ||
          c == 'E'))
      return false;
  double v = std::strtod(begin, &end);
  if (errno == ERANGE || *end || end == begin) return false;
  out = v;
  return true;
}

const std::vector<std::string_view>& known_modifiers() {
  static const std::vector<std::string_view> names{
      "contains", "startswith", "endswith", "all",  "exists", "cased",        "neq",     "windash",
      "re",       "i",          "m",        "s",    "base64", "base64offset", "utf16le", "utf16be",
      "utf16",    "wide",       "lt",       "lte",  "gt",     "gte",          "minute",  "hour",
      "day",      "week",       "month",    "year", "cidr",   "expand",       "fieldref"};
  return names;
}

bool build_checks(std::string_view key, const std::vector<Scalar>& values, int line,
                  const FieldMapping& mapping, std::vector<FieldCheck>& out, Problem& problem) {
  std::vector<std::string_view> mods;
  size_t bar = key.find('|');
  std::string field(key.substr(0, bar));
  while (bar != std::string_view::npos) {
    size_t next = key.find('|', bar + 1);
    mods.push_back(
        key.substr(bar + 1, next == std::string_view::npos ? std::string_view::npos : next - bar - 1));
    bar = next;
  }
  if (values.empty()) {
    problem = {"bad-detection",
               "'" + std::string(key) + "' has an empty list of values; give at least one value"};
    return false;
  }

  std::vector<Work> work;
  work.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    Work w;
    w.group = i;
    w.text = values[i].text;
    switch (values[i].kind) {
      case Scalar::String:
        w.kind = Work::String;
        w.pattern = parse_pattern(values[i].text);
        break;
      case Scalar::Number:
        w.kind = Work::Number;
        if (!parse_number(w.text, w.number)) w.number = 0;
        break;
      case Scalar::Bool: w.kind = Work::Bool; break;
      case Scalar::Null: w.kind = Work::Null; break;
    }
    work.push_back(std::move(w));
  }

  bool all = false, negate = false, cased = false, regex_seen = false, expanded = false;
  std::string regex_flags;
  auto bad = [&](std::string_view mod, const Work& w) {
    problem = {"bad-modifier", "modifier '" + std::string(mod) + "' cannot be applied to " +
                                   kind_name(w.kind) + " (value '" + w.text + "' of '" + std::string(key) +
                                   "')"};
    return false;
  };

  for (std::string_view m : mods) {
    if (m == "all") {
      all = true;
    } else if (m == "neq") {
      negate = true;
    } else if (m == "cased") {
      cased = true;
    } else if (m == "contains" || m == "startswith" || m == "endswith") {
      bool front = m != "startswith", back = m != "endswith";
      for (Work& w : work) {
        if (w.kind == Work::FieldRef) {
          bool had_front = w.ref_op == Op::Contains || w.ref_op == Op::EndsWith;
          bool had_back = w.ref_op == Op::Contains || w.ref_op == Op::StartsWith;
          bool f = front || had_front, b = back || had_back;
          w.ref_op = f && b ? Op::Contains : f ? Op::EndsWith : Op::StartsWith;
          continue;
        }
        if (!as_string(w)) return bad(m, w);
        if (front && (w.pattern.empty() || w.pattern.front().kind != Piece::Star))
          w.pattern.insert(w.pattern.begin(), {Piece::Star, 0, false});
        if (back && (w.pattern.size() < 2 || w.pattern.back().kind != Piece::Star))
          w.pattern.push_back({Piece::Star, 0, false});
        w.transformed = true;
      }
    } else if (m == "exists") {
      for (Work& w : work) {
        std::string v = w.text;
        for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if ((w.kind != Work::Bool && w.kind != Work::String) || w.transformed ||
            (v != "true" && v != "false")) {
          problem = {"bad-value", "'" + std::string(key) +
                                      "' needs 'true' or 'false' with modifier 'exists', not '" + w.text +
                                      "'"};
          return false;
        }
        w.kind = Work::Exists;
        w.expect = v == "true";
      }
    } else if (m == "windash") {
      std::vector<Work> next;
      for (Work& w : work) {
        if (!as_string(w)) return bad(m, w);
        std::vector<Pattern> variants;
        if (!windash_variants(w.pattern, variants, 3125)) {
          problem = {"bad-value", "'" + std::string(key) + "' value '" + w.text +
                                      "' has too many dashes for 'windash' (more than 3125 variants)"};
          return false;
        }
        for (auto& v : variants) {
          Work x = w;
          x.pattern = std::move(v);
          x.transformed = true;
          next.push_back(std::move(x));
        }
        if (variants.size() > 1) expanded = true;
      }
      work = std::move(next);
    } else if (m == "re") {
      for (Work& w : work) {
        if (w.kind != Work::String && w.kind != Work::Number) return bad(m, w);
        if (w.transformed) {
          problem = {"bad-modifier", "modifier 're' must come before the modifiers that change the value ('" +
                                         std::string(key) + "')"};
          return false;
        }
        w.kind = Work::Regex;
      }
      regex_seen = true;
    } else if (m == "i" || m == "m" || m == "s") {
      if (!regex_seen) {
        problem = {"bad-modifier", "modifier '" + std::string(m) + "' is a flag of 're'; write '" +
                                       std::string(key.substr(0, key.find('|'))) + "|re|" + std::string(m) +
                                       "'"};
        return false;
      }
      if (regex_flags.find(m[0]) == std::string::npos) regex_flags.push_back(m[0]);
    } else if (m == "base64" || m == "base64offset") {
      std::vector<Work> next;
      for (Work& w : work) {
        if (!as_string(w)) return bad(m, w);
        if (has_wildcards(w.pattern)) {
          problem = {"bad-value", "'" + std::string(key) + "': value '" + w.text +
                                      "' has wildcards, which '" + std::string(m) +
                                      "' cannot encode; escape them ('\\*') or drop them"};
          return false;
        }
        std::string bytes = literal_text(w.pattern);
        if (m == "base64") {
          w.pattern = literal_pattern(base64_encode(bytes));
          w.transformed = true;
          next.push_back(std::move(w));
          continue;
        }
        auto forms = base64_offset_forms(bytes);
        if (forms.empty()) {
          problem = {"bad-value", "'" + std::string(key) + "': value '" + w.text +
                                      "' is too short for 'base64offset' (no stable encoded part)"};
          return false;
        }
        if (forms.size() > 1) expanded = true;
        for (auto& f : forms) {  // the forms only occur inside a longer encoded text
          Work x = w;
          x.pattern = literal_pattern(f);
          x.pattern.insert(x.pattern.begin(), {Piece::Star, 0, false});
          x.pattern.push_back({Piece::Star, 0, false});
          x.transformed = true;
          next.push_back(std::move(x));
        }
      }
      work = std::move(next);
    } else if (m == "utf16le" || m == "wide" || m == "utf16be" || m == "utf16") {
      Utf16 form = m == "utf16be" ? Utf16::BigEndian : m == "utf16" ? Utf16::WithBom : Utf16::LittleEndian;
      for (Work& w : work) {
        if (!as_string(w)) return bad(m, w);
        w.pattern = utf16_pattern(w.pattern, form);
        w.transformed = true;
      }
    } else if (m == "lt" || m == "lte" || m == "gt" || m == "gte") {
      Op op = m == "lt" ? Op::Lt : m == "lte" ? Op::Lte : m == "gt" ? Op::Gt : Op::Gte;
      for (Work& w : work) {
        if (!as_number(w)) {
          problem = {"bad-value", "'" + std::string(key) + "' needs a number with modifier '" +
                                      std::string(m) + "', not '" + w.text + "'"};
          return false;
        }
        w.kind = Work::Compare;
        w.compare = op;
      }
    } else if (TimePart part = time_part_of(m); part != TimePart::None) {
      for (Work& w : work) {
        if (w.kind != Work::Compare && !as_number(w)) {
          problem = {"bad-value", "'" + std::string(key) + "' needs a number with modifier '" +
                                      std::string(m) + "', not '" + w.text + "'"};
          return false;
        }
        w.time_part = part;
      }
    } else if (m == "cidr") {
      for (Work& w : work) {
        if (w.kind != Work::String || w.transformed) return bad(m, w);
        std::string net;
        if (!normalize_network(w.text, net)) {
          problem = {"bad-value",
                     "'" + std::string(key) + "': '" + w.text +
                         "' is not an IPv4 or IPv6 network (write e.g. 10.0.0.0/8 or fe80::/10)"};
          return false;
        }
        w.kind = Work::Cidr;
        w.text = std::move(net);
      }
    } else if (m == "expand") {
      std::vector<Work> next;
      for (Work& w : work) {
        if (!as_string(w)) return bad(m, w);
        std::vector<Pattern> forms;
        if (!expand_placeholders(w.pattern, mapping, forms, problem)) return false;
        if (forms.size() > 1) expanded = true;
        for (auto& f : forms) {
          Work x = w;
          x.pattern = std::move(f);
          x.transformed = true;
          next.push_back(std::move(x));
        }
      }
      work = std::move(next);
    } else if (m == "fieldref") {
      for (Work& w : work) {
        if (w.kind != Work::String) return bad(m, w);
        Pattern p = collapse_stars(w.pattern);
        bool lead = !p.empty() && p.front().kind == Piece::Star;
        bool trail = p.size() > 1 && p.back().kind == Piece::Star;
        if (lead) p.erase(p.begin());
        if (trail) p.pop_back();
        if (p.empty() || has_wildcards(p)) {
          problem = {"bad-value",
                     "'" + std::string(key) + "': '" + w.text + "' is not a field name for 'fieldref'"};
          return false;
        }
        w.kind = Work::FieldRef;
        w.text = literal_text(p);
        w.ref_op = lead && trail ? Op::Contains : lead ? Op::EndsWith : trail ? Op::StartsWith : Op::Equals;
      }
    } else {
      problem = {"unknown-modifier", unknown_modifier_message(m)};
      return false;
    }
  }

  if (field.empty()) {  // a keyword is searched for inside the event's values, as Sigma backends do
    for (Work& w : work) {
      if (!as_string(w)) continue;
      if (w.pattern.empty() || w.pattern.front().kind != Piece::Star)
        w.pattern.insert(w.pattern.begin(), {Piece::Star, 0, false});
      if (w.pattern.size() < 2 || w.pattern.back().kind != Piece::Star)
        w.pattern.push_back({Piece::Star, 0, false});
    }
  }
  for (const Work& w : work)
    if (w.kind == Work::Null && mods.size() > 0)
      for (std::string_view m : mods)
        if (m != "neq" && m != "all" && m != "cased") return bad(m, w);

  if (all && negate && expanded) {
    problem = {"bad-modifier", "'" + std::string(key) +
                                   "': 'neq' with 'all' and a modifier that gives several values per value "
                                   "has no clear meaning; split it into separate selections"};
    return false;
  }
  if (all && expanded) {  // AND over the written values, OR over the forms of each
    size_t groups = values.size();
    std::vector<FieldCheck> checks(groups);
    for (auto& c : checks) {
      c.field = field;
      c.line = line;
    }
    for (const Work& w : work) checks[w.group].values.push_back(final_test(w, cased, regex_flags));
    for (auto& c : checks)
      if (!c.values.empty()) out.push_back(std::move(c));
    return true;
  }
  FieldCheck check;
  check.field = std::move(field);
  check.line = line;
  check.all = all;
  check.negate = negate;
  check.values.reserve(work.size());
  for (const Work& w : work) check.values.push_back(final_test(w, cased, regex_flags));
  out.push_back(std::move(check));
  return true;
}

}  // namespace socd::sigma
