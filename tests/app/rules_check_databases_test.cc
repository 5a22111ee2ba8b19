// `socd rules check` says how many patterns went to which Hyperscan database: one line per database (the keyword
// database, then one per field tested) with its literals and regexes, and the `summary:` line still last.
#include <gtest/gtest.h>

#include <regex>

#include "support/socd_process.h"

namespace socd::test {
namespace {

std::string rule(const std::string& id, const std::string& detection) {
  return "title: " + id + "\nid: " + id + "\nstatus: test\nlevel: low\nlogsource: {category: socd_check_test}\n"
         "detection:\n" + detection + "    condition: s\n";
}

// The "  database N ..." lines of the output, in order.
std::vector<std::string> database_lines(std::string_view out) {
  std::vector<std::string> lines;
  for (std::string_view line : split_lines(out))
    if (line.rfind("  database ", 0) == 0) lines.emplace_back(line);
  return lines;
}

TEST(RulesCheckDatabases, OneLinePerDatabaseWithItsFieldAndPatterns) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("a_keywords.yml"), rule("a", "    s: ['mimikatz']\n")));
  ASSERT_TRUE(write_file(dir.file("b_command.yml"),
                         rule("b", "    s:\n        CommandLine|contains: ['-encodedcommand', 'sekurlsa']\n")));
  ASSERT_TRUE(write_file(dir.file("c_image.yml"), rule("c", "    s:\n        Image|re: '\\\\(cmd|pwsh)\\.exe$'\n")));
  ProcessResult r = run_socd({"rules", "check", dir.path().string(), "--cache-dir", "none"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.out << r.err;
  EXPECT_EQ(database_lines(r.out),
            (std::vector<std::string>{"  database 1 keywords (every value of the event): literals=1 regexes=0",
                                      "  database 2 field CommandLine: literals=2 regexes=0",
                                      "  database 3 field Image: literals=0 regexes=1"}))
      << r.out;
  std::vector<std::string_view> lines = split_lines(r.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("summary: rules_loaded=3 rules_skipped=0 warnings=", 0), 0u) << lines.back();
  EXPECT_NE(lines.back().find(" literal_patterns=3 regex_patterns=1 "), std::string_view::npos) << lines.back();
}

// Over the shipped rules: the databases' patterns add up to the summary's totals.
TEST(RulesCheckDatabases, ThePerDatabaseCountsAddUpToTheTotals) {
  ProcessResult r = run_socd({"rules", "check", "rules", "--cache-dir", "none"});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << last_lines(r.out, 20) << r.err;
  static const std::regex line(R"(  database \d+ (keywords \(every value of the event\)|field .+): )"
                               R"(literals=(\d+) regexes=(\d+)( \(not built: .*\))?)");
  size_t literals = 0, regexes = 0, databases = 0;
  for (const std::string& l : database_lines(r.out)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(l, m, line)) << l;
    literals += std::stoul(m[2]);
    regexes += std::stoul(m[3]);
    ++databases;
  }
  EXPECT_GT(databases, 1u);
  auto summary = parse_summary(split_lines(r.out).back());
  ASSERT_TRUE(summary) << last_lines(r.out, 3);
  EXPECT_EQ(summary_number(*summary, "literal_patterns"), static_cast<double>(literals));
  EXPECT_EQ(summary_number(*summary, "regex_patterns"), static_cast<double>(regexes));
  EXPECT_NE(r.out.find("prefilter: " + std::to_string(databases) + " Hyperscan databases"), std::string::npos)
      << last_lines(r.out, 20);
}

}  // namespace
}  // namespace socd::test
