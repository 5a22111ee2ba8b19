// The input's dead letters in the alert store: kept with their reason, source and position, truncated, bounded by
// count and bytes (the oldest dropped first, and counted), written with the alerts, readable by a reader beside
// the writer, and kept across a reopen.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "socd/alert_store.h"
#include "socd/input_dead_letters.h"
#include "support/socd_process.h"

namespace socd {
namespace {

InputDeadLetter letter(uint64_t line, std::string data, std::string reason = "malformed",
                       std::string source = "syslog-tcp:127.0.0.1:5514") {
  InputDeadLetter l;
  l.source = std::move(source);
  l.origin = "127.0.0.1:40000";
  l.reason = std::move(reason);
  l.detail = "invalid JSON: TAPE_ERROR";
  l.line = line;
  l.position = line * 100;
  l.length = data.size();
  l.data = std::move(data);
  return l;
}

std::vector<InputDeadLetter> all(InputDeadLetters& letters, DeadLetterQuery query = {}) {
  std::vector<InputDeadLetter> out;
  Status st = letters.list(query, [&](const InputDeadLetter& l) {
    out.push_back(l);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

class InputDeadLettersTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok());
    auto s = AlertStore::open(dir_.file("store"));
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    ASSERT_NE(store_->input_dead_letters(), nullptr);
  }
  Status add(const std::vector<InputDeadLetter>& letters) { return store_->commit_all({}, {}, {}, letters, nullptr); }

  test::TempDir dir_;
  std::unique_ptr<AlertStore> store_;
};

TEST_F(InputDeadLettersTest, KeepsEachWithItsReasonSourcePositionAndTruncatedBytes) {
  const char kBytes[] = "{\"a\":\"\xff\xfe\0x\"}";  // 12 bytes, a NUL among them
  std::string nul_and_bad_utf8(kBytes, sizeof kBytes - 1);
  ASSERT_TRUE(add({letter(7, nul_and_bad_utf8), letter(9, std::string(10000, 'x'), "line_bytes")}).ok());
  auto got = all(*store_->input_dead_letters());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, 1u);
  EXPECT_EQ(got[0].data, nul_and_bad_utf8);  // every byte kept, NUL and invalid UTF-8 included
  EXPECT_EQ(got[0].line, 7u);
  EXPECT_EQ(got[0].position, 700u);
  EXPECT_EQ(got[0].source, "syslog-tcp:127.0.0.1:5514");
  EXPECT_EQ(got[0].origin, "127.0.0.1:40000");
  EXPECT_GT(got[0].time_ms, 1'700'000'000'000);
  EXPECT_EQ(got[1].reason, "line_bytes");
  EXPECT_EQ(got[1].data.size(), 4096u);  // truncated to the default 4 KiB
  EXPECT_EQ(got[1].length, 10000u);      // its real length is said
  auto one = store_->input_dead_letters()->get(2);
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->line, 9u);
  auto none = store_->input_dead_letters()->get(3);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(InputDeadLettersTest, BoundedByCountTheOldestGoFirstAndAreCounted) {
  DeadLetterLimits limits;
  limits.max_count = 5;
  store_->input_dead_letters()->set_limits(limits);
  for (uint64_t i = 1; i <= 12; ++i) ASSERT_TRUE(add({letter(i, "line " + std::to_string(i))}).ok());
  ASSERT_TRUE(add({letter(13, "a"), letter(14, "b"), letter(15, "c"), letter(16, "d"), letter(17, "e"),
                   letter(18, "f"), letter(19, "g")}).ok());  // one write larger than the bound
  auto got = all(*store_->input_dead_letters());
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got.front().line, 15u);
  EXPECT_EQ(got.back().line, 19u);
  auto st = store_->input_dead_letters()->state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->count, 5u);
  EXPECT_EQ(st->stored, 19u);
  EXPECT_EQ(st->evicted, 14u);
}

TEST_F(InputDeadLettersTest, BoundedByBytes) {
  DeadLetterLimits limits;
  limits.max_bytes = 20'000;
  store_->input_dead_letters()->set_limits(limits);
  for (uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(add({letter(i, std::string(4096, 'a'))}).ok());
  auto st = store_->input_dead_letters()->state();
  ASSERT_TRUE(st);
  EXPECT_LE(st->bytes, 20'000u);
  EXPECT_EQ(st->count, 4u);
  EXPECT_EQ(st->evicted, 16u);
  auto got = all(*store_->input_dead_letters());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.front().line, 17u);
}

TEST_F(InputDeadLettersTest, FiltersBySourceReasonAndLimitAndReadsBesideTheWriterAndAfterReopen) {
  ASSERT_TRUE(add({letter(1, "x", "json_depth", "file:/a"), letter(2, "y", "malformed", "file:/b"),
                   letter(3, "z", "json_depth", "file:/b")}).ok());
  DeadLetterQuery q;
  q.reason = "json_depth";
  EXPECT_EQ(all(*store_->input_dead_letters(), q).size(), 2u);
  q.source = "file:/b";
  auto got = all(*store_->input_dead_letters(), q);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, 3u);
  DeadLetterQuery newest;
  newest.newest_first = true;
  newest.limit = 1;
  got = all(*store_->input_dead_letters(), newest);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].line, 3u);

  StoreOptions ro;
  ro.read_only = true;
  auto reader = AlertStore::open(dir_.file("store"), ro);
  ASSERT_TRUE(reader) << reader.error().message();
  EXPECT_EQ(all(*(*reader)->input_dead_letters()).size(), 3u);
  EXPECT_FALSE((*reader)->commit_all({}, {}, {}, {letter(4, "w")}, nullptr).ok());

  store_.reset();
  reader->reset();
  auto again = AlertStore::open(dir_.file("store"));
  ASSERT_TRUE(again) << again.error().message();
  ASSERT_TRUE((*again)->commit_all({}, {}, {}, {letter(4, "w")}, nullptr).ok());
  got = all(*(*again)->input_dead_letters());
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.back().id, 4u);  // ids go on after a reopen
}

}  // namespace
}  // namespace socd
