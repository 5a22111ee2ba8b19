// socd deadletter list|show: the input's dead letters (lines and frames set aside as malformed or over a limit)
// in the store that `socd run` writes, read beside it through a read-only (secondary) instance.
#include <boost/program_options.hpp>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>

#include "cli.h"
#include "socd/alert_store.h"
#include "socd/input_dead_letters.h"
#include "socd/json.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

const char* kDeadLetterUsage =
    "Usage: socd deadletter <list|show> [options]\n"
    "\n"
    "Reads the dead letters of the input that `socd run` keeps in its store (also while it runs): lines and\n"
    "frames that did not become events, malformed or over a limit, each with its reason, source, position and\n"
    "time, and its first bytes.\n"
    "  list   the dead letters, oldest first, filtered by time, source and reason\n"
    "  show   one dead letter by id, with its bytes (escaped)\n"
    "\n"
    "Run 'socd deadletter list --help' or 'socd deadletter show --help' for their options.\n";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `15m`, `2h`, `7d` before now, or an RFC 3339 time in UTC (`2024-05-01T10:20:30Z`).
std::optional<int64_t> parse_since(const std::string& s) {
  if (s.size() >= 2 && std::isdigit(static_cast<unsigned char>(s[0])) && std::isalpha(static_cast<unsigned char>(s.back()))) {
    int64_t n = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[i])) || n > (int64_t{1} << 40)) return std::nullopt;
      n = n * 10 + (s[i] - '0');
    }
    int64_t unit = s.back() == 's' ? 1000 : s.back() == 'm' ? 60'000 : s.back() == 'h' ? 3'600'000
                 : s.back() == 'd' ? 86'400'000 : s.back() == 'w' ? 7 * 86'400'000LL : 0;
    if (unit == 0) return std::nullopt;
    return now_ms() - n * unit;
  }
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || (std::string(end) != "Z" && std::string(end) != "z")) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string format_time(int64_t ms) {
  auto t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// Bytes shown on a terminal: printable ASCII as it is, everything else (NUL, control, invalid UTF-8 ...) as \xHH.
std::string escaped(std::string_view data, size_t max) {
  std::string out;
  for (size_t i = 0; i < data.size() && out.size() < max; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

// One dead letter as a JSON object (the data as a JSON string: invalid UTF-8 and NUL bytes escaped as \u00XX).
std::string to_json(const InputDeadLetter& l) {
  std::string out = "{\"id\":" + std::to_string(l.id) + ",\"time\":";
  append_json_string(out, format_time(l.time_ms));
  out += ",\"source\":";
  append_json_string(out, l.source);
  out += ",\"origin\":";
  append_json_string(out, l.origin);
  out += ",\"reason\":";
  append_json_string(out, l.reason);
  out += ",\"detail\":";
  append_json_string(out, l.detail);
  out += ",\"line\":" + std::to_string(l.line) + ",\"position\":" + std::to_string(l.position) +
         ",\"length\":" + std::to_string(l.length) + ",\"kept_bytes\":" + std::to_string(l.data.size()) +
         ",\"data\":";
  std::string data;  // bytes as Latin-1 code points: every byte survives the JSON round trip
  for (unsigned char c : l.data) {
    if (c < 0x80) data.push_back(static_cast<char>(c));
    else {
      data.push_back(static_cast<char>(0xc0 | (c >> 6)));
      data.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
  append_json_string(out, data);
  out += "}";
  return out;
}

int parse(const char* command, int argc, char** argv, po::options_description& opts,
          const po::positional_options_description* positional, po::variables_map& vm) {
  try {
    po::command_line_parser parser(argc, argv);
    parser.options(opts);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << opts << "\n";
      return kOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd deadletter %s: %s\nRun 'socd deadletter %s --help' for the options.\n", command,
                 option_error_message(e).c_str(), command);
    return kUsageError;
  }
  return -1;
}

Expected<std::unique_ptr<AlertStore>> open_store(const std::string& dir) {
  StoreOptions options;
  options.read_only = true;
  return AlertStore::open(dir, options);
}

int list_main(int argc, char** argv) {
  std::string data_dir, since;
  DeadLetterQuery query;
  bool json = false, newest = false;
  po::options_description opts(
      "Usage: socd deadletter list [--data-dir DIR] [--since DURATION|TIME] [--source NAME] [--reason REASON]\n"
      "                            [--limit N] [--newest-first] [--json]\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir", po::value(&data_dir)->default_value("var/socd"), "directory of the alert store")
      ("since", po::value(&since), "only those set aside at or after this time (or this long ago): 15m, 2h, 7d, "
       "2024-05-01T10:20:30Z")
      ("source", po::value(&query.source), "only those of this source (as in the metrics: syslog-tcp:ADDR:PORT, "
       "file:GLOB, stdin)")
      ("reason", po::value(&query.reason), "only those set aside for this reason: line_bytes, json_depth, "
       "event_fields, malformed")
      ("limit", po::value(&query.limit)->default_value(0), "at most this many (0: all)")
      ("newest-first", po::bool_switch(&newest), "the newest first")
      ("json", po::bool_switch(&json), "one JSON object a line, with the kept bytes");
  po::variables_map vm;
  if (int rc = parse("list", argc, argv, opts, nullptr, vm); rc >= 0) return rc;
  if (!since.empty()) {
    query.since_ms = parse_since(since);
    if (!query.since_ms) {
      std::fprintf(stderr, "socd deadletter list: --since '%s' is neither a duration (15m, 2h, 7d) nor a UTC time "
                           "(2024-05-01T10:20:30Z)\n", since.c_str());
      return kUsageError;
    }
  }
  query.newest_first = newest;
  auto store = open_store(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd deadletter list: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  InputDeadLetters* letters = (*store)->input_dead_letters();
  if (!letters) {
    std::fprintf(stderr, "socd deadletter list: the store under '%s' keeps no dead letters\n", data_dir.c_str());
    return kRuntimeError;
  }
  if (!json)
    std::printf("%-8s  %-24s  %-12s  %-32s  %10s  %10s  %s\n", "ID", "TIME", "REASON", "SOURCE", "LINE", "BYTES",
                "HEAD");
  size_t shown = 0;
  Status st = letters->list(query, [&](const InputDeadLetter& l) {
    ++shown;
    if (json) std::printf("%s\n", to_json(l).c_str());
    else
      std::printf("%-8llu  %-24s  %-12s  %-32s  %10llu  %10llu  %s\n", static_cast<unsigned long long>(l.id),
                  format_time(l.time_ms).c_str(), l.reason.c_str(), l.source.c_str(),
                  static_cast<unsigned long long>(l.line), static_cast<unsigned long long>(l.length),
                  escaped(l.data, 60).c_str());
    return !std::ferror(stdout);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "socd deadletter list: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  auto state = letters->state();
  if (state && !json)
    std::fprintf(stderr, "%zu shown; %llu kept (%llu bytes), %llu ever stored, %llu dropped oldest first at the "
                         "store's bounds\n", shown, static_cast<unsigned long long>(state->count),
                 static_cast<unsigned long long>(state->bytes), static_cast<unsigned long long>(state->stored),
                 static_cast<unsigned long long>(state->evicted));
  return kOk;
}

int show_main(int argc, char** argv) {
  std::string data_dir, id_text;
  bool json = false;
  po::options_description opts("Usage: socd deadletter show [--data-dir DIR] [--json] ID\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir", po::value(&data_dir)->default_value("var/socd"), "directory of the alert store")
      ("json", po::bool_switch(&json), "as a JSON object")
      ("id", po::value(&id_text), "the dead letter's id (from socd deadletter list)");
  po::positional_options_description positional;
  positional.add("id", 1);
  po::variables_map vm;
  if (int rc = parse("show", argc, argv, opts, &positional, vm); rc >= 0) return rc;
  uint64_t id = 0;
  if (id_text.empty() || id_text.find_first_not_of("0123456789") != std::string::npos || id_text.size() > 19) {
    std::fprintf(stderr, "socd deadletter show: give the id of a dead letter (a number, from socd deadletter list)\n");
    return kUsageError;
  }
  id = std::stoull(id_text);
  auto store = open_store(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd deadletter show: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  InputDeadLetters* letters = (*store)->input_dead_letters();
  auto found = letters ? letters->get(id) : Expected<std::optional<InputDeadLetter>>(std::nullopt);
  if (!found) {
    std::fprintf(stderr, "socd deadletter show: %s\n", found.error().message().c_str());
    return kRuntimeError;
  }
  if (!*found) {
    std::fprintf(stderr, "socd deadletter show: no dead letter %llu in '%s' (it may have been dropped at the "
                         "store's bounds; see socd deadletter list)\n", static_cast<unsigned long long>(id),
                 data_dir.c_str());
    return kRuntimeError;
  }
  const InputDeadLetter& l = **found;
  if (json) {
    std::printf("%s\n", to_json(l).c_str());
    return kOk;
  }
  std::printf("id:        %llu\ntime:      %s\nsource:    %s\norigin:    %s\nreason:    %s\ndetail:    %s\n"
              "line:      %llu\nposition:  %llu\nlength:    %llu bytes (%zu kept)\ndata:      %s\n",
              static_cast<unsigned long long>(l.id), format_time(l.time_ms).c_str(), l.source.c_str(),
              l.origin.c_str(), l.reason.c_str(), l.detail.c_str(), static_cast<unsigned long long>(l.line),
              static_cast<unsigned long long>(l.position), static_cast<unsigned long long>(l.length), l.data.size(),
              escaped(l.data, 1 << 20).c_str());
  return kOk;
}

}  // namespace

int deadletter_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kDeadLetterUsage, stderr);
    return kUsageError;
  }
  std::string sub = argv[1];
  if (sub == "-h" || sub == "--help" || sub == "help") {
    std::fputs(kDeadLetterUsage, stdout);
    return kOk;
  }
  if (sub == "list") return list_main(argc - 1, argv + 1);
  if (sub == "show") return show_main(argc - 1, argv + 1);
  std::fprintf(stderr, "socd deadletter: unknown command '%s'\n\n%s", sub.c_str(), kDeadLetterUsage);
  return kUsageError;
}

}  // namespace socd::cli
