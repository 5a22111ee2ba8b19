// The ledger of a real store: alerts grouped into incidents in the same write, commands, overdue counts, and the
// audit chain, verified untouched and after single records were altered, removed or reordered in RocksDB.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <functional>
#include <map>

#include "socd/ledger.h"
#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

constexpr const char* kKey = "a-test-key-of-more-than-16-bytes";

StoredAlert on_system(StoredAlert a, std::string system, int level) {
  a.system = std::move(system);
  a.system_level = level;
  a.layers = kLayer2 | kLayer3;
  return a;
}

class LedgerTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("store");
    open_writer();
  }

  void open_writer(const std::string& key = kKey) {
    auto store = AlertStore::open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(*store);
    ledger_ = store_->ledger();
    ASSERT_NE(ledger_, nullptr);
    ledger_->set_clock([this] { return now_; });
    IncidentSettings settings;
    settings.seal_every_records = 4;
    Status st = ledger_->configure(settings, key);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  void commit(const std::vector<StoredAlert>& alerts, size_t expect_new) {
    size_t stored = 0;
    Status st = store_->commit(alerts, {}, &stored);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(stored, expect_new);
  }

  std::vector<Incident> incidents() {
    std::vector<Incident> out;
    Status st = ledger_->incidents([&](const Incident& i) {
      out.push_back(i);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  std::vector<std::string> members(const std::string& id) {
    std::vector<std::string> out;
    EXPECT_TRUE(ledger_->incident_alerts(id, [&](const std::string& a) {
      out.push_back(a);
      return true;
    }).ok());
    return out;
  }

  Incident run(IncidentCommand c) {
    if (c.actor.empty()) c.actor = "lan";
    auto r = ledger_->apply(c);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
    return r.ok() ? *r : Incident();
  }

  VerifyReport verify_read_only(const std::string& key = kKey) {
    store_.reset();
    StoreOptions options;
    options.read_only = true;
    auto reader = AlertStore::open(path_, options);
    EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().message());
    if (!reader.ok()) return {};
    auto rep = (*reader)->ledger()->verify(key);
    EXPECT_TRUE(rep.ok()) << (rep.ok() ? "" : rep.error().message());
    return rep.ok() ? *rep : VerifyReport();
  }

  // Fills the store: two incidents by grouping, a third by hand, a few changes.
  void fill() {
    std::vector<StoredAlert> alerts;
    for (uint64_t n = 0; n < 4; ++n)
      alerts.push_back(on_system(make_alert(n, kBaseTimeMs + n * 60'000, "rule-a"), "portal", 4));
    alerts.push_back(on_system(make_alert(10, kBaseTimeMs, "rule-b"), "mail", 3));
    commit(alerts, 5);
    now_ += 1000;
    IncidentCommand ack;
    ack.action = IncidentCommand::Action::Ack;
    ack.incident = "INC-000001";
    run(ack);
    commit({on_system(make_alert(11, kBaseTimeMs + 5000, "rule-b"), "mail", 3)}, 1);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<AlertStore> store_;
  Ledger* ledger_ = nullptr;
  int64_t now_ = kBaseTimeMs + 3'600'000;
};

TEST_F(LedgerTest, AlertsOfOneRuleAndSystemWithinTheWindowFormOneIncident) {
  std::vector<StoredAlert> alerts;
  for (uint64_t n = 0; n < 3; ++n)  // 0, 20, 40 minutes
    alerts.push_back(on_system(make_alert(n, kBaseTimeMs + n * 1'200'000, "rule-a", "high"), "portal", 4));
  alerts.push_back(on_system(make_alert(3, kBaseTimeMs, "rule-a", "critical"), "mail", 3));        // other system
  alerts.push_back(on_system(make_alert(4, kBaseTimeMs, "rule-b", "informational"), "portal", 4)); // below medium
  alerts.push_back(make_alert(5, kBaseTimeMs, "rule-c", "medium", "web01"));                        // unknown asset
  alerts.push_back(make_alert(6, kBaseTimeMs + 1000, "rule-c", "medium", "web01"));
  alerts.push_back(make_alert(7, kBaseTimeMs + 2000, "rule-c", "medium", "db01"));                 // other host
  commit(alerts, 8);

  // Incidents are numbered in the order the write holds the alerts (time, then id).
  auto all = incidents();
  ASSERT_EQ(all.size(), 4u);
  std::map<std::string, Incident> by_group;
  for (const auto& i : all)
    by_group[i.rule_id + "/" + (i.system.empty() ? i.group_key.substr(i.group_key.find("host:")) : i.system)] = i;
  ASSERT_EQ(by_group.size(), 4u);
  const Incident& portal = by_group["rule-a/portal"];
  EXPECT_EQ(portal.alert_count, 3u);
  EXPECT_EQ(portal.system_level, 4);
  EXPECT_EQ(portal.first_alert_ms, kBaseTimeMs);
  EXPECT_EQ(portal.last_alert_ms, kBaseTimeMs + 2'400'000);
  EXPECT_EQ(portal.discovered_ms, now_);
  EXPECT_EQ(portal.title, "Failed logon for an admin account");
  EXPECT_EQ(portal.state, IncidentState::New);
  EXPECT_EQ(portal.level, "high");
  EXPECT_FALSE(portal.serious);  // high on a level-4 system without an impact
  EXPECT_EQ(by_group["rule-a/mail"].alert_count, 1u);
  EXPECT_FALSE(by_group["rule-a/mail"].serious);  // critical, but a level-3 system
  EXPECT_EQ(by_group["rule-c/host:web01"].alert_count, 2u);
  EXPECT_EQ(by_group["rule-c/host:db01"].alert_count, 1u);
  EXPECT_EQ(members(portal.id).size(), 3u);
  auto owner = ledger_->incident_of_alert(alerts[1].id);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->value_or(""), portal.id);
  auto none = ledger_->incident_of_alert(alerts[4].id);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // 40 + 60 minutes later: still within the window of the last alert; 3 hours later: a new incident.
  commit({on_system(make_alert(20, kBaseTimeMs + 6'000'000, "rule-a"), "portal", 4)}, 1);
  commit({on_system(make_alert(21, kBaseTimeMs + 6'000'000 + 3 * 3'600'000, "rule-a"), "portal", 4)}, 1);
  // Stored before: not grouped again.
  commit({alerts[0]}, 0);
  all = incidents();
  ASSERT_EQ(all.size(), 5u);
  auto again = ledger_->incident(portal.id);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->alert_count, 4u);
  EXPECT_EQ(all[4].id, "INC-000005");
  EXPECT_EQ(all[4].alert_count, 1u);
  EXPECT_EQ(all[4].rule_id, "rule-a");
}

TEST_F(LedgerTest, AResolvedIncidentTakesNoNewAlertsAndGroupingSurvivesAReopen) {
  commit({on_system(make_alert(0, kBaseTimeMs, "rule-a", "critical"), "portal", 5)}, 1);
  auto first = incidents();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].serious);  // critical on a level-5 system
  store_.reset();
  open_writer();
  commit({on_system(make_alert(1, kBaseTimeMs + 1000, "rule-a"), "portal", 5)}, 1);
  ASSERT_EQ(incidents().size(), 1u);  // joined the incident from before the reopen
  for (auto action : {IncidentCommand::Action::Ack, IncidentCommand::Action::Start, IncidentCommand::Action::Resolve}) {
    IncidentCommand c;
    c.action = action;
    c.incident = "INC-000001";
    run(c);
  }
  commit({on_system(make_alert(2, kBaseTimeMs + 2000, "rule-a"), "portal", 5)}, 1);
  auto all = incidents();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].state, IncidentState::Resolved);
  EXPECT_EQ(all[0].alert_count, 2u);
  EXPECT_EQ(all[1].id, "INC-000002");
}

