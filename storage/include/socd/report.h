// The periodic assessment report (layer 3): what the SOC saw, what it handled and how fast, which deadlines it
// met, which rules ran, which sources went quiet, over a period [from, to). Built from the store alone (alerts,
// incidents, the audit chain, source activity) and rendered as JSON, Markdown or HTML. Everything is evaluated
// as of `to` (an acknowledgement after `to` does not count), so the report for a past period does not change
// when it is built again later.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "socd/alert_store.h"
#include "socd/incidents.h"
#include "socd/status.h"
#include "socd/time_zone.h"

namespace socd {

struct ReportOptions {
  int64_t from_ms = 0, to_ms = 0;
  int64_t silent_after_ms = 4 * 3'600'000LL;  // a source without a batch this long (whole hours) went silent
};

struct AssessmentReport {
  struct Count {
    std::string key, label;  // key: what is counted (system, rule id, level ...); label: a title beside it
    int level = 0;           // system security level (by system)
    uint64_t count = 0;
  };
  struct IncidentRow {
    std::string id, title, system, level, state;
    int system_level = 0;
    bool serious = false, false_positive = false;
    uint64_t alerts = 0;
    int64_t discovered_ms = 0;
    int64_t acknowledge_ms = -1, resolve_ms = -1;  // time taken; -1: not by `to`
    std::vector<Deadline> deadlines;               // as of `to`
  };
  struct RuleSetRow {
    int64_t time_ms = 0;
    std::string reason, digest;
    uint64_t loaded = 0, skipped = 0;
    std::vector<std::string> added, removed, changed;  // against the load before it
  };
  struct SilentPeriod {
    std::string source;
    int64_t from_ms = 0, to_ms = 0;  // to_ms == report's to: still silent
  };
  struct SourceRow {
    std::string source;
    int64_t first_seen_ms = 0, last_seen_ms = 0;  // hours with a batch, up to `to`
    uint64_t batches = 0, events = 0;             // in the period
  };

  int64_t from_ms = 0, to_ms = 0;
  std::string zone_name;
  TimeZone zone;
  IncidentSettings settings;
  uint64_t alerts = 0;
  std::vector<Count> by_system, by_system_level, by_rule, by_level, by_layer;
  std::vector<IncidentRow> incidents;
  uint64_t acknowledged = 0, resolved = 0;
  int64_t acknowledge_median_ms = -1, acknowledge_max_ms = -1, resolve_median_ms = -1, resolve_max_ms = -1;
  uint64_t deadlines_met = 0, deadlines_missed = 0, deadlines_overdue = 0, deadlines_pending = 0;
  std::vector<RuleSetRow> rule_sets;
  uint64_t settings_changes = 0;
  std::vector<SourceRow> sources;
  std::vector<SilentPeriod> silent;
  uint64_t chain_records = 0, chain_seals = 0;  // appended in the period
};

Expected<AssessmentReport> build_report(AlertStore& store, const ReportOptions& options);
// `format`: json, md or html. Deterministic: the same report renders to the same bytes.
Expected<std::string> render_report(const AssessmentReport& report, const std::string& format);

}  // namespace socd
