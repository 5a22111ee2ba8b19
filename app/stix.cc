#include "stix.h"

#include <openssl/sha.h>
#include <simdjson.h>

#include <cstdio>
#include <ctime>

#include "socd/json.h"

namespace socd::stix {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_ipv4(std::string_view s) {
  int parts = 0, digits = 0, value = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0 || ++parts > 3) return false;
      digits = value = 0;
    } else if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 3 && digits > 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return out;
}

// A STIX pattern string literal: quotes and backslashes escaped.
std::string pattern_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

using Observables = AlertFacts;

void add_unique(std::vector<std::string>& list, std::string_view value) {
  for (const auto& v : list)
    if (v == value) return;
  list.emplace_back(value);
}

// IPv4 addresses under keys naming an address, file names of images, command lines: from the event's top level
// and one level below (EventData and the like).
void collect(simdjson::dom::object object, Observables& out, int depth) {
  for (auto field : object) {
    const std::string key = lower(field.key);
    if (field.value.is_object()) {
      if (depth < 2) collect(field.value.get_object().value(), out, depth + 1);
      continue;
    }
    if (!field.value.is_string()) continue;
    std::string_view value = field.value.get_string().value();
    if (value.empty()) continue;
    if ((key.find("ip") != std::string::npos || key.find("addr") != std::string::npos || key == "src" ||
         key == "dst") && is_ipv4(value))
      add_unique(out.ipv4, value);
    else if (key == "image" || key == "newprocessname" || key == "targetfilename")
      add_unique(out.files, value);
    else if (key == "commandline")
      add_unique(out.command_lines, value);
  }
}

void common(std::string& o, std::string_view type, const std::string& id) {
  o += "{\"type\":\"";
  o += type;
  o += "\",\"spec_version\":\"2.1\",\"id\":\"";
  o += id;
  o += "\"";
}

void times(std::string& o, const std::string& created) {
  o += ",\"created\":\"" + created + "\",\"modified\":\"" + created + "\"";
}

}  // namespace

