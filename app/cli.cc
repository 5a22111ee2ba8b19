#include "cli.h"

#include <cstdio>
#include <cstdlib>

#include "socd/sigma.h"

namespace socd {
std::string_view default_mappings();  // generated from config/mappings.yml
}

namespace socd::cli {

Expected<FieldMapping> load_mapping(const std::string& path) {
  if (path.empty()) return parse_field_mapping("config/mappings.yml (built in)", default_mappings());
  return load_field_mapping(path);
}

std::string default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/socd";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/socd";
  return {};
}

void print_diagnostics(const std::vector<Diagnostic>& diagnostics, bool warnings) {
  for (const auto& d : diagnostics)
    if (warnings || !is_warning(d)) std::fprintf(stderr, "%s\n", d.to_string().c_str());
}

}  // namespace socd::cli
