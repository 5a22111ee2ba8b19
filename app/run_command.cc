// socd run: the long-running service. Sources (files, syslog over UDP/TCP/TLS, stdin) feed the pipeline; alerts
// go to the RocksDB store; metrics are served for Prometheus. SIGHUP reloads rules and mappings (the new set
// compiles beside the running one and swaps in atomically; a broken set is refused and the old one keeps running);
// SIGTERM/SIGINT drain: stop reading, finish in-flight batches, store their alerts and checkpoints, exit 0.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <iostream>
#include <optional>
#include <prometheus/text_serializer.h>

#include "api_server.h"
#include "cli.h"
#include "forward.h"
#include "run_limits.h"
#include "metrics.h"
#include "pipeline.h"
#include "privileges.h"
#include "rule_set_record.h"
#include "socd/alert_store.h"
#include "socd/command_inbox.h"
#include "socd/input_dead_letters.h"
#include "socd/ledger.h"
#include "socd/read_file.h"
#include "socd/file_source.h"
#include "socd/stream_source.h"
#include "socd/syslog_sources.h"

namespace po = boost::program_options;

namespace socd::cli {
namespace {

struct RunOptions {
  std::string config, data_dir, mappings, cache_dir, format_name, metrics, thresholds, sagan_vars;
  InputFormat format = InputFormat::Auto;  // from format_name
  std::vector<std::string> rules, files, udp, tcp, tls;
  std::string tls_cert, tls_key, tls_ca;
  EnrichmentPaths enrichment;  // --assets, --intel, --routing
  std::string incidents, audit_key_file;  // incident, deadline and audit settings; the audit chain's key
  std::string forwarding;  // layer-4 forwarding: the outbox's sinks (forwarding.yml)
  std::string api, api_cert, api_key, api_tokens;  // the HTTP JSON API over TLS
  std::string run_user, run_group;  // --user/--group: drop to them once the listeners are bound
  bool chown_data_dir = false;
  unsigned workers = 0;
  bool read_stdin = false, exit_when_done = false, from_end = false, sync = false;
  size_t max_line = 4 << 20;
  RunLimits limits;  // what hostile input cannot pass (--max-frame-bytes ... --dead-letter-bytes)
};

void log(const char* fmt, auto... args) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s socd run: ", ts);
  if constexpr (sizeof...(args) == 0)
    std::fputs(fmt, stderr);
  else
    std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
}

struct LoadedSet {
  std::shared_ptr<const RuleSet> set;
  size_t loaded = 0, skipped = 0;
  double seconds = 0;
  std::shared_ptr<const StatefulRules> stateful;  // correlations and thresholds
  Enrichment enrichment;                          // asset inventory, intelligence lists, routing
};

// Loads mappings and rules; `strict` refuses a set with any rule that could not be compiled (reloads).
Expected<LoadedSet> load_set(const RunOptions& o, bool strict, size_t* over_limits = nullptr) {
  // At start a usage error; on a reload the set in force stays, and the log says which path is gone.
  if (Status st = check_rule_paths(o.rules); !st.ok()) return st;
  auto mapping = load_mapping(o.mappings);
  if (!mapping) return mapping.error();
  StageConfig stage;
  if (!o.thresholds.empty()) {
    auto c = load_stage_config(o.thresholds);
    if (!c) return c.error();
    stage = std::move(*c);
  }
  std::vector<Diagnostic> enrichment_diagnostics;
  auto enrichment = load_enrichment(o.enrichment, enrichment_diagnostics);
  print_diagnostics(enrichment_diagnostics, false);
  if (!enrichment) return enrichment.error();
  CompileOptions copts;
  if (o.cache_dir != "none") copts.cache_dir = o.cache_dir;
  apply_rule_limits(o.limits, copts);
  copts.extra_fields = enrichment->extra_fields();
  RuleLanguageOptions languages;
  if (!o.sagan_vars.empty()) {
    auto v = load_sagan_variables(o.sagan_vars);
    if (!v) return v.error();
    languages.sagan_variables = std::move(*v);
  }
  LoadedRules r = load_rules(o.rules, *mapping, copts, stage, languages);
  print_diagnostics(r.diagnostics, false);
  if (over_limits) *over_limits = count_rule_limit_hits(r.diagnostics);
  if (strict && r.skipped > 0)
    return Status::error(std::to_string(r.skipped) + " rule(s) could not be compiled (see above)");
  if (r.loaded == 0 && r.skipped > 0) return Status::error("no rule could be compiled");
  return LoadedSet{r.set, r.loaded, r.skipped, r.load_seconds, r.stateful, std::move(*enrichment)};
}

// What parsing the options of `socd run` ended in.
enum class Parsed { kRun, kHelpShown, kUsageError };

// Parses the command line, then the --config file, into `o` and checks what needs no file opened and nothing
// started: names and values, the options that need others, a source given, the user to run as. Prints the help
// or the error itself.
Parsed parse_run_options(int argc, char** argv, RunOptions& o, std::optional<RunAs>& run_as) {
  po::options_description opts(
      "Usage: socd run [--config FILE] [options]\n\n"
      "Runs the detection service: reads the sources given, matches every event against the rules, stores alerts in\n"
      "the RocksDB store under --data-dir (read them with 'socd alerts list'), and serves metrics.\n"
      "Every option can also be set in the --config file (one 'name = value' per line; repeat a name for lists);\n"
      "a single value on the command line wins over the file's, and the values of a repeatable option (--rules,\n"
      "--file, --intel, the listeners) on the command line are added to the file's.\n"
      "Signals: SIGHUP reloads rules and mappings (a broken set is refused and the running one kept); SIGTERM or\n"
      "SIGINT stops reading, stores what is in flight, and exits 0.\n\nOptions");
  opts.add_options()
      ("help,h", "show this help")
      ("config,c", po::value(&o.config), "configuration file (e.g. config/socd.conf)")
      ("data-dir", po::value(&o.data_dir)->default_value("var/socd"), "directory of the alert store")
      ("rules,r", po::value(&o.rules)->composing(), "rule file or directory (repeatable; default: rules)")
      ("mappings", po::value(&o.mappings), "field and log-source mapping file (default: built in)")
      ("cache-dir", po::value(&o.cache_dir)->default_value(default_cache_dir()),
       "directory caching compiled rule databases; 'none' disables it")
      ("file", po::value(&o.files)->composing(),
       "file glob to read and follow, surviving rotation (repeatable), e.g. '/var/log/auth.log*'")
      ("stdin", po::bool_switch(&o.read_stdin), "read events from standard input too")
      ("syslog-udp", po::value(&o.udp)->composing(), "syslog UDP listener ADDR:PORT (repeatable)")
      ("syslog-tcp", po::value(&o.tcp)->composing(),
       "syslog TCP listener ADDR:PORT, LF or octet-counted framing detected per connection (repeatable)")
      ("syslog-tls", po::value(&o.tls)->composing(), "syslog TLS listener ADDR:PORT (RFC 5425; repeatable)")
      ("tls-cert", po::value(&o.tls_cert), "server certificate (PEM) for --syslog-tls")
      ("tls-key", po::value(&o.tls_key), "server private key (PEM) for --syslog-tls")
      ("tls-ca", po::value(&o.tls_ca), "CA certificate(s) (PEM): when given, clients must present a certificate")
      ("metrics", po::value(&o.metrics), "serve Prometheus metrics on ADDR:PORT (path /metrics)")
      ("workers", po::value(&o.workers)->default_value(0), "matching threads (0: the number of cores)")
      ("format", po::value(&o.format_name)->default_value("auto"),
       "input format: auto, json or syslog (a syslog message that is a JSON object adds its fields)")
      ("max-line-bytes", po::value(&o.max_line)->default_value(4 << 20),
       "longer lines are counted as malformed and set aside")
      ("from-end", po::bool_switch(&o.from_end),
       "start files seen for the first time at their end instead of their beginning")
      ("exit-when-done", po::bool_switch(&o.exit_when_done),
       "read the files and stdin to their end (no following), store everything, and exit")
      ("forwarding", po::value(&o.forwarding), "send the alerts routed to layer 4 to the sinks of this file "
       "(config/forwarding.yml), at least once, from the durable outbox in the store")
      ("sync", po::bool_switch(&o.sync), "fsync every store write (survives power loss, not only a crash)")
      ("thresholds", po::value(&o.thresholds),
       "thresholds, deduplication and settings of the stateful stage (config/thresholds.yml); reloaded "
       "on SIGHUP")
      ("sagan-vars", po::value(&o.sagan_vars),
       "Sagan YAML (sagan.yaml) whose vars:, default-host and blacklist / bro-intel list files the Sagan "
       "rules (*.rules) use; reloaded with the rules")
      ("assets", po::value(&o.enrichment.assets),
       "asset inventory (config/assets.yml): alerts name their system, owner and level; reloaded on SIGHUP")
      ("intel", po::value(&o.enrichment.intel)->composing(),
       "threat-intelligence list (plain, .csv) or list configuration (.yml, config/intel/lists.yml); "
       "repeatable; reloaded on SIGHUP")
      ("routing", po::value(&o.enrichment.routing),
       "four-layer routing (config/routing.yml): the layers each alert goes to; reloaded on SIGHUP")
      ("incidents", po::value(&o.incidents),
       "incident grouping, serious incidents, reporting deadlines, audit sealing and retention "
       "(config/incidents.yml; default: the built-in settings); reloaded on SIGHUP")
      ("audit-key-file", po::value(&o.audit_key_file),
       "key sealing the audit chain's head (HMAC-SHA256; default $SOCD_AUDIT_KEY_FILE, then $SOCD_AUDIT_KEY)")
      ("api", po::value(&o.api), "serve the HTTP JSON API over TLS on ADDR:PORT (needs --api-cert, --api-key, "
       "--api-tokens)")
      ("api-cert", po::value(&o.api_cert), "certificate chain (PEM) of the API")
      ("api-key", po::value(&o.api_key), "private key (PEM) of the API")
      ("api-tokens", po::value(&o.api_tokens),
       "API tokens, one `NAME ROLE sha256:HEX` a line (roles analyst, auditor, admin); read at start and on "
       "SIGHUP")
      ("user", po::value(&o.run_user),
       "started as root: run as this user once the listeners are bound (the store's files are created as it; "
       "rules, lists and tokens read on SIGHUP must be readable by it)")
      ("group", po::value(&o.run_group), "with --user: this group instead of the user's own groups")
      ("chown-data-dir", po::bool_switch(&o.chown_data_dir),
       "with --user: create the data directory and give it, with everything in it, to the user");
  add_limit_options(opts, o.limits);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    if (vm.count("config")) {
      std::string path = vm["config"].as<std::string>();
      std::string text;
      if (!read_file(path, text)) {
        std::fprintf(stderr, "socd run: cannot read the config file '%s': %s\n", path.c_str(), std::strerror(errno));
        return Parsed::kUsageError;
      }
      std::istringstream in(text);
      po::store(po::parse_config_file(in, opts), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "socd run: %s\nRun 'socd run --help' for the options.\n",
                 option_error_message(e).c_str());
    return Parsed::kUsageError;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return Parsed::kHelpShown;
  }
  if (!parse_input_format(o.format_name, o.format)) {
    std::fprintf(stderr, "socd run: unknown --format '%s' (use auto, json or syslog)\n", o.format_name.c_str());
    return Parsed::kUsageError;
  }
  if (o.rules.empty()) o.rules.push_back("rules");
  if (o.workers == 0) o.workers = std::max(1u, std::thread::hardware_concurrency());
  if (!o.tls.empty() && (o.tls_cert.empty() || o.tls_key.empty())) {
    std::fprintf(stderr, "socd run: --syslog-tls needs --tls-cert and --tls-key\n");
    return Parsed::kUsageError;
  }
  if (!o.api.empty() && (o.api_cert.empty() || o.api_key.empty() || o.api_tokens.empty())) {
    std::fprintf(stderr, "socd run: --api needs --api-cert, --api-key and --api-tokens\n");
    return Parsed::kUsageError;
  }
  if (!o.run_group.empty() && o.run_user.empty()) {
    std::fprintf(stderr, "socd run: --group needs --user\n");
    return Parsed::kUsageError;
  }
  if (!o.run_user.empty()) {
    auto who = resolve_run_as(o.run_user, o.run_group);
    if (!who) {
      std::fprintf(stderr, "socd run: %s\n", who.error().message().c_str());
      return Parsed::kUsageError;
    }
    run_as = std::move(*who);
  }
  if (o.files.empty() && !o.read_stdin && o.udp.empty() && o.tcp.empty() && o.tls.empty()) {
    std::fprintf(stderr, "socd run: no source given: use --file, --stdin, --syslog-udp, --syslog-tcp or --syslog-tls "
                         "(or a --config file that sets them)\n");
    return Parsed::kUsageError;
  }
  return Parsed::kRun;
}

}  // namespace

