// Incidents without a store: the state machine as a table of every transition, the commands' refusals, the
// deadlines in Asia/Ho_Chi_Minh across midnight and month ends, the time zone, and the settings file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "socd/incidents.h"
#include "socd/time_zone.h"

namespace socd {
namespace {

using S = IncidentState;
using A = IncidentCommand::Action;

int64_t at(const char* rfc3339) {
  int64_t ms = 0;
  EXPECT_TRUE(parse_rfc3339(rfc3339, ms)) << rfc3339;
  return ms;
}

TimeZone hcm() {
  auto z = TimeZone::load("Asia/Ho_Chi_Minh", "+07:00");
  EXPECT_TRUE(z.ok()) << (z.ok() ? "" : z.error().message());
  return z.ok() ? *z : TimeZone::fixed("Asia/Ho_Chi_Minh", 7 * 3600);
}

TEST(IncidentStateMachine, EveryTransitionAsATable) {
  // rows: from; columns: to (new, acknowledged, in_progress, resolved, false_positive, closed)
  const bool allowed[6][6] = {
      /* new            */ {false, true, false, false, false, false},
      /* acknowledged   */ {false, false, true, false, true, false},
      /* in_progress    */ {false, false, false, true, true, false},
      /* resolved       */ {false, false, true, false, false, true},
      /* false_positive */ {false, false, true, false, false, true},
      /* closed         */ {false, false, false, false, false, false},
  };
  for (int from = 0; from < 6; ++from)
    for (int to = 0; to < 6; ++to)
      EXPECT_EQ(transition_allowed(static_cast<S>(from), static_cast<S>(to)), allowed[from][to])
          << state_name(static_cast<S>(from)) << " -> " << state_name(static_cast<S>(to));
}

struct CommandCase {
  S from;
  A action;
  bool ok;
  S to;
  const char* error_part;  // a part of the refusal
};

TEST(IncidentStateMachine, CommandsMoveOrAreRefusedWithAClearError) {
  const CommandCase cases[] = {
      {S::New, A::Ack, true, S::Acknowledged, ""},
      {S::New, A::Start, false, S::New, "needs it acknowledged first (socd incidents ack INC-000007)"},
      {S::New, A::Resolve, false, S::New, "needs it in_progress (socd incidents ack INC-000007, then start"},
      {S::New, A::FalsePositive, false, S::New, "acknowledged first"},
      {S::New, A::Close, false, S::New, "needs it resolved or false_positive"},
      {S::New, A::Reopen, false, S::New, "needs it resolved or false_positive"},
      {S::Acknowledged, A::Ack, false, S::Acknowledged, "acknowledged already"},
      {S::Acknowledged, A::Start, true, S::InProgress, ""},
      {S::Acknowledged, A::FalsePositive, true, S::FalsePositive, ""},
      {S::Acknowledged, A::Resolve, false, S::Acknowledged, "needs it in_progress (socd incidents start"},
      {S::InProgress, A::Resolve, true, S::Resolved, ""},
      {S::InProgress, A::FalsePositive, true, S::FalsePositive, ""},
      {S::InProgress, A::Close, false, S::InProgress, "needs it resolved or false_positive"},
      {S::InProgress, A::Ack, false, S::InProgress, "'ack'"},
      {S::Resolved, A::Close, true, S::Closed, ""},
      {S::Resolved, A::Reopen, true, S::InProgress, ""},
      {S::Resolved, A::Resolve, false, S::Resolved, "is resolved"},
      {S::FalsePositive, A::Close, true, S::Closed, ""},
      {S::FalsePositive, A::Reopen, true, S::InProgress, ""},
      {S::Closed, A::Reopen, false, S::Closed, "a closed incident only takes notes"},
      {S::Closed, A::Assign, false, S::Closed, "a closed incident only takes notes"},
      {S::Closed, A::Note, true, S::Closed, ""},
      {S::New, A::Assign, true, S::New, ""},
      {S::InProgress, A::Note, true, S::InProgress, ""},
  };
  IncidentSettings settings;
  for (const auto& c : cases) {
    Incident inc;
    inc.id = "INC-000007";
    inc.state = c.from;
    IncidentCommand cmd;
    cmd.action = c.action;
    cmd.actor = "lan";
    cmd.text = "checked";
    cmd.assignee = "minh";
    Status st = apply_command(inc, cmd, settings, 1000);
    const std::string label = std::string(state_name(c.from)) + " + " + action_name(c.action);
    EXPECT_EQ(st.ok(), c.ok) << label << ": " << st.message();
    EXPECT_EQ(inc.state, c.to) << label;
    if (!c.ok) {
      EXPECT_NE(st.message().find(c.error_part), std::string::npos) << label << ": " << st.message();
      EXPECT_NE(st.message().find("incident INC-000007 is " + std::string(state_name(c.from))), std::string::npos)
          << st.message();
      EXPECT_TRUE(inc.history.empty()) << label;
    } else {
      ASSERT_EQ(inc.history.size(), 1u) << label;
      EXPECT_EQ(inc.history[0].actor, "lan");
      EXPECT_EQ(inc.history[0].action, action_name(c.action));
      EXPECT_EQ(inc.updated_ms, 1000);
    }
  }
}

TEST(IncidentStateMachine, TimestampsAssigneeNotesAndImpacts) {
  IncidentSettings settings;
  Incident inc;
  inc.id = "INC-000001";
  inc.system_level = 4;
  inc.level = "high";
  auto run = [&](A action, int64_t t, std::string text = "", std::vector<std::string> impacts = {}) {
    IncidentCommand c;
    c.action = action;
    c.actor = "lan";
    c.text = text;
    c.assignee = text;
    c.impacts = std::move(impacts);
    Status st = apply_command(inc, c, settings, t);
    EXPECT_TRUE(st.ok()) << st.message();
  };
  run(A::Ack, 10);
  run(A::Assign, 11, "minh");
  run(A::Start, 12);
  EXPECT_FALSE(inc.serious);  // level 4 system, high alert, no impact: not serious
  run(A::Impact, 13, "", {"service_interruption"});
  EXPECT_TRUE(inc.serious);
  run(A::Note, 14, "web server restored from backup");
  run(A::Resolve, 15, "fixed");
  run(A::Close, 16);
  EXPECT_EQ(inc.acknowledged_ms, 10);
  EXPECT_EQ(inc.started_ms, 12);
  EXPECT_EQ(inc.resolved_ms, 15);
  EXPECT_EQ(inc.closed_ms, 16);
  EXPECT_EQ(inc.assignee, "minh");
  ASSERT_EQ(inc.notes.size(), 1u);
  EXPECT_EQ(inc.notes[0].text, "web server restored from backup");
  EXPECT_EQ(inc.history.size(), 7u);

  IncidentCommand bad;
  bad.action = A::Impact;
  bad.impacts = {"coffee_spilt"};
  Incident other;
  other.id = "INC-000002";
  Status st = apply_command(other, bad, settings, 1);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("unknown impact 'coffee_spilt'"), std::string::npos) << st.message();
}

TEST(IncidentRecord, EncodesAndDecodesEveryField) {
  Incident inc;
  inc.id = "INC-000003";
  inc.title = "Failed logon\tfor\nadmin \\ root";
  inc.rule_id = "r1";
  inc.system = "Cổng dịch vụ công";
  inc.group_key = std::string("r1\x1fsystem:x");
  inc.system_level = 4;
  inc.level = "critical";
  inc.state = S::Resolved;
  inc.serious = true;
  inc.assignee = "minh";
  inc.impacts = {"data_leak"};
  inc.discovered_ms = 1;
  inc.first_alert_ms = 2;
  inc.last_alert_ms = 3;
  inc.resolved_ms = 4;
  inc.notified_ms = 5;
  inc.alert_count = 9;
  inc.notes.push_back({6, "lan", "line one\nline two"});
  inc.history.push_back({7, "socd", "new", "grouped"});
  auto back = decode_incident(encode_incident(inc));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(encode_incident(*back), encode_incident(inc));
  EXPECT_EQ(back->title, inc.title);
  EXPECT_EQ(back->system, inc.system);
  EXPECT_EQ(back->notes[0].text, "line one\nline two");
  EXPECT_FALSE(decode_incident("socd-incident 1\nid\tX\nstate\tsleeping\n").ok());

  IncidentCommand c;
  c.action = A::Attach;
  c.incident = "INC-000003";
  c.actor = "lan";
  c.alerts = {"a1", "a2"};
  c.text = "tab\there";
  auto cb = IncidentCommand::decode(c.encode());
  ASSERT_TRUE(cb.ok()) << cb.error().message();
  EXPECT_EQ(cb->encode(), c.encode());
  EXPECT_EQ(cb->text, "tab\there");
}

TEST(TimeZone, HoChiMinhFromTheTzDatabaseAndAsAFixedOffset) {
  TimeZone z = hcm();
  EXPECT_EQ(z.name(), "Asia/Ho_Chi_Minh");
  EXPECT_EQ(z.offset_seconds(at("2025-01-31T16:30:00Z")), 7 * 3600);
  EXPECT_EQ(z.format(at("2025-01-31T16:30:00Z")), "2025-01-31T23:30:00+07:00");
  EXPECT_EQ(z.format(at("2025-01-31T17:00:00Z")), "2025-02-01T00:00:00+07:00");
  EXPECT_EQ(z.start_of_local_day(z.local_day(at("2025-01-31T17:30:00Z"))), at("2025-01-31T17:00:00Z"));
  if (std::filesystem::exists("/usr/share/zoneinfo/Asia/Ho_Chi_Minh")) {
    EXPECT_TRUE(z.from_database());
    // Saigon kept UTC+08:00 until 13 June 1975 (the database knows; a fixed offset would not).
    EXPECT_EQ(z.offset_seconds(at("1970-01-01T00:00:00Z")), 8 * 3600);
  }
  setenv("TZDIR", "/nonexistent", 1);
  auto fixed = TimeZone::load("Asia/Ho_Chi_Minh", "+07:00");
  auto none = TimeZone::load("Asia/Ho_Chi_Minh", "");
  unsetenv("TZDIR");
  ASSERT_TRUE(fixed.ok());
  EXPECT_FALSE(fixed->from_database());
  EXPECT_EQ(fixed->format(at("2024-02-29T17:00:00Z")), "2024-03-01T00:00:00+07:00");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("set utc_offset"), std::string::npos) << none.error().message();
  EXPECT_FALSE(TimeZone::load("../etc/passwd").ok());
}

