// The `state` family of the alert store: the stateful stage's saved state, written in the same atomic write
// as the alerts and checkpoints it goes with, read back after a reopen.
#include <gtest/gtest.h>

#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

std::unique_ptr<AlertStore> open_store(const std::string& dir, bool read_only = false) {
  StoreOptions options;
  options.read_only = read_only;
  auto store = AlertStore::open(dir, options);
  EXPECT_TRUE(store.ok()) << (store.ok() ? "" : store.error().message());
  return store.ok() ? std::move(*store) : nullptr;
}

std::optional<std::string> state_of(AlertStore& store, const std::string& key) {
  auto v = store.state(key);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message());
  return v.ok() ? *v : std::nullopt;
}

TEST(AlertStoreState, StateGoesWithAlertsAndCheckpointsAndSurvivesAReopen) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string bytes("window\0with a zero byte", 23);
  {
    auto store = open_store(dir.file("store"));
    ASSERT_TRUE(store);
    EXPECT_EQ(state_of(*store, "stateful"), std::nullopt);
    size_t stored = 0;
    ASSERT_TRUE(store
                    ->commit_with_state({make_alert(1, kBaseTimeMs)}, {{"file:a", "offset=10"}},
                                        {{"stateful", bytes}}, &stored)
                    .ok());
    EXPECT_EQ(stored, 1u);
    EXPECT_EQ(state_of(*store, "stateful"), bytes);
    ASSERT_TRUE(store->put_state("other", "x").ok());                            // a state entry on its own
    ASSERT_TRUE(store->commit({make_alert(2, kBaseTimeMs)}, {}, &stored).ok());  // commit leaves state alone
    EXPECT_EQ(state_of(*store, "stateful"), bytes);
  }
  auto store = open_store(dir.file("store"));
  ASSERT_TRUE(store);
  EXPECT_EQ(state_of(*store, "stateful"), bytes);
  EXPECT_EQ(state_of(*store, "other"), "x");
  auto checkpoint = store->checkpoint("file:a");
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(*checkpoint, "offset=10");
  EXPECT_EQ(*store->count(), 2u);

  auto reader = open_store(dir.file("store"), true);
  ASSERT_TRUE(reader);
  EXPECT_EQ(state_of(*reader, "stateful"), bytes);
  EXPECT_FALSE(reader->put_state("stateful", "y").ok());  // only the writer writes
}

}  // namespace
}  // namespace socd::test
