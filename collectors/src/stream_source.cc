#include "socd/stream_source.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#include "socd/thread_name.h"

namespace socd {

StreamSource::StreamSource(int fd, std::string name, StreamSourceOptions options)
    : fd_(fd), name_(std::move(name)), options_(options) {}

StreamSource::~StreamSource() { stop(); }

Status StreamSource::start(BatchSink& sink) {
  // A pipe holds 64 KiB by default, and a read never returns more than the pipe holds: batches of a few dozen
  // lines, each a hand-over to a worker. A pipe as large as a batch (the kernel may refuse; then it stays as it
  // is) lets a fast writer fill whole batches.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISFIFO(st.st_mode)) (void)::fcntl(fd_, F_SETPIPE_SZ, static_cast<int>(
                                                             std::min<size_t>(options_.batch_bytes, 1 << 20)));
  thread_ = std::thread([this, &sink] {
    name_this_thread("socd-stream");
    LineReader reader(fd_, options_.batch_bytes, options_.batch_lines, options_.max_line_bytes);
    for (;;) {
      // Wait for input in slices, so stop() is noticed on an idle pipe.
      pollfd p{fd_, POLLIN, 0};
      while (!stop_.load() && ::poll(&p, 1, 200) == 0) {
      }
      if (stop_.load()) break;
      auto batch = std::make_unique<SourceBatch>();
      if (!reader.next(batch->lines)) break;
      for (const auto& l : batch->lines.lines)
        if (l.oversized) counters_.oversized.fetch_add(1, std::memory_order_relaxed);
      counters_.bytes.fetch_add(batch->lines.bytes, std::memory_order_relaxed);
      counters_.lines.fetch_add(batch->lines.lines.size(), std::memory_order_relaxed);
      batch->origin = name_;
      if (!sink.push(std::move(batch), true)) break;
    }
    if (!reader.status().ok()) counters_.errors.fetch_add(1, std::memory_order_relaxed);
    done_.store(true);
  });
  return {};
}

void StreamSource::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

}  // namespace socd
