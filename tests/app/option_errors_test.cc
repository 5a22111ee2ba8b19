// Option errors on the command line and in config files: a usage error (exit 2) with a message naming the
// option, whatever the value holds. Boost.Program_options fills its messages by replacing %name% placeholders
// until none is left: a value holding one (`x%value%`) used to make the command spin forever, its memory
// growing, before it said anything.
#include <gtest/gtest.h>

#include "support/socd_process.h"

namespace socd::test {
namespace {

TEST(OptionErrors, AValueHoldingAPlaceholderIsReportedNotExpandedForever) {
  ProcessResult r = run_socd({"scan", "--threads", "x%value%", "--input", "/dev/null"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find("the argument ('x%25value%25') for option '--threads' is invalid"), std::string::npos)
      << r.err;
}

TEST(OptionErrors, AnUnknownOptionHoldingAPlaceholderIsReported) {
  ProcessResult r = run_socd({"alerts", "list", "--x%original_token%"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find("unrecognised option '--x%25original_token%25'"), std::string::npos) << r.err;
}

TEST(OptionErrors, AConfigFileValueHoldingAPlaceholderIsReported) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("socd.conf"), "workers = x%value%\n"));
  ProcessResult r = run_socd({"run", "--config", dir.file("socd.conf"), "--help"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find("the argument ('x%25value%25') for option 'workers' is invalid"), std::string::npos)
      << r.err;
  // A value without '%' is shown as given.
  ASSERT_TRUE(write_file(dir.file("socd.conf"), "workers = many\n"));
  r = run_socd({"run", "--config", dir.file("socd.conf"), "--help"});
  ASSERT_TRUE(r.exited_with(2)) << r.describe();
  EXPECT_NE(r.err.find("the argument ('many') for option 'workers' is invalid"), std::string::npos) << r.err;
}


// A directory given where a file is meant: reading one through a std::ifstream threw from inside the standard
// library and ended the process (terminate); each file option now says what is wrong, exit 2.
TEST(OptionErrors, ADirectoryWhereAFileIsMeantIsAUsageError) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("events.json"), "{\"EventID\": 1}\n"));
  const std::string d = dir.path();
  const std::vector<std::vector<std::string>> cases = {
      {"--config", d},     {"--mappings", d},   {"--thresholds", d}, {"--forwarding", d},
      {"--sagan-vars", d}, {"--assets", d},     {"--routing", d},    {"--incidents", d},
      {"--audit-key-file", d},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = {"run", "--file", dir.file("events.json"), "--exit-when-done", "--rules",
                                     std::string(SOCD_SOURCE_DIR) + "/rules", "--data-dir", dir.file("data"),
                                     "--cache-dir", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    ProcessResult r = run_socd(args);
    EXPECT_TRUE(r.exited_with(2)) << extra[0] << ": " << r.describe();
    EXPECT_NE(r.err.find("Is a directory"), std::string::npos) << extra[0] << ": " << r.err;
  }
}

}  // namespace
}  // namespace socd::test
