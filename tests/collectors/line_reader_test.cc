#include "socd/line_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace socd {
namespace {

// Feeds `input` through a pipe and returns every batch the reader makes.
std::vector<LineBatch> read_all(const std::string& input, size_t batch_bytes, size_t max_lines, size_t max_line) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::write(fds[1], input.data() + off, std::min<size_t>(input.size() - off, 1 << 16));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  LineReader reader(fds[0], batch_bytes, max_lines, max_line, 64);
  std::vector<LineBatch> batches;
  LineBatch b;
  while (reader.next(b)) batches.push_back(b);
  writer.join();
  ::close(fds[0]);
  EXPECT_TRUE(reader.status().ok());
  EXPECT_EQ(reader.position(), input.size());
  return batches;
}

// Every line of every batch, in order (input read from a pipe may come in several batches).
struct Flat {
  std::vector<Line> lines;
  std::vector<std::string> texts;
  uint64_t bytes = 0;
};
Flat flatten(const std::vector<LineBatch>& batches) {
  Flat f;
  for (const auto& b : batches) {
    f.bytes += b.bytes;
    for (const auto& l : b.lines) {
      f.lines.push_back(l);
      f.texts.emplace_back(b.text(l));
      // Padding after the last line for parsers that read ahead.
      EXPECT_GE(b.data.size(), b.lines.back().offset + b.lines.back().length + 64);
    }
  }
  return f;
}

TEST(LineReader, LinesNumbersPositionsAndCrlf) {
  std::string input = "alpha\r\n\nbeta\ngamma";  // CRLF, an empty line, no final newline
  Flat f = flatten(read_all(input, 1 << 20, 100, 1024));
  ASSERT_EQ(f.lines.size(), 4u);
  EXPECT_EQ(f.texts, (std::vector<std::string>{"alpha", "", "beta", "gamma"}));
  EXPECT_EQ(f.lines[2].number, 3u);
  EXPECT_EQ(f.lines[0].position, 0u);
  EXPECT_EQ(f.lines[1].position, 7u);
  EXPECT_EQ(f.lines[2].position, 8u);
  EXPECT_EQ(f.lines[3].position, 13u);
  EXPECT_EQ(f.bytes, input.size());
}

TEST(LineReader, OversizedLineIsCutToItsHeadAndTheRestGoesOn) {
  std::string big(100000, 'x');
  std::string input = "first\n" + big + "\nlast\n";
  auto batches = read_all(input, 4096, 100, 1000);
  std::vector<Line> lines;
  std::vector<std::string> texts;
  for (const auto& b : batches)
    for (const auto& l : b.lines) {
      lines.push_back(l);
      texts.emplace_back(b.text(l));
    }
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(texts[0], "first");
  EXPECT_TRUE(lines[1].oversized);
  EXPECT_EQ(lines[1].full_length, big.size());
  EXPECT_LE(texts[1].size(), 256u);
  EXPECT_EQ(lines[1].position, 6u);
  EXPECT_EQ(texts[2], "last");
  EXPECT_EQ(lines[2].number, 3u);
  EXPECT_EQ(lines[2].position, 6u + big.size() + 1);
}

TEST(LineReader, ManyLinesSplitIntoBoundedBatches) {
  std::string input;
  for (int i = 0; i < 10000; ++i) input += "line " + std::to_string(i) + "\n";
  auto batches = read_all(input, 1 << 20, 1000, 1024);
  EXPECT_GE(batches.size(), 10u);
  uint64_t n = 0;
  for (const auto& b : batches) {
    EXPECT_LE(b.lines.size(), 1000u);
    for (const auto& l : b.lines) {
      EXPECT_EQ(l.number, ++n);
      EXPECT_EQ(b.text(l), "line " + std::to_string(n - 1));
    }
  }
  EXPECT_EQ(n, 10000u);
}

}  // namespace
}  // namespace socd
