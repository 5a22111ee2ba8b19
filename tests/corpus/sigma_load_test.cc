// Loading the SigmaHQ rule trees in ../shared/corpus with the Sigma front end: nearly every document must
// load, quickly, and every Windows and Linux log source they use must have an entry in config/mappings.yml.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "socd/sigma.h"

namespace socd::test {
namespace {

namespace fs = std::filesystem;

const fs::path kSigma = fs::path(SOCD_SOURCE_DIR) / "../shared/corpus/sigma";
const char* const kTrees[] = {"rules", "rules-emerging-threats", "rules-threat-hunting"};

FieldMapping shipped_mapping() {
  auto m = load_field_mapping(std::string(SOCD_SOURCE_DIR) + "/config/mappings.yml");
  EXPECT_TRUE(m.ok()) << m.error().message();
  return m.ok() ? std::move(*m) : FieldMapping{};
}

TEST(SigmaCorpusLoad, NearlyAllSigmaHqDocumentsLoad) {
  if (!fs::is_directory(kSigma))
    GTEST_SKIP() << "../shared/corpus (relative to the repository root) is absent";
  FieldMapping mapping = shipped_mapping();
  size_t total_rules = 0, total_skipped = 0;
  std::map<std::string, size_t> reasons;
  double seconds = 0;
  for (const char* tree : kTrees) {
    RuleLoad load;
    auto start = std::chrono::steady_clock::now();
    load_sigma_path((kSigma / tree).string(), mapping, load);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    seconds += s;
    for (const auto& d : load.diagnostics) ++reasons[d.reason];
    std::cout << tree << ": " << load.rules.size() << " rules, " << load.skipped << " skipped, " << s
              << " s\n";
    for (const auto& d : load.diagnostics)
      if (d.reason.rfind("warning-", 0) != 0) std::cout << "  " << d.to_string() << "\n";
    total_rules += load.rules.size();
    total_skipped += load.skipped;
  }
  size_t documents = total_rules + total_skipped;
  std::cout << "loaded " << total_rules << " of " << documents << " documents in " << seconds << " s\n";
  for (const auto& [reason, count] : reasons) std::cout << "  " << reason << ": " << count << "\n";
  ASSERT_GT(documents, 3000u) << "the three trees hold about 3,750 rules";
  EXPECT_GE(total_rules * 100, documents * 98) << "fewer than 98% of the SigmaHQ documents loaded";
  // A guard against a loader gone quadratic, not a speed figure (those are benchmarks). AddressSanitizer's
  // instrumentation makes the loader's own code several times slower: the sanitized build gets four times the room.
#if defined(__SANITIZE_ADDRESS__)
  constexpr double kLimit = 20.0;
#else
  constexpr double kLimit = 5.0;
#endif
  EXPECT_LT(seconds, kLimit) << "loading the SigmaHQ trees should take well under 2 s on a normal machine";
}

TEST(SigmaCorpusLoad, EveryWindowsAndLinuxLogSourceHasAMappingEntry) {
  if (!fs::is_directory(kSigma))
    GTEST_SKIP() << "../shared/corpus (relative to the repository root) is absent";
  FieldMapping mapping = shipped_mapping();
  auto find = [&](const std::string& product, const std::string& category, const std::string& service) {
    for (const auto& s : mapping.sources)
      if (s.match.product == product && s.match.category == category && s.match.service == service)
        return true;
    return false;
  };
  RuleLoad load;
  for (const char* tree : kTrees) load_sigma_path((kSigma / tree).string(), mapping, load);
  ASSERT_GT(load.rules.size(), 3000u);
  std::set<std::string> missing;
  for (const auto& r : load.rules) {
    const LogSource& ls = r.logsource;
    if (ls.product != "windows" && ls.product != "linux") continue;
    bool ok = ls.category.empty() && ls.service.empty() ? find(ls.product, "", "")
              : !ls.category.empty()
                  ? find(ls.product, ls.category, ls.service) || find("", ls.category, ls.service)
                  : find(ls.product, "", ls.service);
    if (!ok) missing.insert(ls.product + "/" + ls.category + "/" + ls.service);
  }
  std::string list;
  for (const auto& s : missing) list += "  " + s + "\n";
  EXPECT_TRUE(missing.empty()) << "log sources of SigmaHQ rules without an entry in config/mappings.yml:\n"
                               << list;
}

}  // namespace
}  // namespace socd::test
