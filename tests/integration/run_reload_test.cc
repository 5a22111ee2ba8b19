// Rule reloads of `socd run` under load: lines flow into its standard input all the time while the test adds
// a rule on disk and sends SIGHUP, then breaks the rule set three times (an unknown modifier, invalid YAML,
// the rule directory renamed away) and sends SIGHUP again. Every line must be an event; every line after the
// swap fires the new rule; the refused reloads are counted and explained on stderr (file:line, or the path
// gone), and the rules in use keep firing, each line exactly once.
#include <gtest/gtest.h>

#include <mutex>

#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::series;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000b001";
constexpr const char* kNewRule = "5e1f0000-0000-4000-8000-00000000b002";
constexpr std::string_view kNewToken = "socd-test-new";

// Writes numbered lines into the service's stdin, `burst` lines every 10 ms, until stopped.
class StdinFeeder {
public:
  explicit StdinFeeder(test::SocdService& socd) : socd_(socd) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        std::string burst;
        uint64_t first = next_.load();
        for (uint64_t seq = first; seq < first + 20; ++seq)
          burst += test::numbered_line(seq, test::hits(seq), kNewToken);
        if (!socd_.write_stdin(burst)) {
          failed_ = true;
          break;
        }
        next_.store(first + 20);
        std::this_thread::sleep_for(10ms);
      }
    });
  }
  ~StdinFeeder() { stop(); }
  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // The seq the next line will have (all lines before it are in the pipe).
  uint64_t next() const { return next_.load(); }
  bool failed() const { return failed_.load(); }
  // Waits (at most 30 s) until `seq` lines are written.
  bool wait_for(uint64_t seq) const {
    return test::eventually([&] { return next_.load() >= seq || failed_.load(); }, 30s) &&
           next_.load() >= seq;
  }

private:
  test::SocdService& socd_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, failed_{false};
  std::atomic<uint64_t> next_{0};
};

// True when a line of `text` holds both `first` and, after it, `second`.
bool has_line_with(std::string_view text, const std::string& first, std::string_view second) {
  for (std::string_view line : test::split_lines(text)) {
    size_t at = line.find(first);
    if (at != std::string_view::npos && line.find(second, at + first.size()) != std::string_view::npos)
      return true;
  }
  return false;
}

