// Four-layer routing (config/routing.yml): which layers of the protection model receive an alert, decided
// from the rule's level and tags and the system's level, classes and owner (socd/assets.h).
//   L1  the owner agency's on-site team, through the agency's notification sink (webhook or syslog), when the
//       alert's system is known, its owner has a sink and the rule level reaches `layer1.min_rule_level`
//   L2  the SOC's queue: always
//   L3  the assessment record: always
//   L4  the national centre: when one of the `layer4.when` conditions holds (default: a rule level of high or
//       above on a system of level 3 or above; any alert on a system where an incident would be serious, i.e.
//       of level 4 or above or of class nationally-important)
// The decision goes on the alert as ,"routing":{"layers":["L2","L3"],"reason":"..."} and, as bits, on the
// stored alert. Immutable once loaded; a reload builds a new one.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socd/assets.h"
#include "socd/status.h"

namespace socd {

// Layer n is bit n-1 (the same bits as StoredAlert::layers, socd/alert_store.h).
inline constexpr uint8_t kRouteLayer1 = 1, kRouteLayer2 = 2, kRouteLayer3 = 4, kRouteLayer4 = 8;

struct RouteInput {
  std::string_view rule_id;
  std::string_view rule_level;  // informational, low, medium, high, critical
  const std::vector<std::string>* tags = nullptr;
  const AssetSystem* system = nullptr;  // null: an unknown asset (or no inventory)
};

struct RouteDecision {
  uint8_t layers = 0;  // kRouteLayer* bits
  std::string sink;    // the layer-1 sink, when L1 is in `layers`
  std::string reason;  // why each layer is in or out, for people
};

class Routing {
public:
  // Reads and checks a routing file; errors name the file, the line and what to do.
  static Expected<std::shared_ptr<const Routing>> load(const std::string& path);
  static Expected<std::shared_ptr<const Routing>> parse(const std::string& name, const std::string& yaml);
  ~Routing();
  Routing(const Routing&) = delete;
  Routing& operator=(const Routing&) = delete;

  void decide(const RouteInput& input, RouteDecision& out) const;
  // The layer-1 sink of an agency, or null.
  const std::string* sink_of(std::string_view owner) const;
  // Whether an incident on `system` would be serious (its level or class; layer4.serious_incident_systems).
  bool serious_incident_system(const AssetSystem& system) const;

  struct Impl;

private:
  Routing();
  std::unique_ptr<Impl> impl_;
};

// Appends the alert member ,"routing":{"layers":[...],"reason":"..."}.
void append_routing_json(std::string& out, const RouteDecision& decision);

}  // namespace socd
