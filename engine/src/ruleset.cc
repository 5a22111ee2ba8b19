// RuleSet::compile: rules -> compiled checks, log-source conditions, and the Hyperscan prefilter databases.
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <cstring>
#include <unistd.h>

#include "ruleset_impl.h"
#include "socd/read_file.h"

namespace socd {
namespace {

using Op = ValueTest::Op;

std::string lower_key(const LogSource& s) {
  return detail::ascii_lower(s.product) + '\x1f' + detail::ascii_lower(s.category) + '\x1f' +
         detail::ascii_lower(s.service);
}

// A pattern the prefilter looks for: a literal or a regex, with its Hyperscan flags.
// Each field has its own database (Suricata keeps one per buffer type): a value is scanned only for the
// patterns of the rules that test that field, and keyword patterns are scanned over all values at once.
struct Pattern {
  std::string text;
  bool regex = false;
  unsigned flags = 0;
  uint32_t field = PathIndex::npos;  // npos: a keyword, searched in every value
  std::string key() const {  // appended piece by piece: a chain of + made g++ 12 warn falsely (-Wrestrict)
    std::string k(regex ? "R" : "L");
    k += std::to_string(flags);
    k += ':';
    k += std::to_string(field);
    k += '\0';
    k += text;
    return k;
  }
};

// The patterns of which at least one must occur in an event for a rule (or part of one) to match.
// `none` means no such set exists: the part can match without any positive hit (e.g. "not x", "x|exists").
struct Need {
  bool none = true;
  std::vector<int> patterns;
  size_t weakest = 0;  // length of the shortest literal (a short literal hits often)
};

class Builder {
public:
  Builder(RuleSet::Impl& impl, const FieldMapping& mapping, std::vector<Diagnostic>& diags)
      : impl_(impl), mapping_(mapping), diags_(diags) {}

  uint32_t field(const std::string& name) {
    uint32_t id = impl_.paths.find_field(name);
    if (id != PathIndex::npos) return id;
    id = impl_.paths.field_id(name);
    auto it = mapping_.fields.find(name);
    if (it != mapping_.fields.end()) {
      for (const auto& p : it->second) impl_.paths.add_path(p, id);
    } else {
      for (const auto& pre : mapping_.prefixes) impl_.paths.add_path(pre + name, id);
    }
    return id;
  }

  // Compiles a selection; on failure returns false with `why` set.
  bool selection(const Selection& sel, CompiledSelection& out, std::string& why, int& line) {
    for (const auto& conj : sel.alternatives) {
      std::vector<CompiledCheck> checks;
      for (const auto& fc : conj) {
        CompiledCheck cc;
        cc.field = fc.field.empty() ? PathIndex::npos : field(fc.field);
        cc.all = fc.all;
        cc.negate = fc.negate;
        for (const auto& vt : fc.values) {
          CompiledTest t;
          if (!test(vt, t, why)) {
            line = fc.line;
            return false;
          }
          cc.tests.push_back(std::move(t));
        }
        checks.push_back(std::move(cc));
      }
      out.alternatives.push_back(std::move(checks));
    }
    return true;
  }

  bool test(const ValueTest& vt, CompiledTest& t, std::string& why) {
    t.op = vt.op;
    t.ref_op = vt.ref_op;
    t.cased = vt.cased;
    t.expect_exists = vt.expect_exists;
    t.time_part = vt.time_part;
    t.number = vt.number;
    switch (vt.op) {
      case Op::Regex: {
        pcre2_code* code = compile_regex(vt.text, vt.regex_flags, why);
        if (!code) return false;
        t.regex = code;
        t.text = vt.text;
        t.cased = true;
        return true;
      }
      case Op::Contents:
        for (const ContentPattern& p : vt.contents) {
          detail::ContentStep step;
          step.negated = p.negated;
          step.nocase = p.nocase;
          step.offset = p.offset;
          step.depth = p.depth;
          step.distance = p.distance;
          step.within = p.within;
          if (p.regex) {
            step.regex = compile_regex(p.text, p.regex_flags, why);
            if (!step.regex) return false;
            step.text = p.text;
          } else {
            step.text = p.nocase ? detail::ascii_lower(p.text) : p.text;
          }
          t.contents.push_back(std::move(step));
        }
        t.cased = true;
        return true;
      case Op::Cidr: {
        auto net = detail::parse_network(vt.text);
        if (!net) {
          why = "invalid network '" + vt.text + "' (expected e.g. 10.0.0.0/8 or fe80::/10)";
          return false;
        }
        t.network = *net;
        t.text = vt.text;
        return true;
      }
      case Op::FieldRef:
        t.ref_field = field(vt.text);
        t.text = vt.text;
        return true;
      default:
        t.text = vt.cased ? vt.text : detail::ascii_lower(vt.text);
        return true;
    }
  }

