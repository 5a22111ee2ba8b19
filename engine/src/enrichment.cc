#include "socd/enrichment.h"

#include <algorithm>
#include <cstdio>

#include "stateful_impl.h"

namespace socd {

Expected<Enrichment> load_enrichment(const EnrichmentPaths& paths, std::vector<Diagnostic>& diagnostics) {
  Enrichment e;
  if (!paths.assets.empty()) {
    auto a = AssetInventory::load(paths.assets);
    if (!a) return a.error();
    e.assets = *a;
  }
  if (!paths.intel.empty()) {
    auto i = IntelSet::load(paths.intel, diagnostics);
    if (!i) return i.error();
    e.intel = *i;
  }
  if (!paths.routing.empty()) {
    auto r = Routing::load(paths.routing);
    if (!r) return r.error();
    e.routing = *r;
  }
  return e;
}

std::string describe_enrichment(const Enrichment& e) {
  std::string out;
  auto part = [&](const std::string& text) {
    if (!out.empty()) out += "; ";
    out += text;
  };
  if (e.assets) part("assets: systems=" + std::to_string(e.assets->systems().size()));
  if (e.intel) {
    uint64_t by_type[kIndicatorTypes] = {};
    for (const auto& l : e.intel->lists())
      for (int t = 0; t < kIndicatorTypes; ++t) by_type[t] += l.indicators[t];
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.3f", e.intel->load_seconds());
    part("intel: lists=" + std::to_string(e.intel->lists().size()) +
         " indicators=" + std::to_string(e.intel->size()) + " ip=" + std::to_string(by_type[0]) +
         " domain=" + std::to_string(by_type[1]) + " hash=" + std::to_string(by_type[2]) +
         " url=" + std::to_string(by_type[3]) + " malformed=" + std::to_string(e.intel->malformed()) +
         " load_seconds=" + seconds);
  }
  if (e.routing) part("routing: on");
  return out;
}

AlertAnnotator::AlertAnnotator(const Enrichment& enrichment, std::shared_ptr<const RuleSet> rules)
    : enrichment_(enrichment), rules_(std::move(rules)), active_(enrichment.any()) {
  if (enrichment_.intel && enrichment_.intel->size() > 0)
    intel_ = std::make_unique<IntelMatcher>(enrichment_.intel, rules_);
}

void AlertAnnotator::start(const Event& event, std::string_view source, std::string_view sender_ip) {
  event_ = &event;
  source_ = source;
  sender_ = sender_ip;
  looked_up_ = false;
  system_ = nullptr;
}

const AssetSystem* AlertAnnotator::system() {
  if (looked_up_ || !enrichment_.assets || !event_) return system_;
  looked_up_ = true;
  AssetQuery q;
  for (uint32_t f : rules_->host_fields()) {
    uint32_t link = event_->first(f);
    if (link != Event::end && !event_->value(event_->link_value(link)).empty()) {
      q.host = event_->value(event_->link_value(link));
      break;
    }
  }
  q.sender_ip = sender_;
  q.source = source_;
  system_ = enrichment_.assets->find(q);
  return system_;
}

void AlertAnnotator::annotate(std::string& extra, std::string_view rule_id, std::string_view level,
                              const std::vector<std::string>& tags, const IntelHit* hit,
                              AlertPlacement* placement) {
  extra.clear();
  if (hit && intel_) intel_->append_json(extra, *hit);
  const AssetSystem* s = system();
  if (enrichment_.assets) append_asset_json(extra, s);
  uint8_t layers = 0;
  if (enrichment_.routing) {
    RouteInput in;
    in.rule_id = rule_id;
    in.rule_level = level;
    in.tags = &tags;
    in.system = s;
    enrichment_.routing->decide(in, decision_);
    append_routing_json(extra, decision_);
    layers = decision_.layers;
  }
  if (placement) {
    placement->system = s;
    placement->layers = layers;
  }
}

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The JSON string literal starting at `text[at]` (the opening quote), decoded; "" when it is not one. \u
// escapes beyond ASCII become '?' (a path or listener name that needs them matches no inventory entry).
std::string json_string_at(std::string_view text, size_t at) {
  std::string out;
  if (at >= text.size() || text[at] != '"') return out;
  for (size_t i = at + 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') return out;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= text.size()) break;
    switch (text[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'u': {
        int v = 0;
        for (size_t k = 1; k <= 4 && i + k < text.size(); ++k) v = v * 16 + std::max(0, hex_digit(text[i + k]));
        i += 4;
        out += v < 0x80 ? static_cast<char>(v) : '?';
        break;
      }
      default: out += text[i];  // \" \\ \/
    }
  }
  return {};
}

}  // namespace

StageAlertAnnotator::StageAlertAnnotator(const Enrichment& enrichment, std::shared_ptr<const StatefulRules> rules)
    : enrichment_(enrichment), rules_(std::move(rules)) {
  if (!rules_) return;
  const StatefulRules::Impl& impl = rules_->impl();
  for (const CompiledCorrelation& c : impl.correlations) tags_[c.rule_id] = &c.def.tags;
  for (uint32_t r = 0; r < impl.rule_count && r < impl.set->size(); ++r)
    tags_.try_emplace(impl.set->rule(r).id, &impl.set->rule(r).tags);
}

void StageAlertAnnotator::annotate(StageAlert& alert, AlertPlacement* placement) {
  if (placement) *placement = AlertPlacement{};
  if (!active()) return;
  const AssetSystem* system = nullptr;
  if (enrichment_.assets) {
    static constexpr std::string_view kSource = ",\"source\":{\"file\":";
    size_t at = alert.json.rfind(kSource);
    std::string source = at == std::string::npos ? std::string() : json_string_at(alert.json, at + kSource.size());
    AssetQuery q;
    q.host = alert.host;
    q.source = source;
    system = enrichment_.assets->find(q);
  }
  extra_.clear();
  if (enrichment_.assets) append_asset_json(extra_, system);
  uint8_t layers = 0;
  if (enrichment_.routing) {
    auto t = tags_.find(alert.rule_id);
    RouteInput in;
    in.rule_id = alert.rule_id;
    in.rule_level = alert.level;
    in.tags = t == tags_.end() ? &no_tags_ : t->second;
    in.system = system;
    enrichment_.routing->decide(in, decision_);
    append_routing_json(extra_, decision_);
    layers = decision_.layers;
  }
  if (!alert.json.empty() && alert.json.back() == '}') alert.json.insert(alert.json.size() - 1, extra_);
  if (placement) {
    placement->system = system;
    placement->layers = layers;
  }
}

}  // namespace socd
