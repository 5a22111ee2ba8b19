// socd incidents: the analysts' incident workflow. Reading opens the store beside a running `socd run` (as
// `socd alerts` does); changes go to the store directly when no `socd run` holds it, else through its command
// inbox (socd/command_inbox.h), so they work in both cases and never bypass the writer.
#include <signal.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "socd/alert_store.h"
#include "socd/command_inbox.h"
#include "socd/ledger.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

constexpr const char* kDefaultDataDir = "./var/socd";

const char* kIncidentsUsage =
    "Usage: socd incidents <command> [options]\n"
    "\n"
    "Incidents group alerts (automatically: same rule and system within a window; or by hand) and carry the\n"
    "SOC's work on them and the reporting deadlines. States: new -> acknowledged -> in_progress -> resolved |\n"
    "false_positive -> closed.\n"
    "\n"
    "Reading:\n"
    "  list [--all] [--state S] [--overdue] [--json]   open incidents (and closed ones still owing a report)\n"
    "  show ID [--json]                                one incident: deadlines, alerts, notes, history\n"
    "Changing (while socd run runs too):\n"
    "  new --title TEXT [ALERT_ID ...]   an incident by hand      attach ID ALERT_ID ...\n"
    "  ack ID        start ID        assign ID NAME        note ID TEXT...\n"
    "  resolve ID [--note TEXT]      false-positive ID [--note TEXT]      close ID      reopen ID [--note TEXT]\n"
    "  impact ID IMPACT...   (service_interruption, data_leak, integrity_loss, loss_of_control, wide_spread)\n"
    "  notified ID [--at TIME]       the notification was sent      reported ID [--at TIME]   the report was sent\n"
    "\n"
    "Every command takes --data-dir DIR (default ./var/socd); changes take --by NAME (default $SOCD_ANALYST,\n"
    "then $USER) and --wait SECONDS (how long to wait for a running socd run to take the change, default 10).\n"
    "Exit status: 0 done, 1 refused or the store cannot be used, 2 usage.\n";

struct Common {
  std::string data_dir = kDefaultDataDir;
  std::string by;
  int wait_seconds = 10;
  bool json = false;
  std::vector<std::string> args;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string default_actor() {
  for (const char* name : {"SOCD_ANALYST", "USER", "LOGNAME"})
    if (const char* v = std::getenv(name); v && *v) return v;
  return "unknown";
}

// Parses the options every incidents command has; returns -1 to go on, or the exit code.
int parse(const std::string& command, int argc, char** argv, Common& c, po::options_description& extra,
          const char* usage) {
  po::options_description opts(std::string(usage) + "\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&c.data_dir)->default_value(kDefaultDataDir), "the directory of the store")
      ("by", po::value(&c.by), "who makes the change (default $SOCD_ANALYST, then $USER)")
      ("wait", po::value(&c.wait_seconds)->default_value(10),
       "seconds to wait for a running socd run to take the change")
      ("json", po::bool_switch(&c.json), "print the incident(s) as JSON")
      ("arg", po::value(&c.args), "positional arguments");
  opts.add(extra);
  po::positional_options_description positional;
  positional.add("arg", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << opts << "\n";
      return kOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd incidents %s: %s\nRun 'socd incidents %s --help' for the options.\n", command.c_str(),
                 option_error_message(e).c_str(), command.c_str());
    return kUsageError;
  }
  if (c.by.empty()) c.by = default_actor();
  return -1;
}

Expected<std::unique_ptr<AlertStore>> open_reader(const std::string& dir) {
  signal(SIGPIPE, SIG_IGN);
  StoreOptions options;
  options.read_only = true;
  auto store = AlertStore::open(dir, options);
  if (store && !(*store)->ledger()) return Status::error("the store under '" + dir + "' keeps no incidents");
  return store;
}

// The next deadline that is not done: "notify 2025-02-06 00:00 overdue".
std::string next_deadline(const std::vector<Deadline>& deadlines, const TimeZone& zone) {
  for (const auto& d : deadlines) {
    if (d.done_ms != 0) continue;
    std::string when = zone.format(d.due_ms).substr(0, 16);
    when[10] = ' ';
    return d.name + " " + when + " " + deadline_status_name(d.status);
  }
  return deadlines.empty() ? "-" : "done";
}

std::string cut(const std::string& text, size_t width) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < text.size() && chars < width; ++chars) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    if (c < 0x20 || c == 0x7f) {
      out += '?';
      ++i;
      continue;
    }
    out.append(text, i, len);
    i += len;
  }
  out.append(width > chars ? width - chars : 0, ' ');
  return out;
}

