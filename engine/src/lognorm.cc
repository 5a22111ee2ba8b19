// The rulebase normalizer: parsing a rulebase into one tree, and matching texts against it (see lognorm.h).
#include "socd/lognorm.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace socd::lognorm {
namespace {

// liblognorm tries the parsers of a node in this order (lower first).
int priority(Rulebase::Type t) {
  switch (t) {
    case Rulebase::Type::Ipv4:
      return 4;
    case Rulebase::Type::Time24hr:
    case Rulebase::Type::DateIso:
      return 8;
    case Rulebase::Type::Number:
      return 16;
    case Rulebase::Type::Word:
    case Rulebase::Type::CharTo:
    case Rulebase::Type::CharSep:
      return 32;
    case Rulebase::Type::QuotedString:
      return 64;
    case Rulebase::Type::Rest:
      return 255;
  }
  return 255;
}

bool type_named(std::string_view name, Rulebase::Type& out) {
  static const std::pair<const char*, Rulebase::Type> kTypes[] = {
      {"word", Rulebase::Type::Word},
      {"char-to", Rulebase::Type::CharTo},
      {"char-sep", Rulebase::Type::CharSep},
      {"ipv4", Rulebase::Type::Ipv4},
      {"number", Rulebase::Type::Number},
      {"rest", Rulebase::Type::Rest},
      {"quoted-string", Rulebase::Type::QuotedString},
      {"time-24hr", Rulebase::Type::Time24hr},
      {"date-iso", Rulebase::Type::DateIso}};
  for (const auto& [n, t] : kTypes)
    if (name == n) {
      out = t;
      return true;
    }
  return false;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "\x2C" -> ","; other bytes as written.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] == 'x' && hex(s[i + 2]) >= 0 && hex(s[i + 3]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 2]) * 16 + hex(s[i + 3])));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// Exactly two digits at s[i] not above `max`.
bool two_digits(std::string_view s, size_t i, int max) {
  return i + 1 < s.size() && digit(s[i]) && digit(s[i + 1]) && (s[i] - '0') * 10 + (s[i + 1] - '0') <= max;
}

// The length of the field at text[pos], or -1 when it does not parse there. `value` gets the kept part.
long parse_field(Rulebase::Type type, const std::string& stops, std::string_view text, size_t pos,
                 std::string_view& value) {
  const size_t n = text.size();
  size_t i = pos;
  switch (type) {
    case Rulebase::Type::Word:
      while (i < n && text[i] != ' ') ++i;
      if (i == pos) return -1;
      break;
    case Rulebase::Type::CharTo:
    case Rulebase::Type::CharSep:
      while (i < n && stops.find(text[i]) == std::string::npos) ++i;
      if (type == Rulebase::Type::CharTo && (i == pos || i == n)) return -1;
      break;
    case Rulebase::Type::Number:
      while (i < n && digit(text[i])) ++i;
      if (i == pos) return -1;
      break;
    case Rulebase::Type::Rest:
      i = n;
      break;
    case Rulebase::Type::Ipv4:
      for (int part = 0; part < 4; ++part) {
        if (part) {
          if (i >= n || text[i] != '.') return -1;
          ++i;
        }
        size_t start = i;
        int v = 0;
        while (i < n && digit(text[i]) && i - start < 3) v = v * 10 + (text[i++] - '0');
        if (i == start || v > 255) return -1;
      }
      break;
    case Rulebase::Type::QuotedString: {
      if (i >= n || text[i] != '"') return -1;
      size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) return -1;
      value = text.substr(i + 1, close - i - 1);
      return static_cast<long>(close + 1 - pos);
    }
    case Rulebase::Type::Time24hr:
      if (!(two_digits(text, i, 23) && i + 2 < n && text[i + 2] == ':' && two_digits(text, i + 3, 59) &&
            i + 5 < n && text[i + 5] == ':' && two_digits(text, i + 6, 59)))
        return -1;
      i += 8;
      break;
    case Rulebase::Type::DateIso: {
      if (i + 10 > n) return -1;
      for (size_t k = 0; k < 4; ++k)
        if (!digit(text[i + k])) return -1;
      if (text[i + 4] != '-' || text[i + 7] != '-' || !two_digits(text, i + 5, 12) ||
          !two_digits(text, i + 8, 31))
        return -1;
      int month = (text[i + 5] - '0') * 10 + (text[i + 6] - '0'),
          day = (text[i + 8] - '0') * 10 + (text[i + 9] - '0');
      if (month == 0 || day == 0) return -1;
      i += 10;
      break;
    }
  }
  value = text.substr(pos, i - pos);
  return static_cast<long>(i - pos);
}

