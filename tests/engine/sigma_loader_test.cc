// Sigma documents and files: metadata, several documents in a file, documents that are not rules, YAML
// errors, binary files, directory walks, and the diagnostics they give.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

const char* kFullRule = R"(# a comment line first
title: Whoami Execution
id: 8f1c0d3a-7a67-4a0e-9f4c-2c4e3d3b9e01
status: stable
description: Detects a whoami.exe execution
references:
    - https://example.org/a
    - https://example.org/b
author: someone
date: 2019-10-23
tags:
    - attack.discovery
    - attack.t1033
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image: 'C:\Windows\System32\whoami.exe'
    condition: selection
level: high
)";

TEST(SigmaLoader, ReadsMetadata) {
  RuleLoad load = load_rules_text(kFullRule, {}, "rules/whoami.yml");
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(load.skipped, 0u);
  EXPECT_TRUE(load.diagnostics.empty());
  const Rule& r = load.rules[0];
  EXPECT_EQ(r.id, "8f1c0d3a-7a67-4a0e-9f4c-2c4e3d3b9e01");
  EXPECT_EQ(r.title, "Whoami Execution");
  EXPECT_EQ(r.status, "stable");
  EXPECT_EQ(r.level, "high");
  EXPECT_EQ(r.description, "Detects a whoami.exe execution");
  EXPECT_EQ(r.tags, (std::vector<std::string>{"attack.discovery", "attack.t1033"}));
  EXPECT_EQ(r.references, (std::vector<std::string>{"https://example.org/a", "https://example.org/b"}));
  EXPECT_EQ(r.logsource.product, "windows");
  EXPECT_EQ(r.logsource.category, "process_creation");
  EXPECT_EQ(r.logsource.service, "");
  EXPECT_EQ(r.file, "rules/whoami.yml");
  EXPECT_EQ(r.line, 2);  // the first key of the document
  ASSERT_EQ(r.selections.size(), 1u);
  EXPECT_EQ(r.condition.kind, Condition::Kind::Ref);
  EXPECT_EQ(r.condition.selection, 0);
}

TEST(SigmaLoader, SeveralDocumentsInOneFile) {
  std::string text = std::string(kFullRule) + "---\n" +
                     "title: Second\nid: two\nlogsource: {product: windows, service: security}\n"
                     "detection:\n    sel:\n        EventID: 1102\n    condition: sel\n---\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 2u);
  EXPECT_EQ(load.rules[1].id, "two");
  EXPECT_EQ(load.rules[1].logsource.service, "security");
  EXPECT_EQ(load.rules[1].line, 23);
  EXPECT_EQ(load.skipped, 0u);  // the empty document at the end holds nothing
}

TEST(SigmaLoader, OneBadDocumentDoesNotStopTheOthers) {
  std::string text =
      "title: Bad\nlogsource: {product: windows}\ndetection:\n    sel:\n        F|nope: x\n    condition: "
      "sel\n"
      "---\n"
      "title: Good\nid: good\nlogsource: {product: windows}\ndetection:\n    sel:\n        F: x\n    "
      "condition: sel\n";
  RuleLoad load = load_rules_text(text);
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(load.rules[0].title, "Good");
  EXPECT_EQ(load.skipped, 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].line, 5);
  EXPECT_EQ(load.diagnostics[0].reason, "unknown-modifier");
}

TEST(SigmaLoader, CorrelationAndFilterDocumentsLoadBesideTheRules) {
  std::string text =
      "title: Many failures\nid: corr\ncorrelation:\n    type: event_count\n    rules: [a]\n"
      "    group-by: [User]\n    timespan: 5m\n    condition: {gte: 10}\n"
      "---\n"
      "title: Tuning\nid: filt\nlogsource: {product: windows}\nfilter:\n    rules: [a]\n"
      "    selection:\n        User: admin\n    condition: not selection\n";
  RuleLoad load = load_rules_text(text, {}, "c.yml");
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 0u);
  EXPECT_TRUE(load.diagnostics.empty());
  ASSERT_EQ(load.correlations.size(), 1u);
  EXPECT_EQ(load.correlations[0].id, "corr");
  EXPECT_EQ(load.correlations[0].line, 1);
  ASSERT_EQ(load.filters.size(), 1u);
  EXPECT_EQ(load.filters[0].id, "filt");
  EXPECT_EQ(load.filters[0].line, 10);
}

