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

namespace {

// The substitutions (value, option, original_token, ...) of an option error are protected; a pointer to the
// member, formed in a derived class, reaches them on any error_with_option_name.
struct SubstitutionsOf : boost::program_options::error_with_option_name {
  static constexpr auto member = &SubstitutionsOf::m_substitutions;
};

}  // namespace

std::string option_error_message(const boost::program_options::error& e) {
  if (auto* named = dynamic_cast<const boost::program_options::error_with_option_name*>(&e)) {
    auto* target = const_cast<boost::program_options::error_with_option_name*>(named);
    auto& substitutions = target->*SubstitutionsOf::member;
    for (auto& entry : substitutions) {
      std::string shown;
      for (char c : entry.second) c == '%' ? shown += "%25" : shown += c;
      entry.second = std::move(shown);
    }
  }
  return e.what();
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
