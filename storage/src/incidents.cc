#include "socd/incidents.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <sstream>

#include "record_text.h"
#include "socd/alert_store.h"
#include "socd/json.h"
#include "socd/read_file.h"

namespace socd {

using store::RecordReader;
using store::RecordWriter;

namespace {

constexpr const char* kStateNames[] = {"new", "acknowledged", "in_progress", "resolved", "false_positive", "closed"};
constexpr const char* kActionNames[] = {"new",   "attach", "ack",    "start",  "assign",   "note",    "resolve",
                                        "false_positive", "close", "reopen", "impact", "notified", "reported"};

}  // namespace

const char* state_name(IncidentState s) { return kStateNames[static_cast<size_t>(s)]; }

std::optional<IncidentState> parse_state(std::string_view name) {
  for (size_t i = 0; i < std::size(kStateNames); ++i)
    if (name == kStateNames[i]) return static_cast<IncidentState>(i);
  if (name == "false-positive") return IncidentState::FalsePositive;
  if (name == "in-progress") return IncidentState::InProgress;
  return std::nullopt;
}

bool transition_allowed(IncidentState from, IncidentState to) {
  using S = IncidentState;
  switch (from) {
    case S::New: return to == S::Acknowledged;
    case S::Acknowledged: return to == S::InProgress || to == S::FalsePositive;
    case S::InProgress: return to == S::Resolved || to == S::FalsePositive;
    case S::Resolved: return to == S::Closed || to == S::InProgress;
    case S::FalsePositive: return to == S::Closed || to == S::InProgress;
    case S::Closed: return false;
  }
  return false;
}

const char* action_name(IncidentCommand::Action a) { return kActionNames[static_cast<size_t>(a)]; }

std::optional<IncidentCommand::Action> parse_action(std::string_view name) {
  for (size_t i = 0; i < std::size(kActionNames); ++i)
    if (name == kActionNames[i]) return static_cast<IncidentCommand::Action>(i);
  if (name == "false-positive") return IncidentCommand::Action::FalsePositive;
  return std::nullopt;
}

const char* deadline_status_name(Deadline::Status s) {
  static constexpr const char* names[] = {"pending", "overdue", "met", "missed"};
  return names[static_cast<size_t>(s)];
}

bool IncidentSettings::is_serious(const Incident& incident) const {
  if (serious_min_system_level <= 0 || incident.system_level < serious_min_system_level) return false;
  if (!incident.impacts.empty()) return true;
  const int min_rank = level_rank(serious_min_rule_level);
  return min_rank >= 0 && level_rank(incident.level) >= min_rank;
}

// ---- settings ------------------------------------------------------------------------------------------------

namespace {

const char* kLevelKeys[] = {"unknown", "level_1", "level_2", "level_3", "level_4", "level_5"};

struct SettingsReader {
  std::string file;
  std::string error;

  std::string where(const YAML::Node& node) const {
    return file + ":" + std::to_string(node.Mark().line + 1) + ": ";
  }
  bool fail(const YAML::Node& node, const std::string& message) {
    if (error.empty()) error = where(node) + message;
    return false;
  }
  bool scalar(const YAML::Node& node, const std::string& key, std::string& out) {
    if (!node.IsScalar()) return fail(node, "'" + key + "' must be a single value");
    out = node.Scalar();
    return true;
  }
  bool duration(const YAML::Node& node, const std::string& key, int64_t& ms, bool zero_allowed = false) {
    std::string text;
    if (!scalar(node, key, text)) return false;
    if (zero_allowed && (text == "0" || text == "forever" || text == "never")) {
      ms = 0;
      return true;
    }
    if (!parse_duration_ms(text, ms) || ms <= 0)
      return fail(node, "'" + key + ": " + text + "' is not a duration (write 30m, 24h, 5d or 1w)");
    return true;
  }
  bool period(const YAML::Node& node, const std::string& key, IncidentSettings::Period& p) {
    std::string text;
    if (!scalar(node, key, text)) return false;
    if (!parse_duration_ms(text, p.ms, &p.days) || p.ms <= 0)
      return fail(node, "'" + key + ": " + text + "' is not a duration (write 24h, 72h, 5d or 1w)");
    return true;
  }
  bool integer(const YAML::Node& node, const std::string& key, int64_t& out, int64_t lo, int64_t hi) {
    std::string text;
    if (!scalar(node, key, text)) return false;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < lo || v > hi)
      return fail(node, "'" + key + ": " + text + "' must be a whole number from " + std::to_string(lo) + " to " +
                            std::to_string(hi));
    out = v;
    return true;
  }
  bool boolean(const YAML::Node& node, const std::string& key, bool& out) {
    std::string text;
    if (!scalar(node, key, text)) return false;
    if (text == "true" || text == "yes" || text == "on") out = true;
    else if (text == "false" || text == "no" || text == "off") out = false;
    else return fail(node, "'" + key + ": " + text + "' must be true or false");
    return true;
  }
  bool level(const YAML::Node& node, const std::string& key, std::string& out, bool none_allowed) {
    if (!scalar(node, key, out)) return false;
    if (none_allowed && (out.empty() || out == "none")) {
      out.clear();
      return true;
    }
    if (level_rank(out) < 0)
      return fail(node, "'" + key + ": " + out + "' is not an alert level (informational, low, medium, high, "
                                                 "critical" + std::string(none_allowed ? " or none)" : ")"));
    return true;
  }
  template <class F>
  bool section(const YAML::Node& node, const std::string& name, F&& each) {
    if (!node.IsMap()) return fail(node, "'" + name + "' must be a map of settings");
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (!each(key, kv.second)) {
        if (error.empty()) fail(kv.first, "unknown setting '" + name + "." + key + "' (see config/incidents.yml)");
        return false;
      }
    }
    return true;
  }
};

}  // namespace

