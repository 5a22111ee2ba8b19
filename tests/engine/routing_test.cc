// Four-layer routing as a table of cases: rule level, tags and rule id, the system's level, class and owner
// (or an unknown asset) -> the layers and the reason; the defaults; configuration errors with file:line.
#include <gtest/gtest.h>

#include "socd/routing.h"

namespace socd {
namespace {

const char* kRouting = R"(sinks:
  a-hook: {webhook: 'https://a.example/hook'}
  b-syslog: {syslog: '10.0.0.5:6514'}
agencies:
  Agency A: a-hook
  Agency B: b-syslog
layer1:
  min_rule_level: low
layer4:
  serious_incident_systems: {min_level: 4, classes: [nationally-important]}
  when:
    - {min_rule_level: high, min_system_level: 3}
    - {serious_incident_system: true}
    - {tags: ['attack.impact', 'attack.t1486*'], min_system_level: 2}
    - {rules: ['intel:*'], min_rule_level: critical}
    - {unknown_asset: true, min_rule_level: critical}
    - {owners: ['Agency C'], system_classes: [border]}
)";

AssetSystem system_of(const char* name, const char* owner, int level, std::vector<std::string> classes = {}) {
  AssetSystem s;
  s.name = name;
  s.owner = owner;
  s.level = level;
  s.classes = std::move(classes);
  return s;
}

std::string layers_text(uint8_t layers) {
  std::string out;
  for (int l = 1; l <= 4; ++l)
    if (layers & (1u << (l - 1))) out += (out.empty() ? "L" : ",L") + std::to_string(l);
  return out;
}

TEST(Routing, DecisionsAsATableOfCases) {
  auto routing = Routing::parse("routing.yml", kRouting);
  ASSERT_TRUE(routing.ok()) << routing.error().message();
  const AssetSystem a2 = system_of("a2", "Agency A", 2), a3 = system_of("a3", "Agency A", 3),
                    b4 = system_of("b4", "Agency B", 4),
                    b1_national = system_of("b1", "Agency B", 1, {"Nationally-Important"}),
                    c5 = system_of("c5", "Agency C", 2, {"border"}), d3 = system_of("d3", "Agency D", 3);
  const std::vector<std::string> no_tags, impact{"attack.impact"}, ransom{"attack.t1486.001"};
  struct Case {
    const char* what;
    const char* rule_id;
    const char* level;
    const std::vector<std::string>* tags;
    const AssetSystem* system;
    const char* layers;
    const char* reason_part;  // expected somewhere in the reason
  } cases[] = {
      {"high on level 3: L4", "r1", "high", &no_tags, &a3, "L1,L2,L3,L4",
       "L4: rule level high >= high and system level 3 >= 3 (routing.yml:12)"},
      {"critical on level 3", "r1", "critical", &no_tags, &a3, "L1,L2,L3,L4", "rule level critical >= high"},
      {"medium on level 3: no L4", "r1", "medium", &no_tags, &a3, "L1,L2,L3", "no L4: no condition held"},
      {"high on level 2: no L4", "r1", "high", &no_tags, &a2, "L1,L2,L3", "no L4"},
      {"informational below layer1.min_rule_level", "r1", "informational", &no_tags, &a2, "L2,L3",
       "no L1: rule level informational < low"},
      {"any level on level 4 (serious)", "r1", "low", &no_tags, &b4, "L1,L2,L3,L4",
       "L4: serious-incident system (level 4) (routing.yml:13)"},
      {"any level on a nationally important system", "r1", "informational", &no_tags, &b1_national,
       "L2,L3,L4", "serious-incident system"},
      {"tag attack.impact on level 2", "r1", "low", &impact, &a2, "L1,L2,L3,L4", "tag attack.impact"},
      {"tag glob attack.t1486*", "r1", "low", &ransom, &a2, "L1,L2,L3,L4", "tag attack.t1486.001"},
      {"tag on a level-1 system: L4 through its class", "r1", "low", &impact, &b1_national, "L1,L2,L3,L4",
       "L4: serious-incident system (level 1)"},
      {"critical intel list", "intel:c2", "critical", &no_tags, &a2, "L1,L2,L3,L4", "rule intel:c2"},
      {"high intel list on level 2: no L4", "intel:c2", "high", &no_tags, &a2, "L1,L2,L3", "no L4"},
      {"unknown asset, critical", "r1", "critical", &no_tags, nullptr, "L2,L3,L4", "unknown asset"},
      {"unknown asset, high: neither L1 nor L4", "r1", "high", &no_tags, nullptr, "L2,L3",
       "no L1: unknown asset; L2, L3: always; no L4"},
      {"owner without a sink", "r1", "high", &no_tags, &d3, "L2,L3,L4",
       "no L1: owner 'Agency D' has no sink"},
      {"owner and class", "r1", "low", &no_tags, &c5, "L2,L3,L4", "system class border and owner Agency C"},
      {"L1 names the sink", "r1", "low", &no_tags, &b4, "L1,L2,L3,L4",
       "L1: owner 'Agency B' via sink 'b-syslog'"},
  };
  for (const auto& c : cases) {
    RouteInput in;
    in.rule_id = c.rule_id;
    in.rule_level = c.level;
    in.tags = c.tags;
    in.system = c.system;
    RouteDecision d;
    (*routing)->decide(in, d);
    EXPECT_EQ(layers_text(d.layers), c.layers) << c.what << ": " << d.reason;
    EXPECT_NE(d.reason.find(c.reason_part), std::string::npos) << c.what << ": " << d.reason;
    EXPECT_EQ(d.sink.empty(), !(d.layers & kRouteLayer1)) << c.what;
  }
}

TEST(Routing, DefaultsWithoutAWhenList) {
  auto routing = Routing::parse("routing.yml", "sinks: {}\n");
  ASSERT_TRUE(routing.ok()) << routing.error().message();
  const AssetSystem s3 = system_of("s", "X", 3), s4 = system_of("s", "X", 4), s2 = system_of("s", "X", 2);
  auto route = [&](const char* level, const AssetSystem* s) {
    RouteInput in;
    in.rule_id = "r";
    in.rule_level = level;
    in.system = s;
    RouteDecision d;
    (*routing)->decide(in, d);
    return layers_text(d.layers) + " | " + d.reason;
  };
  EXPECT_EQ(route("high", &s3),
            "L2,L3,L4 | no L1: owner 'X' has no sink; L2, L3: always; L4: rule level high >= "
            "high and system level 3 >= 3 (default)");
  EXPECT_EQ(route("medium", &s3),
            "L2,L3 | no L1: owner 'X' has no sink; L2, L3: always; no L4: no condition held");
  EXPECT_EQ(route("informational", &s4),
            "L2,L3,L4 | no L1: owner 'X' has no sink; L2, L3: always; L4: "
            "serious-incident system (level 4) (default)");
  EXPECT_EQ(route("critical", &s2),
            "L2,L3 | no L1: owner 'X' has no sink; L2, L3: always; no L4: no condition held");
  EXPECT_EQ(route("critical", nullptr),
            "L2,L3 | no L1: unknown asset; L2, L3: always; no L4: no condition held");
  // An explicit empty list: nothing goes to layer 4.
  auto none = Routing::parse("routing.yml", "layer4: {when: []}\n");
  ASSERT_TRUE(none.ok()) << none.error().message();
  RouteInput in;
  in.rule_level = "critical";
  in.system = &s4;
  RouteDecision d;
  (*none)->decide(in, d);
  EXPECT_EQ(layers_text(d.layers), "L2,L3");
}

TEST(Routing, RoutingJson) {
  RouteDecision d;
  d.layers = kRouteLayer1 | kRouteLayer2 | kRouteLayer3 | kRouteLayer4;
  d.reason = "why \"quoted\"";
  std::string out;
  append_routing_json(out, d);
  EXPECT_EQ(out, R"(,"routing":{"layers":["L1","L2","L3","L4"],"reason":"why \"quoted\""})");
  d.layers = kRouteLayer2 | kRouteLayer3;
  out.clear();
  append_routing_json(out, d);
  EXPECT_EQ(out.substr(0, 35), R"(,"routing":{"layers":["L2","L3"],"r)");
}

