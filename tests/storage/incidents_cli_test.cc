// `socd incidents`, `socd audit verify` end to end against a store: changes made directly when no writer holds
// the store, through the command inbox while a writer (here the test process) holds it and serves the inbox,
// and withdrawn with a clear error when the writer does not take them.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "socd/command_inbox.h"
#include "socd/ledger.h"
#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

constexpr const char* kKey = "cli-test-key-long-enough-to-use";

class IncidentsCli : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    path_ = dir_.file("store");
    key_file_ = dir_.file("audit.key");
    ASSERT_TRUE(write_file(key_file_, std::string(kKey) + "\n"));
    auto store = AlertStore::open(path_);
    ASSERT_TRUE(store.ok()) << store.error().message();
    writer_ = std::move(*store);
    ASSERT_TRUE(writer_->ledger()->configure(IncidentSettings(), kKey).ok());
    std::vector<StoredAlert> alerts;
    for (uint64_t n = 0; n < 3; ++n) {
      StoredAlert a = make_alert(n, kBaseTimeMs + static_cast<int64_t>(n) * 1000, "rule-a", "high");
      a.system = "portal";
      a.system_level = 3;
      alerts.push_back(a);
    }
    StoredAlert low = make_alert(9, kBaseTimeMs, "rule-b", "low");
    low_alert_ = low.id;
    alerts.push_back(low);
    ASSERT_TRUE(writer_->commit(alerts, {}, nullptr).ok());
  }
  void TearDown() override { stop_serving(); }

  void close_writer() { writer_.reset(); }

  // The test process plays the running writer: it serves the command inbox as socd run's main loop does.
  void serve() {
    serving_ = true;
    server_ = std::thread([this] {
      while (serving_) {
        serve_commands(path_, *writer_->ledger());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
  }
  void stop_serving() {
    serving_ = false;
    if (server_.joinable()) server_.join();
  }

  ProcessResult socd(std::vector<std::string> args) {
    args.push_back("--data-dir");
    args.push_back(path_);
    return run_socd(args);
  }

  TempDir dir_;
  std::string path_, key_file_, low_alert_;
  std::unique_ptr<AlertStore> writer_;
  std::atomic<bool> serving_{false};
  std::thread server_;
};

TEST_F(IncidentsCli, ListShowAndChangesWithoutARunningWriter) {
  close_writer();
  ProcessResult list = socd({"incidents", "list"});
  ASSERT_TRUE(list.exited_with(0)) << list.describe() << list.err;
  EXPECT_NE(list.out.find("INC-000001  new"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("notify"), std::string::npos) << list.out;

  ProcessResult ack = socd({"incidents", "ack", "INC-000001", "--by", "lan"});
  ASSERT_TRUE(ack.exited_with(0)) << ack.describe() << ack.err;
  EXPECT_EQ(ack.out, "INC-000001: acknowledged\n");
  EXPECT_EQ(ack.err.find("through the running"), std::string::npos) << ack.err;

  ProcessResult refused = socd({"incidents", "resolve", "INC-000001"});
  EXPECT_TRUE(refused.exited_with(1)) << refused.describe();
  EXPECT_NE(refused.err.find("incident INC-000001 is acknowledged: 'resolve' needs it in_progress (socd incidents "
                             "start INC-000001)"),
            std::string::npos)
      << refused.err;

  EXPECT_TRUE(socd({"incidents", "assign", "INC-000001", "minh", "--by", "lan"}).exited_with(0));
  EXPECT_TRUE(socd({"incidents", "note", "INC-000001", "blocked", "at", "the", "firewall"}).exited_with(0));
  EXPECT_TRUE(socd({"incidents", "new", "--title", "Low but suspicious", low_alert_}).exited_with(0));
  ProcessResult show = socd({"incidents", "show", "INC-000001", "--json"});
  ASSERT_TRUE(show.exited_with(0)) << show.describe() << show.err;
  EXPECT_NE(show.out.find("\"state\":\"acknowledged\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"assignee\":\"minh\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"text\":\"blocked at the firewall\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"system\":\"portal\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("+07:00"), std::string::npos) << show.out;  // times in Asia/Ho_Chi_Minh
  ProcessResult two = socd({"incidents", "show", "INC-000002"});
  ASSERT_TRUE(two.exited_with(0)) << two.describe() << two.err;
  EXPECT_NE(two.out.find("(made by hand)"), std::string::npos) << two.out;
  EXPECT_NE(two.out.find(low_alert_), std::string::npos) << two.out;

  ProcessResult missing = socd({"incidents", "show", "INC-000042"});
  EXPECT_TRUE(missing.exited_with(1));
  EXPECT_NE(missing.err.find("no incident 'INC-000042'"), std::string::npos) << missing.err;
  EXPECT_TRUE(socd({"incidents", "frobnicate", "INC-000001"}).exited_with(2));
  EXPECT_TRUE(socd({"incidents", "ack"}).exited_with(2));

  ProcessResult verify = socd({"audit", "verify", "--key-file", key_file_});
  EXPECT_TRUE(verify.exited_with(0)) << verify.describe() << verify.out << verify.err;
  EXPECT_NE(verify.out.find("verified: OK"), std::string::npos) << verify.out;
}

TEST_F(IncidentsCli, ChangesGoThroughTheRunningWriter) {
  serve();
  ProcessResult ack = socd({"incidents", "ack", "INC-000001", "--by", "lan"});
  ASSERT_TRUE(ack.exited_with(0)) << ack.describe() << ack.err;
  EXPECT_EQ(ack.out, "INC-000001: acknowledged\n");
  EXPECT_NE(ack.err.find("(through the running socd run)"), std::string::npos) << ack.err;
  ProcessResult refused = socd({"incidents", "close", "INC-000001"});
  EXPECT_TRUE(refused.exited_with(1)) << refused.describe();
  EXPECT_NE(refused.err.find("incident INC-000001 is acknowledged: 'close' needs it resolved or false_positive"),
            std::string::npos)
      << refused.err;
  ProcessResult list = socd({"incidents", "list"});  // a reader beside the writer
  ASSERT_TRUE(list.exited_with(0)) << list.describe() << list.err;
  EXPECT_NE(list.out.find("INC-000001  acknowledged"), std::string::npos) << list.out;
  stop_serving();
  auto inc = writer_->ledger()->incident("INC-000001");
  ASSERT_TRUE(inc.ok() && inc->has_value());
  EXPECT_EQ((*inc)->state, IncidentState::Acknowledged);
  ASSERT_FALSE((*inc)->history.empty());
  EXPECT_EQ((*inc)->history.back().actor, "lan");
  // Nothing is left in the inbox.
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path_) / "commands"))
    ADD_FAILURE() << "left in the inbox: " << e.path();
}

TEST_F(IncidentsCli, AWriterThatDoesNotAnswerGetsTheCommandWithdrawn) {
  ProcessResult ack = socd({"incidents", "ack", "INC-000001", "--wait", "1"});
  EXPECT_TRUE(ack.exited_with(1)) << ack.describe();
  EXPECT_NE(ack.err.find("did not take the command within 1 s"), std::string::npos) << ack.err;
  EXPECT_NE(ack.err.find("withdrawn, nothing was changed"), std::string::npos) << ack.err;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(path_) / "commands"))
    ADD_FAILURE() << "left in the inbox: " << e.path();
  auto inc = writer_->ledger()->incident("INC-000001");
  ASSERT_TRUE(inc.ok() && inc->has_value());
  EXPECT_EQ((*inc)->state, IncidentState::New);
}

TEST_F(IncidentsCli, AuditVerifyNamesAnAlteredAlert) {
  close_writer();
  std::string id;
  {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path_, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const auto& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), path_, families, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* alerts = handles[std::find(names.begin(), names.end(), "alerts") - names.begin()];
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), alerts));
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    std::string key = it->key().ToString(), value = it->value().ToString();
    it.reset();
    id = key.substr(8);
    value[value.find("Failed")] = 'f';
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), alerts, key, value).ok());
    for (auto* h : handles) (void)db->DestroyColumnFamilyHandle(h);
    (void)db->Close();
    delete db;
  }
  ProcessResult verify = socd({"audit", "verify", "--key-file", key_file_});
  EXPECT_TRUE(verify.exited_with(1)) << verify.describe() << verify.out << verify.err;
  EXPECT_NE(verify.out.find("verified: FAILED"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("alert " + id + " (chain record "), std::string::npos) << verify.out;
}

}  // namespace
}  // namespace socd::test
