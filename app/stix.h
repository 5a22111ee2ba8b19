// Alerts as STIX 2.1 objects for the national centre (TAXII 2.1). Per alert: the SOC's `identity`, an `indicator`
// for the rule as it fired, a `sighting` of it where_sighted_refs the SOC, and, when the event names observables
// (IPv4 addresses, files, processes), `observed-data` with them as STIX cyber-observable objects. Every id is a
// UUIDv5 derived from the alert (or the SOC's name, or the observable's value), and created/modified are the
// alert's time, so a resend is recognisably the same objects.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "socd/alert_store.h"

namespace socd::stix {

// The UUIDv5 (RFC 4122, SHA-1) of `name` in the namespace `ns` (a UUID in its 36-character text form).
std::string uuid5(std::string_view ns, std::string_view name);
// RFC 3339 UTC with milliseconds and "Z".
std::string timestamp(int64_t ms);
// socd's namespace for the ids it derives; STIX's own for cyber-observable ids.
inline constexpr std::string_view kSocdNamespace = "5c0d0b1e-6a4e-4f3c-9a1d-3d2b7c5e8f10";
inline constexpr std::string_view kStixObservableNamespace = "00abedb4-aa42-466c-9c01-fed23315a9b7";

// What the alert's JSON says beyond the stored columns: the rule's title (the rule id when it has none) and the
// observables of its event (IPv4 addresses under address-like keys, image/file names, command lines), each once.
struct AlertFacts {
  std::string title;
  std::vector<std::string> ipv4, files, command_lines;
};
AlertFacts alert_facts(const StoredAlert& alert);

// Appends the alert's objects (each a JSON object text) to `objects`. `soc_name` names the SOC's identity.
void alert_objects(const StoredAlert& alert, std::string_view soc_name, std::vector<std::string>& objects);

}  // namespace socd::stix