TEST(TimeZone, ADirectoryOfTheDatabaseIsRefusedWithAReason) {
  // "Asia" or "." name directories of the tz database: reading one threw from inside the standard library and
  // ended the process (found by the config fuzz target with `time_zone: .`).
  setenv("TZDIR", ::testing::TempDir().c_str(), 1);
  auto dot = TimeZone::load(".", "");
  auto dot_with_offset = TimeZone::load(".", "+07:00");
  unsetenv("TZDIR");
  ASSERT_FALSE(dot.ok());
  EXPECT_NE(dot.error().message().find("cannot be read (Is a directory)"), std::string::npos)
      << dot.error().message();
  ASSERT_TRUE(dot_with_offset.ok());  // the offset stands in, as for a zone the machine lacks
  EXPECT_FALSE(dot_with_offset->from_database());
  if (std::filesystem::is_directory("/usr/share/zoneinfo/Asia")) {
    auto asia = TimeZone::load("Asia", "");
    ASSERT_FALSE(asia.ok());
    EXPECT_NE(asia.error().message().find("Is a directory"), std::string::npos) << asia.error().message();
  }
  // In the settings file, the default utc_offset stands in for the zone that cannot be read.
  EXPECT_TRUE(parse_incident_settings("incidents.yml", "time_zone: .\n").ok());
  auto from_directory = load_incident_settings(::testing::TempDir());
  ASSERT_FALSE(from_directory.ok());
  EXPECT_NE(from_directory.error().message().find("Is a directory"), std::string::npos)
      << from_directory.error().message();
}

