// socd rules check: compile rule files and account for every rule.
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "cli.h"
#include "socd/ruleset.h"

namespace po = boost::program_options;

namespace socd::cli {

static int rules_check(int argc, char** argv) {
  std::vector<std::string> paths;
  std::string mappings, cache_dir, thresholds, sagan_vars;
  po::options_description opts(
      "Usage: socd rules check PATH... [options]\n\n"
      "Compiles the rules under each PATH (a file, or a directory searched for *.yml/*.yaml) exactly as 'scan' and\n"
      "'run' would, prints every diagnostic (file:line: what is wrong [reason]), the count of skipped rules by\n"
      "reason, and how many patterns went to each Hyperscan database. The last line is\n"
      "  summary: rules_loaded=N rules_skipped=N warnings=N literal_patterns=N regex_patterns=N ...\n"
      "Exit status: 0 when every rule compiled, 2 otherwise.\n\nOptions");
  opts.add_options()("help,h", "show this help")(
      "mappings", po::value(&mappings), "field and log-source mapping file (default: built in)")(
      "cache-dir", po::value(&cache_dir)->default_value(default_cache_dir()),
      "directory caching compiled rule databases; 'none' disables the cache")(
      "thresholds", po::value(&thresholds),
      "also check a thresholds file (config/thresholds.yml) against the rules")(
      "sagan-vars", po::value(&sagan_vars),
      "Sagan YAML (sagan.yaml) whose vars:, default-host and blacklist / bro-intel list files the Sagan "
      "rules (*.rules) use");
  po::options_description hidden;
  hidden.add_options()("path", po::value(&paths)->multitoken());
  po::positional_options_description pos;
  pos.add("path", -1);
  po::options_description all;
  all.add(opts).add(hidden);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd rules check: %s\n", option_error_message(e).c_str());
    return kUsageError;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return kOk;
  }
  if (paths.empty()) {
    std::fprintf(stderr, "socd rules check: give at least one rule file or directory\n");
    return kUsageError;
  }
  if (Status st = check_rule_paths(paths); !st.ok()) {
    std::fprintf(stderr, "socd rules check: %s\n", st.message().c_str());
    return kUsageError;
  }
  auto mapping = load_mapping(mappings);
  if (!mapping) {
    std::fprintf(stderr, "socd rules check: %s\n", mapping.error().message().c_str());
    return kUsageError;
  }
  StageConfig stage;
  if (!thresholds.empty()) {
    auto c = load_stage_config(thresholds);
    if (!c) {
      std::fprintf(stderr, "socd rules check: %s\n", c.error().message().c_str());
      return kUsageError;
    }
    stage = std::move(*c);
  }
  CompileOptions copts;
  if (cache_dir != "none") copts.cache_dir = cache_dir;
  RuleLanguageOptions languages;
  if (!sagan_vars.empty()) {
    auto v = load_sagan_variables(sagan_vars);
    if (!v) {
      std::fprintf(stderr, "socd rules check: %s\n", v.error().message().c_str());
      return kUsageError;
    }
    languages.sagan_variables = std::move(*v);
  }
  LoadedRules loaded = load_rules(paths, *mapping, copts, stage, languages);
  std::map<std::string, size_t> skipped_by_reason, warnings_by_reason;
  size_t warnings = 0;
  for (const auto& d : loaded.diagnostics) {
    std::printf("%s\n", d.to_string().c_str());
    if (is_warning(d)) {
      ++warnings;
      ++warnings_by_reason[d.reason];
    } else {
      ++skipped_by_reason[d.reason];
    }
  }
  const CompileStats& st = loaded.set->stats();
  std::printf("\nrules loaded: %zu, skipped: %zu\n", loaded.loaded, loaded.skipped);
  std::printf("correlation rules in force: %zu; threshold and dedup entries in force: %zu\n",
              loaded.correlations, loaded.stateful->policy_count());
  std::printf("Sagan rules whose threshold/after/xbits/flexbits/alert_time/lists the stateful stage applies: %zu\n",
              loaded.stateful->sagan_rule_count());
  for (const auto& [reason, n] : skipped_by_reason) std::printf("  skipped  %-28s %zu\n", reason.c_str(), n);
  for (const auto& [reason, n] : warnings_by_reason) std::printf("  warning  %-28s %zu\n", reason.c_str(), n);
  std::printf("prefilter: %zu Hyperscan databases (one per field tested, one for keywords) holding %zu literals "
              "and %zu regexes; %zu regexes Hyperscan refused are confirmed by PCRE2 alone; %zu rules need no "
              "positive hit and are evaluated on every event of their log source; %zu rules have no log-source "
              "mapping (checked on every event, but those of a product with no entry, e.g. macos, not on the events "
              "of the products with one)\n",
              st.databases, st.literal_patterns, st.regex_patterns, st.regex_hs_rejected, st.unconditional_rules,
              st.unscoped_rules);
  // Where the patterns went: one line per database, the field it scans and what it holds.
  for (size_t i = 0; i < st.per_database.size(); ++i) {
    const DatabaseStats& d = st.per_database[i];
    std::printf("  database %zu %s%s: literals=%zu regexes=%zu%s\n", i + 1, d.field.empty() ? "keywords" : "field ",
                d.field.empty() ? " (every value of the event)" : d.field.c_str(), d.literals, d.regexes,
                d.built ? "" : " (not built: its rules are evaluated on every event)");
  }
  std::printf("summary: rules_loaded=%zu rules_skipped=%zu warnings=%zu literal_patterns=%zu regex_patterns=%zu "
              "unconditional_rules=%zu load_seconds=%.3f compile_cache=%s\n",
              loaded.loaded, loaded.skipped, warnings, st.literal_patterns, st.regex_patterns,
              st.unconditional_rules, loaded.load_seconds,
              copts.cache_dir.empty() ? "off" : (st.cache_hit ? "hit" : "miss"));
  return loaded.skipped == 0 ? kOk : kUsageError;
}

int rules_main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "check") return rules_check(argc - 1, argv + 1);
  std::fprintf(stderr,
               "Usage: socd rules check PATH... [--mappings FILE] [--cache-dir DIR]\n"
               "Run 'socd rules check --help' for details.\n");
  return (argc >= 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) ? kOk : kUsageError;
}

}  // namespace socd::cli
