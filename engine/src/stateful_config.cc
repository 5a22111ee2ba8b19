// The thresholds file (config/thresholds.yml) to a StageConfig, and the fields the stage reads per rule.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "sigma_meta.h"
#include "socd/stateful.h"
#include "socd/read_file.h"
#include "stateful_impl.h"

namespace socd {
namespace {

int line_of(const YAML::Node& node) { return node.Mark().line + 1; }

Status error_at(const std::string& file, int line, const std::string& message) {
  return Status::error(file + ":" + std::to_string(line) + ": " + message);
}

bool whole_number(const YAML::Node& node, uint64_t& out) {
  if (!node.IsScalar() || node.Scalar().empty() || node.Scalar().size() > 18) return false;
  uint64_t v = 0;
  for (char c : node.Scalar()) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool names(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsScalar() && !node.Scalar().empty()) {
    out.push_back(node.Scalar());
    return true;
  }
  if (!node.IsSequence()) return false;
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty()) return false;
    out.push_back(item.Scalar());
  }
  return true;
}

Status read_settings(const std::string& file, const YAML::Node& node, StageSettings& s) {
  if (!node.IsMap()) return error_at(file, line_of(node), "'settings' must be a map of name: value");
  for (const auto& kv : node) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
    const int line = line_of(kv.first);
    uint64_t n = 0;
    int64_t ms = 0;
    if (key == "tolerance" || key == "checkpoint_interval") {
      if (!kv.second.IsScalar() || !sigma::parse_timespan(kv.second.Scalar(), ms))
        return error_at(file, line,
                        "'" + key + "' must be a duration: a number followed by s, m, h or d (e.g. 1m)");
      (key == "tolerance" ? s.tolerance_ms : s.checkpoint_interval_ms) = ms;
    } else if (key == "max_keys" || key == "max_alert_ids" || key == "max_entries_per_key") {
      if (!whole_number(kv.second, n) || (n == 0 && key != "max_alert_ids"))
        return error_at(file, line,
                        "'" + key + "' must be a whole number" +
                            (key == "max_alert_ids" ? std::string() : std::string(" of 1 or more")));
      (key == "max_keys" ? s.max_keys : key == "max_alert_ids" ? s.max_alert_ids : s.max_entries_per_key) = n;
    } else {
      return error_at(file, line,
                      "unknown setting '" + key +
                          "' (tolerance, max_keys, max_alert_ids, "
                          "max_entries_per_key, checkpoint_interval)");
    }
  }
  return Status();
}

Status read_policies(const std::string& file, const YAML::Node& node, SuppressionPolicy::Kind kind,
                     std::vector<SuppressionPolicy>& out) {
  const char* section = kind == SuppressionPolicy::Kind::Threshold ? "thresholds" : "dedup";
  if (!node.IsSequence())
    return error_at(file, line_of(node),
                    std::string("'") + section + "' must be a list of entries (- rules: ...)");
  for (const auto& entry : node) {
    const int line = line_of(entry);
    if (!entry.IsMap())
      return error_at(file, line, std::string("each entry of '") + section + "' must be a map");
    SuppressionPolicy p;
    p.kind = kind;
    p.file = file;
    p.line = line;
    bool has_limit = false;
    for (const auto& kv : entry) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      const int key_line = line_of(kv.first);
      if (key == "rules") {
        if (!names(kv.second, p.rules))
          return error_at(file, key_line, "'rules' must be a rule id or name, '*', or a list of them");
      } else if (key == "by") {
        if (!names(kv.second, p.by))
          return error_at(file, key_line, "'by' must be a field name or a list of them");
      } else if (key == "window") {
        p.window = kv.second.IsScalar() ? kv.second.Scalar() : std::string();
        if (!sigma::parse_timespan(p.window, p.window_ms) || p.window_ms <= 0)
          return error_at(file, key_line,
                          "'window' must be a duration above zero: a number followed by s, m, h or d");
      } else if (key == "limit" && kind == SuppressionPolicy::Kind::Threshold) {
        if (!whole_number(kv.second, p.limit) || p.limit == 0)
          return error_at(file, key_line,
                          "'limit' must be a whole number of 1 or more (alerts passed per window)");
        has_limit = true;
      } else {
        return error_at(file, key_line,
                        "unknown key '" + key + "' in a " + section + " entry (rules, by, window" +
                            (kind == SuppressionPolicy::Kind::Threshold ? ", limit)" : ")"));
      }
    }
    if (p.rules.empty()) return error_at(file, line, "the entry has no 'rules' (ids or names, or '*')");
    if (p.window_ms <= 0) return error_at(file, line, "the entry has no 'window' (e.g. window: 10m)");
    if (kind == SuppressionPolicy::Kind::Threshold && !has_limit)
      return error_at(file, line, "the threshold has no 'limit' (alerts passed per key per window)");
    out.push_back(std::move(p));
  }
  return Status();
}

}  // namespace

