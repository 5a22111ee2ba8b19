// Retention per security level: old alerts of a level-2 system go (a range deletion over neighbours), an alert
// still owed to layer 4 stays, younger alerts and those of a level kept longer stay, the count follows, the chain
// records the retention, and `socd audit verify` passes on the store after it.
#include <gtest/gtest.h>

#include "socd/ledger.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

constexpr const char* kKey = "a-retention-test-key-of-32-bytes";
constexpr int64_t kDay = 86'400'000;

StoredAlert on_system(StoredAlert a, std::string system, int level, uint8_t layers = kLayer2 | kLayer3) {
  a.system = std::move(system);
  a.system_level = level;
  a.layers = layers;
  return a;
}

bool stored(AlertStore& store, const std::string& id) {
  auto a = store.get(id);
  EXPECT_TRUE(a.ok()) << a.error().message();
  return a.ok() && a->has_value();
}

TEST(Retention, OldAlertsOfALevel2SystemGoThoseOwedToLayer4Stay) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("store");
  const int64_t now = kBaseTimeMs + 100 * kDay;
  std::vector<StoredAlert> old_level2, kept;
  for (uint64_t n = 0; n < 4; ++n)
    old_level2.push_back(on_system(make_alert(n, now - 40 * kDay + int64_t(n) * 1000, "rule-a", "low"), "intranet", 2));
  StoredAlert owed = on_system(make_alert(10, now - 40 * kDay + 10'000, "rule-a", "low"), "intranet", 2,
                               kLayer2 | kLayer3 | kLayer4);
  StoredAlert young = on_system(make_alert(11, now - 10 * kDay, "rule-a", "low"), "intranet", 2);
  StoredAlert level4 = on_system(make_alert(12, now - 40 * kDay + 5000, "rule-a", "low"), "treasury", 4);
  StoredAlert ancient_unknown = on_system(make_alert(13, now - 400 * kDay, "rule-a", "low"), "", 0);
  // One more old level-2 alert after the owed one: the run is broken by it, so two deletions are written.
  StoredAlert after_owed = on_system(make_alert(14, now - 40 * kDay + 20'000, "rule-a", "low"), "intranet", 2);
  {
    auto store = AlertStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message();
    Ledger* ledger = (*store)->ledger();
    ledger->set_clock([now] { return now; });
    ASSERT_TRUE(ledger->configure(IncidentSettings(), kKey).ok());
    std::vector<StoredAlert> all = old_level2;
    for (const auto& a : {owed, young, level4, ancient_unknown, after_owed}) all.push_back(a);
    size_t n = 0;
    Status st = (*store)->commit(all, {}, &n);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(n, 9u);

    RetentionOptions ro;
    ro.now_ms = now;
    IncidentSettings defaults;
    std::copy(std::begin(defaults.retention_ms), std::end(defaults.retention_ms), ro.keep_ms);
    EXPECT_EQ(ro.keep_ms[2], 31 * kDay);  // DOMAIN.md: level 2 at least one month
    auto done = (*store)->enforce_retention(ro);
    ASSERT_TRUE(done.ok()) << done.error().message();
    EXPECT_EQ(done->removed, 5u);
    EXPECT_EQ(done->removed_by_level[2], 5u);
    EXPECT_EQ(done->kept_for_layer4, 1u);
    EXPECT_EQ(done->ranges, 1u);  // the four neighbours; the one after the owed alert alone
    for (const auto& a : old_level2) EXPECT_FALSE(stored(**store, a.id)) << a.id;
    EXPECT_FALSE(stored(**store, after_owed.id));
    EXPECT_TRUE(stored(**store, owed.id));
    EXPECT_TRUE(stored(**store, young.id));
    EXPECT_TRUE(stored(**store, level4.id));
    EXPECT_TRUE(stored(**store, ancient_unknown.id));  // unknown level: kept for ever by default
    auto count = (*store)->count();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 4u);

    std::vector<ChainRecord> retention;
    ASSERT_TRUE(ledger->chain(1, [&](const ChainRecord& r) {
      if (r.kind == ChainKind::Retention) retention.push_back(r);
      return true;
    }).ok());
    ASSERT_EQ(retention.size(), 1u);
    EXPECT_EQ(retention[0].subject, "level 2");
    EXPECT_EQ(retention[0].payload, "before " + std::to_string(now - 31 * kDay) +
                                        "\tlevel 2\tremoved 5\tkept_for_layer4 1");
    auto verified = ledger->verify(kKey);
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->ok) << (verified->problems.empty() ? "" : verified->problems.front());

    // A second run has nothing more to remove: the outbox still holds the owed alert. Once the national centre's
    // sink has acknowledged it, it is no longer owed and goes too.
    auto again = (*store)->enforce_retention(ro);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->removed, 0u);
    EXPECT_EQ(again->kept_for_layer4, 1u);
    Outbox* outbox = (*store)->outbox();
    ASSERT_TRUE(outbox);
    ASSERT_TRUE(outbox->set_sinks({"national-centre"}).ok());
    auto owes = outbox->owes(owed.id);
    ASSERT_TRUE(owes.ok()) << owes.error().message();
    EXPECT_TRUE(*owes);
    auto items = outbox->next("national-centre", 10);
    ASSERT_TRUE(items.ok()) << items.error().message();
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ(items->front().alert.id, owed.id);
    ASSERT_TRUE(outbox->acknowledge("national-centre", items->front().seq).ok());
    owes = outbox->owes(owed.id);
    ASSERT_TRUE(owes.ok());
    EXPECT_FALSE(*owes);
    auto forwarded = (*store)->enforce_retention(ro);
    ASSERT_TRUE(forwarded.ok());
    EXPECT_EQ(forwarded->removed, 1u);
    EXPECT_EQ(forwarded->kept_for_layer4, 0u);
    EXPECT_FALSE(stored(**store, owed.id));
  }
  // The untouched chain of the store after retention verifies with the CLI.
  ASSERT_TRUE(write_file(dir.file("key"), kKey));
  ProcessResult cli = run_socd({"audit", "verify", "--data-dir", path, "--key-file", dir.file("key")});
  EXPECT_TRUE(cli.exited_with(0)) << cli.describe() << "\n" << cli.out << cli.err;
  EXPECT_NE(cli.out.find("verified: OK"), std::string::npos) << cli.out;
}

