#include "socd/routing.h"

#include <fnmatch.h>

#include <map>

#include "config_yaml.h"
#include "socd/json.h"

namespace socd {

using detail::alert_level_rank;
using detail::config_error;
using detail::yaml_line;

namespace {

struct Sink {
  std::string name, kind, target;  // kind: webhook or syslog
};

// One `layer4.when` entry: every key given must hold.
struct Layer4Condition {
  int line = 0;
  int min_rule_level = -1;                                       // rank, -1: not tested
  int min_system_level = 0;                                      // 0: not tested
  std::vector<std::string> system_classes, tags, rules, owners;  // any of (globs for tags and rules)
  int serious = -1;  // serious_incident_system: -1 not tested, 0/1
  int unknown = -1;  // unknown_asset: -1 not tested, 0/1
};

const char* kLevelNames[] = {"informational", "low", "medium", "high", "critical"};

bool any_glob(const std::vector<std::string>& globs, std::string_view value) {
  std::string v(value);
  for (const auto& g : globs)
    if (fnmatch(g.c_str(), v.c_str(), FNM_CASEFOLD) == 0) return true;
  return false;
}

// The first class of `s` among `classes` (compared without regard to case), or null.
const std::string* has_class(const AssetSystem& s, const std::vector<std::string>& classes) {
  for (const auto& c : s.classes)
    for (const auto& want : classes)
      if (detail::lower_ascii(c) == detail::lower_ascii(want)) return &c;
  return nullptr;
}

}  // namespace

struct Routing::Impl {
  std::string file;
  std::map<std::string, Sink> sinks;
  std::map<std::string, std::string, std::less<>> agencies;  // owner -> sink name
  int layer1_min_rank = 0;
  int serious_min_level = 4;
  std::vector<std::string> serious_classes{"nationally-important"};
  std::vector<Layer4Condition> when;

  Status read(const YAML::Node& root);
  Status read_condition(const YAML::Node& node, Layer4Condition& c);
  bool holds(const Layer4Condition& c, const RouteInput& in, int rank, std::string& why) const;
  bool serious(const AssetSystem& s) const {
    return s.level >= serious_min_level || has_class(s, serious_classes) != nullptr;
  }
};

Routing::Routing() : impl_(std::make_unique<Impl>()) {}
Routing::~Routing() = default;

Status Routing::Impl::read_condition(const YAML::Node& node, Layer4Condition& c) {
  c.line = yaml_line(node);
  if (!node.IsMap())
    return config_error(file, c.line, "each 'layer4.when' entry must be a map of conditions");
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    const int line = yaml_line(kv.first);
    auto level = [&](int& out) -> Status {
      out = v.IsScalar() ? alert_level_rank(v.Scalar()) : -1;
      if (out < 0)
        return config_error(file, line, "'" + key + "' must be informational, low, medium, high or critical");
      return Status();
    };
    auto flag = [&](int& out) -> Status {
      bool b = false;
      if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
        return config_error(file, line, "'" + key + "' must be true or false");
      out = b ? 1 : 0;
      return Status();
    };
    auto list = [&](std::vector<std::string>& out) -> Status {
      if (!detail::yaml_strings(v, out) || out.empty())
        return config_error(file, line, "'" + key + "' must be a value or a list of values");
      return Status();
    };
    Status s;
    if (key == "min_rule_level")
      s = level(c.min_rule_level);
    else if (key == "min_system_level") {
      if (!v.IsScalar() || !YAML::convert<int>::decode(v, c.min_system_level) || c.min_system_level < 1 ||
          c.min_system_level > 5)
        s = config_error(file, line, "'min_system_level' must be a security level, 1 to 5");
    } else if (key == "system_classes")
      s = list(c.system_classes);
    else if (key == "tags")
      s = list(c.tags);
    else if (key == "rules")
      s = list(c.rules);
    else if (key == "owners")
      s = list(c.owners);
    else if (key == "serious_incident_system")
      s = flag(c.serious);
    else if (key == "unknown_asset")
      s = flag(c.unknown);
    else
      s = config_error(file, line,
                       "unknown condition '" + key +
                           "' (use min_rule_level, min_system_level, "
                           "system_classes, tags, rules, owners, serious_incident_system, unknown_asset)");
    if (!s.ok()) return s;
  }
  if (node.size() == 0)
    return config_error(file, c.line, "an empty condition (it would hold for every alert)");
  return Status();
}

