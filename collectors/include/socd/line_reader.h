// Framing of newline-delimited input into batches of lines, read in large chunks.
//
// Each batch owns its bytes, padded at the end so parsers that read past a line (simdjson) stay in bounds, and can
// be handed to another thread. A line longer than `max_line_bytes` is not kept: it is reported as oversized with its
// first bytes, and the rest of it is skipped, so one hostile line never grows memory without bound.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "socd/status.h"

namespace socd {

struct Line {
  uint32_t offset = 0, length = 0;  // in LineBatch::data (for an oversized line: its first bytes only)
  uint64_t number = 0;              // 1-based line number in the source
  uint64_t full_length = 0;         // the line's real length (differs from `length` when oversized)
  bool oversized = false;
};

struct LineBatch {
  std::string data;  // lines' bytes; data.size() includes the padding after the last line
  std::vector<Line> lines;
  uint64_t bytes = 0;  // source bytes this batch covers, newlines included
  uint64_t sequence = 0;
  std::string_view text(const Line& l) const { return {data.data() + l.offset, l.length}; }
  void clear() {
    data.clear();
    lines.clear();
    bytes = 0;
  }
};

class LineReader {
public:
  // Reads from `fd` (not owned). Batches hold about `batch_bytes` of input, or `max_lines` lines.
  LineReader(int fd, size_t batch_bytes = 1 << 20, size_t max_lines = 4096, size_t max_line_bytes = 4 << 20,
             size_t padding = 64);
  // Fills `batch` with the next lines. Returns false at the end of input with nothing left; an error Status
  // (through `status`) when reading failed.
  bool next(LineBatch& batch);
  const Status& status() const { return status_; }
  uint64_t lines_read() const { return line_no_; }

private:
  bool fill();
  int fd_;
  size_t batch_bytes_, max_lines_, max_line_bytes_, padding_;
  std::string buf_;  // bytes read and not yet framed, starting at pos_
  size_t pos_ = 0;
  bool eof_ = false;
  uint64_t line_no_ = 0;
  uint64_t sequence_ = 0;
  Status status_;
};

}  // namespace socd
