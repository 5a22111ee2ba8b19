// Inputs the pipeline's workers read themselves (Pipeline::pull): every line read once, stored in read order with
// its checkpoint, beside a source that pushes; a stopped input ends the drain without losing what was read.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "pipeline.h"
#include "socd/json_parser.h"
#include "socd/rule_loader.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRules = R"(title: Failed logon
id: 5e110000-0000-4000-8000-000000000001
logsource: {product: windows, service: security}
detection:
    selection:
        EventID: 4625
    condition: selection
level: low
)";

std::string failed_logon(const std::string& input, uint64_t n) {
  return R"({"Channel":"Security","EventID":4625,"Hostname":")" + input + R"(","Seq":)" + std::to_string(n) + "}";
}

// `lines` lines of `name`, `per_batch` to a batch, each batch checkpointed with its last line number. It counts
// checks that no two threads read it at once.
class TestInput : public Source, public PulledInput {
public:
  TestInput(std::string name, uint64_t lines, size_t per_batch)
      : name_(std::move(name)), lines_(lines), per_batch_(per_batch) {}
  std::string name() const override { return "test:" + name_; }
  Status start(BatchSink&) override { return Status(); }
  void stop() override { stop_ = true; }
  std::unique_ptr<SourceBatch> next(LineBatch& memory) override {
    EXPECT_FALSE(withdrawn_) << "read after it was taken back";
    EXPECT_FALSE(reading_.exchange(true)) << "two threads read at once";
    if (slow_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::unique_ptr<SourceBatch> b;
    if (!stop_ && next_ <= lines_) {
      b = std::make_unique<SourceBatch>();
      EXPECT_TRUE(memory.lines.empty());  // emptied, its memory kept
      std::swap(b->lines, memory);
      for (size_t k = 0; k < per_batch_ && next_ <= lines_; ++k, ++next_)
        b->lines.add(failed_logon(name_, next_), next_, next_ * 100);
      b->lines.finish(JsonEventParser::padding());
      b->origin = name_;
      b->stream = "stream-" + name_;
      b->checkpoint_key = "test:" + name_;
      b->checkpoint_value = std::to_string(next_ - 1);
      if (stop_after_ && next_ > stop_after_) stop_ = true;
    }
    reading_ = false;
    return b;
  }
  uint64_t read() const { return next_ - 1; }
  void set_slow() { slow_ = true; }
  void set_withdrawn() { withdrawn_ = true; }
  void stop_after(uint64_t line) { stop_after_ = line; }

private:
  std::string name_;
  uint64_t lines_;
  size_t per_batch_;
  std::atomic<uint64_t> next_{1};
  uint64_t stop_after_ = 0;
  std::atomic<bool> stop_{false}, reading_{false}, slow_{false}, withdrawn_{false};
};

class PipelinePull : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    ASSERT_TRUE(write_file(dir_.file("rules.yml"), kRules));
    auto mapping = parse_field_mapping("mappings", "host_fields: [Hostname]\n");
    ASSERT_TRUE(mapping.ok()) << mapping.error().message();
    LoadedRules loaded = load_rules({dir_.file("rules.yml")}, *mapping, {});
    ASSERT_EQ(loaded.skipped, 0u);
    rules_ = loaded.set;
    auto store = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(*store);
  }
  // host -> the Seq values of its alerts, from the store.
  std::map<std::string, std::multiset<uint64_t>> stored() {
    std::map<std::string, std::multiset<uint64_t>> out;
    simdjson::dom::parser parser;
    Status st = store_->list({}, [&](const StoredAlert& a) {
      simdjson::dom::element alert;
      EXPECT_EQ(parser.parse(a.json).get(alert), simdjson::SUCCESS) << a.json;
      out[std::string(std::string_view(alert["event"]["Hostname"]))].insert(uint64_t(alert["event"]["Seq"]));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }
  std::string checkpoint(const std::string& key) {
    auto v = store_->checkpoint(key);
    return v.ok() && *v ? **v : "(none)";
  }
  static std::multiset<uint64_t> one_to(uint64_t n) {
    std::multiset<uint64_t> s;
    for (uint64_t i = 1; i <= n; ++i) s.insert(i);
    return s;
  }
  TempDir dir_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<AlertStore> store_;
};

TEST_F(PipelinePull, EveryLineIsStoredOnceWithItsCheckpointBesideAPushingSource) {
  PipelineOptions options;
  options.workers = 2;
  options.capacity = 4;  // a small window: the readers wait for room
  Pipeline pipeline(*store_, rules_, options);
  TestInput a("a", 5000, 7), b("b", 3001, 50), pushed("pushed", 0, 1);
  const uint32_t ia = pipeline.add_source(a), ib = pipeline.add_source(b), ip = pipeline.add_source(pushed);
  pipeline.start();
  pipeline.pull(ia, a);
  pipeline.pull(ib, b);
  // Meanwhile, a source of the usual kind pushes its batches.
  for (uint64_t n = 1; n <= 400; n += 4) {
    auto batch = std::make_unique<SourceBatch>();
    batch->origin = "pushed";
    batch->stream = "stream-pushed";
    for (uint64_t k = n; k < n + 4; ++k) batch->lines.add(failed_logon("pushed", k), k, k * 100);
    batch->lines.finish(JsonEventParser::padding());
    ASSERT_TRUE(pipeline.sink(ip).push(std::move(batch), true));
  }
  for (int i = 0; i < 3000 && (a.read() < 5000 || b.read() < 3001); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  pipeline.drain();
  EXPECT_EQ(a.read(), 5000u);
  EXPECT_EQ(b.read(), 3001u);

  EXPECT_EQ(pipeline.sources()[ia].events.load(), 5000u);
  EXPECT_EQ(pipeline.sources()[ib].events.load(), 3001u);
  EXPECT_EQ(pipeline.sources()[ip].events.load(), 400u);
  EXPECT_EQ(pipeline.alerts_stored(), 8401u);
  auto got = stored();
  EXPECT_EQ(got["a"], one_to(5000));
  EXPECT_EQ(got["b"], one_to(3001));
  EXPECT_EQ(got["pushed"], one_to(400));
  // Stored in the order read: the last checkpoint is the last batch's.
  EXPECT_EQ(checkpoint("test:a"), "5000");
  EXPECT_EQ(checkpoint("test:b"), "3001");
}

TEST_F(PipelinePull, AStoppedInputEndsTheDrainWithWhatWasReadStored) {
  PipelineOptions options;
  options.workers = 2;
  Pipeline pipeline(*store_, rules_, options);
  TestInput a("a", 1000000, 10);
  a.stop_after(2000);  // then it says it has ended, as a replay does when stopped
  const uint32_t ia = pipeline.add_source(a);
  pipeline.start();
  pipeline.pull(ia, a);
  for (int i = 0; i < 3000 && a.read() < 2000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  a.stop();
  pipeline.drain();
  ASSERT_GE(a.read(), 2000u);
  EXPECT_LT(a.read(), 1000000u);
  EXPECT_EQ(pipeline.sources()[ia].events.load(), a.read());
  EXPECT_EQ(stored()["a"], one_to(a.read()));
  EXPECT_EQ(checkpoint("test:a"), std::to_string(a.read()));
}

TEST_F(PipelinePull, AWithdrawnInputIsNotReadAgainAndWhatItGaveIsStored) {
  PipelineOptions options;
  options.workers = 2;
  Pipeline pipeline(*store_, rules_, options);
  TestInput a("a", 1000000, 5);
  a.set_slow();  // a millisecond a batch: the withdrawal comes while one is being read
  const uint32_t ia = pipeline.add_source(a);
  pipeline.start();
  pipeline.pull(ia, a);
  for (int i = 0; i < 3000 && a.read() < 500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  pipeline.withdraw(a);
  a.set_withdrawn();
  const uint64_t read = a.read();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pipeline.drain();
  EXPECT_EQ(a.read(), read);
  ASSERT_GE(read, 500u);
  EXPECT_EQ(pipeline.sources()[ia].events.load(), read);
  EXPECT_EQ(stored()["a"], one_to(read));
  EXPECT_EQ(checkpoint("test:a"), std::to_string(read));
}

}  // namespace
}  // namespace socd::test
