// Sigma correlation and filter documents to the rule model (Sigma correlation rules and filters
// specifications, version 2), and the filters applied to the rules they name.
#include "sigma_meta.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "sigma_condition.h"
#include "sigma_detection.h"

namespace socd::sigma {
namespace {

std::string text_of(const YAML::Node& node) {
  return node.IsDefined() && node.IsScalar() ? node.Scalar() : std::string();
}

YAML::Node child(const YAML::Node& map, const char* key) {
  const YAML::Node& m = map;
  return m[key];
}

int key_line(const YAML::Node& map, const char* key, int fallback) {
  for (const auto& kv : map)
    if (kv.first.IsScalar() && kv.first.Scalar() == key) return line_of(kv.first);
  return fallback;
}

// A scalar or a list of scalars; false (with `what` set) for any other shape or an empty entry.
bool names_of(const YAML::Node& node, std::vector<std::string>& out, std::string& what) {
  if (node.IsScalar()) {
    if (node.Scalar().empty()) {
      what = "is empty";
      return false;
    }
    out.push_back(node.Scalar());
    return true;
  }
  if (!node.IsSequence()) {
    what = "must be a name or a list of names";
    return false;
  }
  for (const auto& item : node) {
    if (!item.IsScalar() || item.Scalar().empty()) {
      what = "must list names (plain text), found another shape or an empty entry";
      return false;
    }
    out.push_back(item.Scalar());
  }
  return true;
}

bool parse_bool(const YAML::Node& node, bool& out) {
  std::string t = text_of(node);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes") return out = true, true;
  if (t == "false" || t == "no") return out = false, true;
  return false;
}

bool parse_count(const std::string& text, uint64_t& out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool is_upper_bound(CountBound::Op op) { return op != CountBound::Op::Gt && op != CountBound::Op::Gte; }

class CorrelationReader {
public:
  CorrelationReader(const std::string& file, RuleLoad& out) : file_(file), out_(out) {}

  void read(const YAML::Node& doc) {
    Correlation c;
    c.file = file_;
    c.line = line_of(doc);
    c.id = text_of(child(doc, "id"));
    c.name = text_of(child(doc, "name"));
    c.title = text_of(child(doc, "title"));
    c.level = text_of(child(doc, "level"));
    c.status = text_of(child(doc, "status"));
    c.description = text_of(child(doc, "description"));
    if (const YAML::Node tags = child(doc, "tags"); tags.IsDefined() && tags.IsSequence())
      for (const auto& t : tags)
        if (t.IsScalar()) c.tags.push_back(t.Scalar());
    const YAML::Node section = child(doc, "correlation");
    const int section_line = key_line(doc, "correlation", c.line);
    const std::string label = "correlation '" + (c.title.empty() ? c.id : c.title) + "'";
    if (!section.IsMap())
      return skip(section_line, "bad-correlation", label + ": 'correlation' must be a map");

    const std::string type = text_of(child(section, "type"));
    const int type_line = key_line(section, "type", section_line);
    if (type == "event_count")
      c.type = Correlation::Type::EventCount;
    else if (type == "value_count")
      c.type = Correlation::Type::ValueCount;
    else if (type == "temporal")
      c.type = Correlation::Type::Temporal;
    else if (type == "temporal_ordered")
      c.type = Correlation::Type::TemporalOrdered;
    else if (type == "value_sum" || type == "value_avg" || type == "value_percentile")
      return skip(type_line, "correlation-unsupported",
                  label + ": type '" + type +
                      "' is not supported (use event_count, value_count, temporal or "
                      "temporal_ordered)");
    else if (type.empty())
      return skip(section_line, "bad-correlation",
                  label +
                      ": 'type' is missing (event_count, value_count, "
                      "temporal or temporal_ordered)");
    else
      return skip(type_line, "bad-correlation",
                  label + ": unknown type '" + type +
                      "' (use event_count, value_count, temporal or temporal_ordered)");

    std::string what;
    const YAML::Node rules = child(section, "rules");
    if (!rules.IsDefined() || rules.IsNull())
      return skip(section_line, "bad-correlation",
                  label +
                      ": 'rules' is missing; list the ids or names of the "
                      "rules it correlates");
    if (!names_of(rules, c.rules, what))
      return skip(key_line(section, "rules", section_line), "bad-correlation", label + ": 'rules' " + what);

    if (const YAML::Node group = child(section, "group-by"); group.IsDefined() && !group.IsNull()) {
      if (!names_of(group, c.group_by, what))
        return skip(key_line(section, "group-by", section_line), "bad-correlation",
                    label + ": 'group-by' " + what);
    }

    const YAML::Node timespan = child(section, "timespan");
    const int timespan_line = key_line(section, "timespan", section_line);
    c.timespan = text_of(timespan);
    if (c.timespan.empty())
      return skip(timespan_line, "bad-correlation",
                  label + ": 'timespan' is missing; give e.g. 'timespan: 5m'");
    if (!parse_timespan(c.timespan, c.timespan_ms) || c.timespan_ms <= 0)
      return skip(
          timespan_line, "bad-correlation",
          label + ": timespan '" + c.timespan + "' is not a number followed by s, m, h or d (e.g. 90m)");

    if (!read_condition(section, section_line, label, c)) return;
    if (!read_aliases(section, section_line, label, c)) return;

    for (const YAML::Node& holder : {section, YAML::Node(doc)}) {
      const YAML::Node gen = child(holder, "generate");
      if (!gen.IsDefined() || gen.IsNull()) continue;
      if (!parse_bool(gen, c.generate))
        return skip(line_of(gen), "bad-correlation", label + ": 'generate' must be true or false");
    }
    out_.correlations.push_back(std::move(c));
  }

private:
  void skip(int line, std::string reason, std::string message) {
    out_.diagnostics.push_back({file_, line, std::move(reason), std::move(message)});
    ++out_.skipped;
  }

  bool read_condition(const YAML::Node& section, int section_line, const std::string& label, Correlation& c) {
    const YAML::Node cond = child(section, "condition");
    const int line = key_line(section, "condition", section_line);
    const bool temporal =
        c.type == Correlation::Type::Temporal || c.type == Correlation::Type::TemporalOrdered;
    if (!cond.IsDefined() || cond.IsNull()) {
      if (temporal) return true;  // every rule must be seen
      skip(line, "bad-correlation", label + ": 'condition' is missing; give e.g. 'condition: {gte: 10}'");
      return false;
    }
    if (!cond.IsMap()) {
      skip(line, "bad-correlation",
           label + ": 'condition' must be a map such as {gte: 10} or {gt: 100, lte: 200}");
      return false;
    }
    static const std::map<std::string, CountBound::Op> ops = {
        {"gt", CountBound::Op::Gt},   {"gte", CountBound::Op::Gte}, {"lt", CountBound::Op::Lt},
        {"lte", CountBound::Op::Lte}, {"eq", CountBound::Op::Eq},   {"neq", CountBound::Op::Neq}};
    for (const auto& kv : cond) {
      const std::string key = text_of(kv.first);
      if (key == "field") {
        std::string what;
        if (!names_of(kv.second, c.value_fields, what)) {
          skip(line_of(kv.first), "bad-correlation", label + ": condition 'field' " + what);
          return false;
        }
        continue;
      }
      auto op = ops.find(key);
      if (op == ops.end()) {
        skip(line_of(kv.first), "bad-correlation",
             label + ": unknown condition '" + key +
                 "' (use gt, gte, lt, lte, eq, neq, and field for value_count)");
        return false;
      }
      CountBound b;
      b.op = op->second;
      if (!kv.second.IsScalar() || !parse_count(kv.second.Scalar(), b.value)) {
        skip(line_of(kv.second), "bad-correlation",
             label + ": condition '" + key + "' needs a whole number of 0 or more");
        return false;
      }
      c.condition.push_back(b);
    }
    if (c.condition.empty() && !temporal) {
      skip(line, "bad-correlation", label + ": the condition has no bound (gt, gte, lt, lte, eq or neq)");
      return false;
    }
    if (c.type == Correlation::Type::ValueCount && c.value_fields.empty()) {
      skip(line, "bad-correlation",
           label +
               ": a value_count condition needs 'field' (the field whose distinct "
               "values are counted)");
      return false;
    }
    if (c.type != Correlation::Type::ValueCount && !c.value_fields.empty()) {
      skip(line, "bad-correlation",
           label + ": 'field' in the condition is only for value_count correlations");
      return false;
    }
    if (c.type == Correlation::Type::TemporalOrdered)
      for (const auto& b : c.condition)
        if (is_upper_bound(b.op)) {
          skip(line, "bad-correlation",
               label +
                   ": a temporal_ordered condition can only ask for at least "
                   "(gt, gte) so many rules in order");
          return false;
        }
    if (temporal)
      for (const auto& b : c.condition)
        if (b.value > c.rules.size() &&
            (b.op == CountBound::Op::Gte || b.op == CountBound::Op::Gt || b.op == CountBound::Op::Eq)) {
          skip(line, "bad-correlation",
               label + ": the condition asks for more distinct rules than 'rules' lists (" +
                   std::to_string(c.rules.size()) + ")");
          return false;
        }
    return true;
  }

  bool read_aliases(const YAML::Node& section, int section_line, const std::string& label, Correlation& c) {
    const YAML::Node aliases = child(section, "aliases");
    if (!aliases.IsDefined() || aliases.IsNull()) return true;
    const int line = key_line(section, "aliases", section_line);
    if (!aliases.IsMap()) {
      skip(line, "bad-correlation", label + ": 'aliases' must map each alias to {rule name: field}");
      return false;
    }
    for (const auto& kv : aliases) {
      const std::string alias = text_of(kv.first);
      if (alias.empty() || !kv.second.IsMap()) {
        skip(line_of(kv.first), "bad-correlation",
             label + ": alias '" + alias + "' must map rule names to fields ({rule name: field})");
        return false;
      }
      auto& fields = c.aliases[alias];
      for (const auto& rf : kv.second) {
        const std::string rule = text_of(rf.first), field = text_of(rf.second);
        if (rule.empty() || field.empty()) {
          skip(line_of(rf.first), "bad-correlation",
               label + ": alias '" + alias +
                   "' has an entry that is not "
                   "'rule name: field'");
          return false;
        }
        fields[rule] = field;
      }
    }
    return true;
  }

  const std::string& file_;
  RuleLoad& out_;
};

bool has_not(const Condition& c) {
  if (c.kind == Condition::Kind::Not) return true;
  for (const auto& k : c.children)
    if (has_not(k)) return true;
  return false;
}

void offset_selections(Condition& c, int offset) {
  if (c.kind == Condition::Kind::Ref) c.selection += offset;
  for (auto& k : c.children) offset_selections(k, offset);
}

bool same_text(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](unsigned char x, unsigned char y) { return std::tolower(x) == std::tolower(y); });
}

bool logsource_fits(const LogSource& filter, const LogSource& rule) {
  return (filter.product.empty() || same_text(filter.product, rule.product)) &&
         (filter.category.empty() || same_text(filter.category, rule.category)) &&
         (filter.service.empty() || same_text(filter.service, rule.service));
}

}  // namespace

