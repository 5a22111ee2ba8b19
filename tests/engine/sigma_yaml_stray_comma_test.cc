// A ',' where a top-level YAML node should be: yaml-cpp 0.7's LoadAll never returns on it (endless empty
// documents). The loader must refuse such a file with a diagnostic naming the line, and return.
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

// Loads `text` on another thread, failing the test (instead of hanging it) when the load does not return.
RuleLoad load_bounded(const std::string& text) {
  auto loading = std::async(std::launch::async, [text] { return load_rules_text(text); });
  if (loading.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "loading did not return: " << text;
    std::abort();  // the thread cannot be stopped; end the run rather than hang it
  }
  return loading.get();
}

TEST(SigmaYamlStrayComma, CommaAloneIsRefusedWithItsLine) {
  RuleLoad out = load_bounded(",x\n");
  EXPECT_TRUE(out.rules.empty());
  EXPECT_EQ(out.skipped, 1u);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].reason, "yaml-error");
  EXPECT_EQ(out.diagnostics[0].line, 1);
  EXPECT_NE(out.diagnostics[0].message.find("','"), std::string::npos) << out.diagnostics[0].message;
}

TEST(SigmaYamlStrayComma, CommaAfterARuleInTheNextDocumentNamesThatDocument) {
  RuleLoad out = load_bounded(rule_text("Image: a.exe") + "---\n,x\n");
  EXPECT_TRUE(out.rules.empty());
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].line, 12);  // the rule's 10 lines, "---", then the comma
}

TEST(SigmaYamlStrayComma, CommaAfterAFlowMapping) {
  RuleLoad out = load_bounded("{title: x},\n");
  EXPECT_EQ(out.skipped, 1u);
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].reason, "yaml-error");
}

TEST(SigmaYamlStrayComma, CommasInValuesAndSeveralDocumentsStillLoad) {
  std::string second = rule_text("Image: c, d.exe");
  second.replace(second.find("0001"), 4, "0002");  // another rule id
  std::string two = rule_text("CommandLine|contains: 'a, b'") + "---\n" + second + "...\n";
  RuleLoad out = load_bounded(two);
  EXPECT_EQ(out.rules.size(), 2u);
  EXPECT_EQ(out.skipped, 0u);
}

}  // namespace
}  // namespace socd::test
