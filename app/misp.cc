#include "misp.h"

#include "socd/json.h"
#include "stix.h"

namespace socd::misp {

std::string threat_level(std::string_view level) {
  if (level == "critical" || level == "high") return "1";
  if (level == "medium") return "2";
  if (level == "low" || level == "informational") return "3";
  return "4";
}

namespace {

void attribute(std::string& out, const StoredAlert& alert, std::string_view type, std::string_view category,
               std::string_view value, bool to_ids, std::string_view comment) {
  if (out.back() != '[') out.push_back(',');
  out += "{\"uuid\":\"";
  out += stix::uuid5(stix::kSocdNamespace, "misp-attribute|" + alert.id + "|" + std::string(type) + "|" +
                                               std::string(value));
  out += "\",\"type\":";
  append_json_string(out, type);
  out += ",\"category\":";
  append_json_string(out, category);
  out += ",\"value\":";
  append_json_string(out, value);
  out += to_ids ? ",\"to_ids\":true" : ",\"to_ids\":false";
  out += ",\"distribution\":\"5\",\"comment\":";  // 5: as the event
  append_json_string(out, comment);
  out.push_back('}');
}

void tag(std::string& out, std::string_view name) {
  if (out.back() != '[') out.push_back(',');
  out += "{\"name\":";
  append_json_string(out, name);
  out.push_back('}');
}

}  // namespace

std::string event_json(const StoredAlert& alert, const EventOptions& o) {
  const stix::AlertFacts facts = stix::alert_facts(alert);
  std::string info = "socd alert: " + facts.title;
  if (!alert.host.empty()) info += " on " + alert.host;
  if (!o.soc_name.empty()) info += " (" + o.soc_name + ")";
  for (auto& c : info)
    if (c == '\n' || c == '\r') c = ' ';
  if (info.size() > 256) info.resize(256);
  const std::string time = stix::timestamp(alert.time_ms);
  const int64_t seconds = alert.time_ms >= 0 ? alert.time_ms / 1000 : (alert.time_ms - 999) / 1000;

  std::string out = "{\"Event\":{\"uuid\":\"" + event_uuid(alert) + "\",\"info\":";
  append_json_string(out, info);
  out += ",\"date\":\"" + time.substr(0, 10) + "\",\"timestamp\":\"" + std::to_string(seconds) +
         "\",\"threat_level_id\":\"" + threat_level(alert.level) + "\",\"analysis\":";
  append_json_string(out, o.analysis);
  out += ",\"distribution\":";
  append_json_string(out, o.distribution);
  out += ",\"sharing_group_id\":\"0\",\"published\":false,\"Attribute\":[";
  attribute(out, alert, "text", "Internal reference", alert.id, false, "socd alert id");
  if (!alert.host.empty()) attribute(out, alert, "hostname", "Network activity", alert.host, false, "reporting host");
  for (const auto& ip : facts.ipv4) attribute(out, alert, "ip-src", "Network activity", ip, true, "");
  for (const auto& f : facts.files) attribute(out, alert, "filename", "Payload delivery", f, true, "");
  for (const auto& c : facts.command_lines) attribute(out, alert, "text", "Other", c, false, "command line");
  out += "],\"Tag\":[";
  tag(out, "socd:rule=\"" + alert.rule_id + "\"");
  tag(out, "socd:level=\"" + alert.level + "\"");
  if (!alert.system.empty()) tag(out, "socd:system=\"" + alert.system + "\"");
  if (!o.tag.empty()) tag(out, o.tag);
  out += "]}}";
  return out;
}

std::string event_uuid(const StoredAlert& alert) {
  return stix::uuid5(stix::kSocdNamespace, "misp-event|" + alert.id);
}

}  // namespace socd::misp