  // Compiles a PCRE2 pattern with flags i, m, s, x (Sagan's pcre also: A anchored, E dollar-end-only,
  // G ungreedy); null with `why` set when it does not compile.
  pcre2_code* compile_regex(const std::string& text, const std::string& flags, std::string& why) {
    if (limits_) {
      const CompileOptions& o = *limits_;
      auto over = [&](const std::string& what, uint64_t value, uint64_t limit, const char* option) {
        over_limit_ = true;
        why = "regular expression '" + text.substr(0, 80) + (text.size() > 80 ? "...'" : "'") + " over the limit: " +
              what + " " + std::to_string(value) + " > " + std::to_string(limit) + " (" + option +
              "; the rule is left out)";
        return nullptr;
      };
      if (o.max_regex_bytes && text.size() > o.max_regex_bytes)
        return over("length", text.size(), o.max_regex_bytes, "max-regex-bytes");
      RegexComplexity c = regex_complexity(text);
      if (o.max_regex_repeat && c.repeat_weight > o.max_regex_repeat)
        return over("repetition weight", c.repeat_weight, o.max_regex_repeat, "max-regex-repeat");
      if (o.max_regex_nesting && c.nesting > o.max_regex_nesting)
        return over("nested parentheses", c.nesting, o.max_regex_nesting, "max-regex-nesting");
    }
    uint32_t options = 0;
    for (char f : flags) {
      if (f == 'i') options |= PCRE2_CASELESS;
      else if (f == 'm') options |= PCRE2_MULTILINE;
      else if (f == 's') options |= PCRE2_DOTALL;
      else if (f == 'x') options |= PCRE2_EXTENDED;
      else if (f == 'A') options |= PCRE2_ANCHORED;
      else if (f == 'E') options |= PCRE2_DOLLAR_ENDONLY;
      else if (f == 'G') options |= PCRE2_UNGREEDY;
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
    if (context && limits_ && limits_->max_regex_nesting)
      pcre2_set_parens_nest_limit(context, limits_->max_regex_nesting);
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), options, &err, &off, context);
    pcre2_compile_context_free(context);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      why = "invalid regular expression '" + text + "': " + reinterpret_cast<char*>(msg) + " at offset " +
            std::to_string(off);
      return nullptr;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    impl_.regexes.push_back(code);
    return code;
  }

  // Finds the log-source condition for a rule: the mapping entry that sets the most keys, all equal to the
  // rule's, and that covers the rule's category and service. -1 when none (the rule is unscoped).
  int32_t source(const Rule& rule) {
    std::string key = lower_key(rule.logsource);
    auto memo = source_memo_.find(key);
    if (memo != source_memo_.end()) return memo->second;
    const FieldMapping::Source* best = nullptr;
    int best_keys = -1;
    auto eq = [](const std::string& a, const std::string& b) {
      return detail::ascii_lower(a) == detail::ascii_lower(b);
    };
    for (const auto& s : mapping_.sources) {
      const LogSource& m = s.match;
      if (!m.product.empty() && !eq(m.product, rule.logsource.product)) continue;
      if (!m.category.empty() && !eq(m.category, rule.logsource.category)) continue;
      if (!m.service.empty() && !eq(m.service, rule.logsource.service)) continue;
      if (!rule.logsource.category.empty() && m.category.empty()) continue;
      if (!rule.logsource.service.empty() && m.service.empty()) continue;
      int keys = !m.product.empty() + !m.category.empty() + !m.service.empty();
      if (keys > best_keys) {
        best = &s;
        best_keys = keys;
      }
    }
    int32_t index = -1;
    if (best && !best->condition.alternatives.empty()) {
      CompiledSelection cs;
      std::string why;
      int line = 0;
      if (selection(best->condition, cs, why, line)) {
        index = static_cast<int32_t>(impl_.sources.size());
        impl_.sources.push_back(std::move(cs));
      } else {
        diags_.push_back({"mappings", line, "warning-bad-logsource", "log-source condition: " + why});
      }
    }
    source_memo_.emplace(key, index);
    return index;
  }

  // Whether the rule names a product no mapping entry is for (macos when only windows and linux have entries).
  bool unknown_product(const Rule& rule) const {
    const std::string& product = rule.logsource.product;
    if (product.empty()) return false;
    for (const auto& s : mapping_.sources)
      if (detail::ascii_lower(s.match.product) == detail::ascii_lower(product)) return false;
    return true;
  }

