// StatefulRules: correlations and policies resolved against a compiled RuleSet, and the worker-side
// extraction.
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "socd/alert.h"
#include "socd/json.h"
#include "stateful_impl.h"

namespace socd {
namespace {

constexpr size_t kMaxSteps = 64;  // rules per correlation (a bit each)

std::string rule_json(const std::string& id, const std::string& title, const std::string& level,
                      const std::vector<std::string>& tags) {
  std::string s = "\"rule\":{\"id\":";
  append_json_string(s, id);
  s += ",\"title\":";
  append_json_string(s, title);
  s += ",\"level\":";
  append_json_string(s, level);
  s += ",\"tags\":[";
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i) s.push_back(',');
    append_json_string(s, tags[i]);
  }
  s += "]}";
  return s;
}

std::string describe(const Correlation& c) {
  return "correlation '" + (c.title.empty() ? (c.id.empty() ? c.name : c.id) : c.title) + "'";
}

std::string fingerprint(const Correlation& c) {
  std::string f = "correlation\x1f" + c.id + '\x1f' + c.name + '\x1f' + c.title + '\x1f' +
                  std::to_string(static_cast<int>(c.type)) + '\x1f' + std::to_string(c.timespan_ms) + '\x1f';
  for (const auto& r : c.rules) f += r + '\x1e';
  f += '\x1f';
  for (const auto& g : c.group_by) f += g + '\x1e';
  f += '\x1f';
  for (const auto& b : c.condition)
    f += std::to_string(static_cast<int>(b.op)) + ':' + std::to_string(b.value) + ',';
  f += '\x1f';
  for (const auto& v : c.value_fields) f += v + '\x1e';
  f += '\x1f';
  for (const auto& [alias, fields] : c.aliases) {
    f += alias + '=';
    for (const auto& [rule, field] : fields) f += rule + ':' + field + ',';
    f += '\x1e';
  }
  return f;
}

std::string fingerprint(const SuppressionPolicy& p) {
  std::string f = std::string(p.kind == SuppressionPolicy::Kind::Threshold ? "threshold" : "dedup") + '\x1f' +
                  std::to_string(p.limit) + '\x1f' + std::to_string(p.window_ms) + '\x1f';
  for (const auto& r : p.rules) f += r + '\x1e';
  f += '\x1f';
  for (const auto& b : p.by) f += b + '\x1e';
  return f;
}

int slot_of(const std::vector<std::string>& fields, const std::string& name) {
  auto it = std::find(fields.begin(), fields.end(), name);
  return it == fields.end() ? -1 : static_cast<int>(it - fields.begin());
}

// The field a correlation reads for `name` (a group-by entry or alias) in the hits of a node called id/name.
std::string field_for(const Correlation& c, const std::string& name, const std::string& node_id,
                      const std::string& node_name) {
  auto alias = c.aliases.find(name);
  if (alias == c.aliases.end()) return name;
  if (!node_name.empty())
    if (auto it = alias->second.find(node_name); it != alias->second.end()) return it->second;
  if (!node_id.empty())
    if (auto it = alias->second.find(node_id); it != alias->second.end()) return it->second;
  return name;
}

// The least count a set of lower bounds asks for.
uint64_t least_count(const std::vector<CountBound>& bounds, uint64_t otherwise) {
  uint64_t least = 0;
  bool any = false;
  for (const auto& b : bounds) {
    if (b.op == CountBound::Op::Gt) least = std::max(least, b.value + 1), any = true;
    if (b.op == CountBound::Op::Gte) least = std::max(least, b.value), any = true;
  }
  return any ? least : otherwise;
}

bool names_node(const std::vector<std::string>& refs, const std::string& id, const std::string& name) {
  for (const auto& r : refs)
    if (r == "*" || (!id.empty() && r == id) || (!name.empty() && r == name)) return true;
  return false;
}

}  // namespace

StatefulRules::StatefulRules() : impl_(std::make_unique<Impl>()) {}
StatefulRules::~StatefulRules() = default;

bool StatefulRules::active() const {
  return !impl_->correlations.empty() || !impl_->policies.empty() || !impl_->sagan.empty();
}
size_t StatefulRules::sagan_rule_count() const { return impl_->sagan.size(); }
bool StatefulRules::needs(uint32_t rule) const { return rule < impl_->needs.size() && impl_->needs[rule]; }
bool StatefulRules::consumed(uint32_t rule) const { return rule < impl_->rule_count && !impl_->emits[rule]; }
size_t StatefulRules::correlation_count() const { return impl_->correlations.size(); }
size_t StatefulRules::policy_count() const { return impl_->policies.size(); }
const StageSettings& StatefulRules::settings() const { return impl_->settings; }
const RuleSet& StatefulRules::rule_set() const { return *impl_->set; }

