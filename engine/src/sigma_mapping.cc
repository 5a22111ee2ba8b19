// config/mappings.yml -> FieldMapping. The file's own comments document the format; this is the reader.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_map>

#include "sigma_detection.h"
#include "socd/sigma.h"
#include "socd/read_file.h"

namespace socd {
namespace {

using sigma::line_of;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class MappingReader {
public:
  explicit MappingReader(const std::string& file) : file_(file) {}

  Status read(std::string_view text, FieldMapping& m) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return fail(e.mark.line + 1, "YAML syntax error: " + e.msg);
    }
    if (!root.IsDefined() || root.IsNull()) return Status();
    if (!root.IsMap())
      return fail(line_of(root), "the mapping file must be a map (prefixes, fields, sources ...)");
    std::map<std::string, YAML::Node> sections;
    for (const auto& kv : root) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      static const std::set<std::string> known{"prefixes",    "fields",       "aliases", "time_fields",
                                               "host_fields", "placeholders", "sources"};
      if (!known.count(key))
        return fail(line_of(kv.first), "unknown key '" + key +
                                           "' (expected prefixes, fields, aliases, time_fields, host_fields, "
                                           "placeholders or sources)");
      if (sections.count(key)) return fail(line_of(kv.first), "'" + key + "' is given twice; merge the two");
      sections[key] = kv.second;
    }
    // Sections are read in this order whatever their order in the file: aliases need the prefixes, sources
    // the placeholders.
    auto section = [&](const char* name) -> const YAML::Node* {
      auto it = sections.find(name);
      return it == sections.end() ? nullptr : &it->second;
    };
    Status st;
    if (const YAML::Node* n = section("prefixes")) {
      if (!(st = strings(*n, "prefixes", m.prefixes)).ok()) return st;
    }
    if (const YAML::Node* n = section("time_fields")) {
      if (!(st = strings(*n, "time_fields", m.time_fields)).ok()) return st;
    }
    if (const YAML::Node* n = section("host_fields")) {
      if (!(st = strings(*n, "host_fields", m.host_fields)).ok()) return st;
    }
    if (const YAML::Node* n = section("fields")) {
      if (!(st = string_map(*n, "fields", m.fields)).ok()) return st;
    }
    if (const YAML::Node* n = section("aliases")) {
      std::map<std::string, std::vector<std::string>> aliases;
      if (!(st = string_map(*n, "aliases", aliases)).ok()) return st;
      for (const auto& [name, others] : aliases) {  // each alias under every prefix, after the explicit paths
        auto& paths = m.fields[name];
        for (const auto& other : others)
          for (const auto& prefix : m.prefixes) {
            std::string path = prefix + other;
            if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(std::move(path));
          }
      }
    }
    if (const YAML::Node* n = section("placeholders")) {
      if (!(st = string_map(*n, "placeholders", m.placeholders)).ok()) return st;
    }
    if (const YAML::Node* n = section("sources")) {
      if (!(st = sources(*n, m)).ok()) return st;
    }
    return Status();
  }