TEST(SigmaLoader, YamlSyntaxErrorIsOneDiagnosticWithTheLine) {
  std::string text =
      "title: t\nlogsource: {product: windows}\ndetection:\n    sel:\n        F: [a, b\n"
      "    condition: sel\n";
  RuleLoad load = load_rules_text(text, {}, "broken.yml");
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "yaml-error");
  EXPECT_EQ(load.diagnostics[0].file, "broken.yml");
  EXPECT_GE(load.diagnostics[0].line, 5);
  EXPECT_LE(load.diagnostics[0].line, 7);
}

TEST(SigmaLoader, TextThatIsNotARule) {
  RuleLoad load = load_rules_text("just some words\n");
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "not-a-rule");

  load = load_rules_text("title: no detection\nlogsource: {product: windows}\n");
  EXPECT_EQ(load.skipped, 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "not-a-rule");

  load = load_rules_text("- a\n- b\n");
  EXPECT_EQ(load.skipped, 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "not-a-rule");

  load = load_rules_text("");
  EXPECT_EQ(load.skipped, 0u);
  EXPECT_TRUE(load.diagnostics.empty());
}

TEST(SigmaLoader, BinaryInputDoesNotCrash) {
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>((i * 7919) & 0xFF));
  RuleLoad load = load_rules_text(binary, {}, "blob.yml");
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "yaml-error");

  // High bytes and control characters without NUL: whatever yaml-cpp makes of it, no crash and no rule.
  std::string noisy;
  for (int i = 0; i < 4096; ++i) noisy.push_back(static_cast<char>(1 + (i * 31) % 255));
  load = load_rules_text(noisy);
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 1u);
}

TEST(SigmaLoader, DeeplyNestedYamlDoesNotCrash) {
  std::string deep(5000, '[');
  RuleLoad load = load_rules_text(deep);
  EXPECT_TRUE(load.rules.empty());
  EXPECT_EQ(load.skipped, 1u);
}

TEST(SigmaLoader, OddShapesAreDiagnosedNotThrown) {
  const char* texts[] = {
      "title: t\nlogsource: x\ndetection:\n    s: {F: x}\n    condition: s\n",  // logsource not a map
      "title: [a, b]\ntags: x\nlogsource: {product: [a]}\ndetection:\n    s: {F: x}\n    condition: s\n",
      "title: t\ndetection: [a]\n",
      "title: t\ndetection:\n    s:\n    condition: s\n",
      "title: t\ndetection:\n    s: {F: x}\n    condition: [[s]]\n",
      "title: t\ndetection:\n    s: {F: x}\n    condition: {a: b}\n",
      "title: t\ndetection:\n    [a]: x\n    condition: s\n",
      "title: t\ndetection:\n    s:\n        - [a]\n    condition: s\n",
      "title: t\ndetection:\n    s:\n        F: [[a]]\n    condition: s\n",
      "title: t\ndetection:\n    s: {}\n    condition: s\n",
      "title: t\ndetection:\n    s: []\n    condition: s\n",
      "title: t\ndetection:\n    s: {F: x}\n    s: {F: y}\n    condition: s\n",
  };
  for (const char* text : texts) {
    RuleLoad load;
    EXPECT_NO_THROW(load_sigma_text("odd.yml", text, {}, load)) << text;
    EXPECT_EQ(load.rules.size() + load.skipped, 1u) << text;
    for (const auto& d : load.diagnostics) EXPECT_FALSE(d.reason.empty()) << text;
  }
}

TEST(SigmaLoader, WarnsAboutMissingIdButLoads) {
  RuleLoad load = load_rules_text(
      "title: t\nlogsource: {product: windows}\ndetection:\n    s: {F: x}\n"
      "    condition: s\n");
  ASSERT_EQ(load.rules.size(), 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "warning-no-id");
  EXPECT_EQ(load.skipped, 0u);
}