  // The events of the products the mapping knows: the OR of the conditions of the entries that set only
  // `product` (windows, linux). A rule of an unknown product is checked only where this is false, so a macOS
  // process_creation rule never fires on a Windows registry event. Compiled once, shared; -1 when no entry.
  int32_t known_products() {
    if (known_products_ != kNotYet) return known_products_;
    known_products_ = -1;
    CompiledSelection all;
    for (const auto& s : mapping_.sources) {
      const LogSource& m = s.match;
      if (m.product.empty() || !m.category.empty() || !m.service.empty()) continue;
      CompiledSelection cs;
      std::string why;
      int line = 0;
      // An entry that does not compile is reported when a rule of its own product uses it (source()).
      if (!selection(s.condition, cs, why, line)) continue;
      known_product_names_ += (known_product_names_.empty() ? "" : ", ") + m.product;
      for (auto& alternative : cs.alternatives) all.alternatives.push_back(std::move(alternative));
    }
    if (!all.alternatives.empty()) {
      known_products_ = static_cast<int32_t>(impl_.sources.size());
      impl_.sources.push_back(std::move(all));
    }
    return known_products_;
  }

  bool has_mapping(const Rule& rule) {
    return source_memo_[lower_key(rule.logsource)] >= 0 ||
           (rule.logsource.product.empty() && rule.logsource.category.empty() && rule.logsource.service.empty());
  }

  // ---- prefilter needs ----
  int intern(Pattern p) {
    std::string k = p.key();
    auto it = pattern_ids_.find(k);
    if (it != pattern_ids_.end()) return it->second;
    int id = static_cast<int>(patterns_.size());
    patterns_.push_back(std::move(p));
    pattern_ids_.emplace(std::move(k), id);
    return id;
  }

  static bool better(const Need& a, const Need& b) {  // is a a better necessary set than b?
    if (a.none != b.none) return !a.none;
    if (a.weakest != b.weakest) return a.weakest > b.weakest;
    return a.patterns.size() < b.patterns.size();
  }

  static Need unite(Need a, const Need& b) {
    if (a.none || b.none) return Need{};
    a.patterns.insert(a.patterns.end(), b.patterns.begin(), b.patterns.end());
    a.weakest = std::min(a.weakest, b.weakest);
    return a;
  }

  Need single(Pattern p, size_t strength) {
    Need n;
    n.none = false;
    n.weakest = strength;
    n.patterns.push_back(intern(std::move(p)));
    return n;
  }

  Need test_need(const CompiledTest& t, uint32_t field) {
    const unsigned caseless = t.cased ? 0u : unsigned(HS_FLAG_CASELESS);
    switch (t.op) {
      case Op::Equals:
      case Op::Contains:
      case Op::StartsWith:
      case Op::EndsWith:
        if (t.text.empty() || t.time_part != TimePart::None) return {};
        return single({t.text, false, caseless, field}, t.text.size());
      case Op::Glob: {
        std::string lit = detail::glob_longest_literal(t.text);
        if (lit.empty()) return {};
        size_t n = lit.size();
        return single({std::move(lit), false, caseless, field}, n);
      }
      case Op::Regex: return regex_need(t.regex, t.text, field);
      case Op::Contents: {
        // The longest content that must occur; failing that, a pcre that must match.
        const detail::ContentStep* best = nullptr;
        for (const auto& s : t.contents)
          if (!s.negated && !s.regex && !s.text.empty() && (!best || s.text.size() > best->text.size())) best = &s;
        if (best)
          return single({best->text, false, best->nocase ? unsigned(HS_FLAG_CASELESS) : 0u, field},
                        best->text.size());
        for (const auto& s : t.contents)
          if (!s.negated && s.regex) {
            Need n = regex_need(s.regex, s.text, field);
            if (!n.none) return n;
          }
        return {};
      }
      default:
        return {};
    }
  }

  Need regex_need(pcre2_code* regex, const std::string& text, uint32_t field) {
    unsigned flags = HS_FLAG_PREFILTER;
    uint32_t opts = 0;
    pcre2_pattern_info(regex, PCRE2_INFO_ARGOPTIONS, &opts);
    if (opts & PCRE2_CASELESS) flags |= HS_FLAG_CASELESS;
    if (opts & PCRE2_DOTALL) flags |= HS_FLAG_DOTALL;
    // Keywords are scanned over all values joined by '\n': there '^' and '$' must hold at every line.
    if ((opts & PCRE2_MULTILINE) || field == PathIndex::npos) flags |= HS_FLAG_MULTILINE;
    // Options Hyperscan has no flag for: such a regex is confirmed by PCRE2 alone.
    if (opts & (PCRE2_EXTENDED | PCRE2_ANCHORED | PCRE2_DOLLAR_ENDONLY | PCRE2_UNGREEDY)) return {};
    if (!regex_usable(text, flags)) return {};
    return single({text, true, flags, field}, 3);
  }

