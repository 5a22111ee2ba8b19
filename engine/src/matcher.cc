// Matcher: the per-event hot path. One Hyperscan scan per database over the event's scan buffer marks candidate
// rules; candidates and unconditional rules are evaluated against the event's fields.
#include <algorithm>
#include <chrono>

#include "ruleset_impl.h"

namespace socd {
namespace {

using Op = ValueTest::Op;

struct ScanContext {
  Matcher::State* state;
  const std::vector<std::vector<uint32_t>>* rules_of;
  uint32_t first_slot;
};

int on_hit(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  auto* c = static_cast<ScanContext*>(ctx);
  c->state->pattern_stamp[c->first_slot + id] = c->state->generation;
  for (uint32_t r : (*c->rules_of)[id]) {
    if (c->state->candidate_stamp[r] != c->state->generation) {
      c->state->candidate_stamp[r] = c->state->generation;
      c->state->candidates.push_back(r);
    }
  }
  return 0;
}

void scan(const RuleSet::Impl::FieldDatabase& d, std::string_view bytes, Matcher::State& st) {
  ScanContext ctx{&st, &d.rules_of, d.first_slot};
  hs_scan(d.db, bytes.data(), static_cast<unsigned>(bytes.size()), 0, st.scratch, on_hit, &ctx);
}

bool compare_string(Op op, std::string_view v, std::string_view p, bool cased) {
  switch (op) {
    case Op::Equals: return detail::equals(v, p, cased);
    case Op::Contains: return detail::contains(v, p, cased);
    case Op::StartsWith: return detail::starts_with(v, p, cased);
    case Op::EndsWith: return detail::ends_with(v, p, cased);
    default: return false;
  }
}

class Evaluator {
public:
  Evaluator(const RuleSet::Impl& impl, Matcher::State& st, const Event& ev) : impl_(impl), st_(st), ev_(ev) {}

  bool value_test(const CompiledTest& t, std::string_view v) {
    switch (t.op) {
      case Op::Equals:
        if (t.time_part != TimePart::None) {
          auto x = detail::time_part(v, t.time_part);
          return x && *x == t.number;
        }
        return detail::equals(v, t.text, t.cased);
      case Op::Contains: return detail::contains(v, t.text, t.cased);
      case Op::StartsWith: return detail::starts_with(v, t.text, t.cased);
      case Op::EndsWith: return detail::ends_with(v, t.text, t.cased);
      case Op::Glob: return detail::glob_match(v, t.text, t.cased);
      case Op::Regex: {
        int rc = pcre2_match(t.regex, reinterpret_cast<PCRE2_SPTR>(v.data()), v.size(), 0, 0, st_.match_data,
                             st_.match_context);
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
          ++st_.regex_limit_hits;
        return rc >= 0;
      }
      case Op::Cidr: return detail::network_contains(t.network, v);
      case Op::Lt:
      case Op::Lte:
      case Op::Gt:
      case Op::Gte: {
        auto x = t.time_part != TimePart::None ? detail::time_part(v, t.time_part) : detail::parse_number(v);
        if (!x) return false;
        if (t.op == Op::Lt) return *x < t.number;
        if (t.op == Op::Lte) return *x <= t.number;
        if (t.op == Op::Gt) return *x > t.number;
        return *x >= t.number;
      }
      case Op::FieldRef: {
        for (uint32_t l = ev_.first(t.ref_field); l != Event::end; l = ev_.next(l)) {
          std::string_view other = ev_.value(ev_.link_value(l));
          if (t.cased) {
            if (compare_string(t.ref_op, v, other, true)) return true;
          } else {
            lowered_.assign(other);
            for (char& c : lowered_) c = detail::ascii_lower(c);
            if (compare_string(t.ref_op, v, lowered_, false)) return true;
          }
        }
        return false;
      }
      case Op::Contents: return detail::contents_match(v, t.contents, st_.match_data, st_.match_context);
      default: return false;
    }
  }

  // Does any value of field `f` (or of the whole event, for a keyword) pass `t`?
  bool any_value(const CompiledCheck& c, const CompiledTest& t) {
    if (t.hit_slot >= 0) {
      if (st_.pattern_stamp[t.hit_slot] != st_.generation) return false;
      if (t.hit_decides) return true;
    }
    if (c.field == PathIndex::npos) {
      for (size_t i = 0; i < ev_.value_count(); ++i)
        if (value_test(t, ev_.value(i))) return true;
      return false;
    }
    switch (t.op) {
      case Op::Exists: return ev_.has(c.field) == t.expect_exists;
      case Op::Null:
        for (uint32_t l = ev_.first(c.field); l != Event::end; l = ev_.next(l)) {
          size_t vi = ev_.link_value(l);
          if (ev_.type(vi) != ValueType::Null && !ev_.value(vi).empty()) return false;
        }
        return true;
      default:
        for (uint32_t l = ev_.first(c.field); l != Event::end; l = ev_.next(l))
          if (value_test(t, ev_.value(ev_.link_value(l)))) return true;
        return false;
    }
  }

  bool check(const CompiledCheck& c) {
    bool r;
    if (c.all) {
      r = true;
      for (const auto& t : c.tests)
        if (!any_value(c, t)) {
          r = false;
          break;
        }
    } else {
      r = false;
      for (const auto& t : c.tests)
        if (any_value(c, t)) {
          r = true;
          break;
        }
    }
    return r != c.negate;
  }

  bool selection(const CompiledSelection& s) {
    for (const auto& conj : s.alternatives) {
      bool ok = true;
      for (const auto& c : conj)
        if (!check(c)) {
          ok = false;
          break;
        }
      if (ok) return true;
    }
    return false;
  }

