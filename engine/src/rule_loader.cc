#include "socd/rule_loader.h"

#include <chrono>

#include "socd/sigma.h"

namespace socd {

LoadedRules load_rules(const std::vector<std::string>& paths, const FieldMapping& mapping,
                       const CompileOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  LoadedRules out;
  RuleLoad load;
  for (const auto& p : paths) load_sigma_path(p, mapping, load);
  out.diagnostics = std::move(load.diagnostics);
  size_t before = out.diagnostics.size();
  out.set = RuleSet::compile(std::move(load.rules), mapping, options, out.diagnostics);
  size_t compile_skipped = 0;
  for (size_t i = before; i < out.diagnostics.size(); ++i)
    if (!is_warning(out.diagnostics[i])) ++compile_skipped;
  out.loaded = out.set->size();
  out.skipped = load.skipped + compile_skipped;
  out.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace socd
