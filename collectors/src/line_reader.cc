#include "socd/line_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace socd {

// --- LineFramer ------------------------------------------------------------------------------------------------

void LineFramer::reset(uint64_t position, uint64_t line_no) {
  position_ = position;
  line_no_ = line_no;
  in_batch_ = false;
  partial_ = pending_ = scanned_ = 0;
  carry_.clear();
  skipping_ = false;
  skip_head_.clear();
  skipped_ = 0;
}

size_t LineFramer::suggested_read(const LineBatch& batch, size_t max_lines, size_t max_bytes) const {
  size_t want = max_bytes > batch.data.size() ? max_bytes - batch.data.size() : 0;
  if (seen_lines_ > 0 && max_lines > batch.lines.size()) {
    // Reading far beyond the line limit would leave bytes to copy into the next batch.
    uint64_t average = seen_bytes_ / seen_lines_ + 1;
    want = static_cast<size_t>(std::min<uint64_t>(want, average * (max_lines - batch.lines.size() + 1)));
  }
  return std::clamp<size_t>(want, 4096, 4 << 20);
}

char* LineFramer::room(LineBatch& batch, size_t n) {
  if (!in_batch_) {
    partial_ = batch.data.size();
    batch.data.append(carry_);
    carry_.clear();
    in_batch_ = true;
  }
  return batch.data.room(n);
}

void LineFramer::add(LineBatch& b, uint32_t offset, size_t length, uint64_t full, uint64_t consumed,
                     bool oversized) {
  Line l;
  l.offset = offset;
  l.length = static_cast<uint32_t>(length);
  l.number = ++line_no_;
  l.position = position_;
  l.full_length = full;
  l.oversized = oversized;
  b.lines.push_back(l);
  position_ += consumed;
  b.bytes += consumed;
  ++seen_lines_;
  seen_bytes_ += consumed;
}

size_t LineFramer::take(LineBatch& batch, size_t n, size_t max_lines) {
  room(batch, 0);
  ByteBuffer& data = batch.data;
  size_t start = data.size();
  data.commit(n);
  const size_t before = batch.lines.size();
  if (skipping_ && n > 0) {
    const char* nl = static_cast<const char*>(std::memchr(data.data() + start, '\n', n));
    if (!nl) {  // the oversized line goes on
      skipped_ += n;
      data.truncate(start);
      return 0;
    }
    size_t k = static_cast<size_t>(nl - (data.data() + start));
    uint64_t full = skipped_ + k;
    std::string rest(nl + 1, n - k - 1);
    data.truncate(start);
    skipping_ = false;
    uint32_t offset = static_cast<uint32_t>(data.size());
    data.append(skip_head_);
    data.push_back('\n');
    add(batch, offset, skip_head_.size(), full, full + 1, true);
    partial_ = data.size();
    scanned_ = 0;
    data.append(rest);
  }
  if (skipping_) return 0;
  const char* base = data.data();
  const char* end = base + data.size();
  size_t line_start = partial_;
  const char* from = base + partial_ + scanned_;
  bool searched_all = false;
  while (batch.lines.size() < max_lines) {
    // (An empty batch has no buffer yet: memchr must not see its null pointer, even for 0 bytes.)
    const char* nl =
        from < end ? static_cast<const char*>(std::memchr(from, '\n', static_cast<size_t>(end - from))) : nullptr;
    if (!nl) {
      searched_all = true;
      break;
    }
    size_t len = static_cast<size_t>(nl - (base + line_start));
    if (len > max_line_bytes_) {
      add(batch, static_cast<uint32_t>(line_start), std::min(len, head_bytes_), len, len + 1, true);
    } else {
      size_t kept = len > 0 && base[line_start + len - 1] == '\r' ? len - 1 : len;
      add(batch, static_cast<uint32_t>(line_start), kept, len, len + 1, false);
    }
    line_start += len + 1;
    from = base + line_start;
  }
  partial_ = line_start;
  pending_ = data.size() - partial_;
  // Where the search stopped on the line limit, the rest is not yet known to be free of newlines.
  scanned_ = searched_all ? pending_ : 0;
  if (scanned_ > max_line_bytes_) {  // keep the head of the oversized line, drop the rest as it comes
    skipping_ = true;
    skip_head_.assign(base + partial_, std::min(head_bytes_, scanned_));
    skipped_ = scanned_;
    pending_ = scanned_ = 0;
    data.truncate(partial_);
  }
  return batch.lines.size() - before;
}

size_t LineFramer::flush(LineBatch& batch) {
  room(batch, 0);
  if (skipping_) {
    skipping_ = false;
    uint32_t offset = static_cast<uint32_t>(batch.data.size());
    batch.data.append(skip_head_);
    batch.data.push_back('\n');
    add(batch, offset, skip_head_.size(), skipped_, skipped_, true);
    partial_ = batch.data.size();
    return 1;
  }
  if (pending_ == 0 || scanned_ < pending_) return 0;
  size_t len = pending_;
  const char* p = batch.data.data() + partial_;
  if (len > max_line_bytes_) {
    add(batch, static_cast<uint32_t>(partial_), std::min(len, head_bytes_), len, len, true);
  } else {
    size_t kept = p[len - 1] == '\r' ? len - 1 : len;
    add(batch, static_cast<uint32_t>(partial_), kept, len, len, false);
  }
  batch.data.push_back('\n');
  partial_ = batch.data.size();
  pending_ = scanned_ = 0;
  return 1;
}

void LineFramer::discard_partial(LineBatch* batch) {
  if (in_batch_ && batch) batch->data.truncate(partial_);
  carry_.clear();
  pending_ = scanned_ = 0;
  skipping_ = false;
  skip_head_.clear();
  skipped_ = 0;
}

void LineFramer::finish(LineBatch& batch, size_t padding) {
  if (in_batch_) {
    carry_.assign(batch.data.data() + partial_, pending_);
    batch.data.truncate(partial_);
    in_batch_ = false;
  }
  batch.finish(padding);
}

// --- LineReader ------------------------------------------------------------------------------------------------

LineReader::LineReader(int fd, size_t batch_bytes, size_t max_lines, size_t max_line_bytes, size_t padding)
    : fd_(fd), batch_bytes_(batch_bytes), max_lines_(max_lines), padding_(padding), framer_(max_line_bytes) {}

bool LineReader::next(LineBatch& batch) {
  batch.clear();
  batch.sequence = sequence_++;
  framer_.take(batch, 0, max_lines_);  // complete lines kept from the last read
  while (batch.lines.size() < max_lines_ &&
         (batch.lines.empty() || (batch.data.size() < batch_bytes_ && !short_read_))) {
    // (Input that arrives slowly -- a pipe, a terminal -- is passed on as it comes rather than held for a full
    // batch: a short read ends the batch.)
    if (eof_) {
      framer_.flush(batch);
      break;
    }
    size_t want = framer_.suggested_read(batch, max_lines_, batch_bytes_);
    char* room = framer_.room(batch, want);
    ssize_t n;
    do {
      n = ::read(fd_, room, want);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      status_ = Status::error(std::string("read failed: ") + std::strerror(errno));
      eof_ = true;
      continue;
    }
    if (n == 0) {
      eof_ = true;
      continue;
    }
    short_read_ = static_cast<size_t>(n) < want;
    framer_.take(batch, static_cast<size_t>(n), max_lines_);
  }
  framer_.finish(batch, padding_);
  return !batch.lines.empty();
}

}  // namespace socd
