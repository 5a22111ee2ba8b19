// bare_hs RULES_DIR FILE [REPEAT]: the reference figure for the matching side of `socd scan`: a bare Hyperscan
// scan of every line of FILE against the literals of the Sigma rules under RULES_DIR, with nothing else done
// (socd::bench::bare_hs_file, app/bench_reference.h, the code `socd bench` runs too).
//
// The literals: every string value under each rule's `detection:`, cut at its wildcards, compiled into one
// block-mode database of case-insensitive literals (hs_compile_lit_multi). Each line is scanned whole, as raw
// bytes (JSON escapes not undone, no field split): the cost of one literal pass over the bytes, the floor under
// any literal prefilter. The file is read into memory first and scanned once untimed; the fastest pass counts.
//
// Prints: bare_hs: rules=N patterns=N events=N bytes=N seconds=F events_per_s=F mb_per_s=F lines_matching=N
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "bench_reference.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bare_hs RULES_DIR FILE [REPEAT]\n");
    return 2;
  }
  int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  auto scan = socd::bench::bare_hs_file(argv[1], argv[2], repeat);
  if (!scan) {
    std::fprintf(stderr, "bare_hs: %s\n", scan.error().message().c_str());
    return 1;
  }
  std::printf("bare_hs: rules=%zu patterns=%zu events=%llu bytes=%llu seconds=%.4f events_per_s=%.1f "
              "mb_per_s=%.1f lines_matching=%llu\n",
              scan->rules, scan->patterns, static_cast<unsigned long long>(scan->run.events),
              static_cast<unsigned long long>(scan->run.bytes), scan->run.seconds, scan->run.events_per_s(),
              scan->run.mb_per_s(), static_cast<unsigned long long>(scan->lines_matching));
  return 0;
}
