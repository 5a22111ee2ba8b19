// Alerts for the alert store tests: shaped like the ones `socd run` stores (the scan JSON with "id" added).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "socd/alert_store.h"
#include "socd/json.h"

namespace socd::test {

// 2024-05-01T10:00:00Z in milliseconds since the epoch.
inline constexpr int64_t kBaseTimeMs = 1714557600000;

inline std::string rfc3339_utc(int64_t ms) {
  int64_t s = ms / 1000;
  int64_t days = s / 86400, rem = s % 86400;
  // civil_from_days (days since 1970-01-01 -> y-m-d)
  int64_t z = days + 719468, era = z / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
  char buf[160];  // room for any int64_t fields, so no truncation is possible
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(y),
                static_cast<long long>(m), static_cast<long long>(d), static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                static_cast<long long>(ms % 1000));
  return buf;
}

// Alert number `n` of `rule` on `host`, at `time_ms`; its id is derived from the rule, a source and `n`.
inline StoredAlert make_alert(uint64_t n, int64_t time_ms, const std::string& rule = "rule-a",
                              const std::string& level = "high", const std::string& host = "web01",
                              const std::string& title = "Failed logon for an admin account",
                              size_t event_padding = 0) {
  StoredAlert a;
  a.id = alert_id(rule, "/var/log/auth.log", "line:" + std::to_string(n));
  a.time_ms = time_ms;
  a.rule_id = rule;
  a.level = level;
  a.host = host;
  std::string j = "{\"id\":\"" + a.id + "\",\"rule\":{\"id\":";
  append_json_string(j, rule);
  j += ",\"title\":";
  append_json_string(j, title);
  j += ",\"level\":";
  append_json_string(j, level);
  j += ",\"tags\":[\"attack.t1110\"]},\"time\":\"" + rfc3339_utc(time_ms) + "\",\"host\":";
  append_json_string(j, host);
  j += ",\"source\":{\"file\":\"/var/log/auth.log\",\"line\":" + std::to_string(n) +
       "},\"event\":{\"msg\":\"Failed password for root from 203.0.113.7 port 22 ssh2\",\"pad\":\"" +
       std::string(event_padding, 'x') + "\"}}";
  a.json = std::move(j);
  return a;
}

}  // namespace socd::test