  // Whether Hyperscan takes `re` as a prefilter that needs at least one byte (an empty-matching regex filters
  // nothing); what it refuses is confirmed by PCRE2 alone.
  bool regex_usable(const std::string& re, unsigned flags) {
    std::string k = std::to_string(flags) + '\0' + re;
    if (rejected_.count(k)) return false;
    auto it = usable_.find(k);
    if (it != usable_.end()) return it->second;
    hs_expr_info_t* info = nullptr;
    hs_compile_error_t* err = nullptr;
    bool ok = hs_expression_info(re.c_str(), flags, &info, &err) == HS_SUCCESS && info && info->min_width > 0;
    if (err) hs_free_compile_error(err);
    free(info);
    usable_.emplace(k, ok);
    if (!ok) ++refused_;
    return ok;
  }

  Need check_need(const CompiledCheck& c) {
    if (c.negate || c.tests.empty()) return {};
    Need acc;
    bool first = true;
    for (const auto& t : c.tests) {
      Need n = test_need(t, c.field);
      if (c.all) {
        if (first || better(n, acc)) acc = std::move(n);
      } else {
        acc = first ? std::move(n) : unite(std::move(acc), n);
        if (acc.none) return acc;
      }
      first = false;
    }
    return acc;
  }

  Need selection_need(const CompiledSelection& s) {
    Need acc;
    bool first = true;
    for (const auto& conj : s.alternatives) {
      Need best;
      for (const auto& c : conj) {
        Need n = check_need(c);
        if (better(n, best)) best = std::move(n);
      }
      acc = first ? std::move(best) : unite(std::move(acc), best);
      first = false;
      if (acc.none) return acc;
    }
    return acc;
  }

  Need condition_need(const Condition& c, const CompiledRule& r) {
    switch (c.kind) {
      case Condition::Kind::Ref: return selection_need(r.selections[c.selection]);
      case Condition::Kind::And: {
        Need best;
        for (const auto& ch : c.children) {
          Need n = condition_need(ch, r);
          if (better(n, best)) best = std::move(n);
        }
        return best;
      }
      case Condition::Kind::Or: {
        Need acc;
        bool first = true;
        for (const auto& ch : c.children) {
          Need n = condition_need(ch, r);
          acc = first ? std::move(n) : unite(std::move(acc), n);
          first = false;
          if (acc.none) return acc;
        }
        return acc;
      }
      default: return {};
    }
  }

  void compute_needs() {
    patterns_.clear();
    pattern_ids_.clear();
    needs_.clear();
    for (const auto& r : impl_.compiled) {
      Need n = enabled_ ? condition_need(r.condition, r) : Need{};
      std::sort(n.patterns.begin(), n.patterns.end());
      n.patterns.erase(std::unique(n.patterns.begin(), n.patterns.end()), n.patterns.end());
      needs_.push_back(std::move(n));
    }
  }

  std::vector<Pattern> patterns_;
  std::map<std::string, int> pattern_ids_;
  std::vector<Need> needs_;
  std::set<std::string> rejected_;            // regexes a database build refused (flags '\0' text)
  std::map<std::string, bool> usable_;        // hs_expression_info verdicts
  size_t refused_ = 0;
  bool enabled_ = true;
  const CompileOptions* limits_ = nullptr;  // the compile-time limits on regexes
  bool over_limit_ = false;                 // the last failure was a limit, not an error
  std::string known_product_names_;         // of the entries in known_products(), for diagnostics

private:
  RuleSet::Impl& impl_;
  const FieldMapping& mapping_;
  std::vector<Diagnostic>& diags_;
  std::map<std::string, int32_t> source_memo_;
  static constexpr int32_t kNotYet = -2;
  int32_t known_products_ = kNotYet;
};

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(hex[md[i] >> 4]);
    out.push_back(hex[md[i] & 15]);
  }
  return out;
}

// A literal as a Hyperscan expression: every byte that is not a letter or digit written as \xHH.
std::string literal_expression(std::string_view lit) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : lit) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

