// Internals of StatefulRules: correlations and policies resolved to nodes (internal to the engine).
//
// Nodes: 0 .. rules-1 are the rules of the RuleSet; rules + i is live correlation i. A hit of a node carries
// the values of its fields: a rule's Rule::state_fields, a correlation's group-by names. A consumer reads
// them by slot.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "socd/stateful.h"

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
  size_t node_count() const { return node_fields.size(); }
};

}  // namespace socd
