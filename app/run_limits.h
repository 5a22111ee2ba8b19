// The limits of `socd run` that hostile input cannot pass, in one place: their options (config file and
// command line), their defaults, and where each goes (listeners, parsers, rule compiler, pipeline, dead letters).
#pragma once
#include <boost/program_options/options_description.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pipeline.h"
#include "socd/input_dead_letters.h"
#include "socd/rule.h"
#include "socd/ruleset.h"
#include "socd/syslog_sources.h"

namespace socd::cli {

struct RunLimits {
  size_t max_frame_bytes = 64 * 1024;  // syslog message (UDP datagram, TCP/TLS frame)
  size_t max_json_depth = 64;
  size_t max_event_fields = 10'000;
  size_t max_rule_patterns = 10'000;
  size_t max_regex_bytes = 8'192;
  uint64_t max_regex_repeat = 50'000;
  uint32_t max_regex_nesting = 64;
  uint32_t regex_match_limit = 1'000'000;
  size_t max_connections = 1024;  // per stream listener
  int idle_timeout = 300;         // seconds
  int frame_timeout = 30;         // seconds
  double source_rate = 0, source_burst = 0;
  DeadLetterLimits dead_letters;
};

// Adds the options of the limits to `opts`, bound to `limits`.
void add_limit_options(boost::program_options::options_description& opts, RunLimits& limits);
// Where each limit goes.
void apply_rule_limits(const RunLimits& limits, CompileOptions& options);
ListenerLimits listener_limits(const RunLimits& limits);
void apply_pipeline_limits(const RunLimits& limits, PipelineOptions& options);
// The rules left out by a compile-time limit (diagnostics whose reason starts with "limit-").
size_t count_rule_limit_hits(const std::vector<Diagnostic>& diagnostics);

}  // namespace socd::cli
