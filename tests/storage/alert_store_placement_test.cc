// The system, security level and layers of a stored alert (asset inventory and routing) come back from get()
// and list(), also from a reader; records written before these fields existed (value version 1) still read.
#include <gtest/gtest.h>

#include "../../storage/src/store_layout.h"
#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

StoredAlert placed(uint64_t n, const std::string& system, int level, uint8_t layers) {
  StoredAlert a = make_alert(n, kBaseTimeMs + static_cast<int64_t>(n) * 1000);
  a.system = system;
  a.system_level = level;
  a.layers = layers;
  return a;
}

TEST(AlertStorePlacement, SystemLevelAndLayersComeBackFromGetAndList) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("store");
  std::vector<StoredAlert> alerts = {placed(1, "cong-thong-tin", 3, kLayer1 | kLayer2 | kLayer3 | kLayer4),
                                     placed(2, "", 0, kLayer2 | kLayer3),  // an unknown asset
                                     placed(3, "xac-thuc-tap-trung", 5, kLayer2 | kLayer3 | kLayer4),
                                     placed(4, "", 0, 0)};  // neither inventory nor routing
  {
    auto store = AlertStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message();
    size_t stored = 0;
    ASSERT_TRUE((*store)->commit(alerts, {}, &stored).ok());
    EXPECT_EQ(stored, 4u);
    for (const auto& a : alerts) {
      auto got = (*store)->get(a.id);
      ASSERT_TRUE(got.ok() && got->has_value());
      EXPECT_EQ((*got)->system, a.system);
      EXPECT_EQ((*got)->system_level, a.system_level);
      EXPECT_EQ((*got)->layers, a.layers);
      EXPECT_EQ((*got)->json, a.json);
    }
  }
  StoreOptions ro;
  ro.read_only = true;
  auto reader = AlertStore::open(path, ro);
  ASSERT_TRUE(reader.ok()) << reader.error().message();
  std::vector<StoredAlert> listed;
  ASSERT_TRUE((*reader)
                  ->list({},
                         [&](const StoredAlert& a) {
                           listed.push_back(a);
                           return true;
                         })
                  .ok());
  ASSERT_EQ(listed.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(listed[i].id, alerts[i].id);
    EXPECT_EQ(listed[i].system, alerts[i].system);
    EXPECT_EQ(listed[i].system_level, alerts[i].system_level);
    EXPECT_EQ(int(listed[i].layers), int(alerts[i].layers));
  }
}

TEST(AlertStorePlacement, VersionOneValuesStillDecodeAndDamagedOnesAreRefused) {
  StoredAlert a = make_alert(7, kBaseTimeMs);
  // A value as version 1 wrote it: the version byte, then rule_id, level, host, json.
  std::string v1(1, '\x01');
  for (const std::string* f : {&a.rule_id, &a.level, &a.host, &a.json}) store::put_field(v1, *f);
  store::AlertView view;
  ASSERT_TRUE(store::decode_alert(v1, view));
  EXPECT_EQ(view.rule_id, a.rule_id);
  EXPECT_EQ(view.json, a.json);
  EXPECT_EQ(view.system, "");
  EXPECT_EQ(view.system_level, 0);
  EXPECT_EQ(view.layers, 0);

  a.system = "portal";
  a.system_level = 4;
  a.layers = kLayer2 | kLayer3 | kLayer4;
  std::string v2;
  store::encode_alert(a, v2);
  ASSERT_TRUE(store::decode_alert(v2, view));
  EXPECT_EQ(view.system, "portal");
  EXPECT_EQ(view.system_level, 4);
  EXPECT_EQ(view.layers, kLayer2 | kLayer3 | kLayer4);
  // Truncated, extended, of an unknown version: refused.
  EXPECT_FALSE(store::decode_alert(std::string_view(v2).substr(0, v2.size() - 1), view));
  EXPECT_FALSE(store::decode_alert(v2 + "x", view));
  std::string v9 = v2;
  v9[0] = '\x09';
  EXPECT_FALSE(store::decode_alert(v9, view));
}

}  // namespace
}  // namespace socd::test
