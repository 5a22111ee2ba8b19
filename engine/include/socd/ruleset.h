// A compiled, immutable rule set and the per-worker Matcher that runs it over events.
//
// Compile once, scan many (the Hyperscan way): every rule's literals and regexes go into shared Hyperscan databases
// with HS_FLAG_SINGLEMATCH; a hit only marks the rules that need it as candidates, and only candidates (plus the
// rules that need no positive hit) are evaluated in full. The RuleSet is shared by all workers through
// std::shared_ptr<const RuleSet>; each worker owns a Matcher (its Hyperscan scratch and PCRE2 match data).
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socd/event.h"
#include "socd/rule.h"

namespace socd {

struct CompileOptions {
  std::string cache_dir;  // where compiled Hyperscan databases are cached; empty: no cache
  bool prefilter = true;  // false: evaluate every rule on every event (for checking the prefilter, and debugging)
  // Field names (resolved through the mapping like a rule's) that events must carry although no rule tests them:
  // the threat-intelligence fields (socd/intel.h). Registered after every other field, so the ids of the rules'
  // fields, and the cached databases, do not depend on them.
  std::vector<std::string> extra_fields;
  // Limits a hostile rule cannot pass: a rule over one is left out with a diagnostic naming its file:line and
  // the limit (reasons limit-patterns-per-rule, limit-regex-complexity). 0: no limit.
  size_t max_patterns_per_rule = 10'000;  // values, contents and pcres one rule tests
  size_t max_regex_bytes = 8'192;         // length of one regular expression
  uint64_t max_regex_repeat = 50'000;     // a regex's repetitions, nested counts multiplied ((a{100}){100}: 10,000)
  uint32_t max_regex_nesting = 64;        // nested parentheses in one regex
  // At match time, a regex (PCRE2) gives up on a value after this many steps (catastrophic backtracking on a
  // hostile value), with a backtracking depth bound to match; the value then does not match, and the give-ups
  // are counted (Matcher::regex_limit_hits()).
  uint32_t regex_match_limit = 1'000'000;
};

// The repetition weight of a regular expression: each atom weighs 1, a sequence the sum of its atoms, a
// quantified atom its weight times the quantifier's upper count (its lower one when unbounded; * + ? count 1),
// so nested counted repeats multiply ((a{100}){100}: 10,000) as they do in the automata Hyperscan builds.
// Also the deepest nesting of parentheses.
struct RegexComplexity {
  uint64_t repeat_weight = 0;
  uint32_t nesting = 0;
};
RegexComplexity regex_complexity(std::string_view regex);

// One Hyperscan prefilter database: the field whose values it scans and the patterns in it.
struct DatabaseStats {
  std::string field;      // the field's name; empty for the keyword database (every value of the event)
  size_t literals = 0;
  size_t regexes = 0;     // prefilters of regexes (PCRE2 confirms them)
  bool built = true;      // false: Hyperscan refused it, its rules are evaluated on every event
};

struct CompileStats {
  size_t rules = 0;               // rules in the set
  size_t databases = 0;           // Hyperscan databases (one per field tested, one for keywords)
  size_t literal_patterns = 0;    // literals in the prefilter databases
  size_t regex_patterns = 0;      // regexes in the prefilter databases
  size_t regex_hs_rejected = 0;   // regexes Hyperscan could not take even as a prefilter (PCRE2 only)
  size_t unconditional_rules = 0; // rules evaluated on every event of their log source (no necessary literal)
  size_t unscoped_rules = 0;      // rules whose log source has no mapping entry
  size_t pcre2_patterns = 0;      // regexes compiled for confirmation
  bool cache_hit = false;         // databases came from the cache
  double hs_compile_seconds = 0;  // time spent compiling (or loading) the Hyperscan databases
  std::vector<DatabaseStats> per_database;  // in scan order: the keyword database first, then by field
};

class RuleSet {
public:
  // Compiles `rules`; a rule that cannot be compiled (bad regex, bad network ...) is left out with a diagnostic.
  static std::shared_ptr<const RuleSet> compile(std::vector<Rule> rules, const FieldMapping& mapping,
                                                const CompileOptions& options, std::vector<Diagnostic>& diagnostics);
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  size_t size() const;
  const Rule& rule(uint32_t index) const;
  const PathIndex& paths() const;
  const CompileStats& stats() const;
  // Field ids tried in order for an alert's time and host.
  const std::vector<uint32_t>& time_fields() const;
  const std::vector<uint32_t>& host_fields() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

private:
  RuleSet();
  std::unique_ptr<Impl> impl_;
};

class Matcher {
public:
  explicit Matcher(std::shared_ptr<const RuleSet> rules);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;
  // Appends to `matched` the indexes of the rules that fire on `event`, ascending. `event` must have been filled
  // with this rule set's PathIndex.
  void match(const Event& event, std::vector<uint32_t>& matched);
  // As match(), and sets `prefiltered` to the steady-clock time at which the prefilter (the Hyperscan scans that
  // pick the candidate rules) ended and the evaluation of the rules' conditions began: one clock read, for the
  // sampled events of the pipeline's time per stage.
  void match_split(const Event& event, std::vector<uint32_t>& matched,
                   std::chrono::steady_clock::time_point& prefiltered);
  // As match(), and for each rule evaluated on `event` (a candidate of the prefilter, or a rule without
  // one) adds the steady-clock nanoseconds its evaluation took (its condition, with any regular expression
  // confirming it) to costs.nanos[rule] and 1 to costs.evaluations[rule] (both sized here to the rule
  // count). For sampled events only (socd replay's top rules by time): it reads the clock once per rule.
  struct RuleCosts {
    std::vector<uint64_t> nanos, evaluations;
  };
  // With `prefiltered`, sets it as match_split() does (the clock read that starts the first rule's time).
  void match_timed(const Event& event, std::vector<uint32_t>& matched, RuleCosts& costs,
                   std::chrono::steady_clock::time_point* prefiltered = nullptr);
  // Regex evaluations that gave up at CompileOptions::regex_match_limit (the value counted as not matching),
  // since this matcher was made.
  uint64_t regex_limit_hits() const;
  const RuleSet& rules() const { return *rules_; }

  struct State;

private:
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<State> state_;
};

}  // namespace socd
