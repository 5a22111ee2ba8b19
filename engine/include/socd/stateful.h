// The stateful detection stage: Sigma correlation rules, thresholds and deduplication of alerts.
//
// Workers match events in parallel; for each alert of a rule the stage cares about (StatefulRules::needs) a
// worker fills a StageHit (the rule, the event's time, the values of the fields the stage reads). The stage
// itself runs in the ORDERED part of a pipeline (scan's output writer, the service's store writer): it sees
// the hits in input order, so what it decides does not depend on how many workers there are.
//
// For each hit it decides what becomes of the alert (passed, suppressed and counted, or consumed by a
// correlation whose rules do not generate alerts of their own) and may emit new alerts: correlation alerts,
// and summaries of what a threshold or deduplication suppressed.
//
// Time is event time (the mapping's time fields; arrival time for an event without one). The watermark is the
// latest event time seen; an event older than the watermark minus the tolerance is late: it is counted, and
// still applied where its window is open. Arrival times move the watermark only until the first event with a
// time of its own is seen (a stream without timestamps runs on arrival time; one event without a time among
// timed ones does not throw the clock forward). Windows whose outcome depends on their end (conditions with
// an upper bound, thresholds) close when the watermark minus the tolerance passes their end, or at flush()
// (end of input).
//
// Windows:
//   * a correlation whose condition has only lower bounds (gt, gte; temporal types without a condition)
//     slides: it counts the hits of a group within `timespan` of the group's latest hit and fires as soon as
//     the condition holds; the hits that made it fire are then used up (the group starts again empty);
//   * a correlation with an upper bound (lt, lte, eq, neq, or a range) counts in a window that opens with a
//     group's first hit and lasts `timespan`; it fires when the window closes and the count meets the
//     condition;
//   * a threshold passes the first `limit` alerts per key in a window that opens with the key's first alert
//     and lasts `window`, suppresses the rest, and when the window closes emits one summary alert with the
//     count; deduplication is a threshold of 1 whose key is, by default, the whole event.
// An event that lacks a group-by field is not counted by that correlation (StageCounters::missing_fields).
//
// Sagan rules (the stateful options the Sagan front end keeps in Rule::stateful_options), per match of such a
// rule, in this order, as Sagan 1.2.0 applies them (measured against it where its documentation is silent):
//   1. conditions without state: alert_time (the event's local time), blacklist / bro-intel lookups of the
//      event's addresses (or message) in the lists of the Sagan YAML (none given: the rule cannot fire);
//   2. xbits / flexbits isset / isnotset: a bit of that name (any of "a|b", all of "a&b") set for the event's
//      source (by_src, ip_src), destination (by_dst, ip_dst), both (both, ip_pair), the reverse pair
//      (reverse) or any address (none), and not expired;
//   3. after: the match counts in a window that opens with the key's first match and lasts `seconds`; an
//      alert only from the (count+1)-th match of the window on;
//   4. threshold: type limit passes the first `count` alerts per key in a window opened by the key's first
//      alert that lasts `seconds`; type suppress the same, but every alert pushes the window's end to
//      `seconds` after it (as Sagan's documentation describes the two; Sagan 1.2.0 itself restarts the limit
//      window with every alert and applies no suppress). What a threshold held back is summarised when its
//      window closes, like the thresholds of the thresholds file ("suppression":{"kind":"sagan-threshold"});
//   5. only a match that passed all of these is an alert: then its xbits / flexbits set / unset act (a set
//      records the event's source and destination and expires `expire` seconds later; an unset removes the
//      bits its direction selects), and `noalert` keeps the alert itself back (Verdict::Consumed).
// A match held back by 1-3 is not an alert (Verdict::Unmet; counted in sagan_unmet and sagan_pending).
// Tracking keys: the source is the normalized src-ip (`normalize`: the rulebase rule that matches the
// message, see socd/lognorm.h), else the Nth address of the message (parse_src_ip: N), else the syslog host
// when it is an address, else the Sagan YAML's default host; the destination the normalized dst-ip, else the
// Nth address (parse_dst_ip), else the default host; ports the normalized src-port / dst-port, else a port
// found beside the address, else default_src_port / default_dst_port; the user name the normalized username
// (Sagan 1.2.0 gives the normalized values precedence over parse_src_ip and the others: measured).
// The rule header (`alert any $EXTERNAL_NET any -> $HOME_NET any`) is checked on these: a source or
// destination network list ([a, b/16, !c]: in one of the plain entries if there are any, in none of the '!'
// ones), a port list or range (an event without a port has the Sagan YAML's default-port, 514 by default, as
// in Sagan), and the protocol (default_proto, else the YAML's default-proto, udp by default); a match that
// fails it is no alert (unmet 3). Sagan 1.2.0 itself ignores '!' entries (measured: "!10.0.0.1" matches
// 10.0.0.1); socd applies them as Sagan's documentation describes.
// An address is a dotted quad (no leading zeros) or an IPv6 address with at least three ':' (so times such as
// 10:00:00 are not), delimited by anything but letters, digits, '.' and ':'; a loopback address stands for
// the syslog host; ":N" or "#N" right after an IPv4 address is its port. A track by_username keys by the
// normalized user name: without one (no `normalize`, or the message matched no rulebase rule) such a
// threshold or after does not apply, as in Sagan 1.2.0 when there is no user name. Windows and expiries run
// on the stage's clock (event time, see above); bits expire when the watermark passes their expiry.
//
// State is in memory, bounded (settings.max_keys groups per correlation or policy: beyond, the group that
// would expire first is evicted and counted), and serialisable (snapshot/restore) so the service can keep it
// with its checkpoints.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socd/event.h"
#include "socd/rule.h"
#include "socd/ruleset.h"
#include "socd/status.h"