  bool condition(const Condition& c, const CompiledRule& r) {
    switch (c.kind) {
      case Condition::Kind::Ref: return selection(r.selections[c.selection]);
      case Condition::Kind::And:
        for (const auto& ch : c.children)
          if (!condition(ch, r)) return false;
        return true;
      case Condition::Kind::Or:
        for (const auto& ch : c.children)
          if (condition(ch, r)) return true;
        return false;
      case Condition::Kind::Not: return c.children.empty() || !condition(c.children[0], r);
      case Condition::Kind::True: return true;
      case Condition::Kind::False: return false;
    }
    return false;
  }

  bool source(int32_t s) {
    if (s < 0) return true;
    if (st_.source_stamp[s] != st_.generation) {
      st_.source_stamp[s] = st_.generation;
      st_.source_value[s] = selection(impl_.sources[s]);
    }
    return st_.source_value[s];
  }

  bool rule(uint32_t r) {
    const CompiledRule& cr = impl_.compiled[r];
    return source(cr.source) != cr.source_negated && condition(cr.condition, cr);
  }

private:
  const RuleSet::Impl& impl_;
  Matcher::State& st_;
  const Event& ev_;
  std::string lowered_;
};

}  // namespace

Matcher::Matcher(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)), state_(std::make_unique<State>()) {
  const auto& impl = rules_->impl();
  if (impl.scratch_prototype) hs_clone_scratch(impl.scratch_prototype, &state_->scratch);
  state_->match_data = pcre2_match_data_create(1, nullptr);
  state_->match_context = pcre2_match_context_create(nullptr);
  // Bounds a pathological regex on a hostile value (CompileOptions::regex_match_limit).
  pcre2_set_match_limit(state_->match_context, impl.regex_match_limit);
  pcre2_set_depth_limit(state_->match_context, std::max<uint32_t>(1000, impl.regex_match_limit / 10));
  state_->candidate_stamp.assign(impl.rules.size(), 0);
  state_->source_stamp.assign(impl.sources.size(), 0);
  state_->source_value.assign(impl.sources.size(), 0);
  state_->pattern_stamp.assign(impl.pattern_slots, 0);
}

Matcher::~Matcher() {
  if (state_->scratch) hs_free_scratch(state_->scratch);
  pcre2_match_data_free(state_->match_data);
  pcre2_match_context_free(state_->match_context);
}

uint64_t Matcher::regex_limit_hits() const { return state_->regex_limit_hits; }

namespace {

// The body of match(), match_split() and match_timed(): without kSplit and kTimed it compiles to the plain hot
// path.
template <bool kSplit, bool kTimed>
void match_event(const RuleSet::Impl& impl, Matcher::State& st, const Event& event, std::vector<uint32_t>& matched,
                 Matcher::RuleCosts* costs, std::chrono::steady_clock::time_point* prefiltered) {
  if (++st.generation == 0) {
    std::fill(st.candidate_stamp.begin(), st.candidate_stamp.end(), 0);
    std::fill(st.source_stamp.begin(), st.source_stamp.end(), 0);
    std::fill(st.pattern_stamp.begin(), st.pattern_stamp.end(), 0);
    st.generation = 1;
  }
  st.candidates.clear();
  if (impl.keyword_database >= 0) scan(impl.databases[impl.keyword_database], event.scan_buffer(), st);
  for (uint32_t f : event.present_fields()) {
    int32_t d = impl.database_of_field[f];
    if (d < 0) continue;
    for (uint32_t l = event.first(f); l != Event::end; l = event.next(l))
      scan(impl.databases[d], event.value(event.link_value(l)), st);
  }
  std::sort(st.candidates.begin(), st.candidates.end());
  Evaluator eval(impl, st, event);
  const auto& un = impl.unconditional;
  size_t i = 0, j = 0;
  [[maybe_unused]] std::chrono::steady_clock::time_point before;
  if constexpr (kSplit || kTimed) {  // the prefilter ends here
    before = std::chrono::steady_clock::now();
    if (prefiltered) *prefiltered = before;
  }
  while (i < st.candidates.size() || j < un.size()) {
    uint32_t r;
    if (j >= un.size() || (i < st.candidates.size() && st.candidates[i] < un[j])) r = st.candidates[i++];
    else r = un[j++];
    bool fires = eval.rule(r);
    if constexpr (kTimed) {  // one clock read per rule: each rule's time runs from the end of the one before
      auto after = std::chrono::steady_clock::now();
      costs->nanos[r] +=
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(after - before).count());
      ++costs->evaluations[r];
      before = after;
    }
    if (fires) matched.push_back(r);
  }
}

}  // namespace

void Matcher::match(const Event& event, std::vector<uint32_t>& matched) {
  match_event<false, false>(rules_->impl(), *state_, event, matched, nullptr, nullptr);
}

void Matcher::match_split(const Event& event, std::vector<uint32_t>& matched,
                          std::chrono::steady_clock::time_point& prefiltered) {
  match_event<true, false>(rules_->impl(), *state_, event, matched, nullptr, &prefiltered);
}

void Matcher::match_timed(const Event& event, std::vector<uint32_t>& matched, RuleCosts& costs,
                          std::chrono::steady_clock::time_point* prefiltered) {
  costs.nanos.resize(rules_->size());
  costs.evaluations.resize(rules_->size());
  match_event<false, true>(rules_->impl(), *state_, event, matched, &costs, prefiltered);
}

}  // namespace socd