struct DeadlineCase {
  const char* discovered;  // UTC
  bool serious;
  const char* notify_due;  // local time
  const char* report_due;  // local time ("" when none)
};

TEST(IncidentDeadlines, CountedInHoChiMinhAcrossMidnightAndMonthEnds) {
  const TimeZone z = hcm();
  IncidentSettings s;
  const DeadlineCase cases[] = {
      // 23:30 local on 31 January: day 1 is 1 February, the fifth day ends at midnight starting 6 February.
      {"2025-01-31T16:30:00Z", false, "2025-02-06T00:00:00+07:00", ""},
      // 00:30 local on 1 February is still 31 January in UTC: the local date counts.
      {"2025-01-31T17:30:00Z", false, "2025-02-07T00:00:00+07:00", ""},
      // 23:59 local on 28 February 2025 (not a leap year) -> 5 March.
      {"2025-02-28T16:59:00Z", false, "2025-03-06T00:00:00+07:00", ""},
      // Leap year: from 27 February 2024 the days are 28, 29 February, 1, 2, 3 March.
      {"2024-02-27T05:00:00Z", false, "2024-03-04T00:00:00+07:00", ""},
      // Year end: 30 December local.
      {"2024-12-30T10:00:00Z", false, "2025-01-05T00:00:00+07:00", ""},
      // Serious: 24 h and 72 h elapsed, across midnight and the month end.
      {"2025-04-30T16:45:00Z", true, "2025-05-01T23:45:00+07:00", "2025-05-03T23:45:00+07:00"},
      {"2024-12-31T20:00:00Z", true, "2025-01-02T03:00:00+07:00", "2025-01-04T03:00:00+07:00"},
  };
  for (const auto& c : cases) {
    Incident inc;
    inc.id = "INC-1";
    inc.discovered_ms = at(c.discovered);
    inc.serious = c.serious;
    auto d = incident_deadlines(inc, s, z, inc.discovered_ms);
    ASSERT_EQ(d.size(), c.report_due[0] ? 2u : 1u) << c.discovered;
    EXPECT_EQ(d[0].name, "notify");
    EXPECT_EQ(z.format(d[0].due_ms), c.notify_due) << c.discovered;
    EXPECT_EQ(d[0].status, Deadline::Status::Pending);
    if (c.report_due[0]) {
      EXPECT_EQ(d[1].name, "report");
      EXPECT_EQ(z.format(d[1].due_ms), c.report_due) << c.discovered;
    }
  }
}