namespace socd {

struct StageSettings {
  int64_t tolerance_ms = 60 * 1000;   // how far event time may run backwards before an event counts as late
  size_t max_keys = 100000;           // groups (keys) kept per correlation and per threshold/dedup policy
  size_t max_alert_ids = 20;          // contributing alerts listed on a correlation alert (the latest ones)
  size_t max_entries_per_key = 1024;  // temporal_ordered: hits kept per group (the oldest go first)
  int64_t checkpoint_interval_ms = 1000;  // the service: the longest time the state may go unsaved
};

// A threshold or a deduplication policy (config/thresholds.yml).
struct SuppressionPolicy {
  enum class Kind : uint8_t { Threshold, Dedup };
  Kind kind = Kind::Threshold;
  std::vector<std::string> rules;  // rule (or correlation) ids or names; "*": every rule
  std::vector<std::string> by;  // key fields; empty: one key per rule (threshold) or the whole event (dedup)
  uint64_t limit = 1;           // alerts passed per key per window
  int64_t window_ms = 0;
  std::string window;  // as written ("10m")
  std::string file;
  int line = 0;
};

struct StageConfig {
  StageSettings settings;
  // In file order; per rule the first threshold and the first dedup that name it apply.
  std::vector<SuppressionPolicy> policies;
};

// Reads the thresholds file (format: config/thresholds.yml). Errors name the file and the line.
Expected<StageConfig> load_stage_config(const std::string& path);
Expected<StageConfig> parse_stage_config(const std::string& file, std::string_view text);

// Records on every rule the fields the stage will read from its events (Rule::state_fields), from the
// correlations and policies that name it. Call before RuleSet::compile; references are checked later, by
// StatefulRules::build.
void note_state_fields(std::vector<Rule>& rules, const std::vector<Correlation>& correlations,
                       const StageConfig& config);

// What the stateful options of a Sagan rule read from an event (StatefulRules::extract fills it).
struct SaganFacts {
  std::string src, dst;  // addresses (see "Sagan rules" above); empty: none known
  std::string username;
  int src_port = -1, dst_port = -1;
  uint64_t message_digest = 0;  // track by_string
  uint8_t unmet = 0;  // a condition without state does not hold: 1 alert_time, 2 a list lookup, 3 the header
  uint8_t normalized = 0;  // `normalize`: 0 not asked, 1 a rulebase rule matched the message, 2 none did
};

// One alert of a rule the stage cares about, as a worker hands it over.
struct StageHit {
  uint32_t rule = 0;        // index in the RuleSet
  int64_t time_ms = 0;      // event time, or arrival time
  bool event_time = false;  // time_ms came from the event
  // The values of the rule's state fields (Rule::state_fields order); none where the event has no such field.
  std::vector<std::optional<std::string>> values;
  uint64_t event_digest = 0;  // of the event's bytes (deduplication without key fields)
  std::string ref;            // names the alert in correlation alerts: its id (service) or "file:line" (scan)
  std::string source;         // where the event was read
  uint64_t line = 0;          // its line there
  std::string host;
  SaganFacts sagan;  // Sagan rules with stateful options only
};

// An alert the stage made (a correlation alert or a suppression summary).
struct StageAlert {
  std::string id;       // stable: the same input gives the same id
  std::string rule_id;  // the correlation's id (or title), or the suppressed rule's
  std::string level;
  std::string host;
  int64_t time_ms = 0;  // the latest event time it covers
  uint64_t line = 0;    // the line of the event that completed it
  std::string json;     // one JSON object, no newline (see StatefulStage)
};

struct StageCounters {
  uint64_t hits = 0;            // hits observed
  uint64_t passed = 0;          // alerts of hits passed on
  uint64_t suppressed = 0;      // alerts held back by a threshold or deduplication (each in a summary)
  uint64_t consumed = 0;        // alerts held back because only their correlation generates (generate: false)
  uint64_t correlations = 0;    // correlation alerts emitted (chained ones included)
  uint64_t summaries = 0;       // suppression summaries emitted
  uint64_t late = 0;            // hits older than the watermark minus the tolerance
  uint64_t late_unapplied = 0;  // late hits no open window could take
  uint64_t missing_fields = 0;  // hits a correlation or policy could not key (a group-by field absent)
  uint64_t evicted = 0;         // groups dropped over settings.max_keys (their counts are lost)
  uint64_t entries_dropped = 0;  // temporal_ordered hits dropped over settings.max_entries_per_key
  uint64_t restored_groups = 0;  // groups taken over from a snapshot
  uint64_t restore_dropped = 0;  // groups of a snapshot whose correlation or policy changed or is gone
  uint64_t sagan_unmet = 0;      // Sagan matches whose alert_time, list lookup or xbits/flexbits test failed
  uint64_t sagan_pending = 0;    // Sagan matches an `after` counted before its count was passed
  uint64_t bits_set = 0;         // xbits / flexbits set (or refreshed) and unset
  uint64_t bits_unset = 0;
  uint64_t sagan_normalized = 0;      // matches of `normalize` rules whose message a rulebase rule matched
  uint64_t sagan_not_normalized = 0;  // ... and whose message none matched (the fallbacks apply)
};

// Correlations and policies compiled against one RuleSet: immutable, shared by the workers and the stage.
class StatefulRules {
public:
  // Resolves the correlations' references (rule and correlation ids or names; chains; no cycles) and the
  // policies' rule names against `set`. A correlation that cannot work (an unknown or skipped rule, a cycle,
  // a chained group-by the inner correlation does not have) is left out with a diagnostic; so is a policy
  // naming no rule. Reasons: unknown-rule-reference, bad-correlation (cycles, chained group-by, more than 64
  // rules); warnings: warning-policy-unknown-rule, warning-policy-field (a key field a correlation lacks).
  static std::shared_ptr<const StatefulRules> build(std::shared_ptr<const RuleSet> set,
                                                    std::vector<Correlation> correlations,
                                                    const StageConfig& config,
                                                    std::vector<Diagnostic>& diagnostics);
  ~StatefulRules();
  StatefulRules(const StatefulRules&) = delete;
  StatefulRules& operator=(const StatefulRules&) = delete;

