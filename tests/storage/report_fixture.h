// A fixed store for the assessment report: a week around the end of January 2025 in Asia/Ho_Chi_Minh (the first
// alerts come at 22:00 local, two hours before midnight and the month's end), three grouped incidents and one
// alert below the grouping level, a resolved incident, a serious one whose report is overdue, a false positive,
// a rule reload that adds, removes and changes rules, and a source that goes quiet for nine hours. Every time
// comes from the ledger's clock, so the report renders the same bytes every time.
#pragma once
#include <gtest/gtest.h>

#include "socd/ledger.h"
#include "socd/report.h"
#include "storage/store_test_support.h"

namespace socd::test {

// 2025-01-31T15:00:00Z = 22:00 in Ho Chi Minh City.
inline constexpr int64_t kFixtureStartMs = 1738335600000;
inline constexpr int64_t kMinuteMs = 60'000, kHourMs = 3'600'000;

inline StoredAlert fixture_alert(uint64_t n, int64_t time_ms, const std::string& rule, const std::string& level,
                                 const std::string& title, const std::string& system, int system_level,
                                 uint8_t layers) {
  StoredAlert a = make_alert(n, time_ms, rule, level, "host" + std::to_string(n % 3), title);
  a.system = system;
  a.system_level = system_level;
  a.layers = layers;
  return a;
}

// Fills the store under `path` (new or empty); a failure is a gtest failure.
inline void build_report_fixture(const std::string& path) {
  auto opened = AlertStore::open(path);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  std::unique_ptr<AlertStore> store = std::move(*opened);
  Ledger& ledger = *store->ledger();
  int64_t now = kFixtureStartMs;
  ledger.set_clock([&now] { return now; });
  IncidentSettings settings;  // the defaults: Asia/Ho_Chi_Minh, 5 days / 24 h / 72 h
  ASSERT_TRUE(ledger.configure(settings, "fixture-key-of-32-bytes-exactly!").ok());
  auto ok = [](const Status& st) { ASSERT_TRUE(st.ok()) << st.message(); };
  auto run = [&](IncidentCommand::Action action, const std::string& id, const std::string& text = "") {
    IncidentCommand c;
    c.action = action;
    c.incident = id;
    c.actor = "lan";
    c.text = text;
    c.assignee = text;
    auto r = ledger.apply(c);
    ASSERT_TRUE(r.ok()) << r.error().message();
  };
  RuleSetLoad load;
  load.reason = "start";
  load.loaded = 3;
  load.rules = {{"ssh-brute-force", "d1"}, {"web-shell", "d2"}, {"old-rule", "d3"}};
  ok(ledger.record_rule_set(load));

  const uint8_t l123 = kLayer1 | kLayer2 | kLayer3, all = l123 | kLayer4, l23 = kLayer2 | kLayer3;
  const std::string portal = "C\xe1\xbb\x95ng d\xe1\xbb\x8b" "ch v\xe1\xbb\xa5 c\xc3\xb4ng";  // Cổng dịch vụ công
  // 22:00 local: the auth log delivers; three SSH alerts on the portal (level 4), a web shell on the
  // authentication system (level 5, critical: serious), one informational alert from an unknown host.
  ledger.note_source_activity("file:/var/log/auth.log", 120);
  ledger.note_source_activity("syslog-udp:5514", 40);
  ok(store->commit({fixture_alert(1, now + 1 * kMinuteMs, "ssh-brute-force", "high", "SSH brute force", portal, 4,
                                  l123),
                    fixture_alert(2, now + 2 * kMinuteMs, "ssh-brute-force", "high", "SSH brute force", portal, 4,
                                  l123),
                    fixture_alert(3, now + 3 * kMinuteMs, "web-shell", "critical", "Web shell upload",
                                  "xac-thuc-tap-trung", 5, all),
                    fixture_alert(4, now + 4 * kMinuteMs, "dns-lookup", "informational", "Unusual DNS lookup", "", 0,
                                  l23)},
                   {}, nullptr));
  now += 30 * kMinuteMs;  // 22:30
  run(IncidentCommand::Action::Ack, "INC-000002");  // the web shell: acknowledged in 30 minutes
  now += 1 * kHourMs;     // 23:30
  ledger.note_source_activity("file:/var/log/auth.log", 80);
  // An SSH alert of 22:50 arrives late (within the hour after the last one: it joins the incident).
  ok(store->commit({fixture_alert(5, kFixtureStartMs + 50 * kMinuteMs, "ssh-brute-force", "high", "SSH brute force",
                                  portal, 4, l123),
                    fixture_alert(6, now + kMinuteMs, "mail-spoof", "medium", "Spoofed sender", "mail", 2, l123)},
                   {}, nullptr));
  now += 45 * kMinuteMs;  // 00:15 on 1 February local: the SSH incident acknowledged, worked, resolved
  run(IncidentCommand::Action::Ack, "INC-000001");
  run(IncidentCommand::Action::Assign, "INC-000001", "minh");
  now += 2 * kHourMs;
  run(IncidentCommand::Action::Start, "INC-000001");
  run(IncidentCommand::Action::Note, "INC-000001", "blocked 203.0.113.7 at the edge firewall");
  now += 3 * kHourMs;  // 05:15
  run(IncidentCommand::Action::Resolve, "INC-000001", "source address blocked, passwords rotated");
  run(IncidentCommand::Action::Ack, "INC-000003");
  run(IncidentCommand::Action::FalsePositive, "INC-000003", "the mail relay's own test");
  now += 5 * kHourMs;  // 10:15: the auth log speaks again after nine silent hours; the web shell notified (12 h)
  ledger.note_source_activity("file:/var/log/auth.log", 15);
  ok(store->commit({}, {{"file:/var/log/auth.log", "offset=4096"}}, nullptr));
  run(IncidentCommand::Action::Notified, "INC-000002");
  now += 2 * 24 * kHourMs;  // 3 February: the rules reloaded; the SSH incident notified, in time
  load.reason = "reload";
  load.loaded = 3;
  load.skipped = 1;
  load.rules = {{"ssh-brute-force", "d1"}, {"web-shell", "d2-changed"}, {"new-rule", "d4"}};
  ok(ledger.record_rule_set(load));
  run(IncidentCommand::Action::Notified, "INC-000001");
  now += 6 * 24 * kHourMs;  // 9 February: the SSH incident's final report, after its deadline
  run(IncidentCommand::Action::Reported, "INC-000001");
  run(IncidentCommand::Action::Close, "INC-000001");
}

}  // namespace socd::test
