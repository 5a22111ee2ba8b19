// The stateful stage in the service's pipeline: correlation alerts stored beside the others, the same results
// with one worker or several, and a brute-force window half filled before a restart completed after it (the
// state saved in the store with the checkpoints, restored at start).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "pipeline.h"
#include "socd/json_parser.h"
#include "socd/rule_loader.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Failed logon
id: 7d1c0000-0000-4000-8000-000000000001
name: failed_logon
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
---
title: Logon brute force
id: 7d1c0000-0000-4000-8000-0000000000c1
correlation:
    type: event_count
    rules: [failed_logon]
    group-by: [TargetUserName]
    timespan: 10m
    condition:
        gte: 4
level: high
)";

std::string failed_logon(int minute, const std::string& user) {
  char t[8];
  std::snprintf(t, sizeof t, "%02d", minute);
  return std::string(
             R"({"Channel":"Security","EventID":4625,"Hostname":"dc01","TimeCreated":"2026-03-11T10:)") +
         t + R"(:00Z","TargetUserName":")" + user + "\"}";
}

class PipelineStateful : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_TRUE(write_file(dir_.file("rules.yml"), kRules));
    auto mapping = parse_field_mapping("mappings", "time_fields: [TimeCreated]\nhost_fields: [Hostname]\n");
    ASSERT_TRUE(mapping.ok()) << mapping.error().message();
    LoadedRules loaded = load_rules({dir_.file("rules.yml")}, *mapping, {});
    ASSERT_EQ(loaded.skipped, 0u);
    ASSERT_EQ(loaded.correlations, 1u);
    rules_ = loaded.set;
    stateful_ = loaded.stateful;
  }

  // Runs a pipeline over `lines` (one batch per `per_batch` lines, checkpoint "file:auth" = the last line
  // number) on the store under the test directory, then stops it.
  void run(const std::vector<std::string>& lines, uint64_t first_line, unsigned workers = 1,
           size_t per_batch = 1) {
    auto store = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(store.ok()) << store.error().message();
    PipelineOptions options;
    options.workers = workers;
    Pipeline pipeline(**store, rules_, options, stateful_);
    pipeline.start();
    for (size_t i = 0; i < lines.size(); i += per_batch) {
      auto batch = std::make_unique<SourceBatch>();
      batch->origin = "auth.jsonl";
      batch->stream = "stream-1";
      uint64_t number = first_line + i;
      for (size_t k = i; k < lines.size() && k < i + per_batch; ++k, ++number)
        batch->lines.add(lines[k], number, number * 100);
      batch->lines.finish(JsonEventParser::padding());
      batch->checkpoint_key = "file:auth";
      batch->checkpoint_value = std::to_string(number - 1);
      ASSERT_TRUE(pipeline.push(std::move(batch), true));
    }
    pipeline.drain();
    counters_ = pipeline.stage_counters();
  }

  // rule id -> alerts stored; and the correlation alerts' JSON.
  std::map<std::string, int> stored(std::vector<std::string>* correlations = nullptr) {
    StoreOptions ro;
    ro.read_only = true;
    auto store = AlertStore::open(dir_.file("store"), ro);
    EXPECT_TRUE(store.ok());
    std::map<std::string, int> by_rule;
    if (!store.ok()) return by_rule;
    Status st = (*store)->list({}, [&](const StoredAlert& a) {
      ++by_rule[a.rule_id];
      if (correlations && a.json.find("\"correlation\"") != std::string::npos)
        correlations->push_back(a.json);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return by_rule;
  }

  std::optional<std::string> saved(const std::string& what) {
    StoreOptions ro;
    ro.read_only = true;
    auto store = AlertStore::open(dir_.file("store"), ro);
    if (!store.ok()) return std::nullopt;
    auto v = what == "state" ? (*store)->state("stateful") : (*store)->checkpoint("file:auth");
    return v.ok() ? *v : std::nullopt;
  }

  TempDir dir_;
  std::shared_ptr<const RuleSet> rules_;
  std::shared_ptr<const StatefulRules> stateful_;
  StageCounters counters_;
};

const std::string kCorrelation = "7d1c0000-0000-4000-8000-0000000000c1";

TEST_F(PipelineStateful, AWindowHalfFilledBeforeARestartCompletesAfterIt) {
  run({failed_logon(0, "root"), failed_logon(1, "root"), failed_logon(1, "guest")}, 1);
  EXPECT_EQ(stored(), (std::map<std::string, int>{}));  // the failed logons only feed the correlation
  EXPECT_EQ(counters_.consumed, 3u);
  ASSERT_TRUE(saved("state").has_value());  // saved at the stop, with the checkpoint
  EXPECT_EQ(saved("checkpoint"), "3");

  run({failed_logon(2, "root"), failed_logon(3, "guest"), failed_logon(4, "root")}, 4);  // a new process
  EXPECT_EQ(counters_.restored_groups, 2u);
  std::vector<std::string> correlations;
  EXPECT_EQ(stored(&correlations), (std::map<std::string, int>{{kCorrelation, 1}}));
  ASSERT_EQ(correlations.size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element alert = parser.parse(correlations[0]);
  EXPECT_EQ(std::string_view(alert["correlation"]["group"]["TargetUserName"]), "root");
  EXPECT_EQ(int64_t(alert["correlation"]["count"]), 4);
  EXPECT_EQ(std::string_view(alert["correlation"]["first"]), "2026-03-11T10:00:00.000Z");
  EXPECT_EQ(int64_t(alert["source"]["line"]), 6);
  EXPECT_EQ(alert["correlation"]["alerts"].get_array().value().size(),
            4u);  // two of them from before the restart
  EXPECT_EQ(saved("checkpoint"), "6");
}

TEST_F(PipelineStateful, WithoutTheSavedStateTheSecondHalfAloneDoesNotFire) {
  run({failed_logon(2, "root"), failed_logon(3, "guest"), failed_logon(4, "root")}, 4);
  EXPECT_EQ(stored(), (std::map<std::string, int>{}));
}

TEST_F(PipelineStateful, AReloadKeepsTheWindowsOfUnchangedCorrelations) {
  auto store = AlertStore::open(dir_.file("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  Pipeline pipeline(**store, rules_, PipelineOptions{}, stateful_);
  pipeline.start();
  auto push = [&](uint64_t line, const std::string& text) {
    auto batch = std::make_unique<SourceBatch>();
    batch->origin = "auth.jsonl";
    batch->stream = "stream-1";
    batch->lines.add(text, line, line * 100);
    batch->lines.finish(JsonEventParser::padding());
    ASSERT_TRUE(pipeline.push(std::move(batch), true));
  };
  push(1, failed_logon(0, "root"));
  push(2, failed_logon(1, "root"));
  push(3, failed_logon(2, "root"));
  for (int i = 0; i < 500 && pipeline.batches_stored() < 3; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(pipeline.batches_stored(), 3u);
  SetUp();  // the same rules loaded again, as SIGHUP does
  pipeline.swap_rules(rules_, stateful_);
  push(4, failed_logon(3, "root"));
  pipeline.drain();
  counters_ = pipeline.stage_counters();
  store->reset();
  EXPECT_EQ(stored(), (std::map<std::string, int>{{kCorrelation, 1}}));
  EXPECT_EQ(counters_.restored_groups, 1u);  // root's window, taken over by the new rule set's stage
  EXPECT_EQ(counters_.restore_dropped, 0u);
}

TEST_F(PipelineStateful, SeveralWorkersGiveTheSameAlerts) {
  std::vector<std::string> lines;
  const std::vector<std::string> users = {"u0", "u1", "u2", "u3", "u4", "u5", "u6"};
  for (int i = 0; i < 400; ++i) lines.push_back(failed_logon(i % 60, users[i % 7]));
  run(lines, 1, 1, 7);
  std::vector<std::string> one;
  auto by_rule_one = stored(&one);
  std::filesystem::remove_all(dir_.file("store"));
  run(lines, 1, 4, 7);
  std::vector<std::string> four;
  EXPECT_EQ(stored(&four), by_rule_one);
  EXPECT_GT(by_rule_one[kCorrelation], 10);
  std::sort(one.begin(), one.end());
  std::sort(four.begin(), four.end());
  EXPECT_EQ(one, four);
}

// While the state goes unsaved, checkpoints are held back; a file that is new in this run still has its stream
// anchored in the store at once, so a crash before the next save re-reads it under the same alert ids instead
// of taking it for an unknown file (a new stream: every alert of its lines stored a second time).
TEST_F(PipelineStateful, ANewStreamIsAnchoredWhileItsCheckpointsAreHeldBack) {
  StageConfig stage;
  stage.settings.checkpoint_interval_ms = 3600 * 1000;  // no save between the first write and the stop
  auto mapping = parse_field_mapping("mappings", "time_fields: [TimeCreated]\nhost_fields: [Hostname]\n");
  ASSERT_TRUE(mapping.ok());
  LoadedRules loaded = load_rules({dir_.file("rules.yml")}, *mapping, {}, stage);
  ASSERT_EQ(loaded.correlations, 1u);
  auto store = AlertStore::open(dir_.file("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  Pipeline pipeline(**store, loaded.set, PipelineOptions{}, loaded.stateful);
  pipeline.start();
  std::atomic<int> stored_batches{0};
  auto push = [&](const std::string& key, const std::string& value, const std::string& anchor, int minute) {
    auto batch = std::make_unique<SourceBatch>();
    batch->origin = key;
    batch->stream = key + "-stream";
    batch->lines.add(failed_logon(minute, "root"), 1, 0);
    batch->lines.finish(JsonEventParser::padding());
    batch->checkpoint_key = key;
    batch->checkpoint_value = value;
    batch->checkpoint_anchor = anchor;
    batch->on_stored = [&] { ++stored_batches; };
    EXPECT_TRUE(pipeline.push(std::move(batch), true));
  };
  auto wait_stored = [&](int n) {
    for (int i = 0; i < 500 && stored_batches.load() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(stored_batches.load(), n);
  };
  auto checkpoint = [&](const std::string& key) -> std::optional<std::string> {
    auto v = (*store)->checkpoint(key);
    EXPECT_TRUE(v.ok());
    return v.ok() ? *v : std::nullopt;
  };
  push("file:a", "a-1", "a-0", 0);  // new: its checkpoint waits for the next save, its anchor does not
  wait_stored(1);
  EXPECT_EQ(checkpoint("file:a"), "a-0");
  push("file:b", "b-1", "b-0", 1);
  push("file:a", "a-2", "a-0", 2);  // anchored already: nothing more is written for it until the save
  wait_stored(3);
  push("file:b", "b-2", "b-0", 3);
  wait_stored(4);
  EXPECT_EQ(checkpoint("file:b"), "b-0");
  EXPECT_EQ(checkpoint("file:a"), "a-0");
  pipeline.drain();  // the stop saves the state with the checkpoints held back
  EXPECT_EQ(checkpoint("file:b"), "b-2");
  EXPECT_EQ(checkpoint("file:a"), "a-2");
}

}  // namespace
}  // namespace socd::test
