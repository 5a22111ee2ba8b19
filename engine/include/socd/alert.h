// Alerts as JSON lines: the shape `socd scan` prints and the store keeps.
//   {"rule":{"id","title","level","tags"},"time":RFC 3339,"host":..,"source":{"file","line"},"event":{..}}
// A JSON event is written verbatim; an event parsed from text (syslog) as an object of its fields.
// With an asset inventory, intelligence lists or routing (socd/enrichment.h), members go before "event":
//   "intel":{"list","type","indicator","field","value"}   (the alerts of a list: rule id intel:<list>)
//   "asset":{"system","owner","level","known":true} or "asset":{"known":false}
//   "routing":{"layers":["L1","L2","L3","L4"],"reason":..}
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socd/event.h"
#include "socd/ruleset.h"

namespace socd {

class AlertWriter {
public:
  explicit AlertWriter(std::shared_ptr<const RuleSet> rules);
  // Appends one alert line (with '\n') for rule `rule` firing on `event`, read from `source`. With an `id`, the
  // object starts with it ({"id":..,"rule":..}); `time_ms`, when given, receives the alert's time.
  // `extra` (members, each starting with ',') goes before "event".
  void append(std::string& out, uint32_t rule, const Event& event, std::string_view source,
              std::string_view id = {}, int64_t* time_ms = nullptr, std::string_view extra = {}) const;
  // The same for a rule outside the set (an intelligence list): `rule_json` is its {"rule":{...} prefix
  // (IntelList::rule_json).
  void append_as(std::string& out, std::string_view rule_json, const Event& event, std::string_view source,
                 std::string_view id = {}, int64_t* time_ms = nullptr, std::string_view extra = {}) const;
  // The event's time as RFC 3339 (from the mapping's time fields), or `fallback` when it has none.
  std::string_view event_time(const Event& event, std::string& scratch, std::string_view fallback) const;

private:
  std::shared_ptr<const RuleSet> rules_;
  std::vector<std::string> rule_json_;  // per rule: the pre-rendered {"rule":{...}, prefix
};

// The current time in RFC 3339 UTC with milliseconds.
std::string now_rfc3339();
// Normalises common timestamp spellings to RFC 3339 ("2024-05-01 10:20:30.1" -> "2024-05-01T10:20:30.1Z");
// returns false when `value` is not a date-time it knows.
bool to_rfc3339(std::string_view value, std::string& out);
// Milliseconds since the epoch of an RFC 3339 time as to_rfc3339 writes it; -1 when it is not one.
int64_t rfc3339_to_ms(std::string_view rfc3339);

}  // namespace socd