TEST(Routing, ErrorsNameTheFileAndLine) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"layer4:\n  when:\n    - {min_rule_level: severe}\n",
       "routing.yml:3: 'min_rule_level' must be informational, low, medium, high or critical"},
      {"layer4:\n  when:\n    - {min_system_level: 9}\n",
       "routing.yml:3: 'min_system_level' must be a security level"},
      {"layer4:\n  when:\n    - {colour: red}\n", "routing.yml:3: unknown condition 'colour'"},
      {"layer4:\n  when:\n    - {}\n", "routing.yml:3: an empty condition"},
      {"sinks:\n  s: {email: a@b}\n",
       "routing.yml:2: sink 's' must be {webhook: URL} or {syslog: HOST:PORT}"},
      {"sinks:\n  s: {webhook: 'ftp://x'}\n",
       "routing.yml:2: sink 's': a webhook is an http:// or https:// URL"},
      {"agencies:\n  A: nowhere\n",
       "routing.yml:1: agency 'A' names the sink 'nowhere', which 'sinks' does not define"},
      {"layer2: {}\n", "routing.yml:1: unknown key 'layer2'"},
      {"layer1: {min_rule_level: 3}\n", "routing.yml:1: 'min_rule_level' must be"},
  };
  for (const auto& c : cases) {
    auto r = Routing::parse("routing.yml", c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().message().rfind(c.message, 0), 0u) << "got: " << r.error().message();
  }
}

TEST(Routing, TheShippedExampleLoads) {
  auto r = Routing::load(std::string(SOCD_SOURCE_DIR) + "/config/routing.yml");
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_NE((*r)->sink_of("So Tai chinh"), nullptr);
  EXPECT_EQ(*(*r)->sink_of("So Tai chinh"), "stc-webhook");
}

}  // namespace
}  // namespace socd
