// Syslog over TCP, the listener's framing (RFC 6587: octet counting "LEN SP MSG", or LF / CRLF / NUL
// terminated, chosen by the first byte): StreamFramer (collectors/src/stream_framer.cc), the framer each TCP and
// TLS connection of the listener owns, driven the way the listener drives it. One input = one connection's
// stream. It arrives in reads whose sizes come from the input, and the output pauses (as the listener does when
// the pipeline is full) after a number of messages also taken from the input; framing then resumes from where it
// stopped. Checked:
//  - every byte is framed: at the end of the stream nothing is left buffered, and every message framed was passed
//    on (what arrived in reads gives the same messages as the whole stream framed at once, with the raw bytes
//    adding up to the same total, at most the stream's size);
//  - for an octet-counted stream the complete, well-formed frames before anything else (a malformed count, an
//    oversized or unfinished frame) arrive as the model says: the frame's bytes, a trailing LF and then CR
//    removed;
//  - limits: no message passed on as such is longer than the limit; an oversized one is longer than the limit
//    and keeps at most StreamFramer::kOversizedHead bytes of it.
// The listener's sockets around the framer are tested in tests/collectors/syslog_sources_test.cc.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "socd/stream_framer.h"

namespace {

using socd::fuzz::check;
using socd::StreamFramer;
constexpr size_t kMaxMessage = 256;

struct Message {
  bool oversized;
  std::string_view text;  // the head, for an oversized one (in the collector's `texts`)
  uint64_t full_length;
  uint64_t raw_bytes;
};

// The messages passed on, their texts copied one after the other into one buffer (kept from input to input:
// allocations here would cost more than the framing under test).
struct Collector final : socd::StreamFramerOutput {
  std::vector<Message> messages;
  std::string texts;
  size_t pause_after = 0;  // 0: never pauses; else paused once this many messages came since the last resume
  size_t since_resume = 0;
  void reset(size_t input_size, size_t pause) {
    messages.clear();
    texts.clear();
    texts.reserve(input_size);  // the texts never hold more than the input: the views stay valid
    pause_after = pause;
    since_resume = 0;
  }
  std::string_view keep(std::string_view text) {
    check(texts.size() + text.size() <= texts.capacity(), "the messages hold more bytes than the stream");
    size_t at = texts.size();
    texts.append(text);
    return std::string_view(texts).substr(at);
  }
  void message(std::string_view text, uint64_t raw_bytes) override {
    messages.push_back({false, keep(text), text.size(), raw_bytes});
    ++since_resume;
  }
  void oversized(std::string_view head, uint64_t full_length, uint64_t raw_bytes) override {
    messages.push_back({true, keep(head), full_length, raw_bytes});
    ++since_resume;
  }
  bool paused() const override { return pause_after != 0 && since_resume >= pause_after; }
};

// The complete, well-formed octet-counted frames at the start of `in`, as messages.
SOCD_FUZZ_ORACLE std::vector<std::string_view> leading_frames(std::string_view in) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t digits = 0;
    uint64_t length = 0;
    while (pos + digits < in.size() && digits < 10 && in[pos + digits] >= '0' && in[pos + digits] <= '9')
      length = length * 10 + static_cast<uint64_t>(in[pos + digits++] - '0');
    if (digits == 0 || digits > 9 || in[pos] == '0' || pos + digits >= in.size() || in[pos + digits] != ' ') break;
    if (length > kMaxMessage || in.size() - pos - digits - 1 < length) break;
    std::string_view text = in.substr(pos + digits + 1, length);
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    out.push_back(text);
    pos += digits + 1 + length;
  }
  return out;
}

