// socd audit: layer 3's own look at the store. `verify` recomputes the hash chain, checks its seals with the key
// and checks that every alert and incident still matches its chain record; `log` prints the chain. Both read the
// store beside a running `socd run` and never change it.
#include <signal.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli.h"
#include "socd/alert_store.h"
#include "socd/ledger.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

const char* kAuditUsage =
    "Usage: socd audit <verify|log> [options]\n"
    "\n"
    "  verify   recompute the audit chain (every stored alert, incident change, rule-set load and settings\n"
    "           change), check its seals with the key and the store against it; name the first record altered,\n"
    "           removed or reordered\n"
    "  log      print the chain's records\n"
    "\n"
    "Run 'socd audit verify --help' or 'socd audit log --help' for their options.\n";

int parse_options(const char* command, int argc, char** argv, po::options_description& opts,
                  po::variables_map& vm) {
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    if (vm.count("help")) {
      std::cout << opts << "\n";
      return kOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd audit %s: %s\nRun 'socd audit %s --help' for the options.\n", command,
                 option_error_message(e).c_str(),
                 command);
    return kUsageError;
  }
  return -1;
}

Expected<std::unique_ptr<AlertStore>> open_reader(const std::string& dir) {
  signal(SIGPIPE, SIG_IGN);
  StoreOptions options;
  options.read_only = true;
  auto store = AlertStore::open(dir, options);
  if (store && !(*store)->ledger()) return Status::error("the store under '" + dir + "' keeps no audit chain");
  return store;
}

int verify_main(int argc, char** argv) {
  std::string data_dir, key_file;
  po::options_description opts(
      "Usage: socd audit verify --data-dir DIR [--key-file FILE]\n\n"
      "Verifies the audit chain of the store and the store against it. The key that seals the chain's head\n"
      "comes from --key-file, else $SOCD_AUDIT_KEY_FILE, else $SOCD_AUDIT_KEY; without one the seals are not\n"
      "checked (said so). Exit status: 0 verified, 1 a record was altered, removed or reordered (the first one is\n"
      "named first) or the store cannot be read, 2 usage.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&data_dir)->default_value("./var/socd"), "the directory of the store")
      ("key-file", po::value(&key_file), "the file holding the audit key");
  po::variables_map vm;
  if (int rc = parse_options("verify", argc, argv, opts, vm); rc >= 0) return rc;
  auto key = load_audit_key(key_file);
  if (!key) {
    std::fprintf(stderr, "socd audit verify: %s\n", key.error().message().c_str());
    return kUsageError;
  }
  auto store = open_reader(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd audit verify: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  auto rep = (*store)->ledger()->verify(*key);
  if (!rep) {
    std::fprintf(stderr, "socd audit verify: %s\n", rep.error().message().c_str());
    return kRuntimeError;
  }
  for (const auto& w : rep->warnings) std::fprintf(stderr, "socd audit verify: warning: %s\n", w.c_str());
  std::printf("chain: %llu record(s): %llu alert(s), %llu incident change(s), %llu rule-set load(s), %llu seal(s), "
              "%llu checked with the key; head %s\n",
              static_cast<unsigned long long>(rep->records), static_cast<unsigned long long>(rep->alerts),
              static_cast<unsigned long long>(rep->incident_changes), static_cast<unsigned long long>(rep->rule_sets),
              static_cast<unsigned long long>(rep->seals), static_cast<unsigned long long>(rep->seals_checked),
              rep->head_hash.c_str());
  std::printf("store: %llu alert(s), %llu incident(s)\n", static_cast<unsigned long long>(rep->alerts_in_store),
              static_cast<unsigned long long>(rep->incidents_in_store));
  if (rep->ok) {
    std::printf("verified: OK\n");
    return kOk;
  }
  std::printf("verified: FAILED, %zu problem(s); the first:\n", rep->problems.size());
  for (const auto& p : rep->problems) std::printf("  %s\n", p.c_str());
  return kRuntimeError;
}

int log_main(int argc, char** argv) {
  std::string data_dir;
  uint64_t from = 1, limit = 0;
  po::options_description opts(
      "Usage: socd audit log --data-dir DIR [--from SEQ] [--limit N]\n\n"
      "Prints the audit chain, one record a line: seq, time (UTC), kind, subject, payload size, hash.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("data-dir,d", po::value(&data_dir)->default_value("./var/socd"), "the directory of the store")
      ("from", po::value(&from)->default_value(1), "first record")
      ("limit,n", po::value(&limit)->default_value(0), "at most N records (0: all)");
  po::variables_map vm;
  if (int rc = parse_options("log", argc, argv, opts, vm); rc >= 0) return rc;
  auto store = open_reader(data_dir);
  if (!store) {
    std::fprintf(stderr, "socd audit log: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  uint64_t shown = 0;
  Status st = (*store)->ledger()->chain(from, [&](const ChainRecord& r) {
    std::printf("%llu\t%s\t%s\t%s\t%zu\t%s\n", static_cast<unsigned long long>(r.seq), format_utc(r.time_ms).c_str(),
                chain_kind_name(r.kind), r.subject.c_str(), r.payload.size(), to_hex(r.hash).c_str());
    ++shown;
    return !std::ferror(stdout) && (limit == 0 || shown < limit);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "socd audit log: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  return kOk;
}

}  // namespace

int audit_main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kAuditUsage, stderr);
    return kUsageError;
  }
  const std::string sub = argv[1];
  if (sub == "-h" || sub == "--help" || sub == "help") {
    std::fputs(kAuditUsage, stdout);
    return kOk;
  }
  if (sub == "verify") return verify_main(argc - 1, argv + 1);
  if (sub == "log") return log_main(argc - 1, argv + 1);
  std::fprintf(stderr, "socd audit: unknown command '%s'\n\n%s", sub.c_str(), kAuditUsage);
  return kUsageError;
}

}  // namespace socd::cli
