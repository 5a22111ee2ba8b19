// The layer-4 outbox: alerts routed to L4 are queued in the write that stores them; per-sink cursors; entries
// removed once every sink has acknowledged them; dead letters and their retry; the quota sheds the oldest, counted.
#include <gtest/gtest.h>

#include <filesystem>

#include "socd/outbox.h"
#include "storage/store_test_support.h"

namespace socd {
namespace {

namespace fs = std::filesystem;

class OutboxTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("socd-outbox-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    open();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void open() {
    store_.reset();
    auto s = AlertStore::open(dir_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    ASSERT_NE(store_->outbox(), nullptr);
  }
  // Alerts 0..n-1 of which those with an even number are routed to L4.
  std::vector<StoredAlert> alerts(uint64_t first, uint64_t n) {
    std::vector<StoredAlert> out;
    for (uint64_t i = first; i < first + n; ++i) {
      StoredAlert a = test::make_alert(i, test::kBaseTimeMs + static_cast<int64_t>(i) * 1000);
      a.layers = kLayer2 | kLayer3 | (i % 2 == 0 ? kLayer4 : 0);
      out.push_back(std::move(a));
    }
    return out;
  }
  std::string dir_;
  std::unique_ptr<AlertStore> store_;
};

TEST_F(OutboxTest, QueuesOnlyLayer4AlertsInTheirStoreWriteAndOnlyOnce) {
  auto batch = alerts(0, 10);
  ASSERT_TRUE(store_->commit(batch, {}, nullptr).ok());
  ASSERT_TRUE(store_->commit(batch, {}, nullptr).ok());  // already stored: not queued again
  Outbox& outbox = *store_->outbox();
  auto items = outbox.next("taxii", 100);
  ASSERT_TRUE(items) << items.error().message();
  ASSERT_EQ(items->size(), 5u);
  for (size_t i = 0; i < items->size(); ++i) {
    EXPECT_EQ((*items)[i].seq, i + 1);
    EXPECT_EQ((*items)[i].alert.id, batch[2 * i].id);
    EXPECT_EQ((*items)[i].alert.json, batch[2 * i].json);
  }
  auto st = outbox.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->entries, 5u);
}

TEST_F(OutboxTest, RemovesAnEntryOnlyWhenEverySinkAcknowledgedItAndSurvivesReopen) {
  ASSERT_TRUE(store_->commit(alerts(0, 8), {}, nullptr).ok());  // 4 entries
  Outbox* outbox = store_->outbox();
  ASSERT_TRUE(outbox->set_sinks({"a", "b"}).ok());
  ASSERT_TRUE(outbox->acknowledge("a", 3).ok());
  auto st = outbox->state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->entries, 4u);  // b has acknowledged nothing
  EXPECT_EQ(outbox->next("a", 10)->size(), 1u);
  EXPECT_EQ(outbox->next("b", 10)->size(), 4u);
  ASSERT_TRUE(outbox->acknowledge("b", 2).ok());
  EXPECT_EQ(outbox->state()->entries, 2u);

  open();  // the cursors and the floor are durable
  outbox = store_->outbox();
  ASSERT_TRUE(outbox->set_sinks({"a", "b"}).ok());
  EXPECT_EQ(outbox->next("a", 10)->front().seq, 4u);
  EXPECT_EQ(outbox->next("b", 10)->front().seq, 3u);
  ASSERT_TRUE(store_->commit(alerts(100, 2), {}, nullptr).ok());  // one more entry: seq 5
  EXPECT_EQ(outbox->next("b", 10)->back().seq, 5u);
  ASSERT_TRUE(outbox->acknowledge("a", 5).ok());
  ASSERT_TRUE(outbox->acknowledge("b", 5).ok());
  st = outbox->state();
  EXPECT_EQ(st->entries, 0u);
  EXPECT_TRUE(outbox->next("a", 10)->empty());
}

TEST_F(OutboxTest, DeadLettersKeepTheReasonAndRetryQueuesThemForTheirSinkAlone) {
  ASSERT_TRUE(store_->commit(alerts(0, 4), {}, nullptr).ok());  // seq 1, 2
  Outbox* outbox = store_->outbox();
  ASSERT_TRUE(outbox->set_sinks({"a", "b"}).ok());
  auto items = outbox->next("a", 10);
  ASSERT_TRUE(outbox->dead_letter("a", (*items)[0], "HTTP 422: bad object").ok());
  auto letters = outbox->dead_letters("", 0);
  ASSERT_TRUE(letters);
  ASSERT_EQ(letters->size(), 1u);
  EXPECT_EQ((*letters)[0].sink, "a");
  EXPECT_EQ((*letters)[0].reason, "HTTP 422: bad object");
  EXPECT_EQ((*letters)[0].alert.id, (*items)[0].alert.id);
  EXPECT_EQ(outbox->next("a", 10)->front().seq, 2u);  // the cursor moved past it
  EXPECT_EQ(outbox->state()->sinks[0].dead_letters, 1u);

  auto retried = outbox->retry("a");
  ASSERT_TRUE(retried);
  EXPECT_EQ(*retried, 1u);
  EXPECT_TRUE(outbox->dead_letters("", 0)->empty());
  auto for_a = outbox->next("a", 10);
  ASSERT_EQ(for_a->size(), 2u);
  EXPECT_EQ(for_a->back().only_sink, "a");
  EXPECT_EQ(for_a->back().alert.id, (*items)[0].alert.id);
  auto for_b = outbox->next("b", 10);
  EXPECT_EQ(for_b->back().only_sink, "a");  // b is shown it, to skip and acknowledge
}

TEST_F(OutboxTest, AtTheQuotaTheOldestEntriesAreShedAndCounted) {
  Outbox* outbox = store_->outbox();
  outbox->set_quota(3);
  ASSERT_TRUE(store_->commit(alerts(0, 10), {}, nullptr).ok());  // 5 entries
  auto st = outbox->state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->entries, 3u);
  EXPECT_EQ(st->shed, 2u);
  auto items = outbox->next("a", 10);
  ASSERT_EQ(items->size(), 3u);
  EXPECT_EQ(items->front().seq, 3u);
  open();
  EXPECT_EQ(store_->outbox()->state()->shed, 2u);
}

}  // namespace
}  // namespace socd