Status Routing::Impl::read(const YAML::Node& root) {
  if (!root.IsMap())
    return config_error(
        file, root.IsDefined() ? yaml_line(root) : 1,
        "a routing file is a map with sinks, agencies, layer1 and layer4 (see config/routing.yml)");
  bool has_when = false;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    const int line = yaml_line(kv.first);
    if (key == "sinks") {
      if (!v.IsMap())
        return config_error(file, line,
                            "'sinks' must map sink names to {webhook: URL} or "
                            "{syslog: HOST:PORT}");
      for (const auto& s : v) {
        Sink sink;
        sink.name = s.first.Scalar();
        const int sl = yaml_line(s.first);
        if (!s.second.IsMap() || s.second.size() != 1)
          return config_error(file, sl,
                              "sink '" + sink.name + "' must be {webhook: URL} or {syslog: HOST:PORT}");
        auto only = *s.second.begin();
        sink.kind = only.first.Scalar();
        if ((sink.kind != "webhook" && sink.kind != "syslog") || !only.second.IsScalar() ||
            only.second.Scalar().empty())
          return config_error(file, sl,
                              "sink '" + sink.name + "' must be {webhook: URL} or {syslog: HOST:PORT}");
        sink.target = only.second.Scalar();
        if (sink.kind == "webhook" && sink.target.rfind("https://", 0) != 0 &&
            sink.target.rfind("http://", 0) != 0)
          return config_error(file, sl, "sink '" + sink.name + "': a webhook is an http:// or https:// URL");
        sinks[sink.name] = sink;
      }
    } else if (key == "agencies") {
      if (!v.IsMap()) return config_error(file, line, "'agencies' must map owner agencies to sink names");
      for (const auto& a : v) {
        if (!a.second.IsScalar())
          return config_error(file, yaml_line(a.first),
                              "agency '" + a.first.Scalar() + "' must name one sink");
        agencies[a.first.Scalar()] = a.second.Scalar();
      }
    } else if (key == "layer1") {
      if (!v.IsMap()) return config_error(file, line, "'layer1' must be a map (min_rule_level)");
      for (const auto& kv1 : v) {
        if (kv1.first.Scalar() != "min_rule_level")
          return config_error(file, yaml_line(kv1.first),
                              "unknown key '" + kv1.first.Scalar() + "' under layer1 (use min_rule_level)");
        layer1_min_rank = kv1.second.IsScalar() ? alert_level_rank(kv1.second.Scalar()) : -1;
        if (layer1_min_rank < 0)
          return config_error(file, yaml_line(kv1.first),
                              "'min_rule_level' must be informational, low, medium, high or critical");
      }
    } else if (key == "layer4") {
      if (!v.IsMap())
        return config_error(file, line, "'layer4' must be a map (serious_incident_systems, when)");
      for (const auto& kv4 : v) {
        const std::string k4 = kv4.first.Scalar();
        const int l4 = yaml_line(kv4.first);
        if (k4 == "serious_incident_systems") {
          const YAML::Node& s = kv4.second;
          if (!s.IsMap())
            return config_error(file, l4, "'serious_incident_systems' must be a map (min_level, classes)");
          for (const auto& kvs : s) {
            const std::string ks = kvs.first.Scalar();
            if (ks == "min_level") {
              if (!kvs.second.IsScalar() || !YAML::convert<int>::decode(kvs.second, serious_min_level) ||
                  serious_min_level < 1 || serious_min_level > 6)
                return config_error(file, yaml_line(kvs.first),
                                    "'min_level' must be a security level 1 to 5 (6: no level is enough)");
            } else if (ks == "classes") {
              serious_classes.clear();
              if (!detail::yaml_strings(kvs.second, serious_classes) && !kvs.second.IsNull())
                return config_error(file, yaml_line(kvs.first), "'classes' must be a list of system classes");
            } else {
              return config_error(
                  file, yaml_line(kvs.first),
                  "unknown key '" + ks + "' under serious_incident_systems (use min_level, classes)");
            }
          }
        } else if (k4 == "when") {
          has_when = true;
          if (kv4.second.IsNull()) continue;  // no condition: nothing goes to layer 4
          if (!kv4.second.IsSequence())
            return config_error(file, l4,
                                "'when' must be a list of conditions (any one sends the alert to L4)");
          for (const auto& c : kv4.second) {
            Layer4Condition cond;
            if (Status s = read_condition(c, cond); !s.ok()) return s;
            when.push_back(std::move(cond));
          }
        } else {
          return config_error(file, l4,
                              "unknown key '" + k4 + "' under layer4 (use serious_incident_systems, when)");
        }
      }
    } else {
      return config_error(file, line, "unknown key '" + key + "' (use sinks, agencies, layer1, layer4)");
    }
  }
  for (const auto& [agency, sink] : agencies)
    if (!sinks.count(sink))
      return config_error(
          file, 1, "agency '" + agency + "' names the sink '" + sink + "', which 'sinks' does not define");
  if (!has_when) {
    Layer4Condition important;
    important.min_rule_level = alert_level_rank("high");
    important.min_system_level = 3;
    Layer4Condition serious;
    serious.serious = 1;
    when = {important, serious};
  }
  return Status();
}

