// Golden end-to-end tests: every directory under tests/golden/ is one case, run through `socd scan` from the
// repository root; the alerts it prints must be exactly the ones the case expects.
//
// A case directory holds:
//   rules/        a folder of rule files             OR  rules       a file naming rule paths, one per line
//   input.jsonl   or input.log                       OR  input_path  a file naming the input path
//   expected.tsv  one line per expected alert: "<input line>\t<rule id>" (blank lines and '#' lines ignored;
//                 an empty file means no alert may fire)
//   args          optional: extra arguments for `socd scan`, on one line, separated by spaces
// Named paths are relative to the repository root (where socd runs) or, failing that, to the case directory.
// A case whose paths point into ../shared/corpus is skipped when the corpus is absent.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/socd_process.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

const fs::path kSourceDir = SOCD_SOURCE_DIR;
const fs::path kGoldenDir = kSourceDir / "tests" / "golden";

std::vector<std::string> golden_case_names() {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(kGoldenDir, error)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A case as a test parameter: its directory name and a unique gtest name (letters, digits and '_' only).
struct CaseParam {
  std::string dir;
  std::string test_name;
};

void PrintTo(const CaseParam& param, std::ostream* out) { *out << "tests/golden/" << param.dir; }

std::vector<CaseParam> golden_case_params() {
  std::vector<CaseParam> params;
  std::set<std::string> taken;
  for (const std::string& dir : golden_case_names()) {
    std::string name = dir;
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    std::string unique = name;
    for (int n = 2; !taken.insert(unique).second; ++n) unique = name + "_" + std::to_string(n);
    params.push_back({dir, unique});
  }
  return params;
}

// The lines of a small text file that carry something: trimmed, without blank lines and '#' comments.
std::vector<std::string> meaningful_lines(const fs::path& file) {
  std::vector<std::string> lines;
  const std::string text = read_file(file);
  for (std::string_view line : split_lines(text)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') lines.emplace_back(line);
  }
  return lines;
}

// One expected or produced alert: the input line it is about and the rule that fired.
using Alert = std::pair<uint64_t, std::string>;

std::string format_alert(const Alert& alert) { return std::to_string(alert.first) + "\t" + alert.second; }

// What is in one multiset and not in the other, both sorted; "" when they are equal.
std::string alert_diff(const std::vector<Alert>& expected, const std::vector<Alert>& actual) {
  std::vector<Alert> missing, unexpected;
  std::set_difference(expected.begin(), expected.end(), actual.begin(), actual.end(),
                      std::back_inserter(missing));
  std::set_difference(actual.begin(), actual.end(), expected.begin(), expected.end(),
                      std::back_inserter(unexpected));
  std::string diff;
  for (const Alert& alert : missing) diff += "  - " + format_alert(alert) + "   (expected, did not fire)\n";
  for (const Alert& alert : unexpected) diff += "  + " + format_alert(alert) + "   (fired, not expected)\n";
  return diff;
}

class GoldenCase {
public:
  explicit GoldenCase(std::string name) : name_(std::move(name)), dir_(kGoldenDir / name_) {}

  // Resolves a path named by the case: relative to the repository root, else to the case directory. Returns
  // the path as socd should get it (relative to the repository root, where it runs); "" when neither exists.
  std::string resolve(const std::string& named) const {
    fs::path path(named);
    if (path.is_absolute()) return fs::exists(path) ? named : std::string();
    if (fs::exists(kSourceDir / path)) return named;
    if (fs::exists(dir_ / path)) return relative_to_root(path);
    return {};
  }

  // A path inside the case directory, relative to the repository root.
  std::string relative_to_root(const fs::path& inside) const {
    return (fs::path("tests/golden") / name_ / inside).lexically_normal().string();
  }

  // Builds the `socd scan` arguments; on a problem with the case itself returns false with `problem` set,
  // and sets `corpus_missing` when the problem is only that ../shared/corpus is absent.
  bool scan_arguments(std::vector<std::string>& args, std::string& problem, bool& corpus_missing) const {
    args = {"scan"};
    corpus_missing = false;
    auto add_named = [&](const char* option, const std::string& named) {
      std::string resolved = resolve(named);
      if (resolved.empty()) {
        corpus_missing = named.find("shared/corpus") != std::string::npos;
        problem = "'" + named + "' (named by " + name_ +
                  ") exists neither under the repository root nor under " + dir_.string();
        return false;
      }
      args.push_back(option);
      args.push_back(resolved);
      return true;
    };

    if (fs::is_directory(dir_ / "rules")) {
      args.push_back("--rules");
      args.push_back(relative_to_root("rules"));
    } else if (fs::is_regular_file(dir_ / "rules")) {
      std::vector<std::string> rule_paths = meaningful_lines(dir_ / "rules");
      if (rule_paths.empty()) {
        problem = (dir_ / "rules").string() + " names no rule path";
        return false;
      }
      for (const std::string& rule_path : rule_paths) {
        if (!add_named("--rules", rule_path)) return false;
      }
    } else {
      problem = dir_.string() + " has neither a rules/ folder nor a rules file";
      return false;
    }

    if (fs::is_regular_file(dir_ / "input.jsonl")) {
      args.push_back("--input");
      args.push_back(relative_to_root("input.jsonl"));
    } else if (fs::is_regular_file(dir_ / "input.log")) {
      args.push_back("--input");
      args.push_back(relative_to_root("input.log"));
    } else if (fs::is_regular_file(dir_ / "input_path")) {
      std::vector<std::string> inputs = meaningful_lines(dir_ / "input_path");
      if (inputs.size() != 1) {
        problem = (dir_ / "input_path").string() + " must name exactly one input path";
        return false;
      }
      if (!add_named("--input", inputs[0])) return false;
    } else {
      problem = dir_.string() + " has no input.jsonl, input.log or input_path";
      return false;
    }

    if (fs::is_regular_file(dir_ / "args")) {
      std::istringstream extra(read_file(dir_ / "args"));
      for (std::string arg; extra >> arg;) args.push_back(arg);
    }
    return true;
  }

  bool expected_alerts(std::vector<Alert>& alerts, std::string& problem) const {
    fs::path file = dir_ / "expected.tsv";
    if (!fs::is_regular_file(file)) {
      problem = file.string() + " is missing (an empty file says no alert may fire)";
      return false;
    }
    for (const std::string& line : meaningful_lines(file)) {
      size_t tab = line.find('\t');
      char* end = nullptr;
      uint64_t number = tab == std::string::npos ? 0 : std::strtoull(line.c_str(), &end, 10);
      if (tab == 0 || tab == std::string::npos || end != line.c_str() + tab || tab + 1 == line.size()) {
        problem = file.string() + ": '" + line + "' is not \"<line>\\t<rule id>\"";
        return false;
      }
      alerts.emplace_back(number, line.substr(tab + 1));
    }
    std::sort(alerts.begin(), alerts.end());
    return true;
  }

private:
  std::string name_;
  fs::path dir_;
};

// Reads source.line and rule.id from each alert line on stdout; a line that is not such an alert is a
// problem.
std::vector<Alert> produced_alerts(std::string_view out, std::string& problems) {
  std::vector<Alert> alerts;
  simdjson::dom::parser parser;
  size_t number = 0;
  for (std::string_view line : split_lines(out)) {
    ++number;
    simdjson::dom::element alert;
    uint64_t source_line = 0;
    std::string_view rule_id;
    if (parser.parse(line.data(), line.size()).get(alert) || alert["source"]["line"].get(source_line) ||
        alert["rule"]["id"].get(rule_id)) {
      problems += "stdout line " + std::to_string(number) +
                  " is not an alert with source.line and rule.id: " + std::string(line.substr(0, 300)) + "\n";
      continue;
    }
    alerts.emplace_back(source_line, std::string(rule_id));
  }
  std::sort(alerts.begin(), alerts.end());
  return alerts;
}

class GoldenTest : public ::testing::TestWithParam<CaseParam> {};

TEST_P(GoldenTest, AlertsMatchExpected) {
  const std::string& case_dir = GetParam().dir;
  GoldenCase golden(case_dir);
  std::vector<std::string> args;
  std::string problem;
  bool corpus_missing = false;
  if (!golden.scan_arguments(args, problem, corpus_missing)) {
    if (corpus_missing) GTEST_SKIP() << "../shared/corpus is absent: " << problem;
    FAIL() << problem;
  }
  std::vector<Alert> expected;
  ASSERT_TRUE(golden.expected_alerts(expected, problem)) << problem;

  std::string command = "socd";
  for (const std::string& arg : args) command += " " + arg;
  ProcessResult run = run_socd(args);
  ASSERT_TRUE(run.started) << run.describe();

  std::string parse_problems;
  std::vector<Alert> actual = produced_alerts(run.out, parse_problems);
  std::string diff = alert_diff(expected, actual);
  EXPECT_TRUE(diff.empty() && parse_problems.empty())
      << "golden case " << case_dir << ": " << command << "\n"
      << "alerts differ from expected.tsv (" << expected.size() << " expected, " << actual.size()
      << " fired):\n"
      << diff << parse_problems << "stderr:\n"
      << last_lines(run.err, 30);
  EXPECT_TRUE(run.exited_with(0)) << command << ": " << run.describe() << "\nstderr:\n"
                                  << last_lines(run.err, 30);
  EXPECT_TRUE(parse_summary(run.err).has_value())
      << command << ": the last line of stderr is not the summary line\nstderr:\n"
      << last_lines(run.err, 10);
}

INSTANTIATE_TEST_SUITE_P(Cases, GoldenTest, ::testing::ValuesIn(golden_case_params()),
                         [](const ::testing::TestParamInfo<CaseParam>& info) {
                           return info.param.test_name;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

TEST(GoldenRunner, FindsTheCaseDirectories) {
  std::vector<std::string> names = golden_case_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "runner-smoke"), names.end())
      << "tests/golden/runner-smoke is missing from the discovered cases under " << kGoldenDir;
}

TEST(GoldenRunner, ReportsMissingAndUnexpectedAlerts) {
  std::vector<Alert> expected{{1, "a"}, {1, "a"}, {3, "b"}};
  std::vector<Alert> actual{{1, "a"}, {3, "b"}, {4, "c"}};
  EXPECT_EQ(alert_diff(expected, actual),
            "  - 1\ta   (expected, did not fire)\n  + 4\tc   (fired, not expected)\n");
  EXPECT_EQ(alert_diff(expected, expected), "");
}

}  // namespace
}  // namespace socd::test
