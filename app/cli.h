// Pieces the subcommands share: the mapping (embedded or from a file), the cache directory, diagnostics output.
#pragma once
#include <boost/program_options/errors.hpp>

#include <string>
#include <vector>

#include "socd/rule.h"
#include "socd/rule_loader.h"
#include "socd/status.h"

namespace socd::cli {

// Exit codes of every subcommand.
constexpr int kOk = 0, kRuntimeError = 1, kUsageError = 2;

// The mapping from `path`, or the one built into the program when `path` is empty.
Expected<FieldMapping> load_mapping(const std::string& path);
// The default directory for compiled-rule caches: $XDG_CACHE_HOME/socd, ~/.cache/socd, or none.
std::string default_cache_dir();
// Prints each diagnostic as "file:line: message [reason]" to stderr.
void print_diagnostics(const std::vector<Diagnostic>& diagnostics, bool warnings);
// The message of a command-line or config-file error, for printing instead of e.what(). Boost.Program_options
// fills its message by replacing each %name% placeholder until none is left, so a value or option that itself
// holds one (`--threads 'x%value%'`) never finished: in the message every '%' of what the user gave is "%25".
std::string option_error_message(const boost::program_options::error& e);

int scan_main(int argc, char** argv);
int rules_main(int argc, char** argv);
int alerts_main(int argc, char** argv);
int deadletter_main(int argc, char** argv);
int run_main(int argc, char** argv);
// Parses and checks the options of `socd run` as run_main does (command line, --config file, the options that need
// others, the user to run as) and returns kOk or kUsageError (after printing why), starting nothing.
int check_run_options(int argc, char** argv);
int incidents_main(int argc, char** argv);
int audit_main(int argc, char** argv);
int report_main(int argc, char** argv);
int forward_main(int argc, char** argv);
int replay_main(int argc, char** argv);
int bench_main(int argc, char** argv);

}  // namespace socd::cli