constexpr int kMaxSteps = 100000;  // a text that needs more backtracking than this matches nothing

}  // namespace

std::shared_ptr<const Rulebase> Rulebase::load(const std::string& path,
                                               std::vector<Diagnostic>& diagnostics) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diagnostics.push_back({path, 0, "read-error", "cannot read the normalization rulebase"});
    return nullptr;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(path, ss.str(), diagnostics);
}

std::shared_ptr<const Rulebase> Rulebase::parse(const std::string& file, std::string_view text,
                                                std::vector<Diagnostic>& diagnostics) {
  auto rb = std::shared_ptr<Rulebase>(new Rulebase());
  rb->file_ = file;
  rb->nodes_.emplace_back();
  std::string prefix;
  int line_no = 0;
  size_t pos = 0;
  auto bad = [&](const std::string& message) {
    diagnostics.push_back({file, line_no, "lognorm-bad-rule", message});
  };
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (line.rfind("prefix=", 0) == 0) {
      prefix = std::string(line.substr(7));
      continue;
    }
    if (line.rfind("rule=", 0) != 0) {
      bad("'" + std::string(line.substr(0, 40)) +
          "...' is neither prefix=, rule= nor a comment (liblognorm rejects it too): the line is left out");
      continue;
    }
    size_t colon = line.find(':', 5);
    if (colon == std::string_view::npos) {
      bad("rule= needs 'tags:pattern' (no ':' found): the rule is left out");
      continue;
    }
    std::string pattern = prefix + std::string(line.substr(colon + 1));
    // The pattern as a path of steps: literal bytes and fields.
    struct Step {
      bool field = false;
      unsigned char byte = 0;
      Type type = Type::Word;
      std::string stops, name;
    };
    std::vector<Step> steps;
    auto literal = [&steps](unsigned char byte) {
      Step s;
      s.byte = byte;
      steps.push_back(std::move(s));
    };
    std::string why;
    for (size_t i = 0; i < pattern.size() && why.empty(); ++i) {
      if (pattern[i] != '%') {
        literal(static_cast<unsigned char>(pattern[i]));
        continue;
      }
      if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
        literal('%');
        ++i;
        continue;
      }
      size_t close = pattern.find('%', i + 1);
      if (close == std::string::npos) {
        why = "a field opened at byte " + std::to_string(i) + " has no closing '%'";
        break;
      }
      std::string_view spec(pattern.data() + i + 1, close - i - 1);
      size_t c1 = spec.find(':');
      if (c1 == std::string_view::npos) {
        why = "field '%" + std::string(spec) + "%' needs name:type";
        break;
      }
      size_t c2 = spec.find(':', c1 + 1);
      std::string_view name = spec.substr(0, c1);
      std::string_view type_name =
          spec.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1);
      Step s;
      s.field = true;
      if (!type_named(type_name, s.type)) {
        why = "field '%" + std::string(spec) + "%': type '" + std::string(type_name) +
              "' is not supported (word, char-to, char-sep, ipv4, number, rest, quoted-string, time-24hr, "
              "date-iso)";
        break;
      }
      if (c2 != std::string_view::npos) s.stops = unescape(spec.substr(c2 + 1));
      if ((s.type == Type::CharTo || s.type == Type::CharSep) && s.stops.empty()) {
        why = "field '%" + std::string(spec) + "%' needs the byte(s) it ends at";
        break;
      }
      if (name != "-") s.name = std::string(name);
      steps.push_back(std::move(s));
      i = close;
    }
    if (!why.empty()) {
      bad(why + ": the rule is left out");
      continue;
    }
    // Into the tree: shared steps are shared nodes.
    uint32_t node = 0;
    for (const auto& s : steps) {
      if (!s.field) {
        auto& lit = rb->nodes_[node].literal;
        auto it = std::lower_bound(lit.begin(), lit.end(), std::make_pair(s.byte, uint32_t{0}),
                                   [](const auto& a, const auto& b) { return a.first < b.first; });
        if (it != lit.end() && it->first == s.byte) {
          node = it->second;
          continue;
        }
        uint32_t child = static_cast<uint32_t>(rb->nodes_.size());
        rb->nodes_[node].literal.insert(it, {s.byte, child});
        rb->nodes_.emplace_back();
        node = child;
        continue;
      }
      int32_t name = -1;
      if (!s.name.empty()) {
        auto found = std::find(rb->names_.begin(), rb->names_.end(), s.name);
        name = static_cast<int32_t>(found - rb->names_.begin());
        if (found == rb->names_.end()) rb->names_.push_back(s.name);
      }
      auto& fields = rb->nodes_[node].fields;
      auto same = std::find_if(fields.begin(), fields.end(), [&](const FieldEdge& e) {
        return e.type == s.type && e.stops == s.stops && e.name == name;
      });
      if (same != fields.end()) {
        node = same->child;
        continue;
      }
      FieldEdge e;
      e.type = s.type;
      e.stops = s.stops;
      e.name = name;
      e.child = static_cast<uint32_t>(rb->nodes_.size());
      auto at = std::upper_bound(fields.begin(), fields.end(), priority(s.type),
                                 [](int p, const FieldEdge& x) { return p < priority(x.type); });
      fields.insert(at, std::move(e));
      node = static_cast<uint32_t>(rb->nodes_.size());
      rb->nodes_.emplace_back();
    }
    if (rb->nodes_[node].rule >= 0) {
      diagnostics.push_back({file, line_no, "warning-lognorm-duplicate-rule",
                             "the same pattern as the rule on line " +
                                 std::to_string(rb->rule_lines_[rb->nodes_[node].rule]) +
                                 ", which is the one that applies"});
      continue;
    }
    rb->nodes_[node].rule = static_cast<int32_t>(rb->rule_lines_.size());
    rb->rule_lines_.push_back(line_no);
  }
  return rb;
}

