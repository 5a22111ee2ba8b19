#include "run_limits.h"

#include <boost/program_options.hpp>

namespace po = boost::program_options;

namespace socd::cli {

void add_limit_options(po::options_description& opts, RunLimits& l) {
  po::options_description group(
      "Limits (hostile input): each hit is counted in socd_limit_hits_total{limit,source} (rules: "
      "socd_rules_over_limit) and said on stderr, at most 20 lines a minute; lines set aside are kept as dead "
      "letters (socd deadletter list)");
  group.add_options()
      ("max-frame-bytes", po::value(&l.max_frame_bytes)->default_value(l.max_frame_bytes),
       "syslog listeners: longer messages (datagrams, TCP/TLS frames) are set aside (limit line_bytes)")
      ("max-json-depth", po::value(&l.max_json_depth)->default_value(l.max_json_depth),
       "JSON events nested deeper (objects and arrays) are set aside (limit json_depth)")
      ("max-event-fields", po::value(&l.max_event_fields)->default_value(l.max_event_fields),
       "events with more values are set aside (limit event_fields)")
      ("max-rule-patterns", po::value(&l.max_rule_patterns)->default_value(l.max_rule_patterns),
       "rules testing more values (Sigma values, Sagan contents and pcres) are left out with a diagnostic")
      ("max-regex-bytes", po::value(&l.max_regex_bytes)->default_value(l.max_regex_bytes),
       "rules with a longer regular expression are left out with a diagnostic")
      ("max-regex-repeat", po::value(&l.max_regex_repeat)->default_value(l.max_regex_repeat),
       "rules with a regex whose nested counted repeats multiply past this ((a{100}){100}: 10000) are left out")
      ("max-regex-nesting", po::value(&l.max_regex_nesting)->default_value(l.max_regex_nesting),
       "rules with a regex nesting parentheses deeper are left out")
      ("regex-match-limit", po::value(&l.regex_match_limit)->default_value(l.regex_match_limit),
       "a regex gives up on a value after this many steps (backtracking); the value does not match (limit "
       "regex_match)")
      ("max-connections", po::value(&l.max_connections)->default_value(l.max_connections),
       "per TCP/TLS listener: connections over this are refused (limit connections)")
      ("idle-timeout", po::value(&l.idle_timeout)->default_value(l.idle_timeout),
       "seconds: a TCP/TLS connection silent this long is closed (limit idle_timeout); 0: never")
      ("frame-timeout", po::value(&l.frame_timeout)->default_value(l.frame_timeout),
       "seconds: a TCP/TLS message (or TLS handshake) not complete this long after its first byte closes its "
       "connection, a slow sender (limit slow_sender); 0: never")
      ("source-rate", po::value(&l.source_rate)->default_value(l.source_rate),
       "lines a second each source may deliver (token bucket; 0: no limit); over it files, stdin and TCP/TLS "
       "are read more slowly (back-pressure, nothing lost), UDP messages are dropped and counted (limit rate)")
      ("source-burst", po::value(&l.source_burst)->default_value(l.source_burst),
       "lines a source may deliver at once above its rate (0: one second's worth)")
      ("dead-letter-max-count", po::value(&l.dead_letters.max_count)->default_value(l.dead_letters.max_count),
       "dead letters kept in the store; over it the oldest are dropped (counted)")
      ("dead-letter-max-bytes", po::value(&l.dead_letters.max_bytes)->default_value(l.dead_letters.max_bytes),
       "bytes of dead letters kept in the store; over it the oldest are dropped (counted)")
      ("dead-letter-bytes", po::value(&l.dead_letters.max_data_bytes)->default_value(l.dead_letters.max_data_bytes),
       "bytes kept of each line set aside (its head)");
  opts.add(group);
}

void apply_rule_limits(const RunLimits& l, CompileOptions& o) {
  o.max_patterns_per_rule = l.max_rule_patterns;
  o.max_regex_bytes = l.max_regex_bytes;
  o.max_regex_repeat = l.max_regex_repeat;
  o.max_regex_nesting = l.max_regex_nesting;
  o.regex_match_limit = l.regex_match_limit;
}

ListenerLimits listener_limits(const RunLimits& l) {
  ListenerLimits out;
  out.max_message_bytes = l.max_frame_bytes;
  out.max_connections = l.max_connections;
  out.idle_timeout_seconds = l.idle_timeout;
  out.frame_timeout_seconds = l.frame_timeout;
  return out;
}

void apply_pipeline_limits(const RunLimits& l, PipelineOptions& o) {
  o.parse_limits.max_depth = l.max_json_depth;
  o.parse_limits.max_fields = l.max_event_fields;
  o.source_rate = l.source_rate;
  o.source_burst = l.source_burst;
  o.dead_letter_bytes = l.dead_letters.max_data_bytes;
}

size_t count_rule_limit_hits(const std::vector<Diagnostic>& diagnostics) {
  size_t n = 0;
  for (const auto& d : diagnostics)
    if (d.reason.rfind("limit-", 0) == 0) ++n;
  return n;
}

}  // namespace socd::cli
