// Syslog over TCP, the listener's framing (RFC 6587: octet counting "LEN SP MSG", or LF / CRLF / NUL
// terminated, chosen by the first byte) as socd run uses it: one input = one connection to a real listener on
// 127.0.0.1 that sends the input and closes. Every message the listener frames must reach the pipeline (the
// count it reports equals the lines pushed), and for an octet-counted stream the complete, well-formed frames
// before anything else (a malformed count, an oversized or unfinished frame) arrive as the model says: the
// frame's bytes, a trailing LF and then CR removed. Slow by nature (a connection per input): it covers the
// framer in syslog_stream.cc, which has no entry point apart from its sockets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "socd/syslog_sources.h"

namespace {

using socd::fuzz::check;
constexpr size_t kMaxMessage = 256;

struct Collector final : socd::BatchSink {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> messages;
  bool push(std::unique_ptr<socd::SourceBatch> batch, bool) override {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& l : batch->lines.lines) messages.emplace_back(batch->lines.text(l));
    cv.notify_all();
    return true;
  }
  std::optional<std::string> checkpoint(const std::string&) override { return std::nullopt; }
};

struct Listener {
  Collector sink;
  std::unique_ptr<socd::Source> source;
  uint16_t port = 0;
  Listener() {
    socd::ListenerLimits limits;
    limits.max_message_bytes = kMaxMessage;
    limits.batch_flush_ms = 1;
    auto made = socd::make_syslog_tcp_source("127.0.0.1:0", limits, nullptr);
    if (!made) socd::fuzz::fail("cannot make the listener", made.error().message());
    source = std::move(*made);
    if (socd::Status st = source->start(sink); !st.ok()) socd::fuzz::fail("cannot start the listener", st.message());
    port = dynamic_cast<socd::NetworkSource&>(*source).port();
  }
};

// The complete, well-formed octet-counted frames at the start of `in`, as messages.
std::vector<std::string> leading_frames(std::string_view in) {
  std::vector<std::string> out;
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
    out.emplace_back(text);
    pos += digits + 1 + length;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Listener* listener = new Listener();
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const uint64_t lines_before = listener->source->counters().lines.load();

  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(listener->port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  check(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0, "cannot connect");
  // The listener may close first (a malformed count): a failed send ends the sending, nothing else.
  for (size_t sent = 0; sent < size;) {
    ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  char byte;
  while (::recv(fd, &byte, 1, 0) > 0) {
  }  // until the listener has framed everything and closed its side
  ::close(fd);

  // Every message it counted must be pushed on (the batch goes after batch_flush_ms).
  const uint64_t framed = listener->source->counters().lines.load() - lines_before;
  std::vector<std::string> got;
  {
    std::unique_lock<std::mutex> lock(listener->sink.mutex);
    bool all = listener->sink.cv.wait_for(lock, std::chrono::seconds(5),
                                          [&] { return listener->sink.messages.size() >= framed; });
    check(all, "messages the listener counted never reached the pipeline");
    got.swap(listener->sink.messages);
  }
  check(got.size() == framed, "more messages reached the pipeline than the listener counted");
  if (in[0] >= '1' && in[0] <= '9') {
    std::vector<std::string> want = leading_frames(in);
    check(got.size() >= want.size(), "well-formed octet-counted frames are missing");
    for (size_t i = 0; i < want.size(); ++i)
      check(got[i] == want[i], "an octet-counted frame arrived different from what was sent", want[i]);
  }
  for (const auto& m : got) check(m.size() <= 4096, "a message longer than any limit");
  return 0;
}
