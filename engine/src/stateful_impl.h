// Internals of StatefulRules: correlations and policies resolved to nodes (internal to the engine).
//
// Nodes: 0 .. rules-1 are the rules of the RuleSet; rules + i is live correlation i. A hit of a node carries
// the values of its fields: a rule's Rule::state_fields, a correlation's group-by names. A consumer reads
// them by slot.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_set>
#include <optional>
#include <string>
#include <vector>

#include "socd/lognorm.h"
#include "socd/stateful.h"
#include "value_match.h"

namespace socd {

struct CompiledCorrelation {
  Correlation def;
  std::string rule_id;  // id, else name, else title
  uint32_t node = 0;
  bool sliding = true;    // only lower bounds: fire at once; else decide at window end
  uint64_t required = 0;  // temporal types: rules (steps) needed
  uint64_t cap = 0;       // distinct values/steps worth keeping (upper bound + 1)
  std::vector<std::vector<uint32_t>> step_nodes;  // per entry of `rules`: the nodes it names
  std::string fingerprint;                        // the definition, for matching snapshots
};

// How a correlation reads the hits of one node.
struct CorrelationInput {
  uint32_t correlation = 0;
  std::vector<int> key_slots;  // per group-by: the slot in the node's values (-1: the node has no such field)
  std::vector<int> value_slots;  // value_count: per field
  uint64_t steps = 0;            // bit k: the node is named by the correlation's k-th rule
};

struct CompiledPolicy {
  SuppressionPolicy def;
  std::string fingerprint;
};

// How a policy reads the hits of one node.
struct PolicyInput {
  uint32_t policy = 0;
  std::vector<int> key_slots;  // per `by` field; empty with `whole_event`
  bool whole_event = false;    // dedup without fields: the event digest is the key
};

// A list of the blacklist or bro-intel processor: addresses and networks, and (bro-intel) indicators of other
// types for the message searches.
struct SaganList {
  std::map<int, std::unordered_set<std::string>> networks;  // prefix (of the 128-bit form) -> masked addresses
  std::map<std::string, std::vector<std::string>> indicators;  // "DOMAIN", "URL" ... -> lower-case values
  bool contains_address(std::string_view address) const;
};

// The stateful options of one Sagan rule, compiled.
struct SaganCount {
  enum class Kind : uint8_t { None, Limit, Suppress, After };
  Kind kind = Kind::None;
  bool src = false, dst = false, username = false, string = false, src_port = false, dst_port = false;
  uint64_t count = 0;
  int64_t window_ms = 0;
  std::string text;  // as written
};

struct SaganBits {
  enum class Op : uint8_t { Set, Unset, IsSet, IsNotSet };
  enum class Dir : uint8_t { Src, Dst, Both, Reverse, Any };
  bool flex = false;
  Op op = Op::Set;
  Dir dir = Dir::Both;
  std::vector<std::string> names;
  bool all = false;  // names joined by '&'
  int64_t expire_ms = 0;
};

struct SaganLookup {
  bool blacklist = true;  // else bro-intel
  bool src = false, dst = false, all = false;
  std::vector<std::string> searches;  // bro-intel message searches: indicator types ("DOMAIN", "URL" ...)
  std::vector<std::shared_ptr<const SaganList>> lists;
};

// The header's address or port check of a Sagan rule: the value must be in one of `in` (when there are any)
// and in none of `out` (the '!' entries).
struct SaganAddressCheck {
  std::vector<detail::Network> in, out;
  bool active() const { return !in.empty() || !out.empty(); }
};
struct SaganPortCheck {
  std::vector<std::pair<int, int>> in, out;  // ranges, bounds included
  bool active() const { return !in.empty() || !out.empty(); }
};

struct SaganRule {
  uint32_t rule = 0;
  std::shared_ptr<const lognorm::Rulebase> rulebase;  // `normalize`: the compiled rulebase; null: none
  SaganAddressCheck source, destination;              // the header (all "any": inactive)
  SaganPortCheck source_port, destination_port;
  std::string protocol;        // the header's tcp / udp / icmp; empty: any
  std::string event_protocol;  // default_proto, else the Sagan YAML's default-proto
  int default_port = 514;      // the Sagan YAML's default-port: the port of an event whose message names none
  int host_slot = -1, message_slot = -1;  // in the rule's state values
  int parse_src = 0, parse_dst = 0;
  int default_src_port = -1, default_dst_port = -1;
  std::string default_host;
  SaganCount threshold, after;
  std::vector<SaganBits> bits;
  bool noalert = false;
  bool alert_time = false;
  uint8_t days = 0x7f;  // bit d: day d (0 Sunday)
  int hours_from = -1, hours_to = -1;  // HHMM
  std::vector<SaganLookup> lookups;
};

// Compiles the Sagan options of `rule` (index `index`); returns false for a rule without options the stage
// applies. Lists are read once per file (`lists`); problems go to `diags` as warnings.
bool compile_sagan_rule(const Rule& rule, uint32_t index,
                        std::map<std::string, std::shared_ptr<const SaganList>>& lists, SaganRule& out,
                        std::vector<Diagnostic>& diags);
// Fills `facts` from the rule's state values (host, message) and the event time.
void sagan_facts(const SaganRule& r, const std::vector<std::optional<std::string>>& values, int64_t time_ms,
                 SaganFacts& facts);
// The Sagan options' fields every such rule reads from its events (added to Rule::state_fields).
bool has_sagan_state(const Rule& rule);

struct StatefulRules::Impl {
  std::shared_ptr<const RuleSet> set;
  StageSettings settings;
  uint32_t rule_count = 0;
  std::vector<std::vector<uint32_t>> rule_field_ids;  // per rule: PathIndex ids of Rule::state_fields
  std::vector<uint8_t> rule_digest;                   // per rule: compute the event digest
  std::vector<uint8_t> needs;                         // per rule
  std::vector<CompiledCorrelation> correlations;
  std::vector<CompiledPolicy> policies;
  // Per node:
  std::vector<std::vector<std::string>> node_fields;  // names of the values its hits carry
  std::vector<std::vector<CorrelationInput>> inputs;  // correlations it feeds
  std::vector<uint8_t> emits;                         // its own alerts are emitted (not consumed)
  std::vector<std::optional<PolicyInput>> threshold, dedup;
  std::vector<std::string> node_rule_id;  // rule id for alerts
  std::vector<std::string> node_level;
  std::vector<std::string> node_rule_json;  // "rule":{"id","title","level","tags"} (no outer braces)
  std::vector<SaganRule> sagan;              // Sagan rules with stateful options
  std::vector<int32_t> sagan_of;             // per rule: index in `sagan`, or -1
  size_t node_count() const { return node_fields.size(); }
};

}  // namespace socd
