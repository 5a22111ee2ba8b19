// socd alerts list|show: analysts read the alert store, also while `socd run` writes it (the store is opened as a
// reader beside the writer and sees every batch the writer had committed when the command started).
#include <signal.h>

#include <boost/program_options.hpp>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "socd/alert_store.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

constexpr const char* kDefaultDataDir = "./var/socd";

const char* kAlertsUsage =
    "Usage: socd alerts <list|show> [options]\n"
    "\n"
    "Reads the alert store that `socd run` writes (also while it runs).\n"
    "  list   alerts in time order, filtered by time, rule, host and level\n"
    "  show   one or more alerts by id, as indented JSON\n"
    "\n"
    "Run 'socd alerts list --help' or 'socd alerts show --help' for their options.\n";

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Days since 1970-01-01 of a date in the proleptic Gregorian calendar.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool read_digits(std::string_view s, size_t pos, size_t count, int& out) {
  if (pos + count > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// RFC 3339 (`2024-05-01T10:20:30Z`, `2024-05-01T10:20:30.250+02:00`, a space for the T) or a date alone (midnight
// UTC), as milliseconds since the epoch.
std::optional<int64_t> parse_time(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  if (!read_digits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !read_digits(s, 5, 2, month) || s[7] != '-' ||
      !read_digits(s, 8, 2, day))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  int64_t ms = 0, offset_minutes = 0;
  size_t i = 10;
  if (i < s.size()) {
    if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') || !read_digits(s, 11, 2, hour) || s.size() < 19 ||
        s[13] != ':' || !read_digits(s, 14, 2, minute) || s[16] != ':' || !read_digits(s, 17, 2, second))
      return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    i = 19;
    if (i < s.size() && s[i] == '.') {
      size_t start = ++i;
      int64_t scale = 100;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        ms += (s[i] - '0') * scale;
        scale /= 10;
        ++i;
      }
      if (i == start) return std::nullopt;
    }
    std::string_view zone = s.substr(i);
    if (zone == "Z" || zone == "z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
      int oh, om;
      if (!read_digits(zone, 1, 2, oh) || !read_digits(zone, 4, 2, om) || oh > 23 || om > 59) return std::nullopt;
      offset_minutes = (zone[0] == '-' ? -1 : 1) * (oh * 60 + om);
    } else {
      return std::nullopt;  // a time of day needs its zone: Z or +hh:mm
    }
  }
  int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return (seconds - offset_minutes * 60) * 1000 + ms;
}

// `15m`, `2h`, `7d`, `30s`, `1w` as milliseconds.
std::optional<int64_t> parse_duration(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  int64_t n = 0;
  for (char c : s.substr(0, s.size() - 1)) {
    if (c < '0' || c > '9' || n > (int64_t{1} << 40)) return std::nullopt;
    n = n * 10 + (c - '0');
  }
  int64_t unit = 0;
  switch (s.back()) {
    case 's': unit = 1000; break;
    case 'm': unit = 60'000; break;
    case 'h': unit = 3'600'000; break;
    case 'd': unit = 86'400'000; break;
    case 'w': unit = 7 * 86'400'000; break;
    default: return std::nullopt;
  }
  if (n > INT64_MAX / unit) return std::nullopt;  // milliseconds beyond 64 bits: n * unit would overflow
  return n * unit;
}

// A point in time from the command line: a duration before now, or a date-time.
std::optional<int64_t> parse_point(std::string_view s, int64_t now) {
  if (auto d = parse_duration(s)) return now - *d;
  return parse_time(s);
}

std::string format_time(int64_t ms) {
  int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms - seconds * 1000));
  return buf;
}

// The layers of an alert as "L2,L3" ("-": none recorded).
std::string layer_names(uint8_t layers) {
  std::string out;
  for (int n = 1; n <= 4; ++n) {
    if (!(layers & (1u << (n - 1)))) continue;
    if (!out.empty()) out += ',';
    out += 'L';
    out += static_cast<char>('0' + n);
  }
  return out.empty() ? "-" : out;
}

// Text from logs shown in a terminal: control characters (escape sequences included) are shown as '?', and the
// text is cut to `width` characters (UTF-8 aware) and padded to it.
std::string cell(std::string_view text, size_t width) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size() && chars < width;) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    bool valid = i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(text[i + k]) >> 6) == 2;
    if (valid && len == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0) valid = false;  // C1
    if (!valid) len = 1;
    if (chars + 1 == width && i + len < text.size()) {
      out += '~';  // cut here
      ++chars;
      break;
    }
    if (c < 0x20 || c == 0x7f || (len == 1 && c >= 0x80)) out += '?';
    else out.append(text.substr(i, len));
    i += len;
    ++chars;
  }
  out.append(width - chars, ' ');
  return out;
}