// Compiles one field's database; when Hyperscan refuses an expression, returns null with its index in `bad`.
hs_database_t* compile_group(const std::vector<const Pattern*>& pats, int& bad, std::string& error) {
  bad = -1;
  std::vector<std::string> exprs;
  std::vector<const char*> ptrs;
  std::vector<unsigned> flags, ids;
  for (size_t i = 0; i < pats.size(); ++i) {
    exprs.push_back(pats[i]->regex ? pats[i]->text : literal_expression(pats[i]->text));
    flags.push_back(pats[i]->flags | HS_FLAG_SINGLEMATCH);
    ids.push_back(static_cast<unsigned>(i));
  }
  for (const auto& e : exprs) ptrs.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(ptrs.data(), flags.data(), ids.data(), static_cast<unsigned>(pats.size()), HS_MODE_BLOCK,
                       nullptr, &db, &err) != HS_SUCCESS) {
    error = err ? err->message : "unknown error";
    bad = err ? err->expression : -1;
    hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

// ---- the on-disk cache of compiled databases ----
void put_u64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
bool get_u64(std::string_view& in, uint64_t& v) {
  if (in.size() < 8) return false;
  std::memcpy(&v, in.data(), 8);
  in.remove_prefix(8);
  return true;
}
void put_bytes(std::string& out, std::string_view b) {
  put_u64(out, b.size());
  out.append(b);
}
bool get_bytes(std::string_view& in, std::string_view& b) {
  uint64_t n;
  if (!get_u64(in, n) || in.size() < n) return false;
  b = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}
void put_db(std::string& out, hs_database_t* db) {
  if (!db) return put_bytes(out, {});
  char* bytes = nullptr;
  size_t len = 0;
  if (hs_serialize_database(db, &bytes, &len) != HS_SUCCESS) return put_bytes(out, {});
  put_bytes(out, {bytes, len});
  free(bytes);
}
bool get_db(std::string_view& in, hs_database_t*& db) {
  std::string_view b;
  if (!get_bytes(in, b)) return false;
  db = nullptr;
  if (b.empty()) return true;
  return hs_deserialize_database(b.data(), b.size(), &db) == HS_SUCCESS;
}

}  // namespace

RegexComplexity regex_complexity(std::string_view re) {
  // A stack of open groups: the weight of the sequence so far in each, and the weight of its last atom (which a
  // quantifier multiplies).
  struct Group {
    uint64_t sum = 0, last = 0;
  };
  auto saturate = [](uint64_t a, uint64_t b) {
    const uint64_t cap = uint64_t{1} << 62;
    if (a != 0 && b > cap / a) return cap;
    return std::min(cap, a * b);
  };
  std::vector<Group> stack(1);
  RegexComplexity out;
  auto atom = [&](uint64_t weight) {
    stack.back().sum = std::min<uint64_t>(stack.back().sum + weight, uint64_t{1} << 62);
    stack.back().last = weight;
  };
  size_t i = 0;
  const size_t n = re.size();
  auto read_number = [&](size_t& at, uint64_t& v) {
    size_t start = at;
    v = 0;
    while (at < n && re[at] >= '0' && re[at] <= '9' && at - start < 9) v = v * 10 + static_cast<uint64_t>(re[at++] - '0');
    return at > start;
  };
  while (i < n) {
    char c = re[i];
    if (c == '\\') {
      if (i + 1 < n && re[i + 1] == 'Q') {  // \Q...\E: literal text
        size_t end = re.find("\\E", i + 2);
        size_t stop = end == std::string_view::npos ? n : end;
        for (size_t k = i + 2; k < stop; ++k) atom(1);
        i = end == std::string_view::npos ? n : end + 2;
        continue;
      }
      i += 2;
      if (i < n && re[i] == '{' && i >= 1 && std::strchr("xopPNgk", re[i - 1]) != nullptr) {
        size_t close = re.find('}', i);
        i = close == std::string_view::npos ? n : close + 1;
      }
      atom(1);
      continue;
    }
    if (c == '[') {  // a class is one atom; ']' first (after an optional '^') is literal
      size_t k = i + 1;
      if (k < n && re[k] == '^') ++k;
      if (k < n && re[k] == ']') ++k;
      while (k < n && re[k] != ']') {
        if (re[k] == '\\') k += 2;
        else if (re[k] == '[' && k + 1 < n && re[k + 1] == ':') {
          size_t close = re.find(":]", k + 2);
          k = close == std::string_view::npos ? n : close + 2;
        } else ++k;
      }
      i = std::min(n, k + 1);
      atom(1);
      continue;
    }
    if (c == '(') {
      stack.emplace_back();
      out.nesting = std::max<uint32_t>(out.nesting, static_cast<uint32_t>(stack.size() - 1));
      ++i;
      continue;
    }
    if (c == ')') {
      if (stack.size() > 1) {
        uint64_t weight = std::max<uint64_t>(stack.back().sum, 1);
        stack.pop_back();
        atom(weight);
      }
      ++i;
      continue;
    }
    if (c == '|') {  // alternatives: the heavier one counts (kept as the sum, an upper bound)
      ++i;
      continue;
    }
    if (c == '*' || c == '+' || c == '?') {
      ++i;
      continue;
    }
    if (c == '{') {
      size_t k = i + 1;
      uint64_t low = 0, high = 0;
      bool has_low = read_number(k, low);
      bool counted = false;
      if (k < n && re[k] == '}' && has_low) {
        high = low;
        counted = true;
      } else if (k < n && re[k] == ',') {
        ++k;
        bool has_high = read_number(k, high);
        if (k < n && re[k] == '}' && (has_low || has_high)) {
          counted = true;
          if (!has_high) high = low;
        }
      }
      if (counted) {
        Group& g = stack.back();
        uint64_t factor = std::max<uint64_t>(high, 1);
        uint64_t weighted = saturate(g.last, factor);
        g.sum = std::min<uint64_t>(g.sum - g.last + weighted, uint64_t{1} << 62);
        g.last = weighted;
        i = k + 1;
        continue;
      }
      atom(1);  // a literal '{'
      ++i;
      continue;
    }
    atom(1);
    ++i;
  }
  while (stack.size() > 1) {
    uint64_t weight = stack.back().sum;
    stack.pop_back();
    atom(weight);
  }
  out.repeat_weight = stack.back().sum;
  return out;
}