TEST_F(LedgerTest, IncidentsByHandAttachAndRefusals) {
  std::vector<StoredAlert> alerts{on_system(make_alert(0, kBaseTimeMs, "rule-a", "low"), "portal", 2),
                                  on_system(make_alert(1, kBaseTimeMs + 5, "rule-b", "low"), "portal", 2),
                                  on_system(make_alert(2, kBaseTimeMs + 9, "rule-b", "high"), "portal", 2)};
  commit(alerts, 3);
  ASSERT_EQ(incidents().size(), 1u);  // only the high alert; low ones stay alerts
  IncidentCommand c;
  c.action = IncidentCommand::Action::New;
  c.text = "Phishing campaign against the portal";
  c.alerts = {alerts[0].id};
  Incident made = run(c);
  EXPECT_EQ(made.id, "INC-000002");
  EXPECT_TRUE(made.manual);
  EXPECT_EQ(made.rule_id, "rule-a");
  auto first_alert = store_->get(alerts[0].id);  // the system as the store keeps it on the alert
  ASSERT_TRUE(first_alert.ok() && first_alert->has_value());
  EXPECT_EQ(made.system, (*first_alert)->system);
  EXPECT_EQ(made.alert_count, 1u);

  c = IncidentCommand();
  c.action = IncidentCommand::Action::Attach;
  c.incident = "INC-000002";
  c.alerts = {alerts[1].id};
  EXPECT_EQ(run(c).alert_count, 2u);
  c.alerts = {alerts[2].id};  // grouped into INC-000001
  auto refused = ledger_->apply(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message(), "alert " + alerts[2].id + " is in incident INC-000001 already");
  c.alerts = {"no-such-alert"};
  refused = ledger_->apply(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("no alert 'no-such-alert'"), std::string::npos);
  c = IncidentCommand();
  c.action = IncidentCommand::Action::Resolve;
  c.incident = "INC-000002";
  refused = ledger_->apply(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("incident INC-000002 is new: 'resolve' needs it in_progress"),
            std::string::npos)
      << refused.error().message();
  c.incident = "INC-000099";
  refused = ledger_->apply(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("no incident 'INC-000099'"), std::string::npos);
  auto stored = ledger_->incident("INC-000002");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->alert_count, 2u);  // the refused commands changed nothing
  EXPECT_EQ((*stored)->state, IncidentState::New);
}

