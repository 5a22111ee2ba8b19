// The reference measurements of the benchmark suite (socd bench, bench/bare_parse, bench/bare_hs,
// bench/bench_micro), in one place so every program measures them the same way:
//   - the bare simdjson On-Demand parse of a JSON-lines file, visiting every key and value: the most any JSON-lines
//     engine can get through on this machine without doing anything with what it reads;
//   - the bare Hyperscan scan of every line against the literals of Sigma rules: one literal pass over the bytes,
//     the floor under any literal prefilter;
//   - alert-store writes: batches of alerts of a typical size into RocksDB (not fsynced).
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "socd/alert_store.h"
#include "socd/status.h"

struct hs_database;

namespace socd::bench {

struct BareRun {
  uint64_t events = 0, bytes = 0, malformed = 0, checksum = 0;  // checksum: what was read, folded
  double seconds = 0;
  double events_per_s() const { return seconds > 0 ? events / seconds : 0; }
  double mb_per_s() const { return seconds > 0 ? bytes / seconds / 1e6 : 0; }
};

// The instruction set the On-Demand code was compiled for (-march; On-Demand has no run-time dispatch).
const char* bare_parse_implementation();
// Reads `path` into memory, parses it once untimed, then `repeat` timed passes; the median pass (the time is the
// parse alone). Each line is one document; a line that is not one JSON object with nothing after it is malformed.
Expected<BareRun> bare_parse_file(const std::string& path, int repeat);

// The literals of Sigma rules: every string value under each rule's `detection:` (not `condition` or
// `timeframe`, not values of `|re` keys), cut at unescaped wildcards (* and ?), pieces of at least 3 bytes,
// deduplicated. `rules` counts the rules read, `unreadable` the files that are not YAML.
std::set<std::string> sigma_literals(const std::string& dir, size_t* rules = nullptr, size_t* unreadable = nullptr);
// One block-mode database of `literals`, case-insensitive, one match per literal per scan; the error when
// Hyperscan refuses them.
Expected<hs_database*> compile_literals(const std::set<std::string>& literals);

struct BareScan {
  BareRun run;
  size_t rules = 0, patterns = 0;
  uint64_t lines_matching = 0;
};
// Scans every line of `path` (whole, raw bytes) against the literals of the rules under `rules_dir`: once
// untimed, then `repeat` timed passes; the fastest pass.
Expected<BareScan> bare_hs_file(const std::string& rules_dir, const std::string& path, int repeat);

// Fills `alerts` as the store benchmark writes them: about 600 bytes of JSON each, ids from `serial` on.
void fill_bench_alerts(std::vector<StoredAlert>& alerts, uint64_t& serial);
// Writes `batches` batches of `batch_size` alerts (with a checkpoint each, as the pipeline writes them) into a
// new store under `dir` (which must not exist; removed at the end); alerts per second.
Expected<double> store_write_rate(const std::string& dir, size_t batch_size, size_t batches);

}  // namespace socd::bench
