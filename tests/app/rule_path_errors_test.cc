// A rule path that does not exist is a usage error (exit 2) naming the path, for every command that loads rules:
// a mistyped --rules path would otherwise run with no detection at all and say nothing. A rule directory that
// cannot be walked completely is a skipped rule: counted in the summary, fatal with --strict and for `rules check`.
#include <gtest/gtest.h>

#include "support/deep_tree.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

constexpr const char* kRule =
    "title: Test rule\nid: 6b0e0000-0000-4000-8000-000000000001\nstatus: test\nlevel: low\n"
    "logsource: {category: socd_rule_path_test}\ndetection:\n    s: {CommandLine|contains: whoami}\n    condition: s\n";

TEST(RulePathErrors, AMissingRulePathIsAUsageErrorNamingIt) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("events.jsonl"), "{\"CommandLine\":\"whoami\"}\n"));
  const std::string missing = dir.file("nonexistent");
  const std::string said = "rule path '" + missing + "' does not exist";
  const std::vector<std::vector<std::string>> commands = {
      {"scan", "--rules", missing, "--input", dir.file("events.jsonl"), "--cache-dir", "none"},
      {"scan", "--rules", "rules", "--rules", missing, "--input", dir.file("events.jsonl"), "--cache-dir", "none",
       "--strict"},
      {"rules", "check", missing, "--cache-dir", "none"},
      {"replay", "--rules", missing, "--cache-dir", "none", "--data-dir", dir.file("store"), dir.file("events.jsonl")},
      {"run", "--rules", missing, "--file", dir.file("events.jsonl"), "--exit-when-done", "--data-dir",
       dir.file("store"), "--cache-dir", "none"},
  };
  for (const auto& args : commands) {
    ProcessResult r = run_socd(args);
    EXPECT_TRUE(r.exited_with(2)) << args[0] << ": " << r.describe() << "\n" << last_lines(r.err, 5);
    EXPECT_NE(r.err.find(said), std::string::npos) << args[0] << ": " << last_lines(r.err, 5);
    EXPECT_EQ(r.out.find("summary:"), std::string::npos) << args[0] << ": nothing is loaded or scanned";
  }
}

TEST(RulePathErrors, ADirectoryThatCannotBeWalkedIsASkippedRule) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string rules = dir.file("rules");
  std::filesystem::create_directories(rules);
  ASSERT_TRUE(write_file(rules + "/whoami.yml", kRule));
  ASSERT_TRUE(make_deep_tree(rules, "deep.yml", kRule));
  ASSERT_TRUE(write_file(dir.file("events.jsonl"), "{\"CommandLine\":\"whoami\"}\n"));
  ProcessResult scan = run_socd({"scan", "--rules", rules, "--input", dir.file("events.jsonl"), "--cache-dir", "none"});
  ProcessResult strict = run_socd({"scan", "--rules", rules, "--input", dir.file("events.jsonl"), "--cache-dir",
                                   "none", "--strict"});
  ProcessResult check = run_socd({"rules", "check", rules, "--cache-dir", "none"});
  remove_deep_tree(rules);

  EXPECT_TRUE(scan.exited_with(0)) << scan.describe() << "\n" << last_lines(scan.err, 5);
  auto summary = parse_summary(scan.err);
  ASSERT_TRUE(summary) << last_lines(scan.err, 5);
  EXPECT_EQ(summary_number(*summary, "rules_loaded"), 1);
  EXPECT_EQ(summary_number(*summary, "rules_skipped"), 1);
  EXPECT_EQ(summary_number(*summary, "alerts"), 1);
  EXPECT_NE(scan.err.find("cannot read the rule directory, the rules below it are not loaded: File name too long"),
            std::string::npos)
      << last_lines(scan.err, 5);

  EXPECT_TRUE(strict.exited_with(2)) << strict.describe() << "\n" << last_lines(strict.err, 5);
  EXPECT_TRUE(check.exited_with(2)) << check.describe() << "\n" << last_lines(check.out, 5);
  EXPECT_NE(check.out.find("[read-error]"), std::string::npos) << last_lines(check.out, 20);
  EXPECT_NE(check.out.find("rules_skipped=1 "), std::string::npos) << last_lines(check.out, 5);
}

}  // namespace
}  // namespace socd::test