bool Rulebase::walk(uint32_t node_index, std::string_view text, size_t pos, std::vector<Capture>& out,
                    int& steps, int32_t& rule) const {
  if (++steps > kMaxSteps) return false;
  // Runs of literal bytes with nothing else to try (most of a pattern) are followed in a loop.
  for (;;) {
    const Node& n = nodes_[node_index];
    if (n.rule >= 0 || !n.fields.empty() || n.literal.size() != 1) break;
    if (pos >= text.size() || static_cast<unsigned char>(text[pos]) != n.literal[0].first) return false;
    node_index = n.literal[0].second;
    ++pos;
  }
  const Node& node = nodes_[node_index];
  if (pos == text.size() && node.rule >= 0) {
    rule = node.rule;
    return true;
  }
  if (pos < text.size() && !node.literal.empty()) {
    const unsigned char c = static_cast<unsigned char>(text[pos]);
    for (const auto& [byte, child] : node.literal) {
      if (byte < c) continue;
      if (byte == c && walk(child, text, pos + 1, out, steps, rule)) return true;
      break;
    }
  }
  for (const FieldEdge& e : node.fields) {
    std::string_view value;
    long n = parse_field(e.type, e.stops, text, pos, value);
    if (n < 0) continue;
    if (e.name >= 0) out.emplace_back(names_[e.name], value);
    if (walk(e.child, text, pos + static_cast<size_t>(n), out, steps, rule)) return true;
    if (e.name >= 0) out.pop_back();
    if (steps > kMaxSteps) return false;
  }
  return false;
}

bool Rulebase::normalize(std::string_view text, std::vector<Capture>& out, int* rule_line) const {
  out.clear();
  int steps = 0;
  int32_t rule = -1;
  if (!walk(0, text, 0, out, steps, rule)) {
    out.clear();
    return false;
  }
  if (rule_line) *rule_line = rule_lines_[rule];
  return true;
}

}  // namespace socd::lognorm