std::shared_ptr<const StatefulRules> StatefulRules::build(std::shared_ptr<const RuleSet> set,
                                                          std::vector<Correlation> correlations,
                                                          const StageConfig& config,
                                                          std::vector<Diagnostic>& diags) {
  std::shared_ptr<StatefulRules> out(new StatefulRules());
  Impl& impl = *out->impl_;
  impl.set = set;
  impl.settings = config.settings;
  const uint32_t rules = static_cast<uint32_t>(set->size());
  impl.rule_count = rules;

  std::multimap<std::string, uint32_t> rule_by_ref;
  for (uint32_t i = 0; i < rules; ++i) {
    const Rule& r = set->rule(i);
    if (!r.id.empty()) rule_by_ref.emplace(r.id, i);
    if (!r.name.empty() && r.name != r.id) rule_by_ref.emplace(r.name, i);
  }
  std::multimap<std::string, size_t> correlation_by_ref;
  for (size_t i = 0; i < correlations.size(); ++i) {
    if (!correlations[i].id.empty()) correlation_by_ref.emplace(correlations[i].id, i);
    if (!correlations[i].name.empty() && correlations[i].name != correlations[i].id)
      correlation_by_ref.emplace(correlations[i].name, i);
  }

  // References: each entry of `rules` names rules (by id or name) or, failing that, one correlation.
  struct Ref {
    std::vector<uint32_t> rules;
    int correlation = -1;
  };
  std::vector<std::vector<Ref>> refs(correlations.size());
  std::vector<uint8_t> live(correlations.size(), 1);
  auto drop = [&](size_t i, const std::string& reason, const std::string& why) {
    if (!live[i]) return;
    live[i] = 0;
    diags.push_back(
        {correlations[i].file, correlations[i].line, reason, describe(correlations[i]) + " " + why});
  };
  for (size_t i = 0; i < correlations.size(); ++i) {
    const Correlation& c = correlations[i];
    if (c.rules.size() > kMaxSteps) {
      drop(i, "bad-correlation", "lists more than 64 rules; split it into chained correlations");
      continue;
    }
    for (const std::string& name : c.rules) {
      Ref ref;
      auto [from, to] = rule_by_ref.equal_range(name);
      for (auto it = from; it != to; ++it)
        if (std::find(ref.rules.begin(), ref.rules.end(), it->second) == ref.rules.end())
          ref.rules.push_back(it->second);
      if (ref.rules.empty()) {
        auto found = correlation_by_ref.find(name);
        if (found != correlation_by_ref.end()) ref.correlation = static_cast<int>(found->second);
      }
      if (ref.rules.empty() && ref.correlation < 0) {
        drop(i, "unknown-rule-reference",
             "refers to '" + name +
                 "', which is no loaded rule or correlation (check the id or name; a rule "
                 "skipped above cannot be correlated); the correlation is not loaded");
        break;
      }
      refs[i].push_back(std::move(ref));
    }
  }
  // Cycles, and correlations over correlations that were left out.
  {
    std::vector<int> mark(correlations.size(), 0);               // 0 new, 1 on the path, 2 done
    std::function<bool(size_t)> visit = [&](size_t i) -> bool {  // false: i is part of a cycle
      if (mark[i] == 2) return true;
      if (mark[i] == 1) return false;
      mark[i] = 1;
      bool ok = true;
      for (const Ref& r : refs[i])
        if (r.correlation >= 0 && !visit(static_cast<size_t>(r.correlation))) ok = false;
      mark[i] = 2;
      if (!ok)
        drop(i, "bad-correlation", "is part of a cycle of correlations referring to each other; not loaded");
      return ok;
    };
    for (size_t i = 0; i < correlations.size(); ++i)
      if (live[i]) visit(i);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t i = 0; i < correlations.size(); ++i) {
        if (!live[i]) continue;
        for (const Ref& r : refs[i])
          if (r.correlation >= 0 && !live[r.correlation]) {
            drop(i, "unknown-rule-reference",
                 "refers to " + describe(correlations[r.correlation]) + ", which is not loaded (see above)");
            changed = true;
            break;
          }
      }
    }
  }
  // A correlation over a correlation reads the inner one's group-by values: its own group-by (and value
  // field) must be among them.
  for (size_t i = 0; i < correlations.size(); ++i) {
    if (!live[i]) continue;
    const Correlation& c = correlations[i];
    for (const Ref& r : refs[i]) {
      if (r.correlation < 0) continue;
      const Correlation& inner = correlations[r.correlation];
      std::vector<std::string> wanted;
      for (const auto& g : c.group_by) wanted.push_back(field_for(c, g, inner.id, inner.name));
      for (const auto& v : c.value_fields) wanted.push_back(v);
      for (const auto& w : wanted)
        if (std::find(inner.group_by.begin(), inner.group_by.end(), w) == inner.group_by.end()) {
          drop(i, "bad-correlation",
               "reads '" + w + "' from the alerts of " + describe(inner) +
                   ", which groups only by its group-by "
                   "fields; group both by the same fields (or alias them); not loaded");
          break;
        }
    }
  }
  // Correlations over dropped ones are dropped too (after the group-by check).
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < correlations.size(); ++i) {
      if (!live[i]) continue;
      for (const Ref& r : refs[i])
        if (r.correlation >= 0 && !live[r.correlation]) {
          drop(i, "unknown-rule-reference",
               "refers to " + describe(correlations[r.correlation]) + ", which is not loaded (see above)");
          changed = true;
          break;
        }
    }
  }

  // Nodes.
  std::vector<uint32_t> node_of(correlations.size(), UINT32_MAX);
  uint32_t nodes = rules;
  for (size_t i = 0; i < correlations.size(); ++i)
    if (live[i]) node_of[i] = nodes++;
  impl.node_fields.resize(nodes);
  impl.inputs.resize(nodes);
  impl.emits.assign(nodes, 1);
  impl.threshold.resize(nodes);
  impl.dedup.resize(nodes);
  impl.node_rule_id.resize(nodes);
  impl.node_level.resize(nodes);
  impl.node_rule_json.resize(nodes);
  impl.rule_field_ids.resize(rules);
  impl.rule_digest.assign(rules, 0);
  impl.needs.assign(rules, 0);
  std::vector<std::string> node_id(nodes), node_name(nodes);
  for (uint32_t r = 0; r < rules; ++r) {
    const Rule& rule = set->rule(r);
    impl.node_fields[r] = rule.state_fields;
    for (const auto& f : rule.state_fields) impl.rule_field_ids[r].push_back(set->paths().find_field(f));
    impl.node_rule_id[r] = rule.id;
    impl.node_level[r] = rule.level;
    impl.node_rule_json[r] = rule_json(rule.id, rule.title, rule.level, rule.tags);
    node_id[r] = rule.id;
    node_name[r] = rule.name;
  }
  for (size_t i = 0; i < correlations.size(); ++i) {
    if (!live[i]) continue;
    const Correlation& c = correlations[i];
    uint32_t n = node_of[i];
    impl.node_fields[n] = c.group_by;
    impl.node_rule_id[n] = !c.id.empty() ? c.id : !c.name.empty() ? c.name : c.title;
    impl.node_level[n] = c.level;
    impl.node_rule_json[n] = rule_json(impl.node_rule_id[n], c.title, c.level, c.tags);
    node_id[n] = c.id;
    node_name[n] = c.name;
  }
  std::vector<uint8_t> referenced(nodes, 0), generated(nodes, 0);
  for (size_t i = 0; i < correlations.size(); ++i) {
    if (!live[i]) continue;
    CompiledCorrelation cc;
    cc.def = std::move(correlations[i]);
    const Correlation& c = cc.def;
    cc.rule_id = impl.node_rule_id[node_of[i]];
    cc.node = node_of[i];
    cc.fingerprint = fingerprint(c);
    const bool temporal =
        c.type == Correlation::Type::Temporal || c.type == Correlation::Type::TemporalOrdered;
    cc.sliding = std::all_of(c.condition.begin(), c.condition.end(), [](const CountBound& b) {
      return b.op == CountBound::Op::Gt || b.op == CountBound::Op::Gte;
    });
    cc.required = temporal ? least_count(c.condition, c.rules.size()) : least_count(c.condition, 0);
    uint64_t highest = 0;
    for (const auto& b : c.condition) highest = std::max(highest, b.value);
    cc.cap = highest + 1;
    const uint32_t index = static_cast<uint32_t>(impl.correlations.size());
    for (size_t k = 0; k < refs[i].size(); ++k) {
      std::vector<uint32_t> step;
      if (refs[i][k].correlation >= 0)
        step.push_back(node_of[refs[i][k].correlation]);
      else
        step = refs[i][k].rules;
      for (uint32_t n : step) {
        referenced[n] = 1;
        if (c.generate) generated[n] = 1;
        auto& ins = impl.inputs[n];
        auto in = std::find_if(ins.begin(), ins.end(),
                               [&](const CorrelationInput& x) { return x.correlation == index; });
        if (in == ins.end()) {
          CorrelationInput input;
          input.correlation = index;
          for (const auto& g : c.group_by)
            input.key_slots.push_back(
                slot_of(impl.node_fields[n], field_for(c, g, node_id[n], node_name[n])));
          for (const auto& v : c.value_fields) input.value_slots.push_back(slot_of(impl.node_fields[n], v));
          ins.push_back(std::move(input));
          in = ins.end() - 1;
        }
        in->steps |= uint64_t{1} << k;
      }
      cc.step_nodes.push_back(std::move(step));
    }
    impl.correlations.push_back(std::move(cc));
  }
  for (uint32_t n = 0; n < nodes; ++n) impl.emits[n] = !referenced[n] || generated[n];

  // Policies: per node the first threshold and the first dedup that name it.
  for (const SuppressionPolicy& p : config.policies) {
    const uint32_t index = static_cast<uint32_t>(impl.policies.size());
    bool used = false;
    for (uint32_t n = 0; n < nodes; ++n) {
      if (!names_node(p.rules, node_id[n], node_name[n]) &&
          !(n >= rules && names_node(p.rules, impl.node_rule_id[n], {})))
        continue;
      auto& slot = p.kind == SuppressionPolicy::Kind::Threshold ? impl.threshold[n] : impl.dedup[n];
      if (slot) continue;
      PolicyInput input;
      input.policy = index;
      input.whole_event = p.kind == SuppressionPolicy::Kind::Dedup && p.by.empty();
      for (const auto& f : p.by) {
        int s = slot_of(impl.node_fields[n], f);
        if (s < 0 && n >= rules)
          diags.push_back({p.file, p.line, "warning-policy-field",
                           "the entry keys by '" + f + "', which correlation '" + impl.node_rule_id[n] +
                               "' does not group by: its alerts all share one key for it"});
        input.key_slots.push_back(s);
      }
      if (n < rules && input.whole_event) impl.rule_digest[n] = 1;
      slot = std::move(input);
      used = true;
    }
    if (!used) {
      diags.push_back(
          {p.file, p.line, "warning-policy-unknown-rule",
           "the entry names no loaded rule or correlation (check the ids or names); it has no effect"});
      continue;
    }
    impl.policies.push_back({p, fingerprint(p)});
  }
  // Sagan rules with stateful options: every match goes through the stage; `noalert` ones only set bits.
  impl.sagan_of.assign(rules, -1);
  std::map<std::string, std::shared_ptr<const SaganList>> lists;
  for (uint32_t r = 0; r < rules; ++r) {
    SaganRule sr;
    if (!compile_sagan_rule(set->rule(r), r, lists, sr, diags)) continue;
    if (sr.noalert) impl.emits[r] = 0;
    impl.sagan_of[r] = static_cast<int32_t>(impl.sagan.size());
    impl.sagan.push_back(std::move(sr));
  }
  for (uint32_t r = 0; r < rules; ++r)
    impl.needs[r] = !impl.inputs[r].empty() || impl.threshold[r].has_value() || impl.dedup[r].has_value() ||
                    impl.sagan_of[r] >= 0;
  return out;
}