TEST(IncidentDeadlines, StatusMetMissedOverdueAndElapsedDays) {
  const TimeZone z = hcm();
  IncidentSettings s;
  Incident inc;
  inc.discovered_ms = at("2025-01-31T16:30:00Z");  // 23:30 local
  const int64_t due = at("2025-02-05T17:00:00Z");   // midnight local starting 6 February
  auto status_at = [&](int64_t now) { return incident_deadlines(inc, s, z, now)[0].status; };
  EXPECT_EQ(status_at(due), Deadline::Status::Pending);
  EXPECT_EQ(status_at(due + 1), Deadline::Status::Overdue);
  inc.notified_ms = due;
  EXPECT_EQ(status_at(due + 1), Deadline::Status::Met);
  inc.notified_ms = due + 1;
  EXPECT_EQ(status_at(due + 1), Deadline::Status::Missed);
  // Resolved: the final report is due five days after, counted the same way.
  inc.resolved_ms = at("2025-02-28T18:00:00Z");  // 1 March 01:00 local
  auto d = incident_deadlines(inc, s, z, inc.resolved_ms);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(z.format(d[1].due_ms), "2025-03-07T00:00:00+07:00");
  // A false positive owes nothing.
  inc.false_positive = true;
  EXPECT_TRUE(incident_deadlines(inc, s, z, due).empty());
  // Elapsed days: exactly 5 x 24 h.
  s.calendar_days = false;
  inc.false_positive = false;
  EXPECT_EQ(incident_deadlines(inc, s, z, 0)[0].due_ms, inc.discovered_ms + 5 * 86'400'000LL);
}

TEST(IncidentSettingsFile, ReadsEverySettingAndNamesTheLineOfAMistake) {
  auto s = parse_incident_settings("incidents.yml",
                                   "time_zone: Asia/Ho_Chi_Minh\n"
                                   "grouping:\n  window: 30m\n  min_level: high\n"
                                   "serious:\n  min_system_level: 3\n  min_rule_level: none\n"
                                   "deadlines:\n  notify: 3d\n  serious_notify: 12h\n  days: elapsed\n"
                                   "audit:\n  seal_every_records: 10\n"
                                   "retention:\n  level_3: 92d\n  unknown: forever\n");
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_EQ(s->group_window_ms, 30 * 60'000);
  EXPECT_EQ(s->group_min_level, "high");
  EXPECT_EQ(s->serious_min_system_level, 3);
  EXPECT_EQ(s->serious_min_rule_level, "");
  EXPECT_EQ(s->notify.ms, 3 * 86'400'000LL);
  EXPECT_TRUE(s->notify.days);
  EXPECT_EQ(s->serious_notify.ms, 12 * 3'600'000LL);
  EXPECT_FALSE(s->serious_notify.days);
  EXPECT_FALSE(s->calendar_days);
  EXPECT_EQ(s->seal_every_records, 10u);
  EXPECT_EQ(s->retention_ms[3], 92 * 86'400'000LL);
  EXPECT_EQ(s->retention_ms[0], 0);
  auto again = parse_incident_settings("stored", s->to_text());
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(again->to_text(), s->to_text());

  auto bad = parse_incident_settings("incidents.yml", "grouping:\n  window: 30m\n  windwo: 1h\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "incidents.yml:3: unknown setting 'grouping.windwo' (see config/incidents.yml)");
  bad = parse_incident_settings("incidents.yml", "deadlines:\n  notify: soon\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("incidents.yml:2: 'notify: soon' is not a duration"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace socd