RuleSet::Impl::~Impl() {
  for (auto& d : databases)
    if (d.db) hs_free_database(d.db);
  if (scratch_prototype) hs_free_scratch(scratch_prototype);
  for (auto* r : regexes) pcre2_code_free(r);
}

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;
size_t RuleSet::size() const { return impl_->rules.size(); }
const Rule& RuleSet::rule(uint32_t i) const { return impl_->rules[i]; }
const PathIndex& RuleSet::paths() const { return impl_->paths; }
const CompileStats& RuleSet::stats() const { return impl_->stats; }
const std::vector<uint32_t>& RuleSet::time_fields() const { return impl_->time_fields; }
const std::vector<uint32_t>& RuleSet::host_fields() const { return impl_->host_fields; }

std::shared_ptr<const RuleSet> RuleSet::compile(std::vector<Rule> rules, const FieldMapping& mapping,
                                                const CompileOptions& options, std::vector<Diagnostic>& diags) {
  std::shared_ptr<RuleSet> set(new RuleSet());
  Impl& impl = *set->impl_;
  Builder b(impl, mapping, diags);
  b.limits_ = &options;
  impl.regex_match_limit = options.regex_match_limit;
  // Log sources with no mapping entry (and whether their product is one no entry is for) -> rules.
  std::map<std::pair<std::string, bool>, int> unmapped;

  for (auto& rule : rules) {
    CompiledRule cr;
    std::string why;
    int line = rule.line;
    bool ok = true;
    if (options.max_patterns_per_rule) {
      size_t patterns = 0;
      for (const auto& sel : rule.selections)
        for (const auto& conj : sel.alternatives)
          for (const auto& fc : conj)
            for (const auto& vt : fc.values) patterns += vt.contents.empty() ? 1 : vt.contents.size();
      if (patterns > options.max_patterns_per_rule) {
        diags.push_back({rule.file, rule.line, "limit-patterns-per-rule",
                         "rule '" + rule.id + "' tests " + std::to_string(patterns) + " values, over the limit of " +
                             std::to_string(options.max_patterns_per_rule) +
                             " (max-rule-patterns); the rule is left out"});
        continue;
      }
    }
    b.over_limit_ = false;
    for (const auto& sel : rule.selections) {
      CompiledSelection cs;
      if (!b.selection(sel, cs, why, line)) {
        ok = false;
        break;
      }
      cr.selections.push_back(std::move(cs));
    }
    if (!ok) {
      diags.push_back({rule.file, line,
                       b.over_limit_ ? "limit-regex-complexity"
                                     : why.rfind("invalid regular", 0) == 0 ? "bad-regex" : "bad-value",
                       why});
      continue;
    }
    cr.condition = rule.condition;
    cr.source = b.source(rule);
    const bool unknown_product = cr.source < 0 && b.unknown_product(rule);
    if (unknown_product) {
      cr.source = b.known_products();
      cr.source_negated = cr.source >= 0;
    }
    for (const auto& f : rule.state_fields) b.field(f);  // read by the stateful stage (stateful.h)
    if (!b.has_mapping(rule)) {
      ++impl.stats.unscoped_rules;
      const auto& ls = rule.logsource;
      ++unmapped[{"product=" + ls.product + " category=" + ls.category + " service=" + ls.service,
                  cr.source_negated}];
    }
    impl.compiled.push_back(std::move(cr));
    impl.rules.push_back(std::move(rule));
  }
  for (const auto& [key, n] : unmapped) {
    const auto& [what, unknown_product] = key;
    diags.push_back({"mappings", 0, "warning-unmapped-logsource",
                     "no log-source mapping for " + what + " (" + std::to_string(n) +
                         (unknown_product ? " rules of a product no entry is for; they match any event but those "
                                            "of the products with an entry: " + b.known_product_names_
                                          : " rules match any event") +
                         "); add an entry to the mappings file to scope them"});
  }
  for (const auto& name : mapping.time_fields) impl.time_fields.push_back(b.field(name));
  for (const auto& name : mapping.host_fields) impl.host_fields.push_back(b.field(name));
  for (const auto& name : options.extra_fields) b.field(name);

  // Prefilter databases, from the cache when the same patterns were compiled before.
  auto t0 = std::chrono::steady_clock::now();
  b.enabled_ = options.prefilter;
  b.compute_needs();
  std::vector<std::vector<const Pattern*>> groups;  // per database, in field order (keywords first)
  std::vector<std::pair<int, int>> slot;            // pattern -> (database, id in it)
  auto group = [&] {
    // Only the patterns some rule's necessary set uses go into the databases (needs are computed over every
    // alternative, most of which lose to a better one).
    std::map<uint32_t, std::vector<int>> by_field;  // field npos sorts last; keywords go first below
    std::vector<char> used(b.patterns_.size(), 0);
    for (const auto& n : b.needs_)
      for (int p : n.patterns) used[p] = 1;
    for (size_t i = 0; i < b.patterns_.size(); ++i)
      if (used[i]) by_field[b.patterns_[i].field].push_back(static_cast<int>(i));
    slot.assign(b.patterns_.size(), {-1, -1});
    groups.clear();
    impl.databases.clear();
    auto add_group = [&](uint32_t field, const std::vector<int>& members) {
      Impl::FieldDatabase fdb;
      fdb.field = field;
      fdb.rules_of.resize(members.size());
      std::vector<const Pattern*> g;
      for (size_t k = 0; k < members.size(); ++k) {
        slot[members[k]] = {static_cast<int>(groups.size()), static_cast<int>(k)};
        g.push_back(&b.patterns_[members[k]]);
      }
      groups.push_back(std::move(g));
      impl.databases.push_back(std::move(fdb));
    };
    if (auto kw = by_field.find(PathIndex::npos); kw != by_field.end()) add_group(kw->first, kw->second);
    for (const auto& [field, members] : by_field)
      if (field != PathIndex::npos) add_group(field, members);
    impl.unconditional.clear();
    for (uint32_t r = 0; r < b.needs_.size(); ++r) {
      if (b.needs_[r].none) {
        impl.unconditional.push_back(r);
        continue;
      }
      for (int p : b.needs_[r].patterns) impl.databases[slot[p].first].rules_of[slot[p].second].push_back(r);
    }
  };
  group();
  std::string key_material = std::string("socd-prefilter-2\n") + hs_version() + "\n";
  for (const auto& g : groups) {
    for (const Pattern* p : g) key_material += p->key() + '\x1e';
    key_material += '\n';
  }
  for (const auto& n : b.needs_) {
    for (int p : n.patterns) key_material += std::to_string(p) + ',';
    key_material += '\n';
  }
  std::string cache_file;
  bool loaded = false;
  auto free_databases = [&] {
    for (auto& d : impl.databases)
      if (d.db) hs_free_database(d.db), d.db = nullptr;
  };
  if (!options.cache_dir.empty()) {
    cache_file = options.cache_dir + "/" + sha256_hex(key_material) + ".hsdb";
    if (std::string data; read_file(cache_file, data)) {
      std::string_view view(data);
      std::string_view magic;
      uint64_t nrej = 0;
      bool ok = get_bytes(view, magic) && magic == "socd-hsdb-2" && get_u64(view, nrej);
      std::set<std::string> rejected;
      for (uint64_t i = 0; ok && i < nrej; ++i) {
        std::string_view k;
        ok = get_bytes(view, k);
        rejected.emplace(k);
      }
      if (ok && !rejected.empty()) {
        b.rejected_ = std::move(rejected);
        b.usable_.clear();
        b.compute_needs();
        group();
      }
      uint64_t ndb = 0;
      ok = ok && get_u64(view, ndb) && ndb == impl.databases.size();
      for (size_t i = 0; ok && i < impl.databases.size(); ++i) ok = get_db(view, impl.databases[i].db);
      loaded = ok;
      if (!ok) {
        free_databases();
        b.rejected_.clear();
        b.usable_.clear();
        b.compute_needs();
        group();
      }
    }
  }
  if (!loaded) {
    for (;;) {
      bool retry = false;
      for (size_t i = 0; i < groups.size() && !retry; ++i) {
        int bad = -1;
        std::string error;
        impl.databases[i].db = compile_group(groups[i], bad, error);
        if (impl.databases[i].db) continue;
        // Leave the refused regex (or, when Hyperscan names none, every regex of this database) to PCRE2.
        size_t before = b.rejected_.size();
        for (size_t k = 0; k < groups[i].size(); ++k)
          if (groups[i][k]->regex && (bad < 0 || static_cast<int>(k) == bad))
            b.rejected_.insert(std::to_string(groups[i][k]->flags) + '\0' + groups[i][k]->text);
        if (b.rejected_.size() == before) {
          diags.push_back({"prefilter", 0, "warning-prefilter",
                           "a prefilter database was not built (" + error + "); its rules are evaluated on every event"});
          for (auto& n : b.needs_)
            for (int p : n.patterns)
              if (std::find(groups[i].begin(), groups[i].end(), &b.patterns_[p]) != groups[i].end()) n = Need{};
          free_databases();
          group();
          retry = true;
          break;
        }
        free_databases();
        b.usable_.clear();
        b.compute_needs();
        group();
        retry = true;
      }
      if (!retry) break;
    }
    if (!cache_file.empty()) {
      std::string out;
      put_bytes(out, "socd-hsdb-2");
      put_u64(out, b.rejected_.size());
      for (const auto& k : b.rejected_) put_bytes(out, k);
      put_u64(out, impl.databases.size());
      for (const auto& d : impl.databases) put_db(out, d.db);
      std::error_code ec;
      std::filesystem::create_directories(options.cache_dir, ec);
      std::string tmp = cache_file + ".tmp" + std::to_string(::getpid());
      std::ofstream f(tmp, std::ios::binary);
      f.write(out.data(), static_cast<std::streamsize>(out.size()));
      f.close();
      if (!f || std::rename(tmp.c_str(), cache_file.c_str()) != 0) {
        std::remove(tmp.c_str());
        diags.push_back({options.cache_dir, 0, "warning-cache",
                         "could not write the compiled-rule cache (rules still work, the next start recompiles)"});
      }
    }
  }
  size_t literals = 0, regexes = 0;
  impl.stats.per_database.clear();
  for (size_t i = 0; i < groups.size(); ++i) {
    DatabaseStats d;
    const uint32_t field = impl.databases[i].field;
    if (field != PathIndex::npos) d.field = impl.paths.field_name(field);
    d.built = impl.databases[i].db != nullptr;
    for (const Pattern* p : groups[i]) ++(p->regex ? d.regexes : d.literals);
    literals += d.literals;
    regexes += d.regexes;
    impl.stats.per_database.push_back(std::move(d));
  }
  impl.database_of_field.assign(impl.paths.field_count(), -1);
  for (size_t i = 0; i < impl.databases.size(); ++i) {
    const auto& d = impl.databases[i];
    if (!d.db) continue;
    hs_alloc_scratch(d.db, &impl.scratch_prototype);
    if (d.field == PathIndex::npos) impl.keyword_database = static_cast<int32_t>(i);
    else impl.database_of_field[d.field] = static_cast<int32_t>(i);
  }
  // Tests whose literal is a prefilter pattern read its hit instead of searching the values again.
  for (auto& d : impl.databases) {
    d.first_slot = impl.pattern_slots;
    impl.pattern_slots += static_cast<uint32_t>(d.rules_of.size());
  }
  auto link_test = [&](CompiledTest& t, uint32_t field) {
    std::string literal;
    switch (t.op) {
      case Op::Equals:
      case Op::Contains:
      case Op::StartsWith:
      case Op::EndsWith:
        if (t.time_part != TimePart::None) return;
        literal = t.text;
        break;
      case Op::Glob: literal = detail::glob_longest_literal(t.text); break;
      default: return;
    }
    if (literal.empty()) return;
    Pattern p{literal, false, t.cased ? 0u : unsigned(HS_FLAG_CASELESS), field};
    auto it = b.pattern_ids_.find(p.key());
    if (it == b.pattern_ids_.end()) return;
    auto [db, id] = slot[it->second];
    if (db < 0 || !impl.databases[db].db) return;
    t.hit_slot = static_cast<int32_t>(impl.databases[db].first_slot + static_cast<uint32_t>(id));
    // Keywords are scanned over all values joined by '\n': only a literal without one is found in one value.
    t.hit_decides = t.op == Op::Contains && (field != PathIndex::npos || literal.find('\n') == std::string::npos);
  };
  auto link_selection = [&](CompiledSelection& sel) {
    for (auto& conj : sel.alternatives)
      for (auto& c : conj)
        for (auto& t : c.tests) link_test(t, c.field);
  };
  for (auto& r : impl.compiled)
    for (auto& sel : r.selections) link_selection(sel);
  for (auto& sel : impl.sources) link_selection(sel);
  impl.stats.hs_compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  impl.stats.cache_hit = loaded;
  impl.stats.rules = impl.rules.size();
  impl.stats.literal_patterns = literals;
  impl.stats.regex_patterns = regexes;
  impl.stats.databases = impl.databases.size();
  impl.stats.regex_hs_rejected = b.rejected_.size() + b.refused_;
  impl.stats.unconditional_rules = impl.unconditional.size();
  impl.stats.pcre2_patterns = impl.regexes.size();
  return set;
}

}  // namespace socd
