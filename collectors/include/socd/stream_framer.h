// The framing of one syslog stream (TCP or TLS connection), RFC 6587, apart from any socket: bytes go in, in
// whatever pieces the reads return, and complete messages come out. The TCP and TLS listeners
// (socd/syslog_sources.h) keep one per connection; tests and the fuzz target drive it directly.
//
// The first byte of the stream picks the framing: a digit means octet counting ("LEN SP MSG", LEN in decimal, at
// most 9 digits, no leading zero), anything else means a terminator after each message: LF, CRLF or NUL (empty
// messages are skipped there). A trailing LF and then a CR are removed from every message. A message longer than
// `max_message_bytes` is passed on as oversized: its first kOversizedHead bytes at most and its real length, and
// the stream resynchronises after it. A malformed octet count ends the framing (the connection must be closed).
// At the end of the stream, a message cut off is passed on as it is.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace socd {

// Where the framed messages go.
class StreamFramerOutput {
public:
  virtual ~StreamFramerOutput() = default;
  // A complete message, framing removed. `raw_bytes`: what it took in the stream, framing included, plus the
  // bytes of the empty messages skipped since the previous message.
  virtual void message(std::string_view text, uint64_t raw_bytes) = 0;
  // A message over the limit: its head (at most StreamFramer::kOversizedHead bytes) and its real length.
  virtual void oversized(std::string_view head, uint64_t full_length, uint64_t raw_bytes) = 0;
  // True: stop framing before the next message and keep the rest buffered (the listener's reading is paused);
  // frame() again later goes on from there. Not asked at the end of the stream, where everything is passed on.
  virtual bool paused() const { return false; }
};

class StreamFramer {
public:
  static constexpr size_t kOversizedHead = 4096;  // bytes kept of an oversized message (its dead letter)
  static constexpr size_t kMaxOctetDigits = 9;    // a frame length of 10 digits or more is malformed (>= 1 GB)

  enum class Framing { unknown, terminated, octet_counted };
  enum class Result {
    ok,             // everything complete was framed (or framing paused, see interrupted())
    malformed,      // a malformed octet count: nothing more can be framed; malformed_text() shows it
    cut_in_frame,   // (end of stream only) the stream ended inside an octet-counted frame: passed on, a sender error
  };

  explicit StreamFramer(size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  // Reading straight into the framer: room for `n` more bytes at the end of the buffer, then commit(used) with
  // the number actually written (0 <= used <= n).
  char* room(size_t n);
  void commit(size_t used);
  void append(std::string_view bytes);
  void reserve(size_t n) { buffer_.reserve(n); }

  // Frames the complete messages buffered into `out`, until `out` says it is paused; at the end of the stream
  // (`at_eof`) every message and the incomplete rest, paused or not.
  Result frame(StreamFramerOutput& out, bool at_eof);

  Framing framing() const { return framing_; }
  // Framing stopped because `out` was paused: complete messages may wait in the buffer.
  bool interrupted() const { return interrupted_; }
  // A message is in progress (bytes of it buffered, or an oversized one being skipped).
  bool partial() const { return skipping_ || !buffer_.empty(); }
  size_t buffered() const { return buffer_.size(); }
  // Bytes of the message in progress seen so far (for diagnostics).
  uint64_t partial_bytes() const { return buffer_.size() + skip_seen_; }
  // After Result::malformed: the first bytes where the count was expected.
  const std::string& malformed_text() const { return malformed_text_; }

private:
  bool frame_terminated(StreamFramerOutput& out, size_t& used, bool at_eof);
  bool frame_octet_counted(StreamFramerOutput& out, size_t& used, bool at_eof, Result& result);
  void pass_message(StreamFramerOutput& out, std::string_view text, uint64_t raw_bytes, bool skip_empty);
  void pass_oversized(StreamFramerOutput& out, uint64_t full_length, uint64_t raw_bytes);

  size_t max_message_bytes_;
  Framing framing_ = Framing::unknown;
  std::string buffer_;  // bytes read and not framed yet
  size_t room_start_ = 0;
  // An oversized message being skipped: its head, the bytes seen so far, and (octet counting) the bytes left.
  bool skipping_ = false;
  std::string skip_head_;
  uint64_t skip_seen_ = 0;
  uint64_t skip_left_ = 0;
  uint64_t skip_header_ = 0;     // octet counting: the bytes of its "LEN SP"
  uint64_t uncounted_bytes_ = 0;  // bytes of skipped empty messages, added to the next message's raw bytes
  bool interrupted_ = false;
  std::string malformed_text_;
};

}  // namespace socd