TEST_F(LedgerTest, OverdueDeadlinesAreCountedForMetrics) {
  commit({on_system(make_alert(0, kBaseTimeMs, "rule-a"), "portal", 3)}, 1);
  commit({on_system(make_alert(1, kBaseTimeMs, "rule-z", "critical"), "core", 5)}, 1);  // serious: 24 h
  EXPECT_EQ(ledger_->overdue(now_ + 3'600'000)["notify"], 0u);
  EXPECT_EQ(ledger_->overdue(now_ + 25 * 3'600'000LL)["notify"], 1u);
  EXPECT_EQ(ledger_->overdue(now_ + 7 * 86'400'000LL)["notify"], 2u);
  EXPECT_EQ(ledger_->overdue(now_ + 7 * 86'400'000LL)["report"], 1u);
  IncidentCommand c;
  c.action = IncidentCommand::Action::Notified;
  c.incident = "INC-000002";
  run(c);
  EXPECT_EQ(ledger_->overdue(now_ + 7 * 86'400'000LL)["notify"], 1u);
}

TEST_F(LedgerTest, TheChainHoldsEveryAlertAndIncidentChangeAndAnUntouchedStoreVerifies) {
  fill();
  uint64_t alerts = 0, incident_changes = 0, seals = 0, settings = 0, last = 0;
  Status st = ledger_->chain(1, [&](const ChainRecord& r) {
    EXPECT_EQ(r.seq, last + 1);
    last = r.seq;
    alerts += r.kind == ChainKind::Alert;
    incident_changes += r.kind == ChainKind::Incident;
    seals += r.kind == ChainKind::Seal;
    settings += r.kind == ChainKind::Settings;
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(alerts, 6u);
  EXPECT_EQ(incident_changes, 4u);  // two incidents made, one ack, one alert joined
  EXPECT_EQ(settings, 1u);
  EXPECT_EQ(seals, 1u);  // after 4 records or more, at the end of a write; the writer seals again on close
  VerifyReport rep = verify_read_only();
  EXPECT_TRUE(rep.ok) << (rep.problems.empty() ? "" : rep.problems[0]);
  EXPECT_EQ(rep.alerts, 6u);
  EXPECT_EQ(rep.alerts_in_store, 6u);
  EXPECT_EQ(rep.incidents_in_store, 2u);
  EXPECT_EQ(rep.seals_checked, rep.seals);
  EXPECT_EQ(rep.last_seal_seq, rep.records);  // closing the writer sealed the head
}

// Raw access to the store's RocksDB, as someone tampering with it would have.
class RawStore {
public:
  explicit RawStore(const std::string& dir) {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, families, &handles_, &db);
    EXPECT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
    for (size_t i = 0; i < names.size() && i < handles_.size(); ++i) cf_[names[i]] = handles_[i];
  }
  ~RawStore() {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
  }
  std::string get(const std::string& family, const std::string& key) {
    std::string v;
    EXPECT_TRUE(db_->Get(rocksdb::ReadOptions(), cf_.at(family), key, &v).ok()) << family;
    return v;
  }
  void put(const std::string& family, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put(rocksdb::WriteOptions(), cf_.at(family), key, value).ok());
  }
  void remove(const std::string& family, const std::string& key) {
    ASSERT_TRUE(db_->Delete(rocksdb::WriteOptions(), cf_.at(family), key).ok());
  }
  std::vector<std::pair<std::string, std::string>> all(const std::string& family) {
    std::vector<std::pair<std::string, std::string>> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.at(family)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key().ToString(), it->value().ToString());
    return out;
  }

