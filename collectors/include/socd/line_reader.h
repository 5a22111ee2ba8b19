// Framing of newline-delimited input into batches of lines, read in large chunks.
//
// A line longer than `max_line_bytes` is not kept: it is reported as oversized with its first bytes, and the rest
// of it is skipped, so one hostile line never grows memory without bound.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
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

// A growable byte buffer that, unlike std::string, does not zero the room it grows into: input is read straight
// into it (see LineFramer), so the bytes are written once, by the kernel.
class ByteBuffer {
public:
  ByteBuffer() = default;
  ByteBuffer(const ByteBuffer& o) { append(o.data(), o.size()); }
  ByteBuffer& operator=(const ByteBuffer& o) {
    if (this != &o) {
      clear();
      append(o.data(), o.size());
    }
    return *this;
  }
  ByteBuffer(ByteBuffer&&) noexcept = default;
  ByteBuffer& operator=(ByteBuffer&&) noexcept = default;

  const char* data() const { return bytes_.get(); }
  char* data() { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() { size_ = 0; }
  // Room for `n` more bytes after size(), not initialised; commit(k) then makes k of them part of the buffer.
  char* room(size_t n) {
    if (capacity_ - size_ < n) grow(size_ + n);
    return bytes_.get() + size_;
  }
  void commit(size_t n) { size_ += n; }
  void truncate(size_t n) {
    if (n < size_) size_ = n;
  }
  void append(const char* p, size_t n) {
    if (n == 0) return;
    std::memcpy(room(n), p, n);
    size_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void append(size_t n, char c) {
    std::memset(room(n), c, n);
    size_ += n;
  }
  void push_back(char c) {
    *room(1) = c;
    ++size_;
  }

private:
  void grow(size_t need) {
    size_t cap = std::max<size_t>({need, capacity_ * 2, 4096});
    std::unique_ptr<char[]> bigger(new char[cap]);
    if (size_) std::memcpy(bigger.get(), bytes_.get(), size_);
    bytes_ = std::move(bigger);
    capacity_ = cap;
  }
  std::unique_ptr<char[]> bytes_;
  size_t size_ = 0, capacity_ = 0;
};

// Lines framed by any source (file, socket, stdin): each batch owns its bytes, with padding after the last line so
// parsers that read past a line (simdjson) stay in bounds, and can be handed to another thread. A line is followed
// in `data` by its newline (a '\r' before it is not part of the line) and then by the next line.
struct LineBatch {
  ByteBuffer data;  // lines' bytes, each followed by '\n'; then `padding` zero bytes once finished
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
  friend class LineFramer;
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

// Frames one stream of newline-delimited bytes into LineBatches in place: the bytes are read straight into the
// batch (room()), and take() turns the complete lines among them into Lines without copying them. Bytes not yet
// framed (a line still being written, or lines beyond a batch's line limit) stay at the end of the batch;
// finish() moves them out before the batch is handed on, and the next batch starts with them. A line longer
// than `max_line_bytes` keeps only its head (`head_bytes`) and is marked oversized; the rest of it is dropped as
// it is read, so memory stays bounded.
class LineFramer {
public:
  explicit LineFramer(size_t max_line_bytes, size_t head_bytes = 256)
      : max_line_bytes_(max_line_bytes), head_bytes_(head_bytes) {}
  // Starts over at `position` (byte offset in the source) after line `line_no`, forgetting unframed bytes.
  void reset(uint64_t position, uint64_t line_no);
  // How many bytes to read next into `batch` so that it ends near `max_lines` lines and `max_bytes` bytes.
  size_t suggested_read(const LineBatch& batch, size_t max_lines, size_t max_bytes) const;
  // Room for `n` bytes of input at the end of `batch` (the bytes kept from earlier reads are put before it).
  char* room(LineBatch& batch, size_t n);
  // Frames the `n` bytes just written at room() (and those kept before them): each complete line joins `batch`
  // until it holds `max_lines` lines. Returns the lines added.
  size_t take(LineBatch& batch, size_t n, size_t max_lines = SIZE_MAX);
  // The end of input: with no complete line left unframed, the partial line (if any) becomes a last line of
  // `batch`. Returns the lines added (0 or 1).
  size_t flush(LineBatch& batch);
  // Forgets the unframed bytes (they will be delivered some other way); `batch` is the one being filled.
  void discard_partial(LineBatch* batch);
  // Before `batch` is handed on: moves the unframed bytes out of it (for the next batch) and pads it.
  void finish(LineBatch& batch, size_t padding = 64);

  uint64_t line_no() const { return line_no_; }
  uint64_t position() const { return position_; }  // source offset just after the last framed line
  bool has_unframed() const { return skipping_ || pending_ > 0; }

private:
  void add(LineBatch& b, uint32_t offset, size_t length, uint64_t full, uint64_t consumed, bool oversized);
  size_t max_line_bytes_, head_bytes_;
  uint64_t line_no_ = 0, position_ = 0;
  uint64_t seen_lines_ = 0, seen_bytes_ = 0;  // framed since the start: the average line length
  bool in_batch_ = false;   // the unframed bytes are at the end of the batch being filled, from `partial_`
  size_t partial_ = 0;      // their offset in that batch
  size_t pending_ = 0;      // how many there are
  size_t scanned_ = 0;      // how many of them are known to hold no newline
  std::string carry_;       // the unframed bytes between batches
  bool skipping_ = false;   // dropping the rest of an oversized line
  std::string skip_head_;
  uint64_t skipped_ = 0;    // its bytes so far
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
  uint64_t lines_read() const { return framer_.line_no(); }
  // Byte offset in the source just after the last line returned.
  uint64_t position() const { return framer_.position(); }

private:
  int fd_;
  size_t batch_bytes_, max_lines_, padding_;
  LineFramer framer_;
  bool eof_ = false;
  bool short_read_ = false;  // the last read returned less than asked: no more input is waiting
  uint64_t sequence_ = 0;
  Status status_;
};

}  // namespace socd
