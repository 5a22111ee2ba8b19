// Inputs the pipeline's workers read themselves (Pipeline::pull): every line read once, stored in read order with
// its checkpoint, beside a source that pushes; a stopped input ends the drain without losing what was read.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <sys/stat.h>

#include "pipeline.h"
#include "socd/file_source.h"
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
      b->on_stored = [this, last = next_ - 1] { stored_in_order_.push_back(last); };  // the writer's thread
    }
    reading_ = false;
    return b;
  }
  uint64_t read() const { return next_ - 1; }
  void set_slow() { slow_ = true; }
  // The last line of each batch, in the order the batches were stored.
  const std::vector<uint64_t>& stored_in_order() const { return stored_in_order_; }
  void set_withdrawn() { withdrawn_ = true; }

private:
  std::string name_;
  uint64_t lines_;
  size_t per_batch_;
  std::atomic<uint64_t> next_{1};
  std::vector<uint64_t> stored_in_order_;
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
  ASSERT_TRUE(pipeline.sink(ia).pull(a));
  ASSERT_TRUE(pipeline.sink(ib).pull(b));
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
  // Stored in the order read, every batch: its last line grows by the batch's size each time.
  for (TestInput* in : {&a, &b}) {
    const auto& order = in->stored_in_order();
    ASSERT_FALSE(order.empty());
    for (size_t i = 1; i < order.size(); ++i) ASSERT_GT(order[i], order[i - 1]) << in->name() << " batch " << i;
    EXPECT_EQ(order.back(), in->read()) << in->name();
  }
  EXPECT_EQ(a.stored_in_order().size(), 715u);  // 5,000 lines, 7 a batch
  EXPECT_EQ(b.stored_in_order().size(), 61u);   // 3,001 lines, 50 a batch
  EXPECT_EQ(checkpoint("test:a"), "5000");
  EXPECT_EQ(checkpoint("test:b"), "3001");
}

TEST_F(PipelinePull, AStoppedInputEndsTheDrainWithWhatWasReadStored) {
  PipelineOptions options;
  options.workers = 2;
  Pipeline pipeline(*store_, rules_, options);
  TestInput a("a", 1000000, 10);
  a.set_slow();  // a millisecond a batch: a hundred seconds to its end
  const uint32_t ia = pipeline.add_source(a);
  pipeline.start();
  ASSERT_TRUE(pipeline.sink(ia).pull(a));
  for (int i = 0; i < 3000 && a.read() < 2000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  a.stop();  // its next read says it has ended, as a replay does when stopped
  pipeline.drain();
  ASSERT_GE(a.read(), 2000u);
  EXPECT_LT(a.read(), 100000u);
  EXPECT_FALSE(pipeline.sink(ia).pull(a)) << "a drained pipeline takes no input";
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
  ASSERT_TRUE(pipeline.sink(ia).pull(a));
  for (int i = 0; i < 3000 && a.read() < 500; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  pipeline.sink(ia).withdraw(a);
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

TEST_F(PipelinePull, AFileBacklogIsReadByTheWorkersAndEveryLineStoredOnce) {
  // 20,000 events in batches of 4 KiB: the file source lends its backlog, round after round, to two workers.
  std::string text;
  for (uint64_t n = 1; n <= 20000; ++n) text += failed_logon("f", n) + "\n";
  const std::string path = dir_.file("events.jsonl");
  ASSERT_TRUE(write_file(path, text));
  PipelineOptions options;
  options.workers = 2;
  Pipeline pipeline(*store_, rules_, options);
  FileSourceOptions fo;
  fo.patterns = {path};
  fo.follow = false;
  fo.batch_bytes = 4096;
  fo.poll_ms = 10;
  auto source = FileSource::create(fo);
  ASSERT_TRUE(source.ok()) << source.error().message();
  const uint32_t index = pipeline.add_source(**source);
  pipeline.start();
  ASSERT_TRUE((*source)->start(pipeline.sink(index)).ok());
  ASSERT_TRUE((*source)->wait_done(60000));
  (*source)->stop();
  pipeline.drain();
  EXPECT_EQ(pipeline.sources()[index].events.load(), 20000u);
  EXPECT_EQ(stored()["f"], one_to(20000));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  auto c = decode_file_checkpoint(checkpoint(file_checkpoint_key(st.st_dev, st.st_ino)));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->offset, text.size());
  EXPECT_EQ(c->line, 20000u);
}

}  // namespace
}  // namespace socd::test
