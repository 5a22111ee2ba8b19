// What alerts are enriched with before they are written: the asset inventory (socd/assets.h), the
// threat-intelligence lists (socd/intel.h) and the four-layer routing (socd/routing.h). Each is optional;
// with none configured alerts are written as before. `socd scan` and `socd run` load them with the rules (and
// reload them with the rules on SIGHUP): the intelligence fields must be compiled into the rule set
// (CompileOptions::extra_fields = intel->field_names()).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "socd/assets.h"
#include "socd/intel.h"
#include "socd/routing.h"
#include "socd/ruleset.h"
#include "socd/stateful.h"

namespace socd {

struct EnrichmentPaths {
  std::string assets;              // --assets FILE
  std::vector<std::string> intel;  // --intel FILE ...
  std::string routing;             // --routing FILE
};

struct Enrichment {
  std::shared_ptr<const AssetInventory> assets;
  std::shared_ptr<const IntelSet> intel;  // null when no list is configured
  std::shared_ptr<const Routing> routing;
  bool any() const { return assets || intel || routing; }
  // The fields the rule set must make readable for the intelligence lists.
  std::vector<std::string> extra_fields() const {
    return intel ? intel->field_names() : std::vector<std::string>{};
  }
};

// Loads what `paths` names. Stopping errors (unreadable or invalid files) are returned; malformed
// intelligence entries go to `diagnostics` and are counted in the IntelSet.
Expected<Enrichment> load_enrichment(const EnrichmentPaths& paths, std::vector<Diagnostic>& diagnostics);

// A one-line account of what was loaded ("assets: systems=N ...; intel: lists=N indicators=N malformed=N ...;
// routing: FILE"), empty when nothing is configured.
std::string describe_enrichment(const Enrichment& enrichment);

// Where an alert went: its system (null: unknown asset or no inventory) and its layers (0 without routing).
struct AlertPlacement {
  const AssetSystem* system = nullptr;
  uint8_t layers = 0;
};

// The per-worker side (not shared between threads): for each event, its system (looked up once, on its first
// alert), the intelligence hits, and the members each alert gets.
class AlertAnnotator {
public:
  AlertAnnotator(const Enrichment& enrichment, std::shared_ptr<const RuleSet> rules);
  bool active() const { return active_; }
  bool has_intel() const { return intel_ != nullptr; }
  const IntelMatcher* intel() const { return intel_.get(); }

  // A new event (before its alerts): `source` is the file or listener origin, `sender_ip` the network peer.
  void start(const Event& event, std::string_view source, std::string_view sender_ip);
  // The intelligence hits of the current event (appended to `hits`).
  void intel_hits(const Event& event, std::vector<IntelHit>& hits) const {
    if (intel_) intel_->match(event, hits);
  }
  // Replaces `extra` with the members of one alert of the current event (",\"intel\":..", ",\"asset\":..",
  // ",\"routing\":.."), for a rule with this id, level and tags; `hit` for an alert of an intelligence list.
  void annotate(std::string& extra, std::string_view rule_id, std::string_view level,
                const std::vector<std::string>& tags, const IntelHit* hit = nullptr,
                AlertPlacement* placement = nullptr);

private:
  const AssetSystem* system();

  Enrichment enrichment_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<IntelMatcher> intel_;
  bool active_ = false;
  // The current event.
  const Event* event_ = nullptr;
  std::string_view source_, sender_;
  bool looked_up_ = false;
  const AssetSystem* system_ = nullptr;
  RouteDecision decision_;
};

// The same asset and routing members for the alerts the stateful stage makes (correlation alerts, threshold,
// deduplication and Sagan threshold summaries), which no single event stands behind: the system is looked up
// from the alert's host and the file (or listener) of its "source" member, the event that completed it (a
// network sender's address is not kept by the stage, so an inventory entry matched only by sender address
// needs the host field); the tags are the correlation's own, or the suppressed rule's. Used by the ordered
// part of a pipeline (one thread).
class StageAlertAnnotator {
public:
  StageAlertAnnotator(const Enrichment& enrichment, std::shared_ptr<const StatefulRules> rules);
  bool active() const { return enrichment_.assets || enrichment_.routing; }
  // Whether this annotator was made for these (a reload makes another).
  bool serves(const Enrichment& enrichment, const StatefulRules* rules) const {
    return enrichment.assets == enrichment_.assets && enrichment.routing == enrichment_.routing &&
           rules == rules_.get();
  }
  // Inserts ,"asset":{..} and ,"routing":{..} before the closing brace of `alert.json` (the members a
  // single-event alert has) and fills `placement`; nothing when inactive.
  void annotate(StageAlert& alert, AlertPlacement* placement = nullptr);

private:
  Enrichment enrichment_;
  std::shared_ptr<const StatefulRules> rules_;
  std::unordered_map<std::string, const std::vector<std::string>*> tags_;  // alert rule id -> tags
  std::vector<std::string> no_tags_;
  std::string extra_;
  RouteDecision decision_;
};

}  // namespace socd