  bool active() const;  // some correlation, policy or Sagan rule with stateful options is in force
  size_t sagan_rule_count() const;  // Sagan rules whose stateful options the stage applies
  bool needs(uint32_t rule) const;  // alerts of `rule` must go through the stage
  // Alerts of `rule` are never emitted (only correlations over it generate): workers need not render them.
  bool consumed(uint32_t rule) const;
  size_t correlation_count() const;
  size_t policy_count() const;
  const StageSettings& settings() const;
  const RuleSet& rule_set() const;
  // Worker side: fills `hit` for an alert of `rule` on `event`; `arrival_ms` is used when the event has no
  // time. Leaves ref, source, line and host to the caller.
  void extract(uint32_t rule, const Event& event, int64_t arrival_ms, StageHit& hit) const;
  // The event's time from the mapping's time fields, in milliseconds since the epoch; -1 when it has none.
  int64_t event_time_ms(const Event& event) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

private:
  StatefulRules();
  std::unique_ptr<Impl> impl_;
};

// The stage itself: single-threaded, fed in input order.
//
// A correlation alert:
//   {"id":..,"rule":{"id","title","level","tags"},"time":<latest event time>,
//    "correlation":{"type","timespan","group":{<group-by field>:<value>,..},"count":N,"first":<time>,
//                   "last":<time>,"values":[..] (value_count),"rules":[..] (temporal types: the rules seen),
//                   "alerts":[<refs of the latest contributing alerts, at most settings.max_alert_ids>]},
//    "host":..,"source":{"file","line" of the event that completed it}}
// A suppression summary:
//   {"id":..,"rule":{..the suppressed rule..},"time":<latest suppressed>,
//    "suppression":{"kind":"threshold"|"dedup","window","key":{<field>:<value>,..},"passed":N,
//                   "suppressed":N,"first":<time>,"last":<time>,"first_alert":<ref>},
//    "host":..,"source":{"file","line" of the last suppressed}}
// A Sagan threshold's summary is the same with "suppression":{"kind":"sagan-threshold","type":"limit"|
// "suppress","track":"by_src",..,"window":"300s","key":{"src":..,"dst":..},"passed","suppressed","first",
// "last","first_alert"}.
class StatefulStage {
public:
  // Unmet: a Sagan rule's condition (alert_time, a list lookup, xbits/flexbits, after) does not hold, so the
  // match is no alert.
  enum class Verdict : uint8_t { Pass, Suppressed, Consumed, Unmet };
  explicit StatefulStage(std::shared_ptr<const StatefulRules> rules);
  ~StatefulStage();

  // Takes one hit (in input order): what becomes of its alert; alerts it completes are appended to `out`.
  Verdict observe(const StageHit& hit, std::vector<StageAlert>& out);
  // Moves the watermark to `event_time_ms` (a later event's time, e.g. the last event of a batch) and closes
  // the windows that have ended; their alerts are appended to `out`.
  void advance(int64_t event_time_ms, std::vector<StageAlert>& out);
  // End of input: closes every window (decides every pending condition, summarises every suppression).
  void flush(std::vector<StageAlert>& out);

  // The whole state as bytes, and back. restore() keeps the groups of correlations and policies whose
  // definition is unchanged (by id and content) and counts the others as restore_dropped; an unreadable
  // snapshot is an error and leaves the stage as it was.
  std::string snapshot() const;
  Status restore(std::string_view bytes);
  // Grows whenever the state changes in a way a snapshot would show (not with every watermark move).
  uint64_t version() const;

  const StageCounters& counters() const;
  const StatefulRules& rules() const;
  const std::shared_ptr<const StatefulRules>& shared_rules() const;

  struct State;

private:
  std::unique_ptr<State> state_;
};

}  // namespace socd