class TitleReader {
public:
  // The rule title of a stored alert's JSON, or an empty string when it has none.
  std::string title(const std::string& json) {
    padded_.assign(json);  // simdjson reads a few bytes past the end
    padded_.append(simdjson::SIMDJSON_PADDING, ' ');
    simdjson::ondemand::document doc;
    if (parser_.iterate(padded_.data(), json.size(), padded_.size()).get(doc)) return {};
    std::string_view title;
    if (doc["rule"]["title"].get_string().get(title)) return {};
    return std::string(title);
  }

private:
  simdjson::ondemand::parser parser_;
  std::string padded_;
};

// JSON text indented by two spaces per level, strings kept as they are.
std::string indent_json(std::string_view json) {
  std::string out;
  int depth = 0;
  bool in_string = false, escaped = false;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<size_t>(std::max(depth, 0)) * 2, ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out += c;
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        size_t next = json.find_first_not_of(" \t\r\n", i + 1);
        if (next != std::string_view::npos && (json[next] == '}' || json[next] == ']')) {
          out += c;
          out += json[next];  // {} and [] stay on one line
          i = next;
          break;
        }
        out += c;
        ++depth;
        newline();
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\t':
      case '\r':
      case '\n':
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A reader keeps a scratch directory that only its destructor removes: Ctrl-C, a `kill` or a closed pipe
// (`socd alerts list | head`) end the listing instead of the process, so the store is closed as usual.
volatile sig_atomic_t g_stop = 0;

extern "C" void request_stop(int) { g_stop = 1; }

void stop_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a write to a closed pipe fails instead, and ferror() ends the listing
}

int stopped_exit_code() { return g_stop ? 128 + SIGINT : kOk; }

Expected<std::unique_ptr<AlertStore>> open_for_reading(const std::string& dir) {
  stop_on_signals();
  StoreOptions options;
  options.read_only = true;
  return AlertStore::open(dir, options);
}

// Parses `opts` (plus positional ones); returns -1 to go on, or the exit code.
int parse_options(const char* command, int argc, char** argv, po::options_description& opts,
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
    std::fprintf(stderr, "socd alerts %s: %s\nRun 'socd alerts %s --help' for the options.\n", command,
                 option_error_message(e).c_str(), command);
    return kUsageError;
  }
  return -1;
}