Expected<StageConfig> parse_stage_config(const std::string& file, std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return error_at(file, e.mark.line + 1, "YAML syntax error: " + e.msg);
  }
  StageConfig config;
  if (!root.IsDefined() || root.IsNull()) return config;
  if (!root.IsMap())
    return error_at(file, line_of(root), "expected a map with settings, thresholds and dedup");
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      Status st;
      if (key == "settings")
        st = read_settings(file, kv.second, config.settings);
      else if (key == "thresholds")
        st = read_policies(file, kv.second, SuppressionPolicy::Kind::Threshold, config.policies);
      else if (key == "dedup")
        st = read_policies(file, kv.second, SuppressionPolicy::Kind::Dedup, config.policies);
      else if (kv.second.IsNull())
        continue;
      else
        st = error_at(file, line_of(kv.first), "unknown section '" + key + "' (settings, thresholds, dedup)");
      if (!st.ok()) return st;
    }
  } catch (const YAML::Exception& e) {
    return error_at(file, e.mark.line + 1, "cannot read the file: " + e.msg);
  }
  return config;
}

Expected<StageConfig> load_stage_config(const std::string& path) {
  std::string text;
  if (!read_file(path, text)) return Status::error(path + ": cannot read the thresholds file: " + std::strerror(errno));
  return parse_stage_config(path, text);
}

namespace {

bool names_rule(const std::vector<std::string>& refs, const std::string& id, const std::string& name) {
  for (const auto& r : refs)
    if (r == "*" || (!id.empty() && r == id) || (!name.empty() && r == name)) return true;
  return false;
}

}  // namespace

void note_state_fields(std::vector<Rule>& rules, const std::vector<Correlation>& correlations,
                       const StageConfig& config) {
  for (Rule& rule : rules) {
    std::vector<std::string> fields = rule.state_fields;
    auto add = [&](const std::string& f) {
      if (std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(f);
    };
    for (const Correlation& c : correlations) {
      bool named = false;
      for (const auto& r : c.rules)
        named = named || (!rule.id.empty() && r == rule.id) || (!rule.name.empty() && r == rule.name);
      if (!named) continue;
      for (const std::string& g : c.group_by) {
        auto alias = c.aliases.find(g);
        std::string field = g;
        if (alias != c.aliases.end()) {
          auto by_name = alias->second.find(rule.name);
          auto by_id = alias->second.find(rule.id);
          if (!rule.name.empty() && by_name != alias->second.end())
            field = by_name->second;
          else if (!rule.id.empty() && by_id != alias->second.end())
            field = by_id->second;
        }
        add(field);
      }
      for (const std::string& v : c.value_fields) add(v);
    }
    for (const SuppressionPolicy& p : config.policies)
      if (names_rule(p.rules, rule.id, rule.name))
        for (const std::string& f : p.by) add(f);
    if (has_sagan_state(rule)) {  // the sender and the message, for the addresses a Sagan rule tracks by
      add("host");
      add("message");
    }
    rule.state_fields = std::move(fields);
  }
}

}  // namespace socd
