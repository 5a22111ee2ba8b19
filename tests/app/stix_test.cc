// STIX 2.1 mapping of alerts: deterministic ids (UUIDv5) and times, the objects and references TAXII needs.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <set>

#include "stix.h"
#include "storage/store_test_support.h"

namespace socd {
namespace {

TEST(Stix, Uuid5FollowsRfc4122AndStixObservableIds) {
  // ipv4-addr 10.0.0.7: the id STIX 2.1 gives it (UUIDv5 of {"value":"10.0.0.7"} in the STIX namespace).
  EXPECT_EQ(stix::uuid5(stix::kStixObservableNamespace, "{\"value\":\"10.0.0.7\"}"),
            "fa32103b-4f54-55f5-9649-a135ed962131");
  // RFC 4122 appendix namespace DNS, name www.example.com.
  EXPECT_EQ(stix::uuid5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
}

TEST(Stix, AnAlertMapsToTheSameObjectsEveryTime) {
  StoredAlert a = test::make_alert(7, test::kBaseTimeMs + 1234);
  a.json.replace(a.json.find("\"event\":{"), 9, "\"event\":{\"IpAddress\":\"10.0.0.7\",\"CommandLine\":\"a 'b'\",");
  std::vector<std::string> first, second;
  stix::alert_objects(a, "SOC", first);
  stix::alert_objects(a, "SOC", second);
  EXPECT_EQ(first, second);
  std::set<std::string> types;
  simdjson::dom::parser parser;
  std::string indicator_id, sighting_json;
  for (const auto& o : first) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(o).get(doc), simdjson::SUCCESS) << o;
    std::string type(doc["type"].get_string().value());
    types.insert(type);
    EXPECT_EQ(std::string(doc["spec_version"].get_string().value()), "2.1");
    std::string id(doc["id"].get_string().value());
    EXPECT_EQ(id.rfind(type + "--", 0), 0u) << id;
    if (type == "indicator" || type == "sighting" || type == "observed-data") {
      EXPECT_EQ(std::string(doc["created"].get_string().value()), "2024-05-01T10:00:01.234Z");
      EXPECT_EQ(std::string(doc["modified"].get_string().value()), "2024-05-01T10:00:01.234Z");
    }
    if (type == "indicator") {
      indicator_id = id;
      EXPECT_EQ(std::string(doc["pattern"].get_string().value()), "[ipv4-addr:value = '10.0.0.7']");
    }
    if (type == "sighting") sighting_json = o;
  }
  EXPECT_EQ(types, (std::set<std::string>{"identity", "indicator", "sighting", "observed-data", "ipv4-addr",
                                          "process"}));
  EXPECT_NE(sighting_json.find("\"sighting_of_ref\":\"" + indicator_id + "\""), std::string::npos);
  // Another alert: other ids, the same identity.
  std::vector<std::string> other;
  stix::alert_objects(test::make_alert(8, test::kBaseTimeMs), "SOC", other);
  EXPECT_EQ(other.front(), first.front());
  EXPECT_NE(other.back(), first.back());
}

}  // namespace
}  // namespace socd
