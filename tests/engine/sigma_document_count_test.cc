// Documents without "---" between them ("[a] b" is two): refused as one file with a diagnostic naming where the
// extra document starts, whether or not the text holds a ',' (only texts with one get yaml-cpp's endless-run
// guard, a first pass over the whole text; the others are counted after loading).
#include <gtest/gtest.h>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

void expect_refused_at(const RuleLoad& out, int line, const std::string& text) {
  EXPECT_TRUE(out.rules.empty()) << text;
  EXPECT_EQ(out.skipped, 1u) << text;
  ASSERT_EQ(out.diagnostics.size(), 1u) << text;
  EXPECT_EQ(out.diagnostics[0].reason, "yaml-error") << text;
  EXPECT_EQ(out.diagnostics[0].line, line) << text;
}

TEST(SigmaDocumentCount, TwoDocumentsWithoutAMarkerAreRefusedWithOrWithoutAComma) {
  expect_refused_at(load_rules_text("[a] b\n"), 1, "[a] b");
  expect_refused_at(load_rules_text("[a, c] b\n"), 1, "[a, c] b");
  expect_refused_at(load_rules_text("x: y\n---\n[a] b\n"), 3, "a marker, then two documents");
}

TEST(SigmaDocumentCount, DocumentsSeparatedByMarkersAreEachLoaded) {
  RuleLoad out = load_rules_text(rule_text("Image: a.exe") + "---\n" + rule_text("Image: b.exe"));
  for (const auto& d : out.diagnostics) EXPECT_NE(d.reason, "yaml-error") << d.message;
  EXPECT_GE(out.rules.size(), 1u);
}

}  // namespace
}  // namespace socd::test
