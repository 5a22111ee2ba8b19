// Incidents: alerts grouped (by rule and system within a window, or by hand) into the unit the SOC's analysts
// work on and report to the national centre within the legal deadlines (Circular 20/2017/TT-BTTTT; every
// period is a setting). The model, the state machine, the deadlines and the settings; the store that keeps them
// is socd/ledger.h.
//
// States: new -> acknowledged -> in_progress -> resolved | false_positive -> closed. Resolved or false_positive
// may be reopened (back to in_progress); acknowledged may go to false_positive at once (triage). Closed is final:
// only notes are taken after it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socd/status.h"
#include "socd/time_zone.h"

namespace socd {

enum class IncidentState : uint8_t { New, Acknowledged, InProgress, Resolved, FalsePositive, Closed };

const char* state_name(IncidentState state);  // "new", "acknowledged", "in_progress", ...
std::optional<IncidentState> parse_state(std::string_view name);
// Whether a state change is allowed (the table above).
bool transition_allowed(IncidentState from, IncidentState to);
// States that still gather alerts and owe work: new, acknowledged, in_progress.
inline bool is_open(IncidentState s) {
  return s == IncidentState::New || s == IncidentState::Acknowledged || s == IncidentState::InProgress;
}

struct IncidentNote {
  int64_t time_ms = 0;
  std::string author, text;
};

// One change of an incident, as its history shows it.
struct IncidentChange {
  int64_t time_ms = 0;
  std::string actor, action, detail;
};

// The impacts that make an incident on an important system serious (Decision 05/2017).
inline constexpr std::string_view kImpacts[] = {"service_interruption", "data_leak", "integrity_loss",
                                                 "loss_of_control", "wide_spread"};

// Times are milliseconds since the epoch, UTC; 0 means "not yet".
struct Incident {
  std::string id;  // "INC-000042": a counter, so ids are stable and in creation order
  std::string title;
  std::string rule_id;    // the rule of its alerts (grouped incidents; the first alert's for one made by hand)
  std::string system;     // the information system ("" for an unknown asset)
  std::string group_key;  // rule + system (the host stands in for an unknown system); empty for one made by hand
  int system_level = 0;   // 1..5, 0 unknown
  std::string level;      // the highest alert level in it
  IncidentState state = IncidentState::New;
  bool manual = false;    // made by hand (socd incidents new)
  bool serious = false;   // decided by IncidentSettings::is_serious at each change
  bool false_positive = false;  // the response ended as a false positive (also once closed)
  std::string assignee;
  std::vector<std::string> impacts;
  int64_t discovered_ms = 0;  // when the SOC learnt of it: the incident was created
  int64_t first_alert_ms = 0, last_alert_ms = 0;  // event times of its alerts
  int64_t acknowledged_ms = 0, started_ms = 0, resolved_ms = 0, closed_ms = 0, updated_ms = 0;
  int64_t notified_ms = 0;  // the notification (first notice) was sent
  int64_t reported_ms = 0;  // the report (cause, scope, fix) was sent
  uint64_t alert_count = 0;
  std::vector<IncidentNote> notes;
  std::vector<IncidentChange> history;
};

struct IncidentSettings {
  std::string time_zone = "Asia/Ho_Chi_Minh";
  std::string utc_offset = "+07:00";  // used when the tz database lacks time_zone
  // Grouping at commit time: a new alert joins the open incident of its rule and system whose last alert is at
  // most `group_window_ms` before (or after) it; otherwise it opens a new one. Alerts below `group_min_level`
  // stay alerts (attach them by hand).
  bool group_automatically = true;
  int64_t group_window_ms = 3'600'000;
  std::string group_min_level = "medium";
  // Serious: a system of this level or above (0: never serious), and either an impact recorded by an analyst or a
  // rule level at least `serious_min_rule_level` ("" or "none": an impact is needed).
  int serious_min_system_level = 4;
  std::string serious_min_rule_level = "critical";
  // Deadlines, counted from discovery (notify, and for serious incidents the report) or from the end of the
  // response (resolved: the final report). A period in days ends at local midnight of its last day when
  // `calendar_days` (the day of the event not counted), else after that many 24 h.
  struct Period {
    int64_t ms = 0;
    bool days = false;  // given in days (or weeks): counted as calendar days when `calendar_days`
  };
  Period notify{5 * 86'400'000LL, true};
  Period serious_notify{24 * 3'600'000LL, false};
  Period serious_report{72 * 3'600'000LL, false};
  Period final_report{5 * 86'400'000LL, true};
  bool calendar_days = true;
  // The audit chain: a sealed head at least every `seal_every_records` records or `seal_interval_ms`.
  uint64_t seal_every_records = 1000;
  int64_t seal_interval_ms = 300'000;
  // Retention of alerts per system security level (index 0: unknown level, 1..5); 0 keeps them for ever.
  int64_t retention_ms[6] = {0, 31 * 86'400'000LL, 31 * 86'400'000LL, 92 * 86'400'000LL, 183 * 86'400'000LL,
                             366 * 86'400'000LL};