private:
  // product, category and service lower-cased, each preceded by its length (so no two matches share a key).
  template <class Match>
  static std::string match_key(const Match& match) {
    std::string key;
    for (const std::string* part : {&match.product, &match.category, &match.service}) {
      key += std::to_string(part->size());
      key += ':';
      key += lower(*part);
    }
    return key;
  }

  Status fail(int line, const std::string& message) const {
    return Status::error(file_ + ":" + std::to_string(line) + ": " + message);
  }

  Status strings(const YAML::Node& n, const std::string& what, std::vector<std::string>& out) const {
    out.clear();
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
      return Status();
    }
    if (!n.IsSequence()) return fail(line_of(n), "'" + what + "' must be a text or a list of texts");
    for (const auto& item : n) {
      if (!item.IsScalar()) return fail(line_of(item), "'" + what + "' must list texts only");
      out.push_back(item.Scalar());
    }
    return Status();
  }

  Status string_map(const YAML::Node& n, const std::string& what,
                    std::map<std::string, std::vector<std::string>>& out) const {
    if (n.IsNull()) return Status();
    if (!n.IsMap()) return fail(line_of(n), "'" + what + "' must be a map of names to lists");
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) return fail(line_of(kv.first), "a key of '" + what + "' is not a name");
      const std::string& name = kv.first.Scalar();
      if (out.count(name)) return fail(line_of(kv.first), "'" + name + "' appears twice in '" + what + "'");
      std::vector<std::string> values;
      Status st = strings(kv.second, what + "." + name, values);
      if (!st.ok()) return st;
      out[name] = std::move(values);
    }
    return Status();
  }

  Status sources(const YAML::Node& n, FieldMapping& m) const {
    if (n.IsNull()) return Status();
    if (!n.IsMap()) return fail(line_of(n), "'sources' must be a map of named log-source entries");
    std::set<std::string> names;
    // The entries already in m.sources by their product/category/service, lower-cased (each is looked up once).
    std::unordered_map<std::string, size_t> source_of_match;
    for (size_t i = 0; i < m.sources.size(); ++i) source_of_match.emplace(match_key(m.sources[i].match), i);
    for (const auto& kv : n) {
      std::string name = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      int line = line_of(kv.first);
      if (!names.insert(name).second) return fail(line, "source '" + name + "' is defined twice");
      const YAML::Node& entry = kv.second;
      if (!entry.IsMap())
        return fail(line, "source '" + name + "' must be a map (product, category, service, condition)");
      FieldMapping::Source source;
      YAML::Node condition;
      for (const auto& field : entry) {
        std::string key = field.first.IsScalar() ? field.first.Scalar() : std::string();
        if (key == "condition") {
          condition = field.second;
          continue;
        }
        if (key == "description") continue;
        std::string* slot = key == "product"    ? &source.match.product
                            : key == "category" ? &source.match.category
                            : key == "service"  ? &source.match.service
                                                : nullptr;
        if (!slot)
          return fail(line_of(field.first),
                      "source '" + name + "': unknown key '" + key +
                          "' (expected product, category, service, condition, description)");
        if (!field.second.IsScalar())
          return fail(line_of(field.second), "source '" + name + "': '" + key + "' must be a text");
        *slot = field.second.Scalar();
      }
      if (source.match.product.empty() && source.match.category.empty() && source.match.service.empty())
        return fail(line, "source '" + name + "' sets none of product, category, service");
      if (!condition.IsDefined() || condition.IsNull())
        return fail(line,
                    "source '" + name + "' has no 'condition' (a Sigma selection: a map or a list of maps)");
      sigma::Problem problem;
      int problem_line = line_of(condition);
      if (!sigma::build_selection(condition, name, m, source.condition, problem, problem_line))
        return fail(problem_line, "source '" + name + "': " + problem.message);
      // Entries for the same product/category/service are alternatives of one source.
      auto [known, added] = source_of_match.emplace(match_key(source.match), m.sources.size());
      if (added) {
        m.sources.push_back(std::move(source));
      } else {
        auto& alternatives = m.sources[known->second].condition.alternatives;
        for (auto& alt : source.condition.alternatives) alternatives.push_back(std::move(alt));
      }
    }
    return Status();
  }

  std::string file_;
};

}  // namespace

Expected<FieldMapping> parse_field_mapping(const std::string& file, std::string_view text) {
  FieldMapping m;
  MappingReader reader(file);
  Status st;
  try {
    st = reader.read(text, m);
  } catch (const std::exception& e) {
    st = Status::error(file + ": cannot read the mapping: " + e.what());
  }
  if (!st.ok()) return st;
  return m;
}

Expected<FieldMapping> load_field_mapping(const std::string& path) {
  std::string text;
  if (!read_file(path, text)) return Status::error(path + ": cannot open the mapping file: " + std::strerror(errno));
  return parse_field_mapping(path, text);
}

}  // namespace socd