TEST(SigmaLoader, TimeframeInDetectionIsAWarning) {
  RuleLoad load = load_rules_text(
      "title: t\nid: x\nlogsource: {product: windows}\ndetection:\n    s: {F: x}\n"
      "    timeframe: 5m\n    condition: s\n");
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(load.rules[0].selections.size(), 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "warning-timeframe");
  EXPECT_EQ(load.diagnostics[0].line, 6);
}

TEST(SigmaLoader, DiagnosticText) {
  Diagnostic d{"rule.yml", 14, "unknown-modifier", "unknown modifier 'contain'"};
  EXPECT_EQ(d.to_string(), "rule.yml:14: unknown modifier 'contain' [unknown-modifier]");
  Diagnostic no_line{"rules/", 0, "read-error", "cannot read"};
  EXPECT_EQ(no_line.to_string(), "rules/: cannot read [read-error]");
}

class SigmaLoaderFiles : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("socd_sigma_loader_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "b" / "deeper");
    fs::create_directories(dir_ / "a");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const fs::path& rel, const std::string& text) {
    std::ofstream(dir_ / rel, std::ios::binary) << text;
  }
  static std::string rule(const std::string& id) {
    return "title: " + id + "\nid: " + id +
           "\nlogsource: {product: windows}\ndetection:\n    s: {F: x}\n"
           "    condition: s\n";
  }
  fs::path dir_;
};

TEST_F(SigmaLoaderFiles, WalksDirectoriesSortedAndOnlyYaml) {
  write("b/deeper/r3.yml", rule("r3"));
  write("b/r2.yaml", rule("r2"));
  write("a/r1.yml", rule("r1"));
  write("a/notes.md", "# not a rule\n");
  write("a/r0.yml.bak", rule("bak"));
  write("z.yml", "title: [broken\n");
  RuleLoad load;
  load_sigma_path(dir_.string(), {}, load);
  ASSERT_EQ(load.rules.size(), 3u);
  EXPECT_EQ(load.rules[0].id, "r1");
  EXPECT_EQ(load.rules[1].id, "r3");  // b/deeper/r3.yml sorts before b/r2.yaml
  EXPECT_EQ(load.rules[2].id, "r2");
  EXPECT_EQ(load.rules[0].file, (dir_ / "a/r1.yml").string());
  EXPECT_EQ(load.skipped, 1u);
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].file, (dir_ / "z.yml").string());
  EXPECT_EQ(load.diagnostics[0].reason, "yaml-error");
}

TEST_F(SigmaLoaderFiles, ManyFilesLoadInStableOrder) {
  for (int i = 0; i < 200; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "a/r%03d.yml", i);
    write(name, rule("r" + std::to_string(i)));
  }
  RuleLoad load;
  load_sigma_path(dir_.string(), {}, load);
  ASSERT_EQ(load.rules.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(load.rules[i].id, "r" + std::to_string(i));
}

TEST_F(SigmaLoaderFiles, SingleFile) {
  write("one.yml", rule("one"));
  RuleLoad load;
  load_sigma_path((dir_ / "one.yml").string(), {}, load);
  ASSERT_EQ(load.rules.size(), 1u);
  EXPECT_EQ(load.rules[0].id, "one");
}

TEST_F(SigmaLoaderFiles, MissingPathIsADiagnostic) {
  RuleLoad load;
  load_sigma_path((dir_ / "nope").string(), {}, load);
  EXPECT_TRUE(load.rules.empty());
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "read-error");
  EXPECT_EQ(load.diagnostics[0].file, (dir_ / "nope").string());
}

TEST_F(SigmaLoaderFiles, UnreadableFileIsADiagnostic) {
  if (::geteuid() == 0) GTEST_SKIP() << "running as root: file permissions do not stop reading";
  write("a/locked.yml", rule("locked"));
  fs::permissions(dir_ / "a/locked.yml", fs::perms::none);
  RuleLoad load;
  load_sigma_path(dir_.string(), {}, load);
  EXPECT_TRUE(load.rules.empty());
  ASSERT_EQ(load.diagnostics.size(), 1u);
  EXPECT_EQ(load.diagnostics[0].reason, "read-error");
  EXPECT_EQ(load.skipped, 1u);
}

}  // namespace
}  // namespace socd::test
