#include "socd/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace socd {

LineReader::LineReader(int fd, size_t batch_bytes, size_t max_lines, size_t max_line_bytes, size_t padding)
    : fd_(fd), batch_bytes_(batch_bytes), max_lines_(max_lines), max_line_bytes_(max_line_bytes), padding_(padding) {}

bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {  // keep only the unframed tail
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  size_t want = std::max<size_t>(batch_bytes_, 1 << 16);
  buf_.resize(old + want);
  ssize_t n;
  do {
    n = ::read(fd_, buf_.data() + old, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    status_ = Status::error(std::string("read failed: ") + std::strerror(errno));
    buf_.resize(old);
    eof_ = true;
    return false;
  }
  buf_.resize(old + static_cast<size_t>(n));
  short_read_ = static_cast<size_t>(n) < want;
  if (n == 0) eof_ = true;
  return n > 0;
}

bool LineReader::next(LineBatch& batch) {
  batch.clear();
  batch.sequence = sequence_++;
  // Records a line that started at position_ and took `consumed` source bytes (its newline included).
  auto take = [&](std::string_view text, uint64_t full, bool oversized, uint64_t consumed) {
    if (oversized) batch.add_oversized(text, full, ++line_no_, position_);
    else batch.add(text, ++line_no_, position_);
    position_ += consumed;
    batch.bytes += consumed;
  };
  while (batch.lines.size() < max_lines_ && batch.data.size() < batch_bytes_) {
    const char* start = buf_.data() + pos_;
    size_t avail = buf_.size() - pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
    if (!nl) {
      if (avail > max_line_bytes_) {
        // An oversized line: keep its head, then skip to its end.
        uint64_t full = avail;
        std::string head(start, std::min<size_t>(avail, 256));
        bool newline = false;
        pos_ = buf_.size();
        while (fill()) {
          const char* p = static_cast<const char*>(std::memchr(buf_.data(), '\n', buf_.size()));
          if (p) {
            size_t k = static_cast<size_t>(p - buf_.data());
            full += k;
            pos_ = k + 1;
            newline = true;
            break;
          }
          full += buf_.size();
          pos_ = buf_.size();
        }
        take(head, full, true, full + newline);
        continue;
      }
      // Input that arrives slowly (a pipe, a terminal) is passed on as it comes rather than held for a full batch.
      if (!batch.lines.empty() && short_read_) break;
      if (!fill()) {
        if (buf_.size() > pos_) {  // last line without a newline
          size_t len = buf_.size() - pos_;
          std::string_view text(buf_.data() + pos_, len);
          pos_ = buf_.size();
          if (len > max_line_bytes_) {
            take(text.substr(0, 256), len, true, len);
          } else {
            if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
            take(text, len, false, len);
          }
        }
        break;
      }
      continue;
    }
    size_t len = static_cast<size_t>(nl - start);
    pos_ += len + 1;
    std::string_view text(start, len);
    if (len > max_line_bytes_) {
      take(text.substr(0, 256), len, true, len + 1);
      continue;
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    take(text, len, false, len + 1);
  }
  batch.finish(padding_);
  return !batch.lines.empty();
}

}  // namespace socd