// The outbox, not a flag, says what layer 4 is owed: an alert stays while any configured sink has not
// acknowledged it, while it waits as a dead letter, and while it is queued again by a retry; it goes once the
// last sink acknowledged it. An alert routed to layer 4 that the outbox no longer holds (shed at its quota,
// counted there) is not kept.
TEST(Retention, AnAlertStaysWhileTheOutboxHoldsItForAnySinkOrAsADeadLetter) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const int64_t now = kBaseTimeMs + 100 * kDay;
  const uint8_t to_l4 = kLayer2 | kLayer3 | kLayer4;
  StoredAlert first = on_system(make_alert(1, now - 40 * kDay, "rule-a", "high"), "intranet", 2, to_l4);
  StoredAlert second = on_system(make_alert(2, now - 40 * kDay + 1000, "rule-a", "high"), "intranet", 2, to_l4);
  StoredAlert shed = on_system(make_alert(3, now - 40 * kDay + 2000, "rule-a", "high"), "intranet", 2, to_l4);
  StoredAlert young = on_system(make_alert(4, now - kDay, "rule-a", "high"), "intranet", 2, to_l4);
  auto store = AlertStore::open(dir.file("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  Ledger* ledger = (*store)->ledger();
  ledger->set_clock([now] { return now; });
  ASSERT_TRUE(ledger->configure(IncidentSettings(), kKey).ok());
  Outbox* outbox = (*store)->outbox();
  ASSERT_TRUE(outbox);
  ASSERT_TRUE(outbox->set_sinks({"taxii", "webhook"}).ok());
  size_t n = 0;
  ASSERT_TRUE((*store)->commit({shed}, {}, &n).ok());
  outbox->set_quota(2);  // the next two entries push the first out
  ASSERT_TRUE((*store)->commit({first, second, young}, {}, &n).ok());
  ASSERT_EQ(n, 3u);
  auto state = outbox->state();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->shed, 2u);  // `shed`, then `first` (quota 2, three entries queued in one write)
  outbox->set_quota(0);

  RetentionOptions ro;
  ro.now_ms = now;
  IncidentSettings defaults;
  std::copy(std::begin(defaults.retention_ms), std::end(defaults.retention_ms), ro.keep_ms);
  auto run = [&]() -> RetentionResult {
    auto done = (*store)->enforce_retention(ro);
    EXPECT_TRUE(done.ok()) << done.error().message();
    return done.ok() ? *done : RetentionResult{};
  };
  // The shed ones are gone from the outbox, so nothing keeps them; `second` is queued for both sinks.
  RetentionResult r = run();
  EXPECT_EQ(r.removed, 2u);
  EXPECT_EQ(r.kept_for_layer4, 1u);
  EXPECT_FALSE(stored(**store, shed.id));
  EXPECT_FALSE(stored(**store, first.id));
  ASSERT_TRUE(stored(**store, second.id));

  auto items = outbox->next("taxii", 10);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 2u);  // second, young
  ASSERT_EQ(items->front().alert.id, second.id);
  // One sink has it, the other not yet: still owed.
  ASSERT_TRUE(outbox->acknowledge("taxii", items->front().seq).ok());
  EXPECT_EQ(run().removed, 0u);
  EXPECT_TRUE(stored(**store, second.id));
  // The other sink refuses it for good: a dead letter, still owed.
  ASSERT_TRUE(outbox->dead_letter("webhook", items->front(), "422 unprocessable").ok());
  r = run();
  EXPECT_EQ(r.removed, 0u);
  EXPECT_EQ(r.kept_for_layer4, 1u);
  EXPECT_TRUE(stored(**store, second.id));
  // Queued again for that sink alone, then acknowledged by it: no longer owed, and past its period.
  auto retried = outbox->retry("webhook");
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(*retried, 1u);
  EXPECT_EQ(run().removed, 0u);
  auto again = outbox->next("webhook", 10);
  ASSERT_TRUE(again.ok());
  uint64_t last = 0;
  for (const auto& item : *again) last = std::max(last, item.seq);
  ASSERT_TRUE(outbox->acknowledge("webhook", last).ok());
  // An entry goes once every cursor has passed it (the retried one is the webhook's alone, the other sink skips it).
  ASSERT_TRUE(outbox->acknowledge("taxii", last).ok());
  auto owes = outbox->owes(second.id);
  ASSERT_TRUE(owes.ok());
  EXPECT_FALSE(*owes);
  r = run();
  EXPECT_EQ(r.removed, 1u);
  EXPECT_EQ(r.kept_for_layer4, 0u);
  EXPECT_FALSE(stored(**store, second.id));
  EXPECT_TRUE(stored(**store, young.id));  // within its period, owed or not
  auto verified = ledger->verify(kKey);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << (verified->problems.empty() ? "" : verified->problems.front());
}

}  // namespace
}  // namespace socd::test
