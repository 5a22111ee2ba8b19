// bare_hs RULES_DIR FILE [REPEAT]: the reference figure for the matching side of `socd scan`: a bare Hyperscan
// scan of every line of FILE against the literals of the Sigma rules under RULES_DIR, with nothing else done.
//
// The literals (sigma_literals.h): every string value under each rule's `detection:`, cut at its wildcards,
// compiled into one block-mode database of case-insensitive literals (hs_compile_lit_multi). Each line is scanned
// whole, as raw bytes (JSON escapes not undone, no field split): the cost of one literal pass over the bytes,
// the floor under any literal prefilter. The file is read into memory first and scanned once untimed.
//
// Prints: bare_hs: patterns=N events=N bytes=N seconds=F events_per_s=F mb_per_s=F lines_matching=N
#include <hs/hs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sigma_literals.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bare_hs RULES_DIR FILE [REPEAT]\n");
    return 2;
  }
  int repeat = argc > 3 ? std::max(1, std::atoi(argv[3])) : 1;
  size_t rules = 0, unreadable = 0;
  std::set<std::string> literals = socd::bench::sigma_literals(argv[1], &rules, &unreadable);
  if (literals.empty()) {
    std::fprintf(stderr, "bare_hs: no literal found under %s (%zu unreadable files)\n", argv[1], unreadable);
    return 1;
  }
  hs_database_t* db = socd::bench::compile_literals(literals);
  if (!db) return 1;
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);

  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "bare_hs: cannot read %s\n", argv[2]);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::vector<std::pair<size_t, size_t>> lines;
  for (size_t pos = 0; pos < data.size();) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    if (end > pos) lines.emplace_back(pos, end - pos);
    pos = end + 1;
  }
  uint64_t matching = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    *static_cast<bool*>(ctx) = true;
    return 0;
  };
  auto scan_all = [&] {
    uint64_t n = 0;
    for (auto [off, len] : lines) {
      bool hit = false;
      hs_scan(db, data.data() + off, static_cast<unsigned>(len), 0, scratch, on_match, &hit);
      n += hit;
    }
    return n;
  };
  matching = scan_all();  // untimed warm-up
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    matching = scan_all();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("bare_hs: rules=%zu patterns=%zu events=%zu bytes=%zu seconds=%.4f events_per_s=%.1f mb_per_s=%.1f "
              "lines_matching=%llu\n",
              rules, literals.size(), lines.size(), data.size(), best, lines.size() / best, data.size() / best / 1e6,
              static_cast<unsigned long long>(matching));
  hs_free_scratch(scratch);
  hs_free_database(db);
  return 0;
}
