// StreamFramer, the RFC 6587 framing of one TCP/TLS syslog stream, without sockets (the listener around it is
// tested in syslog_sources_test.cc).
#include "socd/stream_framer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace socd {
namespace {

struct Framed {
  std::vector<std::string> texts;  // "!" + head for an oversized message
  std::vector<uint64_t> lengths, raw;
  size_t pause_after = 0;
  size_t since_resume = 0;
};

struct Output final : StreamFramerOutput {
  Framed& f;
  explicit Output(Framed& into) : f(into) {}
  void message(std::string_view text, uint64_t raw_bytes) override {
    f.texts.emplace_back(text);
    f.lengths.push_back(text.size());
    f.raw.push_back(raw_bytes);
    ++f.since_resume;
  }
  void oversized(std::string_view head, uint64_t full_length, uint64_t raw_bytes) override {
    std::string text = "!";
    text.append(head);
    f.texts.push_back(std::move(text));
    f.lengths.push_back(full_length);
    f.raw.push_back(raw_bytes);
    ++f.since_resume;
  }
  bool paused() const override { return f.pause_after != 0 && f.since_resume >= f.pause_after; }
};

// Feeds `stream` in pieces of `piece` bytes (0: all at once), resuming after every pause, then ends it.
Framed frame(std::string_view stream, size_t max, size_t piece, size_t pause_after = 0,
             StreamFramer::Result* end = nullptr) {
  Framed f;
  f.pause_after = pause_after;
  Output out(f);
  StreamFramer framer(max);
  size_t step = piece == 0 ? stream.size() : piece;
  for (size_t at = 0; at < stream.size(); at += step) {
    framer.append(stream.substr(at, step));
    do {
      f.since_resume = 0;
      if (framer.frame(out, false) == StreamFramer::Result::malformed) {
        if (end) *end = StreamFramer::Result::malformed;
        return f;
      }
    } while (framer.interrupted());
  }
  StreamFramer::Result last = framer.frame(out, true);
  if (end) *end = last;
  EXPECT_FALSE(framer.partial());
  return f;
}

TEST(StreamFramer, LfFramingGivesTheSameMessagesWhateverTheReads) {
  std::string s = "<13>one\n<13>two\r\n\n<13>three";
  s.push_back('\0');
  s += "<13>four";
  const std::vector<std::string> want{"<13>one", "<13>two", "<13>three", "<13>four"};
  for (size_t piece : {0, 1, 2, 3, 7}) {
    for (size_t pause : {0, 1, 2}) {
      Framed f = frame(s, 64, piece, pause);
      EXPECT_EQ(f.texts, want) << "piece " << piece << " pause " << pause;
      // Raw bytes add up to the stream: the blank line is counted with the message after it.
      EXPECT_EQ(f.raw, (std::vector<uint64_t>{8, 9, 11, 8})) << "piece " << piece;
    }
  }
}

TEST(StreamFramer, OctetCountingKeepsNewlinesInsideAndDropsATrailingOne) {
  const std::string s = "9 <13>a\nb\n\n5 <13>c";
  for (size_t piece : {0, 1, 4}) {
    StreamFramer::Result end = StreamFramer::Result::ok;
    Framed f = frame(s, 64, piece, 1, &end);
    EXPECT_EQ(f.texts, (std::vector<std::string>{"<13>a\nb\n", "<13>c"})) << "piece " << piece;
    EXPECT_EQ(end, StreamFramer::Result::ok);
  }
}

TEST(StreamFramer, OversizedMessagesKeepTheirHeadAndTheStreamResynchronises) {
  const std::string octet = "12 <13>abcdefgh" "3 <1>";
  Framed f = frame(octet, 8, 1);
  EXPECT_EQ(f.texts, (std::vector<std::string>{"!<13>abcdefgh", "<1>"}));
  EXPECT_EQ(f.lengths[0], 12u);
  const std::string lf = "<13>abcdefgh\n<1>\n";
  for (size_t piece : {0, 1, 5}) {
    Framed g = frame(lf, 8, piece);
    ASSERT_EQ(g.texts.size(), 2u) << "piece " << piece;
    EXPECT_EQ(g.texts[0].substr(0, 1), "!");
    EXPECT_EQ(g.lengths[0], 12u);
    EXPECT_EQ(g.texts[1], "<1>");
  }
}

TEST(StreamFramer, MalformedCountStopsTheFramingAndShowsWhatCame) {
  StreamFramer::Result end = StreamFramer::Result::ok;
  Framed f = frame("5 <13>x" "x12 not a count", 64, 0, 0, &end);
  EXPECT_EQ(end, StreamFramer::Result::malformed);
  EXPECT_EQ(f.texts, (std::vector<std::string>{"<13>x"}));
  StreamFramer framer(64);
  Framed g;
  Output out(g);
  framer.append("012 x");
  EXPECT_EQ(framer.frame(out, false), StreamFramer::Result::malformed);
  EXPECT_EQ(framer.malformed_text(), "012 x");
}

TEST(StreamFramer, StreamEndingInsideAFrameIsPassedOnAndSaidSo) {
  StreamFramer::Result end = StreamFramer::Result::ok;
  Framed f = frame("5 <13>a30 <13>cut short", 64, 3, 0, &end);
  EXPECT_EQ(end, StreamFramer::Result::cut_in_frame);
  EXPECT_EQ(f.texts, (std::vector<std::string>{"<13>a", "<13>cut short"}));
}

TEST(StreamFramer, MessageOfExactlyTheLimitBeforeCrlfIsWithinItWhereverTheReadEnds) {
  // The read may end between the CR and the LF: limit + 1 bytes with no terminator yet, the last one a CR that
  // CRLF framing drops. The message is within the limit all the same.
  const std::string s = "abcdefgh\r\nnext\n";
  const std::vector<std::string> want{"abcdefgh", "next"};
  EXPECT_EQ(frame(s, 8, 0).texts, want);
  for (size_t piece = 1; piece <= s.size(); ++piece) EXPECT_EQ(frame(s, 8, piece).texts, want) << piece;
  // One byte more than the limit before the CR is over it, in any reads.
  const std::string over = "abcdefghi\r\nnext\n";
  for (size_t piece : {0, 1, 9, 10}) {
    Framed f = frame(over, 8, piece);
    ASSERT_EQ(f.texts.size(), 2u) << piece;
    EXPECT_EQ(f.texts[0].substr(0, 10), "!abcdefghi") << piece;
    EXPECT_EQ(f.texts[1], "next") << piece;
  }
  // Two CRs: only the last is dropped, so the message holds limit + 1 bytes.
  EXPECT_EQ(frame("abcdefgh\r\r\n", 8, 9).texts.size(), 1u);
  EXPECT_EQ(frame("abcdefgh\r\r\n", 8, 9).texts[0].substr(0, 1), "!");
}

}  // namespace
}  // namespace socd
