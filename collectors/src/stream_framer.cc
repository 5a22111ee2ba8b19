#include "socd/stream_framer.h"

#include <algorithm>
#include <cstring>

namespace socd {

char* StreamFramer::room(size_t n) {
  room_start_ = buffer_.size();
  buffer_.resize(room_start_ + n);
  return buffer_.data() + room_start_;
}

void StreamFramer::commit(size_t used) { buffer_.resize(room_start_ + used); }

void StreamFramer::append(std::string_view bytes) { buffer_.append(bytes); }

StreamFramer::Result StreamFramer::frame(StreamFramerOutput& out, bool at_eof) {
  interrupted_ = false;
  if (framing_ == Framing::unknown && !buffer_.empty()) {
    unsigned char first = static_cast<unsigned char>(buffer_[0]);
    framing_ = first >= '0' && first <= '9' ? Framing::octet_counted : Framing::terminated;
  }
  size_t used = 0;
  Result result = Result::ok;
  bool ok = framing_ == Framing::octet_counted ? frame_octet_counted(out, used, at_eof, result)
                                               : frame_terminated(out, used, at_eof);
  buffer_.erase(0, used);
  if (!ok) return Result::malformed;
  return result;
}

// LF framing (also CRLF and NUL): messages end at '\n' or '\0'; a '\r' before the end is dropped; empty messages
// (blank lines, "\r\n" after a NUL) are skipped.
bool StreamFramer::frame_terminated(StreamFramerOutput& out, size_t& used, bool at_eof) {
  const char* data = buffer_.data();
  const size_t size = buffer_.size();
  while (used < size) {
    if (!at_eof && out.paused()) {
      interrupted_ = true;
      break;
    }
    const char* start = data + used;
    size_t available = size - used;
    const char* end = static_cast<const char*>(std::memchr(start, '\n', available));
    size_t scan = end ? static_cast<size_t>(end - start) : available;
    if (const char* nul = static_cast<const char*>(std::memchr(start, '\0', scan))) end = nul;
    if (skipping_) {
      size_t take = end ? static_cast<size_t>(end - start) : available;
      skip_seen_ += take;
      used += take;
      if (!end) break;
      ++used;  // the terminator
      skipping_ = false;
      pass_oversized(out, skip_seen_, skip_seen_ + 1);
      continue;
    }
    if (!end) {
      // A CR last may be the start of a CRLF, which is not part of the message: one byte more may wait.
      const size_t room = max_message_bytes_ + (start[available - 1] == '\r' ? 1 : 0);
      if (available > room) {
        // No terminator within the limit: keep the head and skip to the next terminator.
        skipping_ = true;
        skip_head_.assign(start, std::min(available, kOversizedHead));
        skip_seen_ = available;
        used = size;
      }
      break;
    }
    pass_message(out, std::string_view(start, static_cast<size_t>(end - start)), end - start + 1, /*skip_empty=*/true);
    used += static_cast<size_t>(end - start) + 1;
  }
  if (at_eof) {
    if (skipping_) {
      skipping_ = false;
      pass_oversized(out, skip_seen_, skip_seen_);
    } else if (used < size) {
      pass_message(out, std::string_view(data + used, size - used), size - used, /*skip_empty=*/true);
      used = size;
    }
  }
  return true;
}

// Octet counting: "LEN SP MSG" repeated, LEN in decimal without leading zero.
bool StreamFramer::frame_octet_counted(StreamFramerOutput& out, size_t& used, bool at_eof, Result& result) {
  const char* data = buffer_.data();
  const size_t size = buffer_.size();
  while (used < size) {
    if (!at_eof && out.paused()) {
      interrupted_ = true;
      break;
    }
    if (skipping_) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(skip_left_, size - used));
      if (skip_head_.size() < kOversizedHead)
        skip_head_.append(data + used, std::min(take, kOversizedHead - skip_head_.size()));
      used += take;
      skip_left_ -= take;
      if (skip_left_ > 0) break;
      skipping_ = false;
      pass_oversized(out, skip_seen_, skip_header_ + skip_seen_);
      continue;
    }
    size_t digits = 0;
    uint64_t length = 0;
    while (used + digits < size && digits <= kMaxOctetDigits && data[used + digits] >= '0' &&
           data[used + digits] <= '9') {
      length = length * 10 + static_cast<uint64_t>(data[used + digits] - '0');
      ++digits;
    }
    if (used + digits == size && digits <= kMaxOctetDigits) break;  // the header is not complete yet
    char after = data[used + digits];
    if (digits == 0 || digits > kMaxOctetDigits || after != ' ' || data[used] == '0') {
      malformed_text_.assign(data + used, std::min<size_t>(size - used, 32));
      return false;
    }
    size_t header = digits + 1;
    if (length > max_message_bytes_) {
      used += header;
      skipping_ = true;
      skip_head_.clear();
      skip_seen_ = length;
      skip_left_ = length;
      skip_header_ = header;
      continue;
    }
    if (size - used - header < length) break;  // the message is not complete yet
    pass_message(out, std::string_view(data + used + header, length), header + length, /*skip_empty=*/false);
    used += header + length;
  }
  if (at_eof && (skipping_ || used < size)) {
    // The sender closed inside a frame: pass on what came, and say so.
    result = Result::cut_in_frame;
    if (skipping_) {
      skipping_ = false;
      pass_oversized(out, skip_seen_, skip_header_ + skip_seen_ - skip_left_);
    } else {
      std::string_view rest(data + used, size - used);
      size_t space = rest.find(' ');
      pass_message(out, space == std::string_view::npos ? std::string_view() : rest.substr(space + 1), rest.size(),
                   /*skip_empty=*/true);
    }
    used = size;
  }
  return true;
}

void StreamFramer::pass_message(StreamFramerOutput& out, std::string_view text, uint64_t raw_bytes, bool skip_empty) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);  // octet-counted messages may carry one
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.empty() && skip_empty) {
    uncounted_bytes_ += raw_bytes;
    return;
  }
  if (text.size() > max_message_bytes_) {
    skip_head_.assign(text.substr(0, kOversizedHead));
    pass_oversized(out, text.size(), raw_bytes);
    return;
  }
  uint64_t bytes = raw_bytes + uncounted_bytes_;
  uncounted_bytes_ = 0;
  out.message(text, bytes);
}

void StreamFramer::pass_oversized(StreamFramerOutput& out, uint64_t full_length, uint64_t raw_bytes) {
  uint64_t bytes = raw_bytes + uncounted_bytes_;
  uncounted_bytes_ = 0;
  out.oversized(skip_head_, full_length, bytes);
  skip_head_.clear();
}

}  // namespace socd
