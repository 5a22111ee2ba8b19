// Sigma meta documents (internal to the Sigma front end): correlation rules and filters, read into the rule
// model. Their references to other rules are resolved later, once every file is loaded (apply_filters in
// sigma.h, StatefulRules::build in stateful.h).
#pragma once
#include <yaml-cpp/yaml.h>

#include <string>

#include "socd/sigma.h"

namespace socd::sigma {

// Reads a document with a `correlation` section into out.correlations, or skips it with one diagnostic
// (bad-correlation, correlation-unsupported).
void load_correlation(const YAML::Node& doc, const std::string& file, RuleLoad& out);

// Reads a document with a `filter` section into out.filters, or skips it with one diagnostic (bad-filter, or
// the reason of a selection or condition that cannot be built).
void load_filter(const YAML::Node& doc, const std::string& file, const FieldMapping& mapping, RuleLoad& out);

// Parses a Sigma timespan ("30s", "5m", "1h", "7d") into milliseconds; false when it is not one.
bool parse_timespan(std::string_view text, int64_t& ms);

}  // namespace socd::sigma