// Frames `in` read in pieces (sizes from `seed`, 1 to 64 bytes, or the rest), resuming after each pause.
// Returns false when the framer found a malformed count (the listener closes the connection there).
bool frame_in_reads(std::string_view in, uint32_t seed, Collector& out, StreamFramer& framer) {
  size_t offset = 0;
  while (offset < in.size()) {
    seed = seed * 1103515245u + 12345u;
    size_t n = (seed >> 16) % 8 == 0 ? in.size() - offset : 1 + (seed >> 16) % 64;
    n = std::min(n, in.size() - offset);
    // As the listener reads: room for a whole read, fewer bytes actually written.
    char* room = framer.room(n + 16);
    std::memcpy(room, in.data() + offset, n);
    framer.commit(n);
    offset += n;
    for (int round = 0;; ++round) {
      check(round <= static_cast<int>(in.size()) + 1, "framing does not make progress after a pause");
      out.since_resume = 0;
      if (framer.frame(out, /*at_eof=*/false) == StreamFramer::Result::malformed) return false;
      if (!framer.interrupted()) break;
      check(out.paused(), "framing stopped without a pause");
    }
  }
  if (framer.frame(out, /*at_eof=*/true) == StreamFramer::Result::malformed) return false;
  check(!framer.partial() && framer.buffered() == 0, "bytes left unframed at the end of the stream");
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  uint32_t seed = 2166136261u;  // FNV-1a of the input: the read sizes and the pauses
  for (uint8_t b : in) seed = (seed ^ b) * 16777619u;

  static Collector& whole = *new Collector();
  static Collector& read = *new Collector();
  whole.reset(size, 0);
  read.reset(size, seed % 5);
  StreamFramer whole_framer(kMaxMessage);
  whole_framer.append(in);
  bool whole_ok = whole_framer.frame(whole, /*at_eof=*/false) != StreamFramer::Result::malformed &&
                  whole_framer.frame(whole, /*at_eof=*/true) != StreamFramer::Result::malformed;

  StreamFramer read_framer(kMaxMessage);
  read_framer.reserve(size + 80);
  bool read_ok = frame_in_reads(in, seed, read, read_framer);
  check(read_ok == whole_ok, "a malformed count found in one reading of the stream and not in the other");
  check(read_framer.framing() == whole_framer.framing(), "the framing chosen depends on the reads");

  // Every message framed is passed on, whatever the reads: the same messages as the stream framed at once.
  const std::vector<Message>& got = read.messages;
  check(got.size() == whole.messages.size(), "the reads give a different number of messages than the whole stream");
  uint64_t raw_read = 0, raw_whole = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const Message& a = got[i];
    const Message& b = whole.messages[i];
    raw_read += a.raw_bytes;
    raw_whole += b.raw_bytes;
    if (a.oversized == b.oversized && !a.oversized) {
      check(a.text == b.text, "a message differs between the reads and the whole stream", b.text);
    } else if (a.oversized && b.oversized) {
      // The head kept depends on where the first read of it ended: one must be the start of the other.
      std::string_view shorter = a.text.size() < b.text.size() ? a.text : b.text;
      std::string_view longer = a.text.size() < b.text.size() ? b.text : a.text;  // views into `texts`
      check(longer.substr(0, shorter.size()) == shorter, "oversized heads differ between the reads and the whole");
      check(a.full_length + 1 >= b.full_length && b.full_length + 1 >= a.full_length,
            "an oversized message's length depends on the reads");
    } else {
      check(false, "a message is oversized in one reading and not in the other", a.oversized ? b.text : a.text);
    }
  }
  check(raw_read == raw_whole, "the raw bytes of the messages depend on the reads");
  check(raw_read <= size, "the messages account for more bytes than the stream has");

  // Octet counting: the well-formed leading frames, as the model says.
  if (in[0] >= '1' && in[0] <= '9') {
    check(read_framer.framing() == StreamFramer::Framing::octet_counted, "a digit first does not pick octet counting");
    std::vector<std::string_view> want = leading_frames(in);
    check(got.size() >= want.size(), "well-formed octet-counted frames are missing");
    for (size_t i = 0; i < want.size(); ++i)
      check(!got[i].oversized && got[i].text == want[i], "an octet-counted frame arrived different from what was sent",
            want[i]);
  }
  // Limits.
  for (const auto& m : got) {
    if (m.oversized) {
      check(m.full_length > kMaxMessage, "a message within the limit passed on as oversized", m.text);
      check(m.text.size() <= StreamFramer::kOversizedHead && m.text.size() <= m.full_length,
            "an oversized message keeps more than its head");
    } else {
      check(m.text.size() <= kMaxMessage, "a message over the limit passed on as a message", m.text);
    }
  }
  return 0;
}