Expected<std::shared_ptr<const Routing>> Routing::parse(const std::string& name, const std::string& yaml) {
  YAML::Node root;
  if (Status s = detail::load_yaml_file(name, &yaml, root); !s.ok()) return s;
  std::shared_ptr<Routing> r(new Routing());
  r->impl_->file = name;
  if (Status s = r->impl_->read(root); !s.ok()) return s;
  return std::shared_ptr<const Routing>(std::move(r));
}

Expected<std::shared_ptr<const Routing>> Routing::load(const std::string& path) {
  YAML::Node root;
  if (Status s = detail::load_yaml_file(path, nullptr, root); !s.ok()) return s;
  std::shared_ptr<Routing> r(new Routing());
  r->impl_->file = path;
  if (Status s = r->impl_->read(root); !s.ok()) return s;
  return std::shared_ptr<const Routing>(std::move(r));
}

const std::string* Routing::sink_of(std::string_view owner) const {
  auto it = impl_->agencies.find(owner);
  return it == impl_->agencies.end() ? nullptr : &it->second;
}

bool Routing::serious_incident_system(const AssetSystem& system) const { return impl_->serious(system); }

bool Routing::Impl::holds(const Layer4Condition& c, const RouteInput& in, int rank, std::string& why) const {
  why.clear();
  auto also = [&](const std::string& part) {
    if (!why.empty()) why += " and ";
    why += part;
  };
  const AssetSystem* s = in.system;
  if (c.min_rule_level >= 0) {
    if (rank < c.min_rule_level) return false;
    also("rule level " + std::string(in.rule_level) + " >= " + kLevelNames[c.min_rule_level]);
  }
  if (c.min_system_level > 0) {
    if (!s || s->level < c.min_system_level) return false;
    also("system level " + std::to_string(s->level) + " >= " + std::to_string(c.min_system_level));
  }
  if (!c.system_classes.empty()) {
    const std::string* cls = s ? has_class(*s, c.system_classes) : nullptr;
    if (!cls) return false;
    also("system class " + *cls);
  }
  if (!c.owners.empty()) {
    if (!s || !any_glob(c.owners, s->owner)) return false;
    also("owner " + s->owner);
  }
  if (!c.tags.empty()) {
    bool any = false;
    if (in.tags)
      for (const auto& t : *in.tags)
        if (any_glob(c.tags, t)) {
          also("tag " + t);
          any = true;
          break;
        }
    if (!any) return false;
  }
  if (!c.rules.empty()) {
    if (!any_glob(c.rules, in.rule_id)) return false;
    also("rule " + std::string(in.rule_id));
  }
  if (c.serious >= 0) {
    bool serious_system = s && serious(*s);
    if (serious_system != (c.serious == 1)) return false;
    also(serious_system ? "serious-incident system (level " + std::to_string(s->level) + ")"
                        : "not a serious-incident system");
  }
  if (c.unknown >= 0) {
    if ((s == nullptr) != (c.unknown == 1)) return false;
    also(s ? "known asset" : "unknown asset");
  }
  return true;
}

void Routing::decide(const RouteInput& in, RouteDecision& out) const {
  const Impl& r = *impl_;
  out.layers = kRouteLayer2 | kRouteLayer3;
  out.sink.clear();
  out.reason.clear();
  const int rank = alert_level_rank(in.rule_level);
  // Layer 1.
  if (!in.system) {
    out.reason = "no L1: unknown asset";
  } else if (const std::string* sink = sink_of(in.system->owner); !sink) {
    out.reason = "no L1: owner '" + in.system->owner + "' has no sink";
  } else if (rank < r.layer1_min_rank) {
    out.reason = "no L1: rule level " + std::string(in.rule_level) + " < " + kLevelNames[r.layer1_min_rank];
  } else {
    out.layers |= kRouteLayer1;
    out.sink = *sink;
    out.reason = "L1: owner '" + in.system->owner + "' via sink '" + *sink + "'";
  }
  out.reason += "; L2, L3: always; ";
  // Layer 4: the first condition that holds.
  std::string why;
  for (const Layer4Condition& c : r.when) {
    if (r.holds(c, in, rank, why)) {
      out.layers |= kRouteLayer4;
      out.reason += "L4: " + why;
      out.reason +=
          c.line > 0 ? " (" + r.file + ":" + std::to_string(c.line) + ")" : std::string(" (default)");
      return;
    }
  }
  out.reason += "no L4: no condition held";
}

void append_routing_json(std::string& out, const RouteDecision& d) {
  out += ",\"routing\":{\"layers\":[";
  bool first = true;
  for (int layer = 1; layer <= 4; ++layer) {
    if (!(d.layers & (1u << (layer - 1)))) continue;
    if (!first) out += ',';
    out += "\"L";
    out += static_cast<char>('0' + layer);
    out += '"';
    first = false;
  }
  out += "],\"reason\":";
  append_json_string(out, d.reason);
  out += '}';
}

}  // namespace socd
