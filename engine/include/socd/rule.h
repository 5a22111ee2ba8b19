// The rule model every rule language compiles to: selections of field checks joined by a condition tree.
// Sigma (and later Sagan) front ends produce Rule values; RuleSet::compile turns them into a matcher.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace socd {

// A problem found while loading rules or configuration: "file:line: message", with a short reason code
// (e.g. "unknown-modifier", "bad-condition") so tools can count skipped rules by reason.
struct Diagnostic {
  std::string file;
  int line = 0;
  std::string reason;
  std::string message;
  std::string to_string() const;  // "file:line: message [reason]"
};

// Part of a date value compared by the Sigma time modifiers (minute, hour, day, week, month, year).
enum class TimePart : uint8_t { None, Minute, Hour, Day, Week, Month, Year };

// One Sagan `content` or `pcre` of a rule: the patterns of a rule are matched in order against one value (the
// message), each placed by Sagan's positional modifiers relative to the value's start (offset, depth) or to the end
// of the previous match (distance, within).
struct ContentPattern {
  std::string text;          // literal bytes (content, escapes already decoded) or a PCRE2 pattern (pcre)
  bool regex = false;        // a pcre
  std::string regex_flags;   // pcre flags as written: i, m, s, x
  bool negated = false;      // content:!"...": must not occur where the modifiers say
  bool nocase = false;
  int offset = -1, depth = -1, distance = -1, within = -1;  // -1: not given
};

// One comparison of an event value with one rule value.
struct ValueTest {
  enum class Op : uint8_t {
    Equals,      // the whole value equals `text`
    Contains,    // `text` anywhere in the value
    StartsWith,  // value begins with `text`
    EndsWith,    // value ends with `text`
    Glob,        // `text` is a pattern: '*' any run, '?' one character, '\' escapes the next character
                 // (every literal '*', '?' and '\' in it is escaped)
    Regex,       // `text` is a PCRE2 pattern; `regex_flags` holds 'i', 'm', 's' as given
    Cidr,        // `text` is a network such as 10.0.0.0/8 or fe80::/10
    Lt, Lte, Gt, Gte,  // numeric comparison with `number`
    Exists,      // the field is present (expect_exists) or absent (!expect_exists)
    Null,        // the field is absent, JSON null, or empty
    FieldRef,    // compare with the value of the field named in `text`, using `ref_op`
    Contents,    // the Sagan content/pcre sequence in `contents` matches the value
  };
  Op op = Op::Equals;
  Op ref_op = Op::Equals;       // for FieldRef: Equals, Contains, StartsWith or EndsWith
  bool cased = false;           // case-sensitive (Sigma 'cased'); regexes use regex_flags instead
  bool expect_exists = true;    // for Exists
  TimePart time_part = TimePart::None;  // for numeric ops (and Equals) on date values
  double number = 0;            // for Lt/Lte/Gt/Gte, and Equals when time_part != None
  std::string text;
  std::string regex_flags;
  std::vector<ContentPattern> contents;  // for Contents
};

// A field with its values: the values are OR-ed, or AND-ed with `all`; `negate` (Sigma 'neq') inverts the result.
struct FieldCheck {
  std::string field;  // Sigma field name; empty for a keyword search over every value of the event
  std::vector<ValueTest> values;
  bool all = false;
  bool negate = false;
  int line = 0;
};

using Conjunction = std::vector<FieldCheck>;  // AND of checks (a Sigma map)

// A named search identifier: an OR of conjunctions (a Sigma map is one, a list of maps is several,
// a keyword list is one conjunction with one keyword check).
struct Selection {
  std::string name;
  std::vector<Conjunction> alternatives;
};

// The condition as a tree over selection indexes; "1 of x*", "all of them" are expanded into And/Or nodes.
struct Condition {
  enum class Kind : uint8_t { And, Or, Not, Ref, True, False };
  Kind kind = Kind::True;
  int selection = -1;  // for Ref
  std::vector<Condition> children;
};

struct LogSource {
  std::string product, category, service;
};

