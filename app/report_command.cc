// socd report: the periodic assessment report (layer 3) for a period, from the store alone.
#include <signal.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "cli.h"
#include "socd/alert_store.h"
#include "socd/ledger.h"
#include "socd/report.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

// A date alone (2025-01-31) is local midnight in `zone`; an RFC 3339 time is itself; a duration (7d) is that
// long before now.
bool parse_report_time(const std::string& text, const TimeZone& zone, int64_t& ms) {
  bool days = false;
  int64_t ago = 0;
  if (parse_duration_ms(text, ago, &days)) {
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
             .count() - ago;
    return true;
  }
  if (!parse_rfc3339(text, ms)) return false;
  if (text.size() == 10) ms = zone.start_of_local_day(ms / 86'400'000);
  return true;
}

}  // namespace

int report_main(int argc, char** argv) {
  std::string data_dir, from, to, format, output, silent_after;
  po::options_description opts(
      "Usage: socd report --from TIME --to TIME [--format json|md|html] [--output FILE] [--data-dir DIR]\n\n"
      "Writes the assessment report for the period [from, to): alerts by system, security level, rule, alert level\n"
      "and layer; incidents discovered, with the time to acknowledge and to resolve; reporting deadlines met and\n"
      "missed; rule-set loads and what changed; sources that went silent; the audit chain's growth. TIME is RFC 3339\n"
      "(2025-01-31T17:00:00Z), a date (local midnight in the store's time zone, e.g. Asia/Ho_Chi_Minh) or a\n"
      "duration before now (7d). Everything is evaluated as of --to, so the report of a past period is stable.\n"
      "Exit status: 0 written, 1 the store cannot be read, 2 usage.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&data_dir)->default_value("./var/socd"), "the directory of the store")
      ("from", po::value(&from)->required(), "start of the period (included)")
      ("to", po::value(&to)->required(), "end of the period (excluded)")
      ("format,f", po::value(&format)->default_value("md"), "json, md or html")
      ("output,o", po::value(&output), "write to FILE instead of stdout")
      ("silent-after", po::value(&silent_after)->default_value("4h"),
       "a source without a batch for this long (whole hours) is reported as silent");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    if (vm.count("help")) {
      std::cout << opts << "\n";
      return kOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd report: %s\nRun 'socd report --help' for the options.\n",
                 option_error_message(e).c_str());
    return kUsageError;
  }
  if (format != "json" && format != "md" && format != "html") {
    std::fprintf(stderr, "socd report: unknown --format '%s' (use json, md or html)\n", format.c_str());
    return kUsageError;
  }
  ReportOptions ro;
  if (!parse_duration_ms(silent_after, ro.silent_after_ms) || ro.silent_after_ms <= 0) {
    std::fprintf(stderr, "socd report: --silent-after '%s' is not a duration (1h, 4h, 1d)\n", silent_after.c_str());
    return kUsageError;
  }
  signal(SIGPIPE, SIG_IGN);
  StoreOptions so;
  so.read_only = true;
  auto store = AlertStore::open(data_dir, so);
  if (!store) {
    std::fprintf(stderr, "socd report: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  if (!(*store)->ledger()) {
    std::fprintf(stderr, "socd report: the store under '%s' keeps no incidents\n", data_dir.c_str());
    return kRuntimeError;
  }
  const TimeZone zone = (*store)->ledger()->zone();
  if (!parse_report_time(from, zone, ro.from_ms) || !parse_report_time(to, zone, ro.to_ms)) {
    std::fprintf(stderr, "socd report: --from and --to take RFC 3339 times (2025-01-31T17:00:00Z), dates "
                 "(2025-01-31) or durations before now (7d)\n");
    return kUsageError;
  }
  if (ro.to_ms <= ro.from_ms) {
    std::fprintf(stderr, "socd report: --to must be after --from\n");
    return kUsageError;
  }
  auto report = build_report(**store, ro);
  if (!report) {
    std::fprintf(stderr, "socd report: %s\n", report.error().message().c_str());
    return kRuntimeError;
  }
  auto text = render_report(*report, format);
  if (!text) {
    std::fprintf(stderr, "socd report: %s\n", text.error().message().c_str());
    return kUsageError;
  }
  if (!output.empty()) {
    std::ofstream out(output, std::ios::binary | std::ios::trunc);
    out << *text;
    if (!out) {
      std::fprintf(stderr, "socd report: cannot write '%s'\n", output.c_str());
      return kRuntimeError;
    }
  } else {
    std::fwrite(text->data(), 1, text->size(), stdout);
    std::fflush(stdout);
  }
  std::fprintf(stderr, "socd report: %llu alert(s), %zu incident(s), %s to %s (%s)\n",
               static_cast<unsigned long long>(report->alerts), report->incidents.size(),
               zone.format(ro.from_ms).c_str(), zone.format(ro.to_ms).c_str(), zone.name().c_str());
  return kOk;
}

}  // namespace socd::cli
