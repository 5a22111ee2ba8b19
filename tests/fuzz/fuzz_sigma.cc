// Sigma front end: one input = one YAML file (rules, correlations, filters; several documents allowed) through
// load_sigma_text with the shipped field mapping, then apply_filters: the rule model and its diagnostics. The
// Hyperscan compilation of the pattern set (RuleSet::compile) is not run per input: it takes milliseconds,
// which would hold the target far below the executions a campaign needs.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "fuzz_support.h"
#include "socd/sigma.h"

namespace {

socd::FieldMapping shipped_mapping() {
  std::ifstream in(std::string(SOCD_SOURCE_DIR) + "/config/mappings.yml");
  std::stringstream text;
  text << in.rdbuf();
  auto mapping = socd::parse_field_mapping("config/mappings.yml", text.str());
  if (!mapping) socd::fuzz::fail("config/mappings.yml does not load", mapping.error().message());
  return *mapping;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const socd::FieldMapping* mapping = new socd::FieldMapping(shipped_mapping());
  std::string text(reinterpret_cast<const char*>(data), size);
  socd::RuleLoad load;
  socd::load_sigma_text("fuzz.yml", text, *mapping, load);
  socd::apply_filters(load);
  // Nothing is dropped silently: every skipped document has its diagnostic, naming the file.
  socd::fuzz::check(load.diagnostics.size() >= load.skipped, "a skipped rule has no diagnostic");
  for (const auto& d : load.diagnostics) {
    socd::fuzz::check(!d.message.empty(), "a diagnostic without a message", d.reason);
    socd::fuzz::check(d.file == "fuzz.yml", "a diagnostic names another file", d.file);
  }
  return 0;
}