struct Rule {
  std::string id;  // Sigma id, or Sagan sid
  std::string name;  // Sigma 'name': how correlation rules and filters may refer to the rule besides its id
  std::string title;
  std::string level;  // informational, low, medium, high, critical
  std::string status;
  std::string description;
  std::vector<std::string> tags;
  std::vector<std::string> references;
  LogSource logsource;
  std::vector<Selection> selections;
  Condition condition;
  std::string file;
  int line = 0;
  // Options that need state across events (Sagan threshold, after, xbits, flexbits ...; Sigma correlation), kept
  // as written for the stateful stage: (keyword, value).
  std::vector<std::pair<std::string, std::string>> stateful_options;
  // Field names (as in the rule's language) whose values the stateful stage reads from the events this rule
  // fires on: group-by and value_count fields of the correlations over the rule, key fields of its
  // thresholds. Set when the rule set is linked (load_rules); RuleSet::compile makes them readable like the
  // fields the rule tests.
  std::vector<std::string> state_fields;
};

// A bound on a correlation's count: `count <op> value`; a condition is an AND of bounds
// ("gt: 100, lte: 200").
struct CountBound {
  enum class Op : uint8_t { Gt, Gte, Lt, Lte, Eq, Neq };
  Op op = Op::Gte;
  uint64_t value = 0;
  bool holds(uint64_t count) const {
    switch (op) {
      case Op::Gt: return count > value;
      case Op::Gte: return count >= value;
      case Op::Lt: return count < value;
      case Op::Lte: return count <= value;
      case Op::Eq: return count == value;
      case Op::Neq: return count != value;
    }
    return false;
  }
};

// A Sigma correlation rule: a meta-rule over the alerts of other rules (Sigma correlation specification 2.x).
struct Correlation {
  enum class Type : uint8_t {
    EventCount,       // events of the rules per group within the timespan
    ValueCount,       // distinct values of `value_fields` per group within the timespan
    Temporal,         // distinct rules (of `rules`) seen per group within the timespan
    TemporalOrdered,  // the rules seen per group within the timespan, in the order of `rules`
  };
  std::string id, name, title, level, status, description;
  std::vector<std::string> tags;
  Type type = Type::EventCount;
  std::vector<std::string> rules;         // the rules (or correlations) counted: ids or names, as written
  std::vector<std::string> group_by;      // field names, or alias names (below)
  int64_t timespan_ms = 0;
  std::string timespan;                   // as written ("5m")
  std::vector<CountBound> condition;      // AND of bounds; empty for temporal types: every rule must be seen
  std::vector<std::string> value_fields;  // value_count: the field(s) whose distinct values (combined) count
  // alias -> (rule name or id -> the field of that rule's events the alias stands for)
  std::map<std::string, std::map<std::string, std::string>> aliases;
  bool generate = false;  // the referenced rules also raise their own alerts (Sigma 'generate'; default: not)
  std::string file;
  int line = 0;
};

// A Sigma filter document: known-good events excluded from the named rules without editing them. Linking
// AND-s `condition` (over `selections`) into the condition of every named rule whose log source fits.
struct RuleFilter {
  std::string id, title;
  LogSource logsource;
  std::vector<std::string> rules;  // ids or names of the rules it applies to
  std::vector<Selection> selections;
  Condition condition;
  bool negated = false;  // the condition contains a 'not' (a filter without one keeps only what it selects)
  std::string file;
  int line = 0;
};

// How Sigma field names and log sources reach the events (config/mappings.yml).
struct FieldMapping {
  // Sigma field name -> event paths (dotted), tried as alternatives.
  std::map<std::string, std::vector<std::string>> fields;
  // Prefixes tried for a field with no entry in `fields` ("" = the name itself at top level).
  std::vector<std::string> prefixes{""};
  // A log source: rules whose logsource has every key this entry sets get the entry's conditions AND-ed in.
  struct Source {
    LogSource match;
    Selection condition;  // OR of conjunctions over Sigma field names
  };
  std::vector<Source> sources;
  // Values for Sigma's 'expand' placeholders: name (without %) -> values.
  std::map<std::string, std::vector<std::string>> placeholders;
  // Sigma field names tried, in order, for an alert's time and host.
  std::vector<std::string> time_fields{"TimeCreated", "@timestamp", "timestamp", "time"};
  std::vector<std::string> host_fields{"Computer", "Hostname", "host", "hostname"};
};

}  // namespace socd
