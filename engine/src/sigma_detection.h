// Sigma search identifiers (YAML maps and lists) to Selections (internal to the Sigma front end). Used for
// rule detections and for the log-source conditions of the mapping file, which are written the same way.
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "sigma_value.h"
#include "socd/rule.h"

namespace socd::sigma {

// A YAML scalar typed by YAML's core schema: plain true/false are booleans, plain numbers numbers, null / ~ /
// an empty value null; quoted scalars are strings.
Scalar to_scalar(const YAML::Node& node);

// Line (1-based) of a YAML node.
inline int line_of(const YAML::Node& node) { return node.Mark().line + 1; }

// Builds the selection `name` from its YAML node: a map is one conjunction, a list of maps several
// alternatives, a list of plain values (or a single value) a keyword search. On failure sets `problem` and
// `line`.
bool build_selection(const YAML::Node& node, const std::string& name, const FieldMapping& mapping,
                     Selection& out, Problem& problem, int& line);

}  // namespace socd::sigma
