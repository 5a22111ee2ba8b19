// Sagan rule parser: one input = one rules file (any number of rule lines) through load_sagan_text with the
// default variables; the rule model and its diagnostics.
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "socd/sagan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const socd::SaganVariables* vars = [] {
    auto* v = new socd::SaganVariables(socd::SaganVariables::defaults());
    v->classifications_loaded = true;  // no classification.config looked up beside the (imaginary) file
    return v;
  }();
  std::string text(reinterpret_cast<const char*>(data), size);
  socd::RuleLoad load;
  socd::load_sagan_text("fuzz.rules", text, *vars, load);
  socd::fuzz::check(load.diagnostics.size() >= load.skipped, "a skipped rule has no diagnostic");
  for (const auto& d : load.diagnostics) {
    socd::fuzz::check(!d.message.empty(), "a diagnostic without a message", d.reason);
    socd::fuzz::check(d.file == "fuzz.rules", "a diagnostic names another file", d.file);
  }
  return 0;
}