std::string uuid5(std::string_view ns, std::string_view name) {
  unsigned char bytes[16] = {};
  size_t n = 0;
  for (size_t i = 0; i + 1 < ns.size() && n < 16;) {
    if (ns[i] == '-') {
      ++i;
      continue;
    }
    bytes[n++] = static_cast<unsigned char>(hex_value(ns[i]) * 16 + hex_value(ns[i + 1]));
    i += 2;
  }
  // SHA-1 of the namespace's 16 bytes and the name (RFC 4122, 4.3), in one call.
  std::string input(reinterpret_cast<const char*>(bytes), sizeof bytes);
  input.append(name);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string timestamp(int64_t ms) {
  // Rounded down (before 1970 too), without computing ms - 999, which overflows near the smallest int64_t.
  int64_t seconds = ms / 1000;
  if (ms % 1000 < 0) --seconds;
  std::time_t s = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[96];  // room for any int fields: never truncated
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

AlertFacts alert_facts(const StoredAlert& alert) {
  AlertFacts seen;
  seen.title = alert.rule_id;
  // One parser per thread, kept: a new one allocates its buffers (depth stacks, tape) for every alert.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(alert.json).get(doc) == simdjson::SUCCESS && doc.is_object()) {
    std::string_view t;
    if (doc["rule"]["title"].get(t) == simdjson::SUCCESS && !t.empty()) seen.title.assign(t);
    simdjson::dom::object event;
    if (doc["event"].get(event) == simdjson::SUCCESS) collect(event, seen, 0);
    std::string_view indicator;
    if (doc["intel"]["indicator"].get(indicator) == simdjson::SUCCESS && is_ipv4(indicator))
      add_unique(seen.ipv4, indicator);
  }
  return seen;
}

void alert_objects(const StoredAlert& alert, std::string_view soc_name, std::vector<std::string>& objects) {
  const AlertFacts seen = alert_facts(alert);
  const std::string& title = seen.title;
  const std::string created = timestamp(alert.time_ms);
  const std::string identity_id = "identity--" + uuid5(kSocdNamespace, "identity|" + std::string(soc_name));
  const std::string indicator_id = "indicator--" + uuid5(kSocdNamespace, "indicator|" + alert.id);
  const std::string sighting_id = "sighting--" + uuid5(kSocdNamespace, "sighting|" + alert.id);
  const std::string observed_id = "observed-data--" + uuid5(kSocdNamespace, "observed-data|" + alert.id);

  std::string o;
  common(o, "identity", identity_id);
  times(o, "2020-01-01T00:00:00.000Z");  // the SOC's identity is one object, whatever alert carries it
  o += ",\"name\":";
  append_json_string(o, soc_name);
  o += ",\"identity_class\":\"organization\"}";
  objects.push_back(std::move(o));

  // Observables (cyber-observable objects, ids per STIX from their contributing property).
  std::vector<std::string> refs;
  std::string pattern;
  for (const auto& ip : seen.ipv4) {
    std::string id = "ipv4-addr--" + uuid5(kStixObservableNamespace, "{\"value\":\"" + ip + "\"}");
    o.clear();
    common(o, "ipv4-addr", id);
    o += ",\"value\":";
    append_json_string(o, ip);
    o += "}";
    objects.push_back(std::move(o));
    refs.push_back(id);
    if (pattern.empty()) pattern = "[ipv4-addr:value = " + pattern_literal(ip) + "]";
  }
  for (const auto& path : seen.files) {
    const size_t slash = path.find_last_of("/\\");
    const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string quoted;
    append_json_string(quoted, name);
    std::string id = "file--" + uuid5(kStixObservableNamespace, "{\"name\":" + quoted + "}");
    o.clear();
    common(o, "file", id);
    o += ",\"name\":" + quoted + "}";
    objects.push_back(std::move(o));
    refs.push_back(id);
    if (pattern.empty()) pattern = "[file:name = " + pattern_literal(name) + "]";
  }
  for (const auto& command : seen.command_lines) {
    std::string id = "process--" + uuid5(kSocdNamespace, "process|" + alert.id + "|" + command);
    o.clear();
    common(o, "process", id);
    o += ",\"command_line\":";
    append_json_string(o, command);
    o += "}";
    objects.push_back(std::move(o));
    refs.push_back(id);
    if (pattern.empty()) pattern = "[process:command_line = " + pattern_literal(command) + "]";
  }
  if (pattern.empty()) pattern = "[x-socd-alert:rule_id = " + pattern_literal(alert.rule_id) + "]";

  o.clear();
  common(o, "indicator", indicator_id);
  times(o, created);
  o += ",\"name\":";
  append_json_string(o, title);
  o += ",\"indicator_types\":[\"malicious-activity\"],\"pattern\":";
  append_json_string(o, pattern);
  o += ",\"pattern_type\":\"stix\",\"valid_from\":\"" + created + "\",\"labels\":[";
  append_json_string(o, "rule:" + alert.rule_id);
  o += ",";
  append_json_string(o, "level:" + alert.level);
  o += "],\"external_references\":[{\"source_name\":\"socd\",\"external_id\":";
  append_json_string(o, alert.id);
  o += "}]}";
  objects.push_back(std::move(o));

  if (!refs.empty()) {
    o.clear();
    common(o, "observed-data", observed_id);
    times(o, created);
    o += ",\"first_observed\":\"" + created + "\",\"last_observed\":\"" + created +
         "\",\"number_observed\":1,\"object_refs\":[";
    for (size_t i = 0; i < refs.size(); ++i) o += (i ? ",\"" : "\"") + refs[i] + "\"";
    o += "]}";
    objects.push_back(std::move(o));
  }

  o.clear();
  common(o, "sighting", sighting_id);
  times(o, created);
  o += ",\"sighting_of_ref\":\"" + indicator_id + "\",\"count\":1,\"first_seen\":\"" + created +
       "\",\"last_seen\":\"" + created + "\",\"where_sighted_refs\":[\"" + identity_id + "\"]";
  if (!refs.empty()) o += ",\"observed_data_refs\":[\"" + observed_id + "\"]";
  o += "}";
  objects.push_back(std::move(o));
}

}  // namespace socd::stix
