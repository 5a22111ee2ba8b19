// Line framing: LineFramer driven the way LineReader drives it (take / flush / finish over batches), with the
// input arriving in reads of varying sizes, small line and batch limits, and a line limit per batch. Every line
// framed is checked against a plain model: split on '\n', '\r' before it dropped, a line longer than the limit
// kept as its head with its real length, numbers and positions consecutive.
//
// Input: 4 parameter bytes, then the stream. p0: max line bytes (1..64); p1: head bytes (1..max); p2: lines per
// batch (1..8) and batch bytes; p3: seed of the read sizes.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "socd/line_reader.h"

namespace {

using socd::fuzz::check;

// A line as framed or as the model says. The model's text is a view into the input; the framer's text is kept
// in an arena (its batches are reused), `text` set once framing is over.
struct Expected {
  std::string_view text;
  uint64_t full_length;
  uint64_t position;
  bool oversized;
  size_t arena_offset = 0;
};

// The vectors and the arena live across inputs: allocating them anew for every input made allocation (and,
// under ASan, fresh pages) most of the target's time.
void model(std::string_view in, size_t max_line, size_t head, std::vector<Expected>& out) {
  out.clear();
  uint64_t position = 0;
  size_t start = 0;
  while (start < in.size()) {
    size_t nl = in.find('\n', start);
    bool complete = nl != std::string_view::npos;
    size_t len = (complete ? nl : in.size()) - start;
    std::string_view line = in.substr(start, len);
    Expected e;
    e.full_length = len;
    e.position = position;
    e.oversized = len > max_line;
    if (e.oversized) {
      e.text = line.substr(0, head);
    } else {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      e.text = line;
    }
    out.push_back(e);
    position += len + (complete ? 1 : 0);
    start += len + (complete ? 1 : 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t max_line = 1 + data[0] % 64;
  const size_t head = 1 + data[1] % max_line;
  const size_t max_lines = 1 + data[2] % 8;
  const size_t batch_bytes = 8 + (data[2] >> 3) * 16;
  uint32_t seed = data[3] * 2654435761u + 1;
  std::string_view in(reinterpret_cast<const char*>(data) + 4, size - 4);

  socd::LineFramer framer(max_line, head);
  size_t offset = 0;  // of the next byte to "read"
  bool eof = false, short_read = false;
  static std::vector<Expected>& got = *new std::vector<Expected>();
  static std::vector<Expected>& want = *new std::vector<Expected>();
  static std::string& arena = *new std::string();
  got.clear();
  arena.clear();
  static socd::LineBatch& batch = *new socd::LineBatch();  // reused, as LineReader's caller reuses its batches
  for (int round = 0;; ++round) {
    check(round <= static_cast<int>(in.size()) * 2 + 4, "framing does not make progress");
    // LineReader::next, with reads from memory.
    batch.clear();
    framer.take(batch, 0, max_lines);
    while (batch.lines.size() < max_lines &&
           (batch.lines.empty() || (batch.data.size() < batch_bytes && !short_read))) {
      if (eof) {
        framer.flush(batch);
        break;
      }
      size_t want = framer.suggested_read(batch, max_lines, batch_bytes);
      seed = seed * 1103515245u + 12345u;
      size_t n = std::min<size_t>({want, in.size() - offset, 1 + (seed >> 16) % 37});
      char* room = framer.room(batch, want);
      if (n == 0) {
        eof = true;
        continue;
      }
      std::memcpy(room, in.data() + offset, n);
      offset += n;
      short_read = n < want;
      framer.take(batch, n, max_lines);
    }
    framer.finish(batch);
    if (batch.lines.empty()) break;
    check(batch.lines.size() <= max_lines, "a batch holds more lines than its limit");
    check(batch.data.size() >= 64, "a finished batch has no padding");
    for (const auto& l : batch.lines) {
      check(static_cast<uint64_t>(l.offset) + l.length < batch.data.size(), "a line lies outside its batch");
      check(batch.data.data()[l.offset + l.length] == '\n' || l.length < l.full_length,
            "a line is not followed by its newline");
      check(l.number == got.size() + 1, "line numbers are not consecutive");
      got.push_back({{}, l.full_length, l.position, l.oversized, arena.size()});
      got.back().text = batch.text(l);  // its length; the bytes go to the arena
      arena.append(batch.text(l));
    }
  }
  for (Expected& g : got) g.text = std::string_view(arena).substr(g.arena_offset, g.text.size());
  model(in, max_line, head, want);
  check(got.size() == want.size(), "the framer found a different number of lines than the model");
  for (size_t i = 0; i < want.size(); ++i) {
    check(got[i].oversized == want[i].oversized, "oversized flag differs from the model", want[i].text);
    check(got[i].full_length == want[i].full_length, "a line's length differs from the model", want[i].text);
    check(got[i].position == want[i].position, "a line's position differs from the model", want[i].text);
    check(got[i].text == want[i].text, "a line's text differs from the model", want[i].text);
  }
  check(framer.position() == in.size(), "the framer's position is not the end of the input");
  return 0;
}
