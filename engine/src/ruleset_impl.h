// Internals of RuleSet and Matcher: the compiled form of rules.
#pragma once
#define PCRE2_CODE_UNIT_WIDTH 8
#include <hs/hs.h>
#include <pcre2.h>

#include <memory>
#include <optional>

#include "socd/ruleset.h"
#include "value_match.h"

namespace socd {

struct CompiledTest {
  ValueTest::Op op = ValueTest::Op::Equals;
  ValueTest::Op ref_op = ValueTest::Op::Equals;
  bool cased = false;
  bool expect_exists = true;
  TimePart time_part = TimePart::None;
  double number = 0;
  std::string text;        // lower-case unless cased
  pcre2_code* regex = nullptr;  // owned by RuleSet::Impl::regexes
  detail::Network network;
  uint32_t ref_field = PathIndex::npos;
  std::vector<detail::ContentStep> contents;  // for Contents: the compiled sequence
  // The prefilter pattern of this test's literal (Matcher::State::pattern_stamp), -1 when no database holds it.
  // No hit means no value can pass; for `contains` a hit means one does (`hit_decides`).
  int32_t hit_slot = -1;
  bool hit_decides = false;
};

struct CompiledCheck {
  uint32_t field = PathIndex::npos;  // npos: keyword search over every value
  std::vector<CompiledTest> tests;
  bool all = false;
  bool negate = false;
};

struct CompiledSelection {
  std::vector<std::vector<CompiledCheck>> alternatives;  // OR of ANDs
};

struct CompiledRule {
  std::vector<CompiledSelection> selections;
  Condition condition;
  int32_t source = -1;  // log-source condition index, -1 when unscoped
  bool source_negated = false;  // checked only on events the condition rejects (a product no entry is for)
};

struct RuleSet::Impl {
  std::vector<Rule> rules;
  std::vector<CompiledRule> compiled;
  std::vector<CompiledSelection> sources;  // log-source conditions, shared by the rules that use them
  PathIndex paths;
  std::vector<uint32_t> time_fields, host_fields;
  std::vector<pcre2_code*> regexes;

  // Prefilter: a database per field (keywords: one over all values), each pattern id -> the rules it makes
  // candidates.
  struct FieldDatabase {
    uint32_t field = PathIndex::npos;
    hs_database_t* db = nullptr;
    std::vector<std::vector<uint32_t>> rules_of;
    uint32_t first_slot = 0;  // its pattern i is slot first_slot + i of Matcher::State::pattern_stamp
  };
  std::vector<FieldDatabase> databases;
  std::vector<int32_t> database_of_field;  // field id -> index in `databases`, -1: none
  int32_t keyword_database = -1;
  uint32_t pattern_slots = 0;
  hs_scratch_t* scratch_prototype = nullptr;
  std::vector<uint32_t> unconditional;  // rules with no necessary pattern, ascending
  CompileStats stats;
  uint32_t regex_match_limit = 1'000'000;  // CompileOptions::regex_match_limit

  ~Impl();
};

struct Matcher::State {
  hs_scratch_t* scratch = nullptr;
  pcre2_match_data* match_data = nullptr;
  pcre2_match_context* match_context = nullptr;
  uint64_t regex_limit_hits = 0;  // evaluations that gave up at the match or depth limit
  std::vector<uint32_t> candidate_stamp;  // per rule: the event generation it was last marked in
  std::vector<uint32_t> candidates;
  std::vector<uint32_t> source_stamp;     // per log source: the generation its value was computed in
  std::vector<uint8_t> source_value;
  std::vector<uint32_t> pattern_stamp;    // per prefilter pattern: the generation it last hit in
  uint32_t generation = 0;
};

}  // namespace socd
