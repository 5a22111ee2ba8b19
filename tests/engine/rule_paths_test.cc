// Rule paths that are missing or cannot be walked: each is a diagnostic counted as a skipped rule (so --strict
// and `rules check` fail), the rest of the rules still load, and check_rule_paths names a missing path so the
// commands can refuse it before loading anything.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "socd/rule_loader.h"
#include "support/deep_tree.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

std::string sigma_rule(const std::string& id) {
  return "title: " + id + "\nid: " + id + "\nlogsource: {product: windows}\ndetection:\n    s: {F: x}\n"
         "    condition: s\n";
}

constexpr const char* kSaganRule =
    "alert syslog $EXTERNAL_NET any -> $HOME_NET any (msg:\"test\"; content:\"Failed password\"; "
    "program: sshd; sid:5000001; rev:1;)\n";

size_t count_reason(const std::vector<Diagnostic>& diags, const std::string& reason) {
  size_t n = 0;
  for (const auto& d : diags) n += d.reason == reason;
  return n;
}

std::string all_of(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += d.to_string() + "\n";
  return out;
}

TEST(RulePaths, CheckNamesTheFirstPathThatDoesNotExist) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("a.yml"), sigma_rule("a")));
  EXPECT_TRUE(check_rule_paths({dir.path().string(), dir.file("a.yml")}).ok());
  Status st = check_rule_paths({dir.file("a.yml"), dir.file("nope"), dir.file("nope2")});
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "rule path '" + dir.file("nope") + "' does not exist");
}

TEST(RulePaths, AMissingPathIsASkippedRule) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("a.yml"), sigma_rule("a")));
  for (const char* missing : {"nope", "nope.rules", "nope.yml"}) {
    LoadedRules r = load_rules({dir.file("a.yml"), dir.file(missing)}, {}, {});
    EXPECT_EQ(r.loaded, 1u) << missing;
    EXPECT_EQ(r.skipped, 1u) << missing << "\n" << all_of(r.diagnostics);
    ASSERT_EQ(count_reason(r.diagnostics, "read-error"), 1u) << missing << "\n" << all_of(r.diagnostics);
  }
}

// The deepest directory cannot be opened: one diagnostic naming it, counted once although the directory holds
// rules of both languages (each is loaded from one walk), and every other rule loads.
TEST(RulePaths, ADirectoryThatCannotBeWalkedIsCountedOnceAndTheRestLoads) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("a.yml"), sigma_rule("a")));
  ASSERT_TRUE(write_file(dir.file("z.yml"), sigma_rule("z")));
  ASSERT_TRUE(write_file(dir.file("sshd.rules"), kSaganRule));
  ASSERT_TRUE(make_deep_tree(dir.path().string(), "deep.yml", sigma_rule("deep")));
  LoadedRules r = load_rules({dir.path().string()}, {}, {});
  remove_deep_tree(dir.path().string());
  EXPECT_EQ(r.loaded, 3u) << all_of(r.diagnostics);
  EXPECT_EQ(r.skipped, 1u) << all_of(r.diagnostics);
  ASSERT_EQ(count_reason(r.diagnostics, "read-error"), 1u) << all_of(r.diagnostics);
  for (const auto& d : r.diagnostics) {
    if (d.reason != "read-error") continue;
    EXPECT_EQ(d.file.rfind(dir.path().string() + "/ddd", 0), 0u) << d.file;
    EXPECT_NE(d.message.find("cannot read the rule directory"), std::string::npos) << d.message;
    EXPECT_NE(d.message.find("File name too long"), std::string::npos) << d.message;
  }
}

}  // namespace
}  // namespace socd::test
