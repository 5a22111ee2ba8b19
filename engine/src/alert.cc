#include "socd/alert.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "socd/json.h"

namespace socd {

AlertWriter::AlertWriter(std::shared_ptr<const RuleSet> rules) : rules_(std::move(rules)) {
  rule_json_.reserve(rules_->size());
  for (uint32_t i = 0; i < rules_->size(); ++i) {
    const Rule& r = rules_->rule(i);
    std::string s = "{\"rule\":{\"id\":";
    append_json_string(s, r.id);
    s += ",\"title\":";
    append_json_string(s, r.title);
    s += ",\"level\":";
    append_json_string(s, r.level);
    s += ",\"tags\":[";
    for (size_t t = 0; t < r.tags.size(); ++t) {
      if (t) s.push_back(',');
      append_json_string(s, r.tags[t]);
    }
    s += "]}";
    rule_json_.push_back(std::move(s));
  }
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

bool to_rfc3339(std::string_view v, std::string& out) {
  // YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+hh:mm|-hh:mm]
  if (v.size() < 19) return false;
  static const char shape[] = "dddd-dd-dd?dd:dd:dd";
  for (size_t i = 0; i < 19; ++i) {
    char s = shape[i];
    if (s == 'd' ? !digit(v[i]) : s == '?' ? (v[i] != 'T' && v[i] != ' ') : v[i] != s) return false;
  }
  size_t i = 19;
  if (i < v.size() && v[i] == '.') {
    ++i;
    size_t start = i;
    while (i < v.size() && digit(v[i])) ++i;
    if (i == start) return false;
  }
  std::string_view zone = v.substr(i);
  out.assign(v.substr(0, i));
  out[10] = 'T';
  if (zone.empty()) {
    out.push_back('Z');
    return true;
  }
  if (zone == "Z" || zone == "z") {
    out.push_back('Z');
    return true;
  }
  if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && digit(zone[1]) && digit(zone[2]) &&
      zone[3] == ':' && digit(zone[4]) && digit(zone[5])) {
    out.append(zone);
    return true;
  }
  if (zone == " UTC") {
    out.push_back('Z');
    return true;
  }
  return false;
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

std::string_view AlertWriter::event_time(const Event& ev, std::string& scratch, std::string_view fallback) const {
  for (uint32_t f : rules_->time_fields()) {
    for (uint32_t l = ev.first(f); l != Event::end; l = ev.next(l))
      if (to_rfc3339(ev.value(ev.link_value(l)), scratch)) return scratch;
  }
  return fallback;
}

int64_t rfc3339_to_ms(std::string_view v) {
  auto num = [&](size_t pos, size_t n) {
    int x = 0;
    for (size_t i = pos; i < pos + n; ++i) x = x * 10 + (v[i] - '0');
    return x;
  };
  std::string check;
  if (v.size() < 20 || !to_rfc3339(v, check) || check != v) return -1;
  int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return -1;
  // Days from 1970-01-01 (civil calendar).
  int yy = y - (mo <= 2);
  int era = (yy >= 0 ? yy : yy - 399) / 400;
  int yoe = yy - era * 400;
  int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t days = static_cast<int64_t>(era) * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  int64_t ms = ((days * 24 + h) * 60 + mi) * 60000 + s * 1000;
  size_t i = 19;
  if (i < v.size() && v[i] == '.') {
    int scale = 100;
    for (++i; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i, scale /= 10) ms += (v[i] - '0') * scale;
  }
  if (i < v.size() && (v[i] == '+' || v[i] == '-')) {
    int64_t off = (num(i + 1, 2) * 60 + num(i + 4, 2)) * 60000;
    ms += v[i] == '+' ? -off : off;
  }
  return ms;
}

void AlertWriter::append(std::string& out, uint32_t rule, const Event& ev, std::string_view source,
                         std::string_view id, int64_t* time_ms, std::string_view extra) const {
  append_as(out, rule_json_[rule], ev, source, id, time_ms, extra);
}

void AlertWriter::append_as(std::string& out, std::string_view rule_json, const Event& ev,
                            std::string_view source, std::string_view id, int64_t* time_ms,
                            std::string_view extra) const {
  if (!id.empty()) {
    out += "{\"id\":";
    append_json_string(out, id);
    out += ',';
    out.append(rule_json.substr(1));  // without its opening brace
  } else {
    out += rule_json;
  }
  std::string scratch;
  static thread_local std::string now;
  std::string_view time = event_time(ev, scratch, {});
  if (time.empty()) {
    now = now_rfc3339();
    time = now;
  }
  out += ",\"time\":";
  append_json_string(out, time);
  if (time_ms) *time_ms = rfc3339_to_ms(time);
  for (uint32_t f : rules_->host_fields()) {
    uint32_t l = ev.first(f);
    if (l != Event::end && !ev.value(ev.link_value(l)).empty()) {
      out += ",\"host\":";
      append_json_string(out, ev.value(ev.link_value(l)));
      break;
    }
  }
  out += ",\"source\":{\"file\":";
  append_json_string(out, source);
  out += ",\"line\":";
  out += std::to_string(ev.line);
  out += '}';
  out += extra;
  out += ",\"event\":";
  if (!ev.keeps_paths()) {
    out.append(ev.raw());
  } else {
    // An event parsed from text is written as an object of its fields, once per event however many rules
    // fire on it (a syslog line often fires several Sagan rules).
    thread_local std::string rendered;
    thread_local std::pair<uint64_t, uint64_t> rendered_serial{0, 0};
    if (rendered_serial != ev.serial()) {
      rendered.clear();
      rendered.push_back('{');
      for (size_t i = 0; i < ev.value_count(); ++i) {
        if (i) rendered.push_back(',');
        append_json_string(rendered, ev.path(i));
        rendered.push_back(':');
        if (ev.type(i) == ValueType::String) append_json_string(rendered, ev.value(i));
        else if (ev.type(i) == ValueType::Null) rendered += "null";
        else rendered.append(ev.value(i));
      }
      rendered.push_back('}');
      rendered_serial = ev.serial();
    }
    out += rendered;
  }
  out += "}\n";
}

}  // namespace socd