int64_t StatefulRules::event_time_ms(const Event& ev) const {
  static thread_local std::string scratch;
  for (uint32_t f : impl_->set->time_fields())
    for (uint32_t l = ev.first(f); l != Event::end; l = ev.next(l))
      if (to_rfc3339(ev.value(ev.link_value(l)), scratch)) {
        int64_t ms = rfc3339_to_ms(scratch);
        if (ms != -1) return ms;
      }
  return -1;
}

void StatefulRules::extract(uint32_t rule, const Event& ev, int64_t arrival_ms, StageHit& hit) const {
  hit.rule = rule;
  int64_t t = event_time_ms(ev);
  hit.event_time = t != -1;
  hit.time_ms = hit.event_time ? t : arrival_ms;
  const auto& ids = impl_->rule_field_ids[rule];
  hit.values.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    uint32_t link = ids[i] == PathIndex::npos ? Event::end : ev.first(ids[i]);
    std::optional<std::string>& slot = hit.values[i];
    if (link == Event::end)
      slot.reset();
    else if (slot)
      slot->assign(ev.value(ev.link_value(link)));  // a reused hit keeps its strings' memory
    else
      slot.emplace(ev.value(ev.link_value(link)));
  }
  if (impl_->sagan_of[rule] >= 0) sagan_facts(impl_->sagan[impl_->sagan_of[rule]], hit.values, hit.time_ms, hit.sagan);
  hit.event_digest = 0;
  if (impl_->rule_digest[rule]) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (unsigned char c : ev.raw()) h = (h ^ c) * 1099511628211ull;
    hit.event_digest = h;
  }
}

}  // namespace socd