private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> cf_;
};

std::string seq(uint64_t n) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[7 - i] = static_cast<char>(n >> (8 * i));
  return k;
}

class TamperTest : public LedgerTest {
protected:
  void SetUp() override {
    LedgerTest::SetUp();
    fill();
    store_.reset();
  }
  // Verifies and expects a failure whose first problem contains `part`.
  void expect_first_problem(const std::string& part, const std::string& key = kKey) {
    VerifyReport rep = verify_read_only(key);
    EXPECT_FALSE(rep.ok);
    ASSERT_FALSE(rep.problems.empty());
    EXPECT_NE(rep.problems[0].find(part), std::string::npos) << "first problem: " << rep.problems[0];
  }
};

TEST_F(TamperTest, AlteredChainRecordIsNamed) {
  {
    RawStore raw(path_);
    std::string v = raw.get("chain", seq(3));
    v[v.size() - 40] ^= 1;  // a byte of the previous hash field
    raw.put("chain", seq(3), v);
  }
  expect_first_problem("record 3 (");
}

TEST_F(TamperTest, AChainRecordRewrittenWithAFreshHashIsCaughtByTheNextRecord) {
  {
    RawStore raw(path_);
    std::string v = raw.get("chain", seq(3));
    // Change the time field and recompute the record's own hash, as a careful forger would.
    v[12] ^= 1;
    std::string body = v.substr(0, v.size() - 32);
    std::string hash;
    for (size_t i = 0; i < 64; i += 2) hash += static_cast<char>(std::stoi(sha256_hex(body).substr(i, 2), nullptr, 16));
    raw.put("chain", seq(3), body + hash);
  }
  expect_first_problem("record 3 altered or replaced: record 4 does not carry its hash");
}

TEST_F(TamperTest, RemovedChainRecordIsNamed) {
  {
    RawStore raw(path_);
    raw.remove("chain", seq(5));
  }
  expect_first_problem("record 5 removed: the chain jumps from record 4 to 6");
}

TEST_F(TamperTest, ReorderedChainRecordsAreNamed) {
  {
    RawStore raw(path_);
    std::string a = raw.get("chain", seq(4)), b = raw.get("chain", seq(5));
    raw.put("chain", seq(4), b);
    raw.put("chain", seq(5), a);
  }
  expect_first_problem("record 4 holds record 5: records were reordered");
}

TEST_F(TamperTest, AlteredAlertIsNamedWithItsChainRecord) {
  std::string id;
  {
    RawStore raw(path_);
    auto alerts = raw.all("alerts");
    ASSERT_EQ(alerts.size(), 6u);
    auto [key, value] = alerts[2];
    id = key.substr(8);
    std::string changed = value;
    changed.replace(changed.find("web01"), 5, "web02");
    raw.put("alerts", key, changed);
  }
  expect_first_problem("alert " + id + " (chain record ");
  VerifyReport rep = verify_read_only();
  ASSERT_FALSE(rep.problems.empty());
  EXPECT_NE(rep.problems[0].find(") altered: the stored alert does not match its chain record"), std::string::npos);
}

