// The reference figure for the scan benchmark: how fast simdjson On-Demand alone gets through a JSON-lines
// file when it visits everything an engine must see (socd::bench::bare_parse_file, app/bench_reference.h, the
// code `socd bench` runs too). Every line is parsed as one document; every object key is read unescaped and every
// scalar read as its type (strings unescaped, numbers converted), recursively. No matching, no output.
//
// usage: bare_parse FILE [REPEAT]
// prints: bare_parse: events=N bytes=N malformed=N seconds=F events_per_s=F mb_per_s=F   (MB = 10^6 bytes)
// The file is read into memory first and parsed once untimed (warm-up); then REPEAT timed passes (default 1)
// parse it, and the median is printed. The time is the parse alone, not the reading.
#include <cstdio>
#include <cstdlib>

#include "bench_reference.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bare_parse FILE [REPEAT]\n");
    return 2;
  }
  int repeat = argc == 3 ? std::atoi(argv[2]) : 1;
  if (repeat < 1) {
    std::fprintf(stderr, "bare_parse: REPEAT must be a positive number, not '%s'\n", argv[2]);
    return 2;
  }
  auto run = socd::bench::bare_parse_file(argv[1], repeat);
  if (!run) {
    std::fprintf(stderr, "bare_parse: %s\n", run.error().message().c_str());
    return 1;
  }
  std::printf(
      "bare_parse: events=%llu bytes=%llu malformed=%llu seconds=%.4f events_per_s=%.0f mb_per_s=%.1f "
      "checksum=%llu implementation=%s\n",
      static_cast<unsigned long long>(run->events), static_cast<unsigned long long>(run->bytes),
      static_cast<unsigned long long>(run->malformed), run->seconds, run->events_per_s(), run->mb_per_s(),
      static_cast<unsigned long long>(run->checksum), socd::bench::bare_parse_implementation());
  return 0;
}