  bool is_serious(const Incident& incident) const;
  // The settings as the text of a settings file (config/incidents.yml), for the record and for readers.
  std::string to_text() const;
};

// A period as written in the settings: "5d" in days, "24h" in hours.
std::string format_period(const IncidentSettings::Period& period);

// Reads the settings (format: config/incidents.yml). Errors name the file, the line and what to write.
Expected<IncidentSettings> load_incident_settings(const std::string& path);
Expected<IncidentSettings> parse_incident_settings(const std::string& file, std::string_view text);

// A deadline of an incident, as of `now`.
struct Deadline {
  enum class Status : uint8_t { Pending, Overdue, Met, Missed };
  std::string name;  // "notify" or "report"
  int64_t due_ms = 0;
  int64_t done_ms = 0;  // 0: not done
  Status status = Status::Pending;
};
const char* deadline_status_name(Deadline::Status status);

// The deadlines an incident owes: notify (5 days; serious: 24 h), report (serious: 72 h from discovery;
// otherwise the final report, 5 days after it was resolved). False positives owe nothing.
std::vector<Deadline> incident_deadlines(const Incident& incident, const IncidentSettings& settings,
                                         const TimeZone& zone, int64_t now_ms);
// `from_ms` plus a period: a period in days as calendar days in `zone` when `calendar_days`, else elapsed time.
int64_t deadline_after(int64_t from_ms, const IncidentSettings::Period& period, bool calendar_days,
                       const TimeZone& zone);

// What an analyst (or the grouping) does to incidents. The same text form travels through the command inbox
// of a running `socd run` and is appended to the audit chain.
struct IncidentCommand {
  enum class Action : uint8_t {
    New, Attach, Ack, Start, Assign, Note, Resolve, FalsePositive, Close, Reopen, Impact, Notified, Reported
  };
  Action action = Action::Note;
  std::string incident;               // all but New
  std::string actor;                  // who
  std::string text;                   // note text, title (new), resolution summary
  std::string assignee;               // assign
  std::vector<std::string> alerts;    // new, attach
  std::vector<std::string> impacts;   // impact
  int64_t time_ms = 0;                // when (0: now); notified/reported may say when it was sent

  std::string encode() const;
  static Expected<IncidentCommand> decode(std::string_view text);
};
const char* action_name(IncidentCommand::Action action);
std::optional<IncidentCommand::Action> parse_action(std::string_view name);

// Applies a state-changing command to `incident` (all but New and Attach, which need the store); `now_ms` is when.
// Refuses invalid transitions with a message naming the incident, its state and what to do.
Status apply_command(Incident& incident, const IncidentCommand& command, const IncidentSettings& settings,
                     int64_t now_ms);

// The incident as stored (a versioned text record) and back.
std::string encode_incident(const Incident& incident);
Expected<Incident> decode_incident(std::string_view value);
// The incident as one JSON object (for --json and reports), deadlines included.
std::string incident_json(const Incident& incident, const std::vector<Deadline>& deadlines, const TimeZone& zone);

}  // namespace socd