TEST_F(TamperTest, RemovedAlertIsNamed) {
  std::string id;
  {
    RawStore raw(path_);
    auto alerts = raw.all("alerts");
    id = alerts[0].first.substr(8);
    raw.remove("alerts", alerts[0].first);
    raw.remove("alert_ids", id);
  }
  expect_first_problem("alert " + id);
  VerifyReport rep = verify_read_only();
  ASSERT_FALSE(rep.problems.empty());
  EXPECT_NE(rep.problems[0].find("removed from the store"), std::string::npos) << rep.problems[0];
}

TEST_F(TamperTest, SwappedAlertsAreNamed) {
  {
    RawStore raw(path_);
    auto alerts = raw.all("alerts");
    raw.put("alerts", alerts[0].first, alerts[1].second);
    raw.put("alerts", alerts[1].first, alerts[0].second);
  }
  VerifyReport rep = verify_read_only();
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.problems.size(), 2u);
}

TEST_F(TamperTest, AlteredIncidentIsNamed) {
  {
    RawStore raw(path_);
    std::string v = raw.get("incidents", "INC-000001");
    v.replace(v.find("state\tacknowledged"), 18, "state\tin_progress");
    raw.put("incidents", "INC-000001", v);
  }
  expect_first_problem("incident INC-000001 (last changed by chain record ");
}

TEST_F(TamperTest, RemovingTheLastRecordLeavesItsAlertOutsideTheChain) {
  {
    RawStore raw(path_);
    auto chain = raw.all("chain");
    // Drop the records from the last alert record on (its incident change, the seal after it).
    size_t last_alert = 0;
    for (size_t i = 0; i < chain.size(); ++i)
      if (chain[i].second[1] == 1) last_alert = i;
    for (size_t i = last_alert; i < chain.size(); ++i) raw.remove("chain", chain[i].first);
  }
  VerifyReport rep = verify_read_only();
  EXPECT_FALSE(rep.ok);
  bool named = false;
  for (const auto& p : rep.problems)
    named = named || p.find("is in the store but not in the chain") != std::string::npos;
  EXPECT_TRUE(named) << (rep.problems.empty() ? "no problem" : rep.problems[0]);
}

// Rewrites record `from` with `change` and re-hashes it and every record after it, as a forger who knows the
// format but not the key would: the chain is consistent again, only the seals betray it.
void rewrite_chain(RawStore& raw, uint64_t from, const std::function<void(std::string&)>& change) {
  auto chain = raw.all("chain");
  auto bytes = [](const std::string& hex) {
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
  };
  std::string prev;
  for (auto& [key, value] : chain) {
    uint64_t n = 0;
    for (char c : key) n = (n << 8) | static_cast<unsigned char>(c);
    if (n < from) {
      prev = value.substr(value.size() - 32);
      continue;
    }
    std::string body = value.substr(0, value.size() - 32);
    if (n == from) change(body);
    body.replace(body.size() - 32, 32, prev);
    prev = bytes(sha256_hex(body));
    raw.put("chain", key, body + prev);
  }
}

TEST_F(TamperTest, ARechainedForgeryFailsAtTheFirstSealAfterIt) {
  {
    RawStore raw(path_);
    rewrite_chain(raw, 3, [](std::string& body) { body[12] ^= 1; });  // record 3's time
  }
  expect_first_problem("seal at record 9 does not match the key: the chain before it was rewritten");
  VerifyReport without_key = verify_read_only("");
  EXPECT_TRUE(without_key.ok);  // without the key the rewritten chain is consistent: only seals catch it
  ASSERT_FALSE(without_key.warnings.empty());
  EXPECT_NE(without_key.warnings.back().find("not checked: no key given"), std::string::npos);
}

TEST_F(TamperTest, SealsOfAnotherKeyAreReportedNotChecked) {
  VerifyReport rep = verify_read_only("another-key-that-is-long-enough");
  EXPECT_TRUE(rep.ok);
  EXPECT_EQ(rep.seals_checked, 0u);
  ASSERT_FALSE(rep.warnings.empty());
  EXPECT_NE(rep.warnings[0].find("made with another key"), std::string::npos) << rep.warnings[0];
}

}  // namespace
}  // namespace socd::test
