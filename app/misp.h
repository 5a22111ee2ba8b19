// Alerts as MISP events (MISP core format) for a national centre that runs MISP: one event per alert, POSTed to
// the events API with the `Authorization: <key>` header. The event's uuid (and each attribute's) is a UUIDv5 of
// the alert id, and its date/timestamp the alert's time, so a resend is the same event: a MISP that already holds
// it answers that the uuid exists, which the sink takes as delivered.
#pragma once
#include <string>
#include <string_view>

#include "socd/alert_store.h"

namespace socd::misp {

struct EventOptions {
  std::string distribution = "0";  // 0 your organisation only, 1 this community, 2 connected, 3 all, 4 sharing group
  std::string analysis = "0";      // 0 initial, 1 ongoing, 2 complete
  std::string tag;                 // one more tag on every event (e.g. tlp:amber); empty: none
  std::string soc_name;            // named in the info
};

// threat_level_id of an alert level: critical/high "1", medium "2", low "3", otherwise "4" (undefined).
std::string threat_level(std::string_view level);

// The event's uuid: UUIDv5 of the alert id.
std::string event_uuid(const StoredAlert& alert);

// {"Event":{uuid, info, date, timestamp, threat_level_id, analysis, distribution, sharing_group_id, published,
//   Attribute:[{uuid, type, category, value, to_ids, distribution, comment}], Tag:[{name}]}}. Attributes: the
// alert id (text, Internal reference), the host (hostname, Network activity; to_ids false), each IPv4 observable
// (ip-src, Network activity), each file name (filename, Payload delivery), each command line (text, Other).
std::string event_json(const StoredAlert& alert, const EventOptions& options);

}  // namespace socd::misp