Expected<IncidentSettings> parse_incident_settings(const std::string& file, std::string_view text) {
  IncidentSettings s;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::error(file + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  if (root.IsNull()) return s;
  SettingsReader r{file, {}};
  if (!root.IsMap()) return Status::error(file + ":1: the settings must be a map (see config/incidents.yml)");
  bool ok = r.section(root, "", [&](const std::string& key, const YAML::Node& v) -> bool {
    if (key == "time_zone") return r.scalar(v, key, s.time_zone);
    if (key == "utc_offset") {
      int seconds = 0;
      if (!r.scalar(v, key, s.utc_offset)) return false;
      if (!s.utc_offset.empty() && !TimeZone::parse_offset(s.utc_offset, seconds))
        return r.fail(v, "'utc_offset: " + s.utc_offset + "' is not an offset like +07:00");
      return true;
    }
    if (key == "grouping")
      return r.section(v, key, [&](const std::string& k, const YAML::Node& x) -> bool {
        if (k == "automatic") return r.boolean(x, k, s.group_automatically);
        if (k == "window") return r.duration(x, k, s.group_window_ms);
        if (k == "min_level") return r.level(x, k, s.group_min_level, false);
        return false;
      });
    if (key == "serious")
      return r.section(v, key, [&](const std::string& k, const YAML::Node& x) -> bool {
        int64_t n = 0;
        if (k == "min_system_level") {
          if (!r.integer(x, k, n, 0, 5)) return false;
          s.serious_min_system_level = static_cast<int>(n);
          return true;
        }
        if (k == "min_rule_level") return r.level(x, k, s.serious_min_rule_level, true);
        return false;
      });
    if (key == "deadlines")
      return r.section(v, key, [&](const std::string& k, const YAML::Node& x) -> bool {
        if (k == "notify") return r.period(x, k, s.notify);
        if (k == "serious_notify") return r.period(x, k, s.serious_notify);
        if (k == "serious_report") return r.period(x, k, s.serious_report);
        if (k == "final_report") return r.period(x, k, s.final_report);
        if (k == "days") {
          std::string d;
          if (!r.scalar(x, k, d)) return false;
          if (d != "calendar" && d != "elapsed") return r.fail(x, "'days: " + d + "' must be calendar or elapsed");
          s.calendar_days = d == "calendar";
          return true;
        }
        return false;
      });
    if (key == "audit")
      return r.section(v, key, [&](const std::string& k, const YAML::Node& x) -> bool {
        int64_t n = 0;
        if (k == "seal_every_records") {
          if (!r.integer(x, k, n, 1, int64_t{1} << 40)) return false;
          s.seal_every_records = static_cast<uint64_t>(n);
          return true;
        }
        if (k == "seal_interval") return r.duration(x, k, s.seal_interval_ms);
        return false;
      });
    if (key == "retention")
      return r.section(v, key, [&](const std::string& k, const YAML::Node& x) -> bool {
        for (size_t i = 0; i < 6; ++i)
          if (k == kLevelKeys[i]) return r.duration(x, k, s.retention_ms[i], true);
        return false;
      });
    return false;
  });
  if (!ok) return Status::error(r.error);
  if (auto zone = TimeZone::load(s.time_zone, s.utc_offset); !zone)
    return Status::error(file + ": " + zone.error().message());
  return s;
}

Expected<IncidentSettings> load_incident_settings(const std::string& path) {
  std::string text;
  if (!read_file(path, text))
    return Status::error(path + ": cannot read the incident settings: " + std::strerror(errno) +
                         " (check --incidents)");
  return parse_incident_settings(path, text);
}

std::string format_period(const IncidentSettings::Period& x) {
  return x.days || x.ms % 3'600'000 != 0 ? format_duration_ms(x.ms) : std::to_string(x.ms / 3'600'000) + "h";
}

std::string IncidentSettings::to_text() const {
  auto d = [](int64_t ms) { return ms == 0 ? std::string("forever") : format_duration_ms(ms); };
  std::string out;
  out += "time_zone: " + time_zone + "\n";
  out += "utc_offset: \"" + utc_offset + "\"\n";
  out += "grouping:\n  automatic: " + std::string(group_automatically ? "true" : "false") + "\n";
  out += "  window: " + d(group_window_ms) + "\n  min_level: " + group_min_level + "\n";
  out += "serious:\n  min_system_level: " + std::to_string(serious_min_system_level) + "\n";
  out += "  min_rule_level: " + (serious_min_rule_level.empty() ? std::string("none") : serious_min_rule_level) + "\n";
  out += "deadlines:\n  days: " + std::string(calendar_days ? "calendar" : "elapsed") + "\n";
  auto p = format_period;
  out += "  notify: " + p(notify) + "\n  serious_notify: " + p(serious_notify) + "\n";
  out += "  serious_report: " + p(serious_report) + "\n  final_report: " + p(final_report) + "\n";
  out += "audit:\n  seal_every_records: " + std::to_string(seal_every_records) + "\n";
  out += "  seal_interval: " + d(seal_interval_ms) + "\n";
  out += "retention:\n";
  for (size_t i = 0; i < 6; ++i) out += std::string("  ") + kLevelKeys[i] + ": " + d(retention_ms[i]) + "\n";
  return out;
}

// ---- deadlines -----------------------------------------------------------------------------------------------

int64_t deadline_after(int64_t from_ms, const IncidentSettings::Period& period, bool calendar_days,
                       const TimeZone& zone) {
  if (!calendar_days || !period.days || period.ms % 86'400'000 != 0) return from_ms + period.ms;
  // Civil Code 2015, art. 147-148: a period in days starts the day after the event and ends at 24:00 of its last
  // day: local midnight starting day (event day + N + 1).
  return zone.start_of_local_day(zone.local_day(from_ms) + period.ms / 86'400'000 + 1);
}

std::vector<Deadline> incident_deadlines(const Incident& inc, const IncidentSettings& s, const TimeZone& zone,
                                         int64_t now_ms) {
  std::vector<Deadline> out;
  if (inc.false_positive) return out;
  auto add = [&](const char* name, int64_t due, int64_t done) {
    Deadline d;
    d.name = name;
    d.due_ms = due;
    d.done_ms = done;
    if (done != 0) d.status = done <= due ? Deadline::Status::Met : Deadline::Status::Missed;
    else d.status = now_ms > due ? Deadline::Status::Overdue : Deadline::Status::Pending;
    out.push_back(std::move(d));
  };
  if (inc.serious) {
    add("notify", deadline_after(inc.discovered_ms, s.serious_notify, s.calendar_days, zone), inc.notified_ms);
    add("report", deadline_after(inc.discovered_ms, s.serious_report, s.calendar_days, zone), inc.reported_ms);
  } else {
    add("notify", deadline_after(inc.discovered_ms, s.notify, s.calendar_days, zone), inc.notified_ms);
    if (inc.resolved_ms != 0)
      add("report", deadline_after(inc.resolved_ms, s.final_report, s.calendar_days, zone), inc.reported_ms);
  }
  return out;
}

// ---- commands ------------------------------------------------------------------------------------------------

std::string IncidentCommand::encode() const {
  RecordWriter w("socd-incident-command 1");
  w.field("action", action_name(action));
  if (!incident.empty()) w.field("incident", incident);
  if (!actor.empty()) w.field("actor", actor);
  if (!text.empty()) w.field("text", text);
  if (!assignee.empty() || action == Action::Assign) w.field("assignee", assignee);
  for (const auto& a : alerts) w.field("alert", a);
  for (const auto& i : impacts) w.field("impact", i);
  if (time_ms != 0) w.field("time", std::to_string(time_ms));
  return w.take();
}

Expected<IncidentCommand> IncidentCommand::decode(std::string_view text) {
  RecordReader r(text);
  if (!r.header("socd-incident-command 1")) return Status::error("not an incident command (unknown header)");
  IncidentCommand c;
  bool has_action = false;
  std::vector<std::string_view> f;
  while (r.next(f)) {
    if (f.size() != 2) return Status::error("incident command: a line has " + std::to_string(f.size()) + " fields");
    const std::string_view k = f[0];
    const std::string v = RecordReader::unescape(f[1]);
    if (k == "action") {
      auto a = parse_action(v);
      if (!a) return Status::error("incident command: unknown action '" + v + "'");
      c.action = *a;
      has_action = true;
    } else if (k == "incident") c.incident = v;
    else if (k == "actor") c.actor = v;
    else if (k == "text") c.text = v;
    else if (k == "assignee") c.assignee = v;
    else if (k == "alert") c.alerts.push_back(v);
    else if (k == "impact") c.impacts.push_back(v);
    else if (k == "time") c.time_ms = std::strtoll(v.c_str(), nullptr, 10);
    else return Status::error("incident command: unknown field '" + std::string(k) + "'");
  }
  if (!r.ok()) return Status::error("incident command: malformed record");
  if (!has_action) return Status::error("incident command: no action");
  return c;
}

namespace {

Status refuse(const Incident& inc, const IncidentCommand& c, const std::string& needs) {
  return Status::error("incident " + inc.id + " is " + state_name(inc.state) + ": '" + action_name(c.action) +
                       "' " + needs);
}

Status move(Incident& inc, const IncidentCommand& c, IncidentState to, const std::string& hint) {
  if (!transition_allowed(inc.state, to)) return refuse(inc, c, hint);
  inc.state = to;
  return Status();
}

}  // namespace

Status apply_command(Incident& inc, const IncidentCommand& c, const IncidentSettings& settings, int64_t now_ms) {
  using A = IncidentCommand::Action;
  using S = IncidentState;
  const std::string& id = inc.id;
  std::string detail;
  if (inc.state == S::Closed && c.action != A::Note)
    return refuse(inc, c, "is refused: a closed incident only takes notes (open a new incident instead)");
  switch (c.action) {
    case A::New:
    case A::Attach:
      return Status::error("incident " + id + ": '" + action_name(c.action) + "' goes through the store");
    case A::Ack:
      if (Status s = move(inc, c, S::Acknowledged, "needs it new (it was acknowledged already)"); !s.ok()) return s;
      inc.acknowledged_ms = now_ms;
      break;
    case A::Start:
      if (Status s = move(inc, c, S::InProgress,
                          inc.state == S::New ? "needs it acknowledged first (socd incidents ack " + id + ")"
                                              : "needs it acknowledged (it is past that)");
          !s.ok())
        return s;
      inc.started_ms = now_ms;
      break;
    case A::Resolve:
      if (Status s = move(inc, c, S::Resolved,
                          "needs it in_progress (socd incidents " +
                              std::string(inc.state == S::New ? "ack " + id + ", then start " : "start ") + id + ")");
          !s.ok())
        return s;
      inc.resolved_ms = now_ms;
      detail = c.text;
      break;
    case A::FalsePositive:
      if (Status s = move(inc, c, S::FalsePositive,
                          inc.state == S::New ? "needs it acknowledged first (socd incidents ack " + id + ")"
                                              : "needs it acknowledged or in_progress");
          !s.ok())
        return s;
      inc.resolved_ms = now_ms;
      inc.false_positive = true;
      detail = c.text;
      break;
    case A::Close:
      if (Status s = move(inc, c, S::Closed, "needs it resolved or false_positive (socd incidents resolve " + id + ")");
          !s.ok())
        return s;
      inc.closed_ms = now_ms;
      break;
    case A::Reopen:
      if (Status s = move(inc, c, S::InProgress, "needs it resolved or false_positive"); !s.ok()) return s;
      inc.resolved_ms = 0;
      inc.false_positive = false;
      detail = c.text;
      break;
    case A::Assign:
      inc.assignee = c.assignee;
      detail = c.assignee.empty() ? "(nobody)" : c.assignee;
      break;
    case A::Note:
      if (c.text.empty()) return Status::error("incident " + id + ": a note needs a text");
      inc.notes.push_back({now_ms, c.actor, c.text});
      detail = c.text.size() > 80 ? c.text.substr(0, 77) + "..." : c.text;
      break;
    case A::Impact:
      for (const auto& i : c.impacts)
        if (std::find(std::begin(kImpacts), std::end(kImpacts), i) == std::end(kImpacts))
          return Status::error("incident " + id + ": unknown impact '" + i + "' (use service_interruption, "
                               "data_leak, integrity_loss, loss_of_control or wide_spread)");
      inc.impacts = c.impacts;
      std::sort(inc.impacts.begin(), inc.impacts.end());
      inc.impacts.erase(std::unique(inc.impacts.begin(), inc.impacts.end()), inc.impacts.end());
      for (const auto& i : inc.impacts) detail += (detail.empty() ? "" : ",") + i;
      if (detail.empty()) detail = "(none)";
      break;
    case A::Notified:
      if (inc.notified_ms == 0) inc.notified_ms = c.time_ms ? c.time_ms : now_ms;
      detail = format_utc(c.time_ms ? c.time_ms : now_ms);
      break;
    case A::Reported:
      if (inc.reported_ms == 0) inc.reported_ms = c.time_ms ? c.time_ms : now_ms;
      detail = format_utc(c.time_ms ? c.time_ms : now_ms);
      break;
  }
  inc.updated_ms = now_ms;
  inc.serious = settings.is_serious(inc);
  inc.history.push_back({now_ms, c.actor, action_name(c.action), detail});
  return Status();
}

// ---- the stored record ---------------------------------------------------------------------------------------

std::string encode_incident(const Incident& i) {
  RecordWriter w("socd-incident 1");
  w.field("id", i.id);
  w.field("title", i.title);
  w.field("rule", i.rule_id);
  w.field("system", i.system);
  w.field("group", i.group_key);
  w.field("system_level", std::to_string(i.system_level));
  w.field("level", i.level);
  w.field("state", state_name(i.state));
  w.field("manual", i.manual ? "1" : "0");
  w.field("serious", i.serious ? "1" : "0");
  w.field("false_positive", i.false_positive ? "1" : "0");
  w.field("assignee", i.assignee);
  for (const auto& x : i.impacts) w.field("impact", x);
  const std::pair<const char*, int64_t> times[] = {
      {"discovered", i.discovered_ms}, {"first_alert", i.first_alert_ms}, {"last_alert", i.last_alert_ms},
      {"acknowledged", i.acknowledged_ms}, {"started", i.started_ms}, {"resolved", i.resolved_ms},
      {"closed", i.closed_ms}, {"updated", i.updated_ms}, {"notified", i.notified_ms}, {"reported", i.reported_ms}};
  for (const auto& [k, v] : times) w.field(k, std::to_string(v));
  w.field("alerts", std::to_string(i.alert_count));
  for (const auto& n : i.notes) w.fields({"note", std::to_string(n.time_ms), n.author, n.text});
  for (const auto& h : i.history) w.fields({"change", std::to_string(h.time_ms), h.actor, h.action, h.detail});
  return w.take();
}

Expected<Incident> decode_incident(std::string_view value) {
  RecordReader r(value);
  if (!r.header("socd-incident 1")) return Status::error("not an incident record (unknown header)");
  Incident i;
  std::vector<std::string_view> f;
  auto num = [](std::string_view v) { return std::strtoll(std::string(v).c_str(), nullptr, 10); };
  while (r.next(f)) {
    const std::string_view k = f[0];
    if (k == "note" && f.size() == 4) {
      i.notes.push_back({num(f[1]), RecordReader::unescape(f[2]), RecordReader::unescape(f[3])});
      continue;
    }
    if (k == "change" && f.size() == 5) {
      i.history.push_back({num(f[1]), RecordReader::unescape(f[2]), RecordReader::unescape(f[3]),
                           RecordReader::unescape(f[4])});
      continue;
    }
    if (f.size() != 2) return Status::error("incident record: field '" + std::string(k) + "' malformed");
    const std::string v = RecordReader::unescape(f[1]);
    if (k == "id") i.id = v;
    else if (k == "title") i.title = v;
    else if (k == "rule") i.rule_id = v;
    else if (k == "system") i.system = v;
    else if (k == "group") i.group_key = v;
    else if (k == "system_level") i.system_level = static_cast<int>(num(v));
    else if (k == "level") i.level = v;
    else if (k == "state") {
      auto s = parse_state(v);
      if (!s) return Status::error("incident record: unknown state '" + v + "'");
      i.state = *s;
    } else if (k == "manual") i.manual = v == "1";
    else if (k == "serious") i.serious = v == "1";
    else if (k == "false_positive") i.false_positive = v == "1";
    else if (k == "assignee") i.assignee = v;
    else if (k == "impact") i.impacts.push_back(v);
    else if (k == "discovered") i.discovered_ms = num(v);
    else if (k == "first_alert") i.first_alert_ms = num(v);
    else if (k == "last_alert") i.last_alert_ms = num(v);
    else if (k == "acknowledged") i.acknowledged_ms = num(v);
    else if (k == "started") i.started_ms = num(v);
    else if (k == "resolved") i.resolved_ms = num(v);
    else if (k == "closed") i.closed_ms = num(v);
    else if (k == "updated") i.updated_ms = num(v);
    else if (k == "notified") i.notified_ms = num(v);
    else if (k == "reported") i.reported_ms = num(v);
    else if (k == "alerts") i.alert_count = static_cast<uint64_t>(num(v));
    else return Status::error("incident record: unknown field '" + std::string(k) + "'");
  }
  if (!r.ok() || i.id.empty()) return Status::error("incident record: malformed");
  return i;
}

std::string incident_json(const Incident& i, const std::vector<Deadline>& deadlines, const TimeZone& zone) {
  std::string j = "{\"id\":";
  append_json_string(j, i.id);
  j += ",\"title\":";
  append_json_string(j, i.title);
  j += ",\"state\":\"" + std::string(state_name(i.state)) + "\",\"serious\":" + (i.serious ? "true" : "false");
  j += ",\"rule\":";
  append_json_string(j, i.rule_id);
  j += ",\"system\":";
  append_json_string(j, i.system);
  j += ",\"system_level\":" + std::to_string(i.system_level) + ",\"level\":";
  append_json_string(j, i.level);
  j += ",\"manual\":" + std::string(i.manual ? "true" : "false") + ",\"assignee\":";
  append_json_string(j, i.assignee);
  j += ",\"impacts\":[";
  for (size_t k = 0; k < i.impacts.size(); ++k) {
    if (k) j += ',';
    append_json_string(j, i.impacts[k]);
  }
  j += "],\"alerts\":" + std::to_string(i.alert_count);
  auto time = [&](const char* name, int64_t ms) {
    j += ",\"" + std::string(name) + "\":";
    if (ms == 0) j += "null";
    else j += "\"" + zone.format(ms) + "\"";
  };
  time("discovered", i.discovered_ms);
  time("first_alert", i.first_alert_ms);
  time("last_alert", i.last_alert_ms);
  time("acknowledged", i.acknowledged_ms);
  time("started", i.started_ms);
  time("resolved", i.resolved_ms);
  time("closed", i.closed_ms);
  time("notified", i.notified_ms);
  time("reported", i.reported_ms);
  j += ",\"deadlines\":[";
  for (size_t k = 0; k < deadlines.size(); ++k) {
    const Deadline& d = deadlines[k];
    if (k) j += ',';
    j += "{\"name\":\"" + d.name + "\",\"due\":\"" + zone.format(d.due_ms) + "\",\"done\":";
    j += d.done_ms ? "\"" + zone.format(d.done_ms) + "\"" : std::string("null");
    j += ",\"status\":\"" + std::string(deadline_status_name(d.status)) + "\"}";
  }
  j += "],\"notes\":[";
  for (size_t k = 0; k < i.notes.size(); ++k) {
    if (k) j += ',';
    j += "{\"time\":\"" + zone.format(i.notes[k].time_ms) + "\",\"author\":";
    append_json_string(j, i.notes[k].author);
    j += ",\"text\":";
    append_json_string(j, i.notes[k].text);
    j += '}';
  }
  j += "],\"history\":[";
  for (size_t k = 0; k < i.history.size(); ++k) {
    if (k) j += ',';
    j += "{\"time\":\"" + zone.format(i.history[k].time_ms) + "\",\"actor\":";
    append_json_string(j, i.history[k].actor);
    j += ",\"action\":";
    append_json_string(j, i.history[k].action);
    j += ",\"detail\":";
    append_json_string(j, i.history[k].detail);
    j += '}';
  }
  j += "]}";
  return j;
}

}  // namespace socd
