// Small helpers the YAML configuration readers of the asset inventory, the intelligence lists and the routing
// share: positions for diagnostics, and scalars or lists of scalars. Internal to engine/.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "socd/status.h"
#include "socd/read_file.h"

namespace socd::detail {

inline int yaml_line(const YAML::Node& node) { return node.Mark().line + 1; }

inline Status config_error(const std::string& file, int line, const std::string& message) {
  return Status::error(file + ":" + std::to_string(line) + ": " + message);
}

// A scalar, or a list of scalars, into `out` (appended). False for anything else (a map, a nested list).
inline bool yaml_strings(const YAML::Node& node, std::vector<std::string>& out) {
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return true;
  }
  if (!node.IsSequence()) return false;
  for (const auto& item : node) {
    if (!item.IsScalar()) return false;
    out.push_back(item.Scalar());
  }
  return true;
}

inline std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The rank of an alert level: informational 0, low 1, medium 2, high 3, critical 4; -1 for any other text.
inline int alert_level_rank(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"informational", "low", "medium", "high", "critical"};
  for (int i = 0; i < 5; ++i)
    if (level == kLevels[i]) return i;
  return -1;
}

// Reads a YAML file into `root`; errors name the file and the line of a syntax error.
inline Status load_yaml_file(const std::string& path, const std::string* text, YAML::Node& root) {
  std::string read;
  if (!text) {
    if (!read_file(path, read))
      return Status::error("cannot read '" + path + "': " + std::strerror(errno) +
                           " (check the path and its permissions)");
    text = &read;
  }
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return config_error(path, e.mark.line + 1, "not valid YAML: " + e.msg);
  }
  return Status();
}

}  // namespace socd::detail