TEST(RunReload, SighupUnderLoadSwapsRulesLosesNoLineAndRefusesABrokenSet) {
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::filesystem::path rules = dir.path() / "rules";
  std::filesystem::create_directories(rules);
  ASSERT_TRUE(test::write_file(rules / "hit.yml", test::keyword_rule(kHitRule, "Test hit", test::kHitToken)));
  test::SocdService::Options options;
  options.data_dir = dir.file("store");
  options.rules = rules.string();
  options.cache_dir = dir.file("cache");
  options.log = dir.file("socd.log");
  options.sources = {"--stdin"};
  options.stdin_pipe = true;
  test::SocdService socd(options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string events = series("socd_source_events_total", {{"source", "stdin"}});
  const std::string generation = series("socd_ruleset_generation");
  const std::string reloads_ok = series("socd_rule_reloads_total", {{"result", "ok"}});
  const std::string reloads_refused = series("socd_rule_reloads_total", {{"result", "refused"}});

  StdinFeeder feeder(socd);
  EXPECT_GE(socd.wait_metric_at_least(events, 500, 30s), 500);

  // A new rule, and SIGHUP: the lines written once socd said it reloaded were read after the swap.
  ASSERT_TRUE(test::write_file(rules / "new.yml", test::keyword_rule(kNewRule, "Test new", kNewToken)));
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reloaded: 2 rules"))
      << test::last_lines(socd.err(), 10);
  const uint64_t swapped_before = feeder.next();
  auto metrics = socd.metrics();
  EXPECT_EQ(test::sample(metrics, generation), 2);
  EXPECT_EQ(test::sample(metrics, reloads_ok), 1);
  EXPECT_EQ(test::sample(metrics, reloads_refused), 0);
  ASSERT_TRUE(feeder.wait_for(swapped_before + 500));

  // An unknown modifier: refused, said why (file and line), the two rules stay.
  ASSERT_TRUE(test::write_file(rules / "broken.yml",
                               "title: Broken\nid: 5e1f0000-0000-4000-8000-00000000b003\nstatus: test\n"
                               "logsource: {}\ndetection:\n    sel:\n        message|contain: 'x'\n"
                               "    condition: sel\nlevel: low\n"));
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reload refused")) << test::last_lines(socd.err(), 10);
  EXPECT_NE(socd.err().find((rules / "broken.yml").string() + ":7: unknown modifier 'contain'"),
            std::string::npos)
      << test::last_lines(socd.err(), 10);
  EXPECT_EQ(socd.wait_metric_at_least(reloads_refused, 1, 10s), 1);
  EXPECT_EQ(test::sample(socd.metrics(), generation), 2);
  ASSERT_TRUE(feeder.wait_for(feeder.next() + 300));

  // Invalid YAML: refused as well.
  ASSERT_TRUE(test::write_file(rules / "broken.yml", "title: [unclosed\nid: x\n"));
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reload refused", 2)) << test::last_lines(socd.err(), 10);
  EXPECT_TRUE(has_line_with(socd.err(), (rules / "broken.yml").string() + ":", "YAML"))
      << test::last_lines(socd.err(), 10);
  EXPECT_EQ(socd.wait_metric_at_least(reloads_refused, 2, 10s), 2);
  metrics = socd.metrics();
  EXPECT_EQ(test::sample(metrics, generation), 2);
  EXPECT_EQ(test::sample(metrics, reloads_ok), 1);
  ASSERT_TRUE(feeder.wait_for(feeder.next() + 300));

  // The rule directory gone: refused, the reason names the path (an empty set would end all detection).
  const std::filesystem::path moved = dir.path() / "rules.moved";
  std::filesystem::rename(rules, moved);
  socd.signal(SIGHUP);
  ASSERT_TRUE(socd.wait_stderr("socd run: reload refused", 3)) << test::last_lines(socd.err(), 10);
  EXPECT_TRUE(has_line_with(socd.err(), "reload refused", "rule path '" + rules.string() + "' does not exist"))
      << test::last_lines(socd.err(), 10);
  EXPECT_EQ(socd.wait_metric_at_least(reloads_refused, 3, 10s), 3);
  metrics = socd.metrics();
  EXPECT_EQ(test::sample(metrics, generation), 2);
  EXPECT_EQ(test::sample(metrics, reloads_ok), 1);
  std::filesystem::rename(moved, rules);
  ASSERT_TRUE(feeder.wait_for(feeder.next() + 300));

  feeder.stop();
  ASSERT_FALSE(feeder.failed()) << "socd stopped reading its stdin: " << test::last_lines(socd.err(), 10);
  const uint64_t total = feeder.next();
  socd.close_stdin();
  EXPECT_EQ(socd.wait_metric_at_least(events, static_cast<double>(total), 30s), total);
  metrics = socd.metrics();
  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), total);
  EXPECT_EQ(test::summary_number(summary, "malformed"), 0);

  std::vector<uint64_t> hit_seqs, after_swap;
  for (uint64_t seq = 0; seq < total; ++seq) {
    if (test::hits(seq)) hit_seqs.push_back(seq);
    if (seq >= swapped_before) after_swap.push_back(seq);
  }
  auto alerts = test::list_alerts(dir.file("store"), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(test::exactly_once(test::seq_counts(alerts, kHitRule), hit_seqs), "") << "rule " << kHitRule;
  // The new rule fired on every line after the swap, and on some before it at most (lines still in the pipe
  // or the pipeline when the swap came), each once.
  auto new_counts = test::seq_counts(alerts, kNewRule);
  std::map<int64_t, int> new_after_swap, new_before_swap;
  for (const auto& [seq, n] : new_counts) {
    if (seq >= static_cast<int64_t>(swapped_before))
      new_after_swap[seq] = n;
    else
      new_before_swap[seq] = n;
  }
  EXPECT_EQ(test::exactly_once(new_after_swap, after_swap), "") << "rule " << kNewRule;
  for (const auto& [seq, n] : new_before_swap)
    EXPECT_EQ(n, 1) << "seq=" << seq << " fired the new rule " << n << "x";
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), static_cast<double>(alerts.size()));
  EXPECT_EQ(test::sample(metrics, series("socd_rule_matches_total", {{"rule", kNewRule}})),
            new_counts.size());
  EXPECT_EQ(test::sample(metrics, series("socd_rule_matches_total", {{"rule", kHitRule}})), hit_seqs.size());
}

}  // namespace
}  // namespace socd