int check_run_options(int argc, char** argv) {
  RunOptions o;
  std::optional<RunAs> run_as;
  return parse_run_options(argc, argv, o, run_as) == Parsed::kUsageError ? kUsageError : kOk;
}

int run_main(int argc, char** argv) {
  RunOptions o;
  std::optional<RunAs> run_as;
  switch (parse_run_options(argc, argv, o, run_as)) {
    case Parsed::kRun: break;
    case Parsed::kHelpShown: return kOk;
    case Parsed::kUsageError: return kUsageError;
  }
  // Files and directories socd creates are for its own user only (0600, 0700).
  ::umask(077);

  // Signals are taken by this thread alone (sigtimedwait), so every thread started below inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  size_t rules_over_limits = 0;
  auto set = load_set(o, false, &rules_over_limits);
  if (!set) {
    std::fprintf(stderr, "socd run: %s\n", set.error().message().c_str());
    return kUsageError;
  }
  IncidentSettings incident_settings;
  if (!o.incidents.empty()) {
    auto loaded = load_incident_settings(o.incidents);
    if (!loaded) {
      std::fprintf(stderr, "socd run: %s\n", loaded.error().message().c_str());
      return kUsageError;
    }
    incident_settings = std::move(*loaded);
  }
  auto audit_key = load_audit_key(o.audit_key_file);
  if (!audit_key) {
    std::fprintf(stderr, "socd run: %s\n", audit_key.error().message().c_str());
    return kUsageError;
  }
  StoreOptions sopts;
  sopts.sync = o.sync;
  if (run_as) {  // the store's files are created as the user (root is taken back to bind the listeners)
    Status st = prepare_data_dir(o.data_dir, *run_as, o.chown_data_dir);
    if (st.ok()) st = become_user_for_now(*run_as);
    if (!st.ok()) {
      std::fprintf(stderr, "socd run: %s\n", st.message().c_str());
      return kRuntimeError;
    }
  }
  auto store = AlertStore::open(o.data_dir, sopts);
  if (run_as)
    if (Status st = back_to_root(); !st.ok()) {
      std::fprintf(stderr, "socd run: %s\n", st.message().c_str());
      return kRuntimeError;
    }
  if (!store) {
    std::fprintf(stderr, "socd run: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  // Incidents and the audit chain: settings and key before the first alert; the rule set in the chain.
  Ledger& ledger = *(*store)->ledger();
  if (Status st = ledger.configure(incident_settings, *audit_key); !st.ok()) {
    std::fprintf(stderr, "socd run: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  if (audit_key->empty())
    log("warning: the audit chain is not sealed: no key (set --audit-key-file or SOCD_AUDIT_KEY_FILE)");
  Status recorded = ledger.record_rule_set(describe_rule_set(*set->set, "start", set->loaded, set->skipped));
  if (!recorded.ok()) {
    std::fprintf(stderr, "socd run: %s\n", recorded.message().c_str());
    return kRuntimeError;
  }
  RunInfo info;
  info.ledger = &ledger;
  info.compile_seconds = set->seconds;
  info.rules_loaded = set->loaded;
  info.rules_skipped = set->skipped;
  info.rules_over_limits = rules_over_limits;
  info.store = store->get();
  if (InputDeadLetters* dead = (*store)->input_dead_letters()) dead->set_limits(o.limits.dead_letters);
  // Layer-4 forwarding: a thread sending the outbox; what it has not sent stays queued for the next run.
  std::unique_ptr<Forwarder> forwarder;
  if (!o.forwarding.empty()) {
    auto fc = load_forwarding(o.forwarding);
    if (!fc) {
      std::fprintf(stderr, "socd run: %s\n", fc.error().message().c_str());
      return kUsageError;
    }
    forwarder = std::make_unique<Forwarder>(*(*store)->outbox(), std::move(*fc));
    if (Status st = forwarder->start(); !st.ok()) {
      std::fprintf(stderr, "socd run: %s\n", st.message().c_str());
      return kRuntimeError;
    }
    info.forwarder = forwarder.get();
    forwarder->serve_commands(o.data_dir);  // `socd forward retry` beside this run
  }
  // The outbox quota's pause policy: each source pushes through the forwarder's gate.
  std::vector<std::unique_ptr<BatchSink>> gates;

  PipelineOptions popts;
  popts.workers = o.workers;
  popts.format = o.format;
  apply_pipeline_limits(o.limits, popts);
  Pipeline pipeline(**store, set->set, popts, set->stateful, set->enrichment);

  // Sources.
  std::vector<std::unique_ptr<Source>> sources;
  FileSource* file_source = nullptr;
  StreamSource* stdin_source = nullptr;
  std::string error;
  if (!o.files.empty()) {
    FileSourceOptions fo;
    fo.patterns = o.files;
    fo.max_line_bytes = o.max_line;
    fo.from_beginning = !o.from_end;
    fo.follow = !o.exit_when_done;
    auto s = FileSource::create(fo);
    if (!s) error = s.error().message();
    else {
      file_source = s->get();
      sources.push_back(std::move(*s));
    }
  }
  if (o.read_stdin && error.empty()) {
    StreamSourceOptions so;
    so.max_line_bytes = o.max_line;
    auto s = std::make_unique<StreamSource>(0, "stdin", so);
    stdin_source = s.get();
    sources.push_back(std::move(s));
  }
  ListenerLimits limits = listener_limits(o.limits);
  TlsOptions tls{o.tls_cert, o.tls_key, o.tls_ca};
  for (const auto& a : o.udp) {
    if (!error.empty()) break;
    auto s = make_syslog_udp_source(a, limits);
    if (!s) error = s.error().message();
    else sources.push_back(std::move(*s));
  }
  for (const auto& a : o.tcp) {
    if (!error.empty()) break;
    auto s = make_syslog_tcp_source(a, limits, nullptr);
    if (!s) error = s.error().message();
    else sources.push_back(std::move(*s));
  }
  for (const auto& a : o.tls) {
    if (!error.empty()) break;
    auto s = make_syslog_tcp_source(a, limits, &tls);
    if (!s) error = s.error().message();
    else sources.push_back(std::move(*s));
  }
  if (!error.empty()) {
    std::fprintf(stderr, "socd run: %s\n", error.c_str());
    return kUsageError;
  }
  std::vector<uint32_t> indexes;
  for (auto& s : sources) indexes.push_back(pipeline.add_source(*s));
  pipeline.start();
  // Every listener is bound (and every TLS key read) now, while the start's privileges last; the sources read
  // nothing until they start, after root is given up (--user).
  for (size_t i = 0; i < sources.size(); ++i) {
    if (Status st = sources[i]->bind(); !st.ok()) {
      std::fprintf(stderr, "socd run: %s: %s\n", sources[i]->name().c_str(), st.message().c_str());
      for (auto& s : sources) s->stop();
      pipeline.drain();
      return kUsageError;
    }
    pipeline.rename_source(indexes[i], sources[i]->name());  // a listener on port 0 has its port now
  }
  // Starts every source; false (said, and the started ones stopped) when one cannot start.
  auto start_sources = [&] {
    for (size_t i = 0; i < sources.size(); ++i) {
      BatchSink* sink = &pipeline.sink(indexes[i]);
      if (forwarder) {
        gates.push_back(forwarder->gate(*sink));
        sink = gates.back().get();
      }
      if (Status st = sources[i]->start(*sink); !st.ok()) {
        std::fprintf(stderr, "socd run: %s: %s\n", sources[i]->name().c_str(), st.message().c_str());
        if (forwarder) forwarder->release_gate();
        for (auto& s : sources) s->stop();
        return false;
      }
    }
    return true;
  };
  std::unique_ptr<MetricsServer> metrics;
  if (!o.metrics.empty()) {
    auto m = MetricsServer::start(o.metrics, pipeline, info);
    if (!m) {
      std::fprintf(stderr, "socd run: %s\n", m.error().message().c_str());
      if (forwarder) forwarder->release_gate();
      for (auto& s : sources) s->stop();
      pipeline.drain();
      return kUsageError;
    }
    metrics = std::move(*m);
  }
  // Retention: at start and every hour, by the security levels' periods in the settings in force.
  auto enforce_retention = [&]() -> Expected<RetentionResult> {
    RetentionOptions ro;
    ro.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count();
    const IncidentSettings in_force = ledger.settings();
    std::copy(std::begin(in_force.retention_ms), std::end(in_force.retention_ms), ro.keep_ms);
    auto done = (*store)->enforce_retention(ro);
    if (done && (done->removed > 0 || done->kept_for_layer4 > 0))
      log("retention: %llu alert(s) removed, %llu past their period kept for layer 4",
          static_cast<unsigned long long>(done->removed), static_cast<unsigned long long>(done->kept_for_layer4));
    if (!done) log("retention failed: %s", done.error().message().c_str());
    return done;
  };
  (void)enforce_retention();
  auto last_retention = std::chrono::steady_clock::now();
  std::unique_ptr<ApiServer> api;
  if (!o.api.empty()) {
    auto tokens = load_api_tokens(o.api_tokens);
    Status failed = tokens ? Status() : tokens.error();
    if (failed.ok()) {
      ApiServerOptions ao;
      ao.address = o.api;
      ao.cert = o.api_cert;
      ao.key = o.api_key;
      ao.tokens = std::move(*tokens);
      ApiContext ac;
      ac.store = store->get();
      ac.ledger = &ledger;
      auto collector = std::make_shared<PipelineCollector>(pipeline, info);
      ac.metrics_text = [collector] { return prometheus::TextSerializer().Serialize(collector->Collect()); };
      ac.reload = [] { return ::kill(::getpid(), SIGHUP) == 0 ? Status() : Status::error("cannot signal a reload"); };
      ac.retention = enforce_retention;
      std::string key = *audit_key;
      ac.audit_key = [key] { return key; };
      auto started_api = ApiServer::start(std::move(ao), std::move(ac));
      if (started_api) api = std::move(*started_api);
      else failed = started_api.error();
    }
    if (!failed.ok()) {
      std::fprintf(stderr, "socd run: %s\n", failed.message().c_str());
      if (forwarder) forwarder->release_gate();
      for (auto& s : sources) s->stop();
      pipeline.drain();
      return kUsageError;
    }
    log("API on %s (port %u)", o.api.c_str(), static_cast<unsigned>(api->port()));
  }
  if (run_as) {  // every port is bound and every key read: root goes for good
    auto given = own_files_created_as_root(o.data_dir, *run_as);
    Status st = given ? drop_privileges(*run_as) : given.error();
    if (!st.ok()) {
      std::fprintf(stderr, "socd run: %s; stopping\n", st.message().c_str());
      if (api) api->stop();
      if (forwarder) forwarder->release_gate();
      for (auto& s : sources) s->stop();
      pipeline.drain();
      return kRuntimeError;
    }
    log("running as %s (uid %u, gid %u)", run_as->user.c_str(), static_cast<unsigned>(run_as->uid),
        static_cast<unsigned>(run_as->gid));
  }
  if (!start_sources()) {
    if (api) api->stop();
    pipeline.drain();
    return kUsageError;
  }
  std::string names;
  for (auto& s : sources) names += (names.empty() ? "" : ", ") + s->name();
  log("running: %zu rules (%zu skipped), %u workers, store %s, sources: %s%s%s", set->loaded, set->skipped,
      o.workers, o.data_dir.c_str(), names.c_str(), o.metrics.empty() ? "" : ", metrics on ",
      o.metrics.c_str());
  if (set->enrichment.any()) log("enrichment: %s", describe_enrichment(set->enrichment).c_str());

  auto started_at = std::chrono::steady_clock::now();
  std::vector<double> latencies;  // read (push) -> stored, per batch
  int rc = kOk;
  for (;;) {
    {
      auto l = pipeline.take_latencies();
      latencies.insert(latencies.end(), l.begin(), l.end());
      if (latencies.size() > 2000000) latencies.erase(latencies.begin(), latencies.begin() + 1000000);
    }
    // With --exit-when-done the end is noticed within 10 ms, so `seconds` in the summary is not rounded up to
    // the tick; a service wakes 5 times a second.
    timespec wait{0, (o.exit_when_done ? 10 : 200) * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) {
      log("%s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      break;
    }
    if (sig == SIGHUP) {
      log("SIGHUP: reloading rules and mappings");
      if (!o.incidents.empty()) {
        auto loaded = load_incident_settings(o.incidents);
        Status st = loaded ? ledger.configure(*loaded, *audit_key) : loaded.error();
        if (!st.ok()) log("incident settings not reloaded, the running ones stay: %s", st.message().c_str());
      }
      if (api) {  // the API tokens, with the rules; a broken file leaves the tokens in force
        auto tokens = load_api_tokens(o.api_tokens);
        if (!tokens) {
          log("API tokens not reloaded, the tokens in force stay: %s", tokens.error().message().c_str());
        } else {
          const size_t n = tokens->size();
          api->set_tokens(std::move(*tokens));
          log("API tokens reloaded: %zu token(s)", n);
        }
      }
      size_t next_over_limits = 0;
      auto next = load_set(o, true, &next_over_limits);
      if (!next) {
        ++info.reload_failures;
        log("reload refused, the running rule set stays: %s", next.error().message().c_str());
      } else {
        pipeline.swap_rules(next->set, next->stateful, next->enrichment);
        ++info.reloads;
        info.compile_seconds = next->seconds;
        info.rules_loaded = next->loaded;
        info.rules_skipped = next->skipped;
        info.rules_over_limits = next_over_limits;
        log("reloaded: %zu rules, generation %llu", next->loaded,
            static_cast<unsigned long long>(pipeline.rules_generation()));
        Status recorded =
            ledger.record_rule_set(describe_rule_set(*next->set, "reload", next->loaded, next->skipped));
        if (!recorded.ok()) log("cannot record the reload in the audit chain: %s", recorded.message().c_str());
        if (next->enrichment.any()) log("enrichment: %s", describe_enrichment(next->enrichment).c_str());
      }
    }
    // Incident changes from `socd incidents` (the command inbox), and the chain's seal when one is due.
    serve_commands(o.data_dir, ledger);
    if (std::chrono::steady_clock::now() - last_retention >= std::chrono::hours(1)) {
      (void)enforce_retention();
      last_retention = std::chrono::steady_clock::now();
    }
    if (Status st = ledger.seal(true); !st.ok()) log("cannot seal the audit chain: %s", st.message().c_str());
    if (pipeline.failed()) {
      rc = kRuntimeError;
      break;
    }
    if (o.exit_when_done && o.udp.empty() && o.tcp.empty() && o.tls.empty() &&
        (!file_source || file_source->done()) && (!stdin_source || stdin_source->done()))
      break;
  }
  if (api) api->stop();
  if (forwarder) forwarder->release_gate();  // what the sources hold is stored, over the quota if need be
  pipeline.stop_waiting();  // no source waits for its rate any more: stopping is not delayed
  for (auto& s : sources) s->stop();
  pipeline.drain();
  if (forwarder) forwarder->stop();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_at).count();
  if (pipeline.failed()) rc = kRuntimeError;
  {
    auto l = pipeline.take_latencies();
    latencies.insert(latencies.end(), l.begin(), l.end());
  }
  auto percentile = [&](double q) {
    if (latencies.empty()) return 0.0;
    size_t k = static_cast<size_t>(q * (latencies.size() - 1));
    std::nth_element(latencies.begin(), latencies.begin() + k, latencies.end());
    return latencies[k] * 1000;
  };
  uint64_t events = 0, malformed = 0, dropped = 0, bytes = 0;
  for (const auto& t : pipeline.sources()) {
    events += t.events;
    malformed += t.malformed;
    dropped += t.counters->dropped;
    bytes += t.counters->bytes;
  }
  log("stopped: workers idle %.3f s (summed), sources blocked %.3f s, store %.3f s in %llu writes",
      pipeline.workers_idle_seconds(), pipeline.sources_blocked_seconds(), pipeline.store_seconds(),
      static_cast<unsigned long long>(pipeline.store_writes()));
  if (set->stateful->active()) {
    StageCounters c = pipeline.stage_counters();
    log("stateful: hits=%llu passed=%llu suppressed=%llu consumed=%llu correlation_alerts=%llu "
        "summaries=%llu late=%llu late_unapplied=%llu missing_fields=%llu evicted=%llu restored_groups=%llu",
        static_cast<unsigned long long>(c.hits), static_cast<unsigned long long>(c.passed),
        static_cast<unsigned long long>(c.suppressed), static_cast<unsigned long long>(c.consumed),
        static_cast<unsigned long long>(c.correlations), static_cast<unsigned long long>(c.summaries),
        static_cast<unsigned long long>(c.late), static_cast<unsigned long long>(c.late_unapplied),
        static_cast<unsigned long long>(c.missing_fields), static_cast<unsigned long long>(c.evicted),
        static_cast<unsigned long long>(c.restored_groups));
  }
  // The last line: what this run did, from the first source started to the last alert stored.
  double p50 = percentile(0.50), p99 = percentile(0.99);
  std::fprintf(stderr,
               "summary: events=%llu bytes=%llu malformed=%llu dropped=%llu alerts_stored=%llu seconds=%.3f "
               "events_per_s=%.1f batch_latency_p50_ms=%.2f batch_latency_p99_ms=%.2f\n",
               static_cast<unsigned long long>(events), static_cast<unsigned long long>(bytes),
               static_cast<unsigned long long>(malformed), static_cast<unsigned long long>(dropped),
               static_cast<unsigned long long>(pipeline.alerts_stored()), seconds,
               seconds > 0 ? events / seconds : 0.0, p50, p99);
  return rc;
}

}  // namespace socd::cli
