#include "socd/rule_loader.h"

#include <chrono>
#include <filesystem>

#include "socd/sigma.h"

namespace socd {

Status check_rule_paths(const std::vector<std::string>& paths) {
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) continue;
    if (ec) return Status::error("rule path '" + p + "' cannot be reached: " + ec.message());
    return Status::error("rule path '" + p + "' does not exist");
  }
  return {};
}

LoadedRules load_rules(const std::vector<std::string>& paths, const FieldMapping& mapping,
                       const CompileOptions& options, const StageConfig& stage,
                       const RuleLanguageOptions& languages) {
  auto t0 = std::chrono::steady_clock::now();
  LoadedRules out;
  RuleLoad load;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      // One walk for both languages, so a directory that cannot be read is reported (and counted) once.
      DirectoryListing listing = list_files(p, [](const std::filesystem::path& f) {
        return f.extension() == ".rules" || is_sigma_rule_file(f.string());
      });
      note_unreadable_directories(listing, load);
      std::vector<std::string> sigma, sagan;
      for (auto& f : listing.files) (std::filesystem::path(f).extension() == ".rules" ? sagan : sigma).push_back(f);
      load_sigma_files(sigma, mapping, load);
      load_sagan_files(p, sagan, languages.sagan_variables, load);
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