bool parse_timespan(std::string_view text, int64_t& ms) {
  if (text.size() < 2) return false;
  int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1000;
      break;
    case 'm':
      unit = 60 * 1000;
      break;
    case 'h':
      unit = 3600 * 1000;
      break;
    case 'd':
      unit = 86400 * 1000;
      break;
    default:
      return false;
  }
  int64_t n = 0;
  for (char ch : text.substr(0, text.size() - 1)) {
    if (ch < '0' || ch > '9') return false;
    n = n * 10 + (ch - '0');
    if (n > 100000000) return false;  // beyond three years of seconds: a mistake
  }
  ms = n * unit;
  return true;
}

void load_correlation(const YAML::Node& doc, const std::string& file, RuleLoad& out) {
  CorrelationReader(file, out).read(doc);
}

void load_filter(const YAML::Node& doc, const std::string& file, const FieldMapping& mapping, RuleLoad& out) {
  RuleFilter f;
  f.file = file;
  f.line = line_of(doc);
  f.id = text_of(child(doc, "id"));
  f.title = text_of(child(doc, "title"));
  auto skip = [&](int line, std::string reason, std::string message) {
    out.diagnostics.push_back({file, line, std::move(reason), std::move(message)});
    ++out.skipped;
  };
  const std::string label = "filter '" + (f.title.empty() ? f.id : f.title) + "'";
  const YAML::Node section = child(doc, "filter");
  const int section_line = key_line(doc, "filter", f.line);
  if (!section.IsMap())
    return skip(section_line, "bad-filter",
                label + ": 'filter' must be a map of rules, selections and a condition");
  if (const YAML::Node ls = child(doc, "logsource"); ls.IsDefined() && ls.IsMap()) {
    f.logsource.product = text_of(child(ls, "product"));
    f.logsource.category = text_of(child(ls, "category"));
    f.logsource.service = text_of(child(ls, "service"));
  }
  YAML::Node condition;
  int condition_line = section_line;
  std::vector<std::string> names;
  for (const auto& kv : section) {
    if (!kv.first.IsScalar())
      return skip(line_of(kv.first), "bad-filter", label + ": a key of 'filter' is not a name");
    const std::string key = kv.first.Scalar();
    if (key == "rules") {
      std::string what;
      if (!names_of(kv.second, f.rules, what))
        return skip(line_of(kv.first), "bad-filter", label + ": 'rules' " + what);
      continue;
    }
    if (key == "condition") {
      condition = kv.second;
      condition_line = line_of(kv.first);
      continue;
    }
    if (std::find(names.begin(), names.end(), key) != names.end())
      return skip(line_of(kv.first), "bad-filter", label + ": selection '" + key + "' is defined twice");
    Selection sel;
    Problem problem;
    int line = line_of(kv.first);
    if (!build_selection(kv.second, key, mapping, sel, problem, line))
      return skip(line, problem.reason, problem.message);
    names.push_back(key);
    f.selections.push_back(std::move(sel));
  }
  if (f.rules.empty())
    return skip(section_line, "bad-filter",
                label +
                    ": 'rules' is missing; list the ids or names of the rules to "
                    "filter");
  if (!condition.IsDefined() || !condition.IsScalar())
    return skip(condition_line, "bad-filter",
                label +
                    ": 'condition' is missing or not a text; give e.g. "
                    "'condition: not selection'");
  std::string error;
  if (!parse_condition(condition.Scalar(), names, f.condition, error))
    return skip(condition_line, "bad-condition", label + ": " + error);
  f.negated = has_not(f.condition);
  out.filters.push_back(std::move(f));
}

}  // namespace socd::sigma

