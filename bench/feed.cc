// feed: copies the lines of a file to standard output at a fixed rate, for latency measurements of `socd run
// --stdin` (bench/run.sh). Every `tick` it writes the lines due in that tick as one write; a writer that
// blocked (the reader was slow) resumes at the same rate without catching up, so the reader never sees a
// burst larger than one tick's worth. The file is mapped into memory first.
//
// usage: feed FILE LINES_PER_S [REPEAT] [TICK_MS]     (defaults: 1 pass, 2 ms)
// Ends with one line on stderr: feed: lines=N bytes=N seconds=F lines_per_s=F late_ticks=N
//   late_ticks counts ticks that began more than one tick late (the reader held the writer back).
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

double now_seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

bool write_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: feed FILE LINES_PER_S [REPEAT] [TICK_MS]\n");
    return 2;
  }
  const char* path = argv[1];
  double rate = std::strtod(argv[2], nullptr);
  long repeat = argc > 3 ? std::strtol(argv[3], nullptr, 10) : 1;
  double tick = (argc > 4 ? std::strtod(argv[4], nullptr) : 2.0) / 1000.0;
  if (rate <= 0 || repeat < 1 || tick <= 0) {
    std::fprintf(stderr, "feed: LINES_PER_S and TICK_MS must be positive, REPEAT at least 1\n");
    return 2;
  }
  // The file, mapped (a corpus of gigabytes is neither copied nor held twice).
  int fd = ::open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    std::fprintf(stderr, "feed: cannot read %s: %s\n", path, std::strerror(errno));
    return 1;
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* mapped = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
  if (mapped == MAP_FAILED) {
    std::fprintf(stderr, "feed: cannot map %s: %s\n", path, size > 0 ? std::strerror(errno) : "empty file");
    return 1;
  }
  ::close(fd);
  std::string_view text(static_cast<const char*>(mapped), size);
  if (text.back() != '\n') {
    std::fprintf(stderr, "feed: %s does not end with a newline (its last line would be joined to the next "
                 "copy)\n", path);
    return 1;
  }
  std::vector<size_t> ends;  // the offset after each line's newline
  for (size_t at = text.find('\n'); at != std::string_view::npos; at = text.find('\n', at + 1))
    ends.push_back(at + 1);
  if (ends.empty()) {
    std::fprintf(stderr, "feed: %s holds no line\n", path);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);  // a reader that went away ends the feed with an error, not a signal

  const uint64_t total = ends.size() * static_cast<uint64_t>(repeat);
  uint64_t sent = 0, bytes = 0, late_ticks = 0;
  double owed = 0;  // lines due and not yet written (fractions carry over from tick to tick)
  const double start = now_seconds();
  double deadline = start;
  while (sent < total) {
    owed += rate * tick;
    uint64_t due = std::min<uint64_t>(static_cast<uint64_t>(owed), total - sent);
    owed -= static_cast<double>(due);
    // The lines due, in runs of consecutive lines of the file (one write each; two when the file wraps
    // around).
    while (due > 0) {
      size_t first = sent % ends.size();
      size_t count = std::min<uint64_t>(due, ends.size() - first);
      size_t from = first == 0 ? 0 : ends[first - 1], to = ends[first + count - 1];
      if (!write_all(text.data() + from, to - from)) {
        std::fprintf(stderr, "feed: writing to standard output failed after %llu lines: %s\n",
                     static_cast<unsigned long long>(sent), std::strerror(errno));
        return 1;
      }
      sent += count;
      bytes += to - from;
      due -= count;
    }
    deadline += tick;
    double now = now_seconds();
    if (now > deadline + tick) {  // held back: go on at the rate from now, without a burst to catch up
      ++late_ticks;
      deadline = now;
      continue;
    }
    if (deadline > now) {
      double wait = deadline - now;
      timespec t{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<time_t>(wait)) * 1e9)};
      while (nanosleep(&t, &t) != 0 && errno == EINTR) {
      }
    }
  }
  double seconds = now_seconds() - start;
  std::fprintf(stderr, "feed: lines=%llu bytes=%llu seconds=%.3f lines_per_s=%.1f late_ticks=%llu\n",
               static_cast<unsigned long long>(sent), static_cast<unsigned long long>(bytes), seconds,
               seconds > 0 ? static_cast<double>(sent) / seconds : 0.0,
               static_cast<unsigned long long>(late_ticks));
  return 0;
}
