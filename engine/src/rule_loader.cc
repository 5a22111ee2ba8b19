#include "socd/rule_loader.h"

#include <chrono>
#include <filesystem>

#include "socd/sigma.h"

namespace socd {

namespace {

// Does the directory hold a file with extension `ext` (at any depth)?
bool holds(const std::string& dir, const char* ext) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ext) return true;
  return false;
}

}  // namespace

LoadedRules load_rules(const std::vector<std::string>& paths, const FieldMapping& mapping,
                       const CompileOptions& options, const StageConfig& stage,
                       const RuleLanguageOptions& languages) {
  auto t0 = std::chrono::steady_clock::now();
  LoadedRules out;
  RuleLoad load;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      // A directory of Sagan rules alone is not searched for Sigma files, and the other way round.
      bool sagan = holds(p, ".rules");
      if (!sagan || holds(p, ".yml") || holds(p, ".yaml")) load_sigma_path(p, mapping, load);
      if (sagan) load_sagan_path(p, languages.sagan_variables, load);
    } else if (std::filesystem::path(p).extension() == ".rules") {
      load_sagan_path(p, languages.sagan_variables, load);
    } else {
      load_sigma_path(p, mapping, load);
    }
  }
  apply_filters(load);
  note_state_fields(load.rules, load.correlations, stage);
  out.diagnostics = std::move(load.diagnostics);
  size_t before = out.diagnostics.size();
  out.set = RuleSet::compile(std::move(load.rules), mapping, options, out.diagnostics);
  out.stateful = StatefulRules::build(out.set, std::move(load.correlations), stage, out.diagnostics);
  size_t compile_skipped = 0;
  for (size_t i = before; i < out.diagnostics.size(); ++i)
    if (!is_warning(out.diagnostics[i])) ++compile_skipped;
  out.loaded = out.set->size();
  out.correlations = out.stateful->correlation_count();
  out.skipped = load.skipped + compile_skipped;
  out.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace socd