namespace socd {

void apply_filters(RuleLoad& load) {
  std::multimap<std::string, size_t> by_ref;  // rule id and rule name -> index
  for (size_t i = 0; i < load.rules.size(); ++i) {
    if (!load.rules[i].id.empty()) by_ref.emplace(load.rules[i].id, i);
    if (!load.rules[i].name.empty() && load.rules[i].name != load.rules[i].id)
      by_ref.emplace(load.rules[i].name, i);
  }
  for (const RuleFilter& f : load.filters) {
    const std::string label = "filter '" + (f.title.empty() ? f.id : f.title) + "'";
    if (!f.negated)
      load.diagnostics.push_back(
          {f.file, f.line, "warning-filter-keeps",
           label + ": its condition has no 'not', so the rules it names fire only on the "
                   "events it selects; write 'not <selection>' to exclude known-good events"});
    for (const std::string& ref : f.rules) {
      auto [from, to] = by_ref.equal_range(ref);
      if (from == to) {
        bool correlation = std::any_of(load.correlations.begin(), load.correlations.end(),
                                       [&](const Correlation& c) { return c.id == ref || c.name == ref; });
        load.diagnostics.push_back(
            {f.file, f.line, "warning-filter-unknown-rule",
             label + " names '" + ref + "', " +
                 (correlation
                      ? "a correlation rule: filter the rules it correlates instead"
                      : "which is no loaded rule (check the id or name; a skipped rule is listed above)")});
        continue;
      }
      std::set<size_t> done;
      for (auto it = from; it != to; ++it) {
        if (!done.insert(it->second).second) continue;
        Rule& rule = load.rules[it->second];
        if (!sigma::logsource_fits(f.logsource, rule.logsource)) {
          load.diagnostics.push_back({f.file, f.line, "warning-filter-logsource",
                                      label + " is for log source product=" + f.logsource.product +
                                          " category=" + f.logsource.category + " service=" +
                                          f.logsource.service + ", rule '" + ref + "' (" + rule.file + ":" +
                                          std::to_string(rule.line) + ") is not: not applied to it"});
          continue;
        }
        const int offset = static_cast<int>(rule.selections.size());
        for (const Selection& s : f.selections) {
          rule.selections.push_back(s);
          rule.selections.back().name = "filter:" + (f.id.empty() ? f.title : f.id) + ":" + s.name;
        }
        Condition added = f.condition;
        sigma::offset_selections(added, offset);
        Condition both;
        both.kind = Condition::Kind::And;
        both.children.push_back(std::move(rule.condition));
        both.children.push_back(std::move(added));
        rule.condition = std::move(both);
      }
    }
  }
}

}  // namespace socd
