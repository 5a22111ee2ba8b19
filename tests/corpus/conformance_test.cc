// Sigma conformance on the SigmaHQ rule trees in ../shared/corpus: the regression events must make the rules
// they were recorded for fire, and (nearly) every rule of the three trees must compile.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/socd_process.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

// Relative to the repository root, where socd runs.
const std::string kCorpus = "../shared/corpus";
const std::vector<std::string> kSigmaTrees = {kCorpus + "/sigma/rules",
                                              kCorpus + "/sigma/rules-emerging-threats",
                                              kCorpus + "/sigma/rules-threat-hunting"};

bool corpus_present() { return fs::is_directory(fs::path(SOCD_SOURCE_DIR) / kCorpus); }

struct ConformanceCase {
  std::string rule_id;
  std::string rule_path;
  long match_count = 0;
};

// cases.tsv: a header, then rule_id, rule_path, match_count, events (tab-separated).
std::vector<ConformanceCase> read_cases(const fs::path& file, std::string& problem) {
  std::vector<ConformanceCase> cases;
  const std::string text = read_file(file);
  std::vector<std::string_view> lines = split_lines(text);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    std::vector<std::string> columns;
    std::string_view rest = lines[i];
    for (size_t tab; (tab = rest.find('\t')) != std::string_view::npos; rest.remove_prefix(tab + 1)) {
      columns.emplace_back(rest.substr(0, tab));
    }
    columns.emplace_back(rest);
    if (columns.size() < 3) {
      problem = file.string() + ":" + std::to_string(i + 1) + ": expected rule_id, rule_path, match_count";
      return {};
    }
    cases.push_back({columns[0], columns[1], std::strtol(columns[2].c_str(), nullptr, 10)});
  }
  return cases;
}

TEST(SigmaConformance, RegressionEventsFireTheirRules) {
  if (!corpus_present()) GTEST_SKIP() << kCorpus << " (relative to the repository root) is absent: skipped";
  const fs::path corpus = fs::path(SOCD_SOURCE_DIR) / kCorpus;
  std::string problem;
  std::vector<ConformanceCase> cases = read_cases(corpus / "sigma-regression-dev/cases.tsv", problem);
  ASSERT_TRUE(problem.empty()) << problem;
  ASSERT_FALSE(cases.empty()) << "no case in sigma-regression-dev/cases.tsv";

  std::vector<std::string> args = {"scan"};
  for (const std::string& tree : kSigmaTrees) {
    args.push_back("--rules");
    args.push_back(tree);
  }
  args.push_back("--input");
  args.push_back(kCorpus + "/sigma-regression-dev/events.jsonl");
  ProcessResult run = run_socd(args);
  ASSERT_TRUE(run.exited_with(0)) << run.describe() << "\nstderr:\n" << last_lines(run.err, 40);
  std::optional<Summary> summary = parse_summary(run.err);
  ASSERT_TRUE(summary.has_value()) << "no summary line at the end of stderr:\n" << last_lines(run.err, 10);

  // How often each rule fired on the events recorded for it (the event's _case names that rule).
  std::map<std::string, long, std::less<>> fired_on_own_events;
  simdjson::dom::parser parser;
  size_t alert_count = 0, unreadable = 0;
  for (std::string_view line : split_lines(run.out)) {
    ++alert_count;
    simdjson::dom::element alert;
    std::string_view rule_id, event_case;
    if (parser.parse(line.data(), line.size()).get(alert) || alert["rule"]["id"].get(rule_id)) {
      ++unreadable;
      continue;
    }
    if (alert["event"]["_case"].get(event_case) == simdjson::SUCCESS && event_case == rule_id) {
      ++fired_on_own_events[std::string(rule_id)];
    }
  }
  EXPECT_EQ(unreadable, 0u) << unreadable << " of " << alert_count
                            << " stdout lines are not alerts with rule.id";

  size_t passed = 0;
  std::string failures;
  for (const ConformanceCase& c : cases) {
    auto it = fired_on_own_events.find(c.rule_id);
    long fired = it == fired_on_own_events.end() ? 0 : it->second;
    if (fired >= c.match_count) {
      ++passed;
    } else {
      failures += "  FAIL " + c.rule_id + "  " + c.rule_path + "  fired " + std::to_string(fired) + " of " +
                  std::to_string(c.match_count) + "\n";
    }
  }
  std::cout << failures << "conformance: " << passed << "/" << cases.size() << " (" << alert_count
            << " alerts in all; " << summary_number(*summary, "rules_loaded") << " rules loaded, "
            << summary_number(*summary, "rules_skipped") << " skipped)" << std::endl;
  EXPECT_EQ(passed, cases.size()) << "Sigma conformance cases failing:\n" << failures;
}

TEST(SigmaConformance, NearlyAllSigmaHqRulesCompile) {
  if (!corpus_present()) GTEST_SKIP() << kCorpus << " (relative to the repository root) is absent: skipped";
  size_t rule_files = 0;
  for (const std::string& tree : kSigmaTrees) {
    for (const fs::directory_entry& entry :
         fs::recursive_directory_iterator(fs::path(SOCD_SOURCE_DIR) / tree)) {
      std::string extension = entry.path().extension().string();
      if (entry.is_regular_file() && (extension == ".yml" || extension == ".yaml")) ++rule_files;
    }
  }

  std::vector<std::string> args = {"rules", "check"};
  args.insert(args.end(), kSigmaTrees.begin(), kSigmaTrees.end());
  ProcessResult run = run_socd(args);
  ASSERT_TRUE(run.started && run.signal == 0) << run.describe() << "\nstderr:\n" << last_lines(run.err, 40);
  std::string all_output = run.out + run.err;
  std::optional<Summary> summary;
  for (std::string_view line : split_lines(all_output)) {
    if (line.substr(0, 9) == "summary: ") summary = parse_summary(line);
  }
  ASSERT_TRUE(summary.has_value()) << "`socd rules check` printed no summary line:\n"
                                   << last_lines(all_output, 20);
  double loaded = summary_number(*summary, "rules_loaded");
  double skipped = summary_number(*summary, "rules_skipped");
  ASSERT_GE(loaded, 0) << "summary has no numeric rules_loaded";
  ASSERT_GE(skipped, 0) << "summary has no numeric rules_skipped";

  // Skipped rules by reason, from the "file:line: message [reason]" diagnostics.
  std::map<std::string, size_t> reasons;
  size_t diagnostics = 0;
  for (std::string_view line : split_lines(all_output)) {
    if (line.empty() || line.back() != ']') continue;
    size_t open = line.rfind(" [");
    if (open == std::string_view::npos) continue;
    std::string reason(line.substr(open + 2, line.size() - open - 3));
    if (reason.rfind("warning", 0) == 0) continue;
    ++diagnostics;
    ++reasons[reason];
  }
  double percent = loaded + skipped > 0 ? 100.0 * loaded / (loaded + skipped) : 0;
  std::cout << "sigma compile: " << loaded << " of " << loaded + skipped << " rules (" << percent
            << "%) from " << rule_files << " files; skipped by reason:";
  for (const auto& [reason, count] : reasons) std::cout << " " << reason << "=" << count;
  std::cout << std::endl;

  EXPECT_GE(loaded + skipped, rule_files) << "fewer rules counted than rule files in the three trees";
  EXPECT_GE(percent, 98.0) << "only " << loaded << " of " << loaded + skipped << " SigmaHQ rules compile";
  EXPECT_GE(diagnostics, skipped) << "every skipped rule must have a diagnostic naming file, line and reason";
}

}  // namespace
}  // namespace socd::test