int list_main(int argc, char** argv) {
  Common c;
  std::string state;
  bool all = false, overdue_only = false;
  po::options_description extra("");
  extra.add_options()
      ("all", po::bool_switch(&all), "closed incidents too")
      ("state", po::value(&state), "only incidents in this state")
      ("overdue", po::bool_switch(&overdue_only), "only incidents with an overdue deadline");
  if (int rc = parse("list", argc, argv, c, extra,
                     "Usage: socd incidents list [--data-dir DIR] [--all] [--state S] [--overdue] [--json]\n\n"
                     "Lists incidents in creation order: the open ones and closed ones still owing a deadline\n"
                     "(--all: every one). Deadlines are shown in the configured time zone.");
      rc >= 0)
    return rc;
  std::optional<IncidentState> wanted;
  if (!state.empty() && !(wanted = parse_state(state))) {
    std::fprintf(stderr, "socd incidents list: unknown --state '%s' (new, acknowledged, in_progress, resolved, "
                 "false_positive, closed)\n", state.c_str());
    return kUsageError;
  }
  auto store = open_reader(c.data_dir);
  if (!store) {
    std::fprintf(stderr, "socd incidents list: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  Ledger& ledger = *(*store)->ledger();
  const IncidentSettings settings = ledger.settings();
  const TimeZone zone = ledger.zone();
  const int64_t now = now_ms();
  if (!c.json)
    std::printf("%-10s  %-14s  %-3s  %-8s  %-20s  %6s  %-12s  %-33s  %s\n", "ID", "STATE", "SER", "LEVEL", "SYSTEM",
                "ALERTS", "ASSIGNEE", "NEXT DEADLINE", "TITLE");
  size_t shown = 0;
  Status st = ledger.incidents([&](const Incident& inc) {
    auto deadlines = incident_deadlines(inc, settings, zone, now);
    bool owes = std::any_of(deadlines.begin(), deadlines.end(), [](const Deadline& d) { return d.done_ms == 0; });
    if (wanted ? inc.state != *wanted : (!all && inc.state == IncidentState::Closed && !owes)) return true;
    if (overdue_only && std::none_of(deadlines.begin(), deadlines.end(), [](const Deadline& d) {
          return d.status == Deadline::Status::Overdue;
        }))
      return true;
    ++shown;
    if (c.json) {
      std::string j = incident_json(inc, deadlines, zone);
      std::printf("%s\n", j.c_str());
      return !std::ferror(stdout);
    }
    std::string title = cut(inc.title, 60);
    title.erase(title.find_last_not_of(' ') + 1);
    std::printf("%-10s  %-14s  %-3s  %-8s  %s  %6llu  %s  %-33s  %s\n", inc.id.c_str(), state_name(inc.state),
                inc.serious ? "yes" : "-", inc.level.c_str(),
                cut(inc.system.empty() ? "(unknown)" : inc.system, 20).c_str(),
                static_cast<unsigned long long>(inc.alert_count),
                cut(inc.assignee.empty() ? "-" : inc.assignee, 12).c_str(),
                next_deadline(deadlines, zone).c_str(), title.c_str());
    return !std::ferror(stdout);
  });
  std::fflush(stdout);
  if (!st.ok()) {
    std::fprintf(stderr, "socd incidents list: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  std::fprintf(stderr, "socd incidents: %zu incident(s) listed; deadlines in %s\n", shown, zone.name().c_str());
  return kOk;
}

int show_main(int argc, char** argv) {
  Common c;
  po::options_description extra("");
  if (int rc = parse("show", argc, argv, c, extra,
                     "Usage: socd incidents show [--data-dir DIR] [--json] ID\n\n"
                     "Shows an incident: state, times, deadlines, assignee, impacts, notes, history and its alerts.");
      rc >= 0)
    return rc;
  if (c.args.size() != 1) {
    std::fprintf(stderr, "socd incidents show: give one incident id (ids are in `socd incidents list`)\n");
    return kUsageError;
  }
  auto store = open_reader(c.data_dir);
  if (!store) {
    std::fprintf(stderr, "socd incidents show: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  Ledger& ledger = *(*store)->ledger();
  auto inc = ledger.incident(c.args[0]);
  if (!inc) {
    std::fprintf(stderr, "socd incidents show: %s\n", inc.error().message().c_str());
    return kRuntimeError;
  }
  if (!inc->has_value()) {
    std::fprintf(stderr, "socd incidents show: no incident '%s' in %s (see `socd incidents list --all`)\n",
                 c.args[0].c_str(), c.data_dir.c_str());
    return kRuntimeError;
  }
  const Incident& i = **inc;
  const TimeZone zone = ledger.zone();
  const int64_t now = now_ms();
  auto deadlines = incident_deadlines(i, ledger.settings(), zone, now);
  std::vector<std::string> alert_ids;
  Status st = ledger.incident_alerts(i.id, [&](const std::string& a) {
    alert_ids.push_back(a);
    return true;
  });
  if (!st.ok()) {
    std::fprintf(stderr, "socd incidents show: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  if (c.json) {
    std::string j = incident_json(i, deadlines, zone);
    j.pop_back();
    j += ",\"alert_ids\":[";
    for (size_t k = 0; k < alert_ids.size(); ++k) j += (k ? ",\"" : "\"") + alert_ids[k] + "\"";
    j += "]}";
    std::printf("%s\n", j.c_str());
    return kOk;
  }
  auto t = [&](int64_t ms) { return ms ? zone.format(ms) : std::string("-"); };
  std::printf("%s  %s%s\n", i.id.c_str(), i.title.c_str(), i.serious ? "  [SERIOUS]" : "");
  std::printf("  state:        %s%s\n", state_name(i.state), i.manual ? " (made by hand)" : "");
  std::printf("  system:       %s (level %d)\n", i.system.empty() ? "(unknown)" : i.system.c_str(), i.system_level);
  std::printf("  rule:         %s, highest alert level %s\n", i.rule_id.c_str(), i.level.c_str());
  std::printf("  assignee:     %s\n", i.assignee.empty() ? "-" : i.assignee.c_str());
  std::string impacts;
  for (const auto& x : i.impacts) impacts += (impacts.empty() ? "" : ", ") + x;
  std::printf("  impacts:      %s\n", impacts.empty() ? "-" : impacts.c_str());
  std::printf("  discovered:   %s\n  alerts:       %llu, %s .. %s\n", t(i.discovered_ms).c_str(),
              static_cast<unsigned long long>(i.alert_count), t(i.first_alert_ms).c_str(), t(i.last_alert_ms).c_str());
  std::printf("  acknowledged: %s\n  started:      %s\n  resolved:     %s\n  closed:       %s\n",
              t(i.acknowledged_ms).c_str(), t(i.started_ms).c_str(), t(i.resolved_ms).c_str(), t(i.closed_ms).c_str());
  std::printf("  notified:     %s\n  reported:     %s\n", t(i.notified_ms).c_str(), t(i.reported_ms).c_str());
  std::printf("deadlines (%s):\n", zone.name().c_str());
  if (deadlines.empty()) std::printf("  none%s\n", i.false_positive ? " (false positive)" : "");
  for (const auto& d : deadlines)
    std::printf("  %-7s due %s  %s%s\n", d.name.c_str(), zone.format(d.due_ms).c_str(), deadline_status_name(d.status),
                d.done_ms ? (" (done " + zone.format(d.done_ms) + ")").c_str() : "");
  if (!i.notes.empty()) std::printf("notes:\n");
  for (const auto& n : i.notes)
    std::printf("  %s  %s: %s\n", zone.format(n.time_ms).c_str(), n.author.c_str(), n.text.c_str());
  std::printf("history:\n");
  for (const auto& h : i.history)
    std::printf("  %s  %-8s %-14s %s\n", zone.format(h.time_ms).c_str(), h.actor.c_str(), h.action.c_str(),
                h.detail.c_str());
  std::printf("alert ids:\n");
  for (const auto& a : alert_ids) std::printf("  %s\n", a.c_str());
  return kOk;
}

// new, attach, ack, start, assign, note, resolve, false-positive, close, reopen, impact, notified, reported
int change_main(const std::string& name, IncidentCommand::Action action, int argc, char** argv) {
  using A = IncidentCommand::Action;
  Common c;
  std::string title, note, at;
  po::options_description extra("");
  if (action == A::New) extra.add_options()("title", po::value(&title), "the incident's title");
  if (action == A::Resolve || action == A::FalsePositive || action == A::Reopen)
    extra.add_options()("note", po::value(&note), "why (kept in the history)");
  if (action == A::Notified || action == A::Reported)
    extra.add_options()("at", po::value(&at), "when it was sent (RFC 3339; default now)");
  const std::string usage = "Usage: socd incidents " + name + " [--data-dir DIR] [--by NAME] [--wait S] " +
                            (action == A::New ? "--title TEXT [ALERT_ID ...]"
                             : action == A::Attach ? "ID ALERT_ID ..."
                             : action == A::Assign ? "ID NAME"
                             : action == A::Note ? "ID TEXT ..."
                             : action == A::Impact ? "ID IMPACT ..."
                                                   : "ID") +
                            "\n\nChanges the store directly, or through a running socd run.";
  if (int rc = parse(name, argc, argv, c, extra, usage.c_str()); rc >= 0) return rc;
  IncidentCommand cmd;
  cmd.action = action;
  cmd.actor = c.by;
  auto usage_error = [&](const char* what) {
    std::fprintf(stderr, "socd incidents %s: %s\n%s\n", name.c_str(), what, usage.substr(0, usage.find('\n')).c_str());
    return kUsageError;
  };
  std::vector<std::string> rest = c.args;
  if (action == A::New) {
    cmd.text = title;
    cmd.alerts = rest;
    if (title.empty() && rest.empty()) return usage_error("give --title or alert ids");
  } else {
    if (rest.empty()) return usage_error("no incident id given");
    cmd.incident = rest[0];
    rest.erase(rest.begin());
    switch (action) {
      case A::Attach:
        if (rest.empty()) return usage_error("no alert id given");
        cmd.alerts = rest;
        break;
      case A::Assign:
        if (rest.size() != 1) return usage_error("give the incident id and one name (\"\" to unassign)");
        cmd.assignee = rest[0];
        break;
      case A::Note:
        for (const auto& w : rest) cmd.text += (cmd.text.empty() ? "" : " ") + w;
        if (cmd.text.empty()) return usage_error("no note text given");
        break;
      case A::Impact:
        if (rest.empty()) return usage_error("name at least one impact");
        cmd.impacts = rest;
        break;
      default:
        if (!rest.empty()) return usage_error("too many arguments");
        cmd.text = note;
    }
  }
  if (!at.empty() && !parse_rfc3339(at, cmd.time_ms)) return usage_error("--at is not an RFC 3339 time");
  bool via_inbox = false;
  auto inc = change_incident(c.data_dir, cmd, std::max(1, c.wait_seconds) * 1000, &via_inbox);
  if (!inc) {
    std::fprintf(stderr, "socd incidents %s: %s\n", name.c_str(), inc.error().message().c_str());
    return kRuntimeError;
  }
  if (c.json) {
    // Deadlines and times in the store's zone, as `show --json` prints them.
    auto store = open_reader(c.data_dir);
    if (!store) {
      std::fprintf(stderr, "socd incidents %s: done, but %s\n", name.c_str(), store.error().message().c_str());
      return kRuntimeError;
    }
    Ledger& ledger = *(*store)->ledger();
    const TimeZone zone = ledger.zone();
    std::printf("%s\n", incident_json(*inc, incident_deadlines(*inc, ledger.settings(), zone, now_ms()), zone).c_str());
  } else {
    std::printf("%s: %s%s%s\n", inc->id.c_str(), state_name(inc->state),
                inc->assignee.empty() ? "" : (", assigned to " + inc->assignee).c_str(),
                inc->serious ? ", serious" : "");
  }
  std::fprintf(stderr, "socd incidents: %s %s by %s%s\n", name.c_str(), inc->id.c_str(), c.by.c_str(),
               via_inbox ? " (through the running socd run)" : "");
  return kOk;
}

}  // namespace

int incidents_main(int argc, char** argv) {
  using A = IncidentCommand::Action;
  if (argc < 2) {
    std::fputs(kIncidentsUsage, stderr);
    return kUsageError;
  }
  const std::string sub = argv[1];
  if (sub == "-h" || sub == "--help" || sub == "help") {
    std::fputs(kIncidentsUsage, stdout);
    return kOk;
  }
  if (sub == "list") return list_main(argc - 1, argv + 1);
  if (sub == "show") return show_main(argc - 1, argv + 1);
  static const std::pair<const char*, A> changes[] = {
      {"new", A::New},       {"attach", A::Attach},     {"ack", A::Ack},
      {"start", A::Start},   {"assign", A::Assign},     {"note", A::Note},
      {"resolve", A::Resolve}, {"false-positive", A::FalsePositive}, {"close", A::Close},
      {"reopen", A::Reopen}, {"impact", A::Impact},     {"notified", A::Notified},
      {"reported", A::Reported}};
  for (const auto& [name, action] : changes)
    if (sub == name) return change_main(name, action, argc - 1, argv + 1);
  std::fprintf(stderr, "socd incidents: unknown command '%s'\n\n%s", sub.c_str(), kIncidentsUsage);
  return kUsageError;
}

}  // namespace socd::cli
