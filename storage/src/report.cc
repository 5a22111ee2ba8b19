#include "socd/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "rocks_ledger.h"
#include "socd/json.h"
#include "socd/ledger.h"

namespace socd {
namespace {

constexpr int64_t kHourMs = 3'600'000;

int64_t median(std::vector<int64_t> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// The state an incident was in at `t`, replayed from its history.
IncidentState state_at(const Incident& inc, int64_t t) {
  IncidentState s = IncidentState::New;
  for (const auto& h : inc.history) {
    if (h.time_ms > t) break;
    if (h.action == "ack") s = IncidentState::Acknowledged;
    else if (h.action == "start" || h.action == "reopen") s = IncidentState::InProgress;
    else if (h.action == "resolve") s = IncidentState::Resolved;
    else if (h.action == "false_positive") s = IncidentState::FalsePositive;
    else if (h.action == "close") s = IncidentState::Closed;
  }
  return s;
}

// The incident as it stood at `t`: what happened later is not yet done.
Incident as_of(Incident inc, int64_t t) {
  inc.state = state_at(inc, t);
  for (int64_t* ms : {&inc.acknowledged_ms, &inc.started_ms, &inc.resolved_ms, &inc.closed_ms, &inc.notified_ms,
                      &inc.reported_ms})
    if (*ms > t) *ms = 0;
  bool fp = false;
  for (const auto& h : inc.history) {
    if (h.time_ms > t) break;
    if (h.action == "false_positive") fp = true;
    else if (h.action == "reopen" || h.action == "resolve") fp = false;
  }
  inc.false_positive = fp;
  if (inc.state == IncidentState::InProgress || inc.state == IncidentState::Acknowledged ||
      inc.state == IncidentState::New)
    inc.resolved_ms = 0;
  return inc;
}

void sort_counts(std::vector<AssessmentReport::Count>& v) {
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
}

}  // namespace

Expected<AssessmentReport> build_report(AlertStore& store, const ReportOptions& o) {
  if (o.to_ms <= o.from_ms) return Status::error("the report period is empty: --to must be after --from");
  Ledger* ledger = store.ledger();
  if (!ledger) return Status::error("the store keeps no incidents or audit chain");
  AssessmentReport r;
  r.from_ms = o.from_ms;
  r.to_ms = o.to_ms;
  r.settings = ledger->settings();
  r.zone = ledger->zone();
  r.zone_name = r.zone.name();

  // Alerts.
  std::map<std::string, AssessmentReport::Count> systems, rules, levels;
  uint64_t system_levels[6] = {0, 0, 0, 0, 0, 0}, layers[4] = {0, 0, 0, 0};
  AlertQuery q;
  q.since_ms = o.from_ms;
  q.until_ms = o.to_ms;
  Status st = store.list(q, [&](const StoredAlert& a) {
    ++r.alerts;
    auto& s = systems[a.system];
    s.key = a.system.empty() ? "(unknown)" : a.system;
    s.level = a.system_level;
    ++s.count;
    auto& rule = rules[a.rule_id];
    if (rule.count == 0) {
      rule.key = a.rule_id;
      rule.label = store::rule_title(a.json);
      rule.level = level_rank(a.level);
    }
    ++rule.count;
    auto& lv = levels[a.level];
    lv.key = a.level;
    lv.level = level_rank(a.level);
    ++lv.count;
    ++system_levels[a.system_level >= 0 && a.system_level <= 5 ? a.system_level : 0];
    for (int l = 0; l < 4; ++l)
      if (a.layers & (1u << l)) ++layers[l];
    return true;
  });
  if (!st.ok()) return st;
  for (auto& [k, c] : systems) r.by_system.push_back(c);
  for (auto& [k, c] : rules) r.by_rule.push_back(c);
  sort_counts(r.by_system);
  sort_counts(r.by_rule);
  for (auto& [k, c] : levels) r.by_level.push_back(c);
  std::sort(r.by_level.begin(), r.by_level.end(), [](const auto& a, const auto& b) {
    return a.level != b.level ? a.level > b.level : a.key < b.key;
  });
  for (int l = 5; l >= 0; --l)
    r.by_system_level.push_back({std::to_string(l), l == 0 ? "unknown" : "level " + std::to_string(l), l,
                                 system_levels[l]});
  for (int l = 0; l < 4; ++l)
    r.by_layer.push_back({std::to_string(l + 1), "", l + 1, layers[l]});

  // Incidents discovered in the period, as they stood at its end.
  std::vector<int64_t> acks, resolves;
  st = ledger->incidents([&](const Incident& stored) {
    if (stored.discovered_ms < o.from_ms || stored.discovered_ms >= o.to_ms) return true;
    Incident inc = as_of(stored, o.to_ms - 1);
    AssessmentReport::IncidentRow row;
    row.id = inc.id;
    row.title = inc.title;
    row.system = inc.system;
    row.system_level = inc.system_level;
    row.level = inc.level;
    row.state = state_name(inc.state);
    row.serious = inc.serious;
    row.false_positive = inc.false_positive;
    row.alerts = inc.alert_count;
    row.discovered_ms = inc.discovered_ms;
    if (inc.acknowledged_ms) {
      row.acknowledge_ms = inc.acknowledged_ms - inc.discovered_ms;
      acks.push_back(row.acknowledge_ms);
    }
    if (inc.resolved_ms) {
      row.resolve_ms = inc.resolved_ms - inc.discovered_ms;
      resolves.push_back(row.resolve_ms);
    }
    row.deadlines = incident_deadlines(inc, r.settings, r.zone, o.to_ms - 1);
    for (const auto& d : row.deadlines) {
      switch (d.status) {
        case Deadline::Status::Met: ++r.deadlines_met; break;
        case Deadline::Status::Missed: ++r.deadlines_missed; break;
        case Deadline::Status::Overdue: ++r.deadlines_overdue; break;
        case Deadline::Status::Pending: ++r.deadlines_pending; break;
      }
    }
    r.incidents.push_back(std::move(row));
    return true;
  });
  if (!st.ok()) return st;
  r.acknowledged = acks.size();
  r.resolved = resolves.size();
  r.acknowledge_median_ms = median(acks);
  r.resolve_median_ms = median(resolves);
  r.acknowledge_max_ms = acks.empty() ? -1 : *std::max_element(acks.begin(), acks.end());
  r.resolve_max_ms = resolves.empty() ? -1 : *std::max_element(resolves.begin(), resolves.end());

  // Rule-set loads and settings changes from the chain; each load against the one before it.
  std::map<std::string, std::string> previous;
  bool have_previous = false;
  st = ledger->chain(1, [&](const ChainRecord& c) {
    if (c.time_ms >= o.to_ms) return false;
    const bool inside = c.time_ms >= o.from_ms;
    if (inside) {
      ++r.chain_records;
      if (c.kind == ChainKind::Seal) ++r.chain_seals;
      if (c.kind == ChainKind::Settings) ++r.settings_changes;
    }
    if (c.kind != ChainKind::RuleSet) return true;
    auto load = RuleSetLoad::decode(c.payload);
    if (!load) return true;
    std::map<std::string, std::string> now(load->rules.begin(), load->rules.end());
    if (inside) {
      AssessmentReport::RuleSetRow row;
      row.time_ms = c.time_ms;
      row.reason = load->reason;
      row.loaded = load->loaded;
      row.skipped = load->skipped;
      row.digest = load->digest();
      if (have_previous) {
        for (const auto& [id, d] : now) {
          auto p = previous.find(id);
          if (p == previous.end()) row.added.push_back(id);
          else if (p->second != d) row.changed.push_back(id);
        }
        for (const auto& [id, d] : previous)
          if (!now.count(id)) row.removed.push_back(id);
      }
      r.rule_sets.push_back(std::move(row));
    }
    previous = std::move(now);
    have_previous = true;
    return true;
  });
  if (!st.ok()) return st;

  // Sources: hours with batches; runs of empty hours at least `silent_after` long while a source was known.
  std::map<std::string, std::set<int64_t>> hours;
  std::map<std::string, AssessmentReport::SourceRow> sources;
  st = ledger->source_activity([&](const SourceActivity& a) {
    if (a.hour_ms >= o.to_ms) return true;
    hours[a.source].insert(a.hour_ms);
    auto& row = sources[a.source];
    row.source = a.source;
    if (row.first_seen_ms == 0 || a.hour_ms < row.first_seen_ms) row.first_seen_ms = a.hour_ms;
    row.last_seen_ms = std::max(row.last_seen_ms, a.hour_ms);
    if (a.hour_ms >= o.from_ms) {
      row.batches += a.batches;
      row.events += a.events;
    }
    return true;
  });
  if (!st.ok()) return st;
  const int64_t min_hours = std::max<int64_t>(1, (o.silent_after_ms + kHourMs - 1) / kHourMs);
  for (auto& [name, row] : sources) {
    r.sources.push_back(row);
    const auto& seen = hours[name];
    int64_t start = std::max(row.first_seen_ms + kHourMs, o.from_ms / kHourMs * kHourMs);
    int64_t run_start = -1;
    for (int64_t h = start; h <= o.to_ms; h += kHourMs) {
      const bool empty = h < o.to_ms && !seen.count(h);
      if (empty && run_start < 0) run_start = h;
      if (!empty && run_start >= 0) {
        if ((h - run_start) / kHourMs >= min_hours)
          r.silent.push_back({name, std::max(run_start, o.from_ms), std::min(h, o.to_ms)});
        run_start = -1;
      }
    }
  }
  return r;
}

// ---- rendering -----------------------------------------------------------------------------------------------

namespace {

std::string span(int64_t ms) {
  if (ms < 0) return "-";
  int64_t s = ms / 1000;
  char buf[48];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd %02lldh %02lldm", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24), static_cast<long long>(s / 60 % 60));
  else
    std::snprintf(buf, sizeof buf, "%lldh %02lldm %02llds", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

std::string jstr(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

std::string num(uint64_t n) { return std::to_string(n); }

std::string seconds_or_null(int64_t ms) { return ms < 0 ? "null" : std::to_string(ms / 1000); }

std::string render_json(const AssessmentReport& r) {
  const TimeZone& z = r.zone;
  std::string j = "{\n";
  j += "  \"period\": {\"from\": \"" + z.format(r.from_ms) + "\", \"to\": \"" + z.format(r.to_ms) +
       "\", \"time_zone\": " + jstr(r.zone_name) + "},\n";
  j += "  \"alerts\": {\n    \"total\": " + num(r.alerts) + ",\n    \"by_system\": [";
  for (size_t i = 0; i < r.by_system.size(); ++i)
    j += std::string(i ? "," : "") + "\n      {\"system\": " + jstr(r.by_system[i].key) + ", \"level\": " +
         std::to_string(r.by_system[i].level) + ", \"count\": " + num(r.by_system[i].count) + "}";
  j += "\n    ],\n    \"by_system_level\": [";
  for (size_t i = 0; i < r.by_system_level.size(); ++i)
    j += std::string(i ? ", " : "") + "{\"level\": " + std::to_string(r.by_system_level[i].level) +
         ", \"count\": " + num(r.by_system_level[i].count) + "}";
  j += "],\n    \"by_rule\": [";
  for (size_t i = 0; i < r.by_rule.size(); ++i)
    j += std::string(i ? "," : "") + "\n      {\"rule\": " + jstr(r.by_rule[i].key) + ", \"title\": " +
         jstr(r.by_rule[i].label) + ", \"count\": " + num(r.by_rule[i].count) + "}";
  j += "\n    ],\n    \"by_level\": [";
  for (size_t i = 0; i < r.by_level.size(); ++i)
    j += std::string(i ? ", " : "") + "{\"level\": " + jstr(r.by_level[i].key) + ", \"count\": " +
         num(r.by_level[i].count) + "}";
  j += "],\n    \"by_layer\": [";
  for (size_t i = 0; i < r.by_layer.size(); ++i)
    j += std::string(i ? ", " : "") + "{\"layer\": " + r.by_layer[i].key + ", \"count\": " + num(r.by_layer[i].count) +
         "}";
  j += "]\n  },\n";
  j += "  \"incidents\": {\n    \"total\": " + num(r.incidents.size()) + ", \"acknowledged\": " +
       num(r.acknowledged) + ", \"resolved\": " + num(r.resolved) + ",\n";
  j += "    \"time_to_acknowledge_s\": {\"median\": " + seconds_or_null(r.acknowledge_median_ms) + ", \"max\": " +
       seconds_or_null(r.acknowledge_max_ms) + "},\n";
  j += "    \"time_to_resolve_s\": {\"median\": " + seconds_or_null(r.resolve_median_ms) + ", \"max\": " +
       seconds_or_null(r.resolve_max_ms) + "},\n    \"items\": [";
  for (size_t i = 0; i < r.incidents.size(); ++i) {
    const auto& x = r.incidents[i];
    j += std::string(i ? "," : "") + "\n      {\"id\": " + jstr(x.id) + ", \"title\": " + jstr(x.title) +
         ", \"system\": " + jstr(x.system) + ", \"system_level\": " + std::to_string(x.system_level) +
         ", \"level\": " + jstr(x.level) + ", \"serious\": " + (x.serious ? "true" : "false") + ", \"state\": " +
         jstr(x.state) + ", \"alerts\": " + num(x.alerts) + ", \"discovered\": \"" + z.format(x.discovered_ms) +
         "\", \"time_to_acknowledge_s\": " + seconds_or_null(x.acknowledge_ms) + ", \"time_to_resolve_s\": " +
         seconds_or_null(x.resolve_ms) + ", \"deadlines\": [";
    for (size_t k = 0; k < x.deadlines.size(); ++k) {
      const auto& d = x.deadlines[k];
      j += std::string(k ? ", " : "") + "{\"name\": " + jstr(d.name) + ", \"due\": \"" + z.format(d.due_ms) +
           "\", \"done\": " + (d.done_ms ? "\"" + z.format(d.done_ms) + "\"" : std::string("null")) +
           ", \"status\": \"" + deadline_status_name(d.status) + "\"}";
    }
    j += "]}";
  }
  j += "\n    ]\n  },\n";
  j += "  \"deadlines\": {\"met\": " + num(r.deadlines_met) + ", \"missed\": " + num(r.deadlines_missed) +
       ", \"overdue\": " + num(r.deadlines_overdue) + ", \"pending\": " + num(r.deadlines_pending) + "},\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + jstr(v[i]);
    return s + "]";
  };
  j += "  \"rules\": {\n    \"settings_changes\": " + num(r.settings_changes) + ",\n    \"loads\": [";
  for (size_t i = 0; i < r.rule_sets.size(); ++i) {
    const auto& x = r.rule_sets[i];
    j += std::string(i ? "," : "") + "\n      {\"time\": \"" + z.format(x.time_ms) + "\", \"reason\": " +
         jstr(x.reason) + ", \"loaded\": " + num(x.loaded) + ", \"skipped\": " + num(x.skipped) + ", \"digest\": " +
         jstr(x.digest) + ", \"added\": " + list(x.added) + ", \"removed\": " + list(x.removed) + ", \"changed\": " +
         list(x.changed) + "}";
  }
  j += "\n    ]\n  },\n";
  j += "  \"sources\": {\n    \"items\": [";
  for (size_t i = 0; i < r.sources.size(); ++i) {
    const auto& x = r.sources[i];
    j += std::string(i ? "," : "") + "\n      {\"source\": " + jstr(x.source) + ", \"first_seen\": \"" +
         z.format(x.first_seen_ms) + "\", \"last_seen\": \"" + z.format(x.last_seen_ms) + "\", \"batches\": " +
         num(x.batches) + ", \"events\": " + num(x.events) + "}";
  }
  j += "\n    ],\n    \"silent\": [";
  for (size_t i = 0; i < r.silent.size(); ++i)
    j += std::string(i ? "," : "") + "\n      {\"source\": " + jstr(r.silent[i].source) + ", \"from\": \"" +
         z.format(r.silent[i].from_ms) + "\", \"to\": \"" + z.format(r.silent[i].to_ms) + "\"}";
  j += "\n    ]\n  },\n";
  j += "  \"audit\": {\"records\": " + num(r.chain_records) + ", \"seals\": " + num(r.chain_seals) + "}\n}\n";
  return j;
}

// A table as Markdown or HTML.
struct Table {
  std::vector<std::string> head;
  std::vector<std::vector<std::string>> rows;
};

std::string md_cell(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out.empty() ? "-" : out;
}

std::string html_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_table(const Table& t) {
  if (t.rows.empty()) return "None.\n";
  std::string s = "|";
  for (const auto& h : t.head) s.append(" ").append(h).append(" |");
  s += "\n|";
  for (size_t i = 0; i < t.head.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& row : t.rows) {
    s += "|";
    for (const auto& c : row) s.append(" ").append(md_cell(c)).append(" |");
    s += "\n";
  }
  return s;
}

std::string html_table(const Table& t) {
  if (t.rows.empty()) return "<p>None.</p>\n";
  std::string s = "<table>\n<tr>";
  for (const auto& h : t.head) s += "<th>" + html_text(h) + "</th>";
  s += "</tr>\n";
  for (const auto& row : t.rows) {
    s += "<tr>";
    for (const auto& c : row) s += "<td>" + html_text(c.empty() ? "-" : c) + "</td>";
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// The sections of the report as (heading level, text or table) for both Markdown and HTML.
struct Block {
  int heading = 0;  // 1, 2: a heading; 0: a paragraph; -1: a table
  std::string text;
  Table table;
};

std::vector<Block> blocks(const AssessmentReport& r) {
  const TimeZone& z = r.zone;
  std::vector<Block> b;
  auto h = [&](int level, std::string text) { b.push_back({level, std::move(text), {}}); };
  auto p = [&](std::string text) { b.push_back({0, std::move(text), {}}); };
  auto t = [&](Table table) { b.push_back({-1, "", std::move(table)}); };
  h(1, "Assessment report: " + z.format(r.from_ms) + " to " + z.format(r.to_ms));
  p("Period [from, to) in " + r.zone_name + ". Everything is as it stood at the end of the period.");

  h(2, "Alerts");
  p("Alerts stored: " + num(r.alerts) + ".");
  Table sys{{"System", "Security level", "Alerts"}, {}};
  for (const auto& c : r.by_system)
    sys.rows.push_back({c.key, c.level ? std::to_string(c.level) : "unknown", num(c.count)});
  h(3, "By system");
  t(sys);
  Table lvl{{"Security level", "Alerts"}, {}};
  for (const auto& c : r.by_system_level) lvl.rows.push_back({c.label, num(c.count)});
  h(3, "By system security level");
  t(lvl);
  Table rules{{"Rule", "Title", "Alerts"}, {}};
  for (const auto& c : r.by_rule) rules.rows.push_back({c.key, c.label, num(c.count)});
  h(3, "By rule");
  t(rules);
  Table levels{{"Alert level", "Alerts"}, {}};
  for (const auto& c : r.by_level) levels.rows.push_back({c.key, num(c.count)});
  h(3, "By alert level");
  t(levels);
  Table layers{{"Layer", "Alerts routed to it"}, {}};
  static const char* names[] = {"1 (on-site force)", "2 (SOC)", "3 (assessment)", "4 (national centre)"};
  for (size_t i = 0; i < r.by_layer.size() && i < 4; ++i) layers.rows.push_back({names[i], num(r.by_layer[i].count)});
  h(3, "By layer");
  t(layers);

  h(2, "Incidents");
  p("Incidents discovered: " + num(r.incidents.size()) + "; acknowledged: " + num(r.acknowledged) +
    " (median " + span(r.acknowledge_median_ms) + ", longest " + span(r.acknowledge_max_ms) + "); resolved: " +
    num(r.resolved) + " (median " + span(r.resolve_median_ms) + ", longest " + span(r.resolve_max_ms) + ").");
  Table inc{{"Incident", "Title", "System", "Serious", "State", "Alerts", "Discovered", "To acknowledge", "To resolve",
             "Deadlines"},
            {}};
  for (const auto& x : r.incidents) {
    std::string d;
    for (const auto& dl : x.deadlines)
      d += (d.empty() ? "" : "; ") + dl.name + " " + deadline_status_name(dl.status) + " (due " + z.format(dl.due_ms) +
           ")";
    if (x.deadlines.empty()) d = x.false_positive ? "none (false positive)" : "none";
    inc.rows.push_back({x.id, x.title, x.system.empty() ? "(unknown)" : x.system + " (level " +
                                                                          std::to_string(x.system_level) + ")",
                        x.serious ? "yes" : "no", x.state, num(x.alerts), z.format(x.discovered_ms),
                        span(x.acknowledge_ms), span(x.resolve_ms), d});
  }
  t(inc);

  h(2, "Reporting deadlines");
  p("Met: " + num(r.deadlines_met) + "; missed: " + num(r.deadlines_missed) + "; overdue: " +
    num(r.deadlines_overdue) + "; pending: " + num(r.deadlines_pending) + ". Notify within " +
    format_period(r.settings.notify) + " of discovery (serious: " +
    format_period(r.settings.serious_notify) + "), report of a serious incident within " +
    format_period(r.settings.serious_report) + ", final report within " +
    format_period(r.settings.final_report) + " of the response's end; days " +
    (r.settings.calendar_days ? "counted as calendar days in " + r.zone_name : std::string("as 24 h")) + ".");

  h(2, "Rules");
  p("Rule-set loads: " + num(r.rule_sets.size()) + "; settings changes: " + num(r.settings_changes) + ".");
  Table loads{{"Time", "Reason", "Rules", "Skipped", "Added", "Removed", "Changed", "Digest"}, {}};
  for (const auto& x : r.rule_sets)
    loads.rows.push_back({z.format(x.time_ms), x.reason, num(x.loaded), num(x.skipped), join(x.added),
                          join(x.removed), join(x.changed), x.digest.substr(0, 16)});
  t(loads);

  h(2, "Sources");
  Table src{{"Source", "First seen", "Last seen", "Batches", "Events"}, {}};
  for (const auto& x : r.sources)
    src.rows.push_back({x.source, z.format(x.first_seen_ms), z.format(x.last_seen_ms), num(x.batches), num(x.events)});
  t(src);
  h(3, "Silent periods");
  Table silent{{"Source", "From", "To"}, {}};
  for (const auto& x : r.silent) silent.rows.push_back({x.source, z.format(x.from_ms), z.format(x.to_ms)});
  t(silent);

  h(2, "Audit chain");
  p("Records appended in the period: " + num(r.chain_records) + ", of which seals: " + num(r.chain_seals) +
    ". Check the whole chain with `socd audit verify`.");
  return b;
}

std::string render_md(const AssessmentReport& r) {
  std::string s;
  for (const auto& b : blocks(r)) {
    if (b.heading > 0) s += std::string(static_cast<size_t>(b.heading), '#') + " " + b.text + "\n\n";
    else if (b.heading == 0) s += b.text + "\n\n";
    else s += md_table(b.table) + "\n";
  }
  while (s.size() > 1 && s[s.size() - 2] == '\n') s.pop_back();
  return s;
}

std::string render_html(const AssessmentReport& r) {
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
      html_text("Assessment report: " + r.zone.format(r.from_ms) + " to " + r.zone.format(r.to_ms)) +
      "</title>\n<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
      "th,td{border:1px solid #999;padding:2px 6px;text-align:left}th{background:#eee}</style>\n</head>\n<body>\n";
  for (const auto& b : blocks(r)) {
    if (b.heading > 0) {
      const std::string tag = "h" + std::to_string(b.heading);
      s += "<" + tag + ">" + html_text(b.text) + "</" + tag + ">\n";
    } else if (b.heading == 0) {
      s += "<p>" + html_text(b.text) + "</p>\n";
    } else {
      s += html_table(b.table);
    }
  }
  return s + "</body>\n</html>\n";
}

}  // namespace

Expected<std::string> render_report(const AssessmentReport& report, const std::string& format) {
  if (format == "json") return render_json(report);
  if (format == "md" || format == "markdown") return render_md(report);
  if (format == "html") return render_html(report);
  return Status::error("unknown report format '" + format + "' (use json, md or html)");
}

}  // namespace socd
