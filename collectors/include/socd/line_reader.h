// Framing of newline-delimited input into batches of lines, read in large chunks.
//
// A line longer than `max_line_bytes` is not kept: it is reported as oversized with its first bytes, and the rest
// of it is skipped, so one hostile line never grows memory without bound.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "socd/status.h"

namespace socd {

struct Line {
  uint32_t offset = 0, length = 0;  // in LineBatch::data (for an oversized line: its first bytes only)
  uint64_t number = 0;              // 1-based line (or message) number in the source
  uint64_t position = 0;            // byte offset of the line's start in the source (files), or message sequence
  uint64_t full_length = 0;         // the line's real length (differs from `length` when oversized)
  uint32_t peer = 0;                // index into LineBatch::peers + 1 (network sources); 0: none
  bool oversized = false;
};

// Lines framed by any source (file, socket, stdin): each batch owns its bytes, with padding after the last line so
// parsers that read past a line (simdjson) stay in bounds, and can be handed to another thread.
struct LineBatch {
  std::string data;  // lines' bytes, each followed by '\n'; then `padding` zero bytes once finished
  std::vector<Line> lines;
  std::vector<std::string> peers;  // senders of network messages ("192.0.2.7:514"), referenced by Line::peer
  uint64_t bytes = 0;               // source bytes this batch covers (newlines and framing included)
  uint64_t sequence = 0;
  std::string_view text(const Line& l) const { return {data.data() + l.offset, l.length}; }
  std::string_view peer(const Line& l) const { return l.peer ? std::string_view(peers[l.peer - 1]) : std::string_view(); }
  void clear() {
    data.clear();
    lines.clear();
    peers.clear();
    bytes = 0;
  }
  // Appends a line (without its newline). `peer` as in Line::peer.
  void add(std::string_view text, uint64_t number, uint64_t position, uint32_t peer = 0) {
    add_line(text, number, position, text.size(), peer, false);
  }
  // Appends a line that was too long to keep: its first bytes and its real length.
  void add_oversized(std::string_view head, uint64_t full_length, uint64_t number, uint64_t position,
                     uint32_t peer = 0) {
    add_line(head, number, position, full_length, peer, true);
  }
  // Pads the batch for the parsers; call once, after the last line.
  void finish(size_t padding = 64) { data.append(padding, '\0'); }

private:
  void add_line(std::string_view text, uint64_t number, uint64_t position, uint64_t full, uint32_t peer,
                bool oversized) {
    Line l;
    l.offset = static_cast<uint32_t>(data.size());
    l.length = static_cast<uint32_t>(text.size());
    l.number = number;
    l.position = position;
    l.full_length = full;
    l.peer = peer;
    l.oversized = oversized;
    data.append(text);
    data.push_back('\n');
    lines.push_back(l);
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
  // Byte offset in the source just after the last line returned.
  uint64_t position() const { return position_; }

private:
  bool fill();
  int fd_;
  size_t batch_bytes_, max_lines_, max_line_bytes_, padding_;
  std::string buf_;  // bytes read and not yet framed, starting at pos_
  size_t pos_ = 0;
  bool eof_ = false;
  bool short_read_ = false;  // the last read returned less than asked: no more input is waiting
  uint64_t line_no_ = 0;
  uint64_t position_ = 0;
  uint64_t sequence_ = 0;
  Status status_;
};

}  // namespace socd