int list_main(int argc, char** argv) {
  std::string data_dir, since, until, level;
  AlertQuery query;
  bool json = false, exact_level = false;
  po::options_description opts(
      "Usage: socd alerts list [--data-dir DIR] [--since DURATION|TIME] [--until DURATION|TIME] [--rule ID]\n"
      "                        [--host HOST] [--level LEVEL] [--limit N] [--newest-first] [--json]\n\n"
      "Lists stored alerts in time order (their event time), oldest first. Without --json a table (time, level,\n"
      "rule title, host, system from the asset inventory ('-': unknown asset or no inventory), the layers the\n"
      "routing sent it to (L1..L4; '-': no routing), id); with --json each alert as stored, one JSON object per\n"
      "line (the scan alert object with its \"id\" and, when configured, \"asset\", \"routing\", \"intel\").\n"
      "Times are RFC 3339 (2024-05-01T10:20:30Z, 2024-05-01T12:20:30+02:00) or a date (2024-05-01, midnight UTC);\n"
      "a duration (30s, 15m, 2h, 7d, 1w) means that long before now. A count goes to stderr.\n"
      "Exit status: 0 done (also when nothing matched), 1 the store cannot be read, 2 usage.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&data_dir)->default_value(kDefaultDataDir), "the directory of the store `socd run` writes")
      ("since", po::value(&since), "only alerts at or after this time (or this long ago): 15m, 2h, 7d, RFC 3339")
      ("until", po::value(&until), "only alerts before this time (or this long ago)")
      ("rule", po::value(&query.rule_id), "only alerts of this rule id")
      ("host", po::value(&query.host), "only alerts from this host (exact)")
      ("level", po::value(&level),
       "only alerts of this level or higher: informational < low < medium < high < critical")
      ("exact-level", po::bool_switch(&exact_level), "with --level: only that level, not the ones above it")
      ("limit,n", po::value(&query.limit)->default_value(0), "stop after N alerts (0: all)")
      ("newest-first", po::bool_switch(&query.newest_first), "newest alerts first (with --limit: the latest N)")
      ("json", po::bool_switch(&json), "print the stored JSON of each alert, one per line");
  po::variables_map vm;
  if (int rc = parse_options("list", argc, argv, opts, nullptr, vm); rc >= 0) return rc;

  const int64_t now = now_ms();
  if (!since.empty()) {
    query.since_ms = parse_point(since, now);
    if (!query.since_ms) {
      std::fprintf(stderr, "socd alerts list: --since '%s' is neither a duration (15m, 2h, 7d) nor an RFC 3339 time "
                   "(2024-05-01T10:20:30Z)\n", since.c_str());
      return kUsageError;
    }
  }
  if (!until.empty()) {
    query.until_ms = parse_point(until, now);
    if (!query.until_ms) {
      std::fprintf(stderr, "socd alerts list: --until '%s' is neither a duration (15m, 2h, 7d) nor an RFC 3339 time "
                   "(2024-05-01T10:20:30Z)\n", until.c_str());
      return kUsageError;
    }
  }
  if (!level.empty()) {
    if (level_rank(level) < 0) {
      std::fprintf(stderr, "socd alerts list: unknown --level '%s' (use informational, low, medium, high or "
                   "critical)\n", level.c_str());
      return kUsageError;
    }
    query.level = level;
    query.level_or_higher = !exact_level;
  } else if (exact_level) {
    std::fprintf(stderr, "socd alerts list: --exact-level needs --level\n");
    return kUsageError;
  }

  auto store = open_for_reading(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd alerts list: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  static char out_buf[1 << 16];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
  TitleReader titles;
  uint64_t shown = 0;
  if (!json)
    std::printf("%-24s  %-13s  %-44s  %-20s  %-16s  %-11s  %s\n", "TIME", "LEVEL", "RULE", "HOST", "SYSTEM",
                "LAYERS", "ID");
  Status st = (*store)->list(query, [&](const StoredAlert& alert) {
    if (g_stop || std::ferror(stdout)) return false;
    ++shown;
    if (json) {
      std::fwrite(alert.json.data(), 1, alert.json.size(), stdout);
      std::fputc('\n', stdout);
      return true;
    }
    std::string title = titles.title(alert.json);
    if (title.empty()) title = alert.rule_id;
    std::printf("%-24s  %s  %s  %s  %s  %s  %s\n", format_time(alert.time_ms).c_str(), cell(alert.level, 13).c_str(),
                cell(title, 44).c_str(), cell(alert.host.empty() ? "-" : alert.host, 20).c_str(),
                cell(alert.system.empty() ? "-" : alert.system, 16).c_str(), cell(layer_names(alert.layers), 11).c_str(),
                cell(alert.id, alert.id.size()).c_str());
    return true;
  });
  std::fflush(stdout);
  if (!st.ok()) {
    std::fprintf(stderr, "socd alerts list: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  if (std::ferror(stdout)) return kOk;  // the reader of our output went away (`| head`): nothing to report
  if (g_stop) {
    std::fprintf(stderr, "socd alerts: interrupted after %llu alert(s)\n", static_cast<unsigned long long>(shown));
    return stopped_exit_code();
  }
  auto total = (*store)->count();
  if (total)
    std::fprintf(stderr, "socd alerts: %llu alert(s) listed; the store holds %llu\n",
                 static_cast<unsigned long long>(shown), static_cast<unsigned long long>(*total));
  else
    std::fprintf(stderr, "socd alerts: %llu alert(s) listed\n", static_cast<unsigned long long>(shown));
  return kOk;
}

int show_main(int argc, char** argv) {
  std::string data_dir;
  std::vector<std::string> ids;
  bool raw = false;
  po::options_description opts(
      "Usage: socd alerts show [--data-dir DIR] [--raw] ID [ID ...]\n\n"
      "Prints each alert with that id (the \"id\" of `socd alerts list` or of the alert JSON) as indented JSON.\n"
      "Exit status: 0 all shown, 1 an id is not in the store or the store cannot be read, 2 usage.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&data_dir)->default_value(kDefaultDataDir), "the directory of the store `socd run` writes")
      ("raw", po::bool_switch(&raw), "print the JSON as stored, one line per alert")
      ("id", po::value(&ids), "alert id (the positional arguments)");
  po::positional_options_description positional;
  positional.add("id", -1);
  po::variables_map vm;
  if (int rc = parse_options("show", argc, argv, opts, &positional, vm); rc >= 0) return rc;
  if (ids.empty()) {
    std::fprintf(stderr, "socd alerts show: no alert id given (ids are in `socd alerts list`)\n");
    return kUsageError;
  }
  auto store = open_for_reading(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd alerts show: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  int rc = kOk;
  for (const auto& id : ids) {
    if (g_stop || std::ferror(stdout)) break;
    auto alert = (*store)->get(id);
    if (!alert) {
      std::fprintf(stderr, "socd alerts show: %s\n", alert.error().message().c_str());
      return kRuntimeError;
    }
    if (!alert->has_value()) {
      std::fprintf(stderr, "socd alerts show: no alert with id '%s' in %s\n", id.c_str(), data_dir.c_str());
      rc = kRuntimeError;
      continue;
    }
    const std::string& text = (*alert)->json;
    std::string out = raw ? text : indent_json(text);
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  std::fflush(stdout);
  return g_stop ? stopped_exit_code() : rc;
}

}  // namespace

int alerts_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kAlertsUsage, stderr);
    return kUsageError;
  }
  std::string sub = argv[1];
  if (sub == "-h" || sub == "--help" || sub == "help") {
    std::fputs(kAlertsUsage, stdout);
    return kOk;
  }
  if (sub == "list") return list_main(argc - 1, argv + 1);
  if (sub == "show") return show_main(argc - 1, argv + 1);
  std::fprintf(stderr, "socd alerts: unknown command '%s'\n\n%s", sub.c_str(), kAlertsUsage);
  return kUsageError;
}

}  // namespace socd::cli
