// socd forward status|retry|drain: the layer-4 outbox of a store. status reads beside a running writer. With no
// writer, retry and drain open the store themselves; beside a running `socd run --forwarding`, retry goes through
// its forwarder (DATA_DIR/forward-commands) and drain waits for its outbox to empty.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "cli.h"
#include "forward.h"
#include "socd/alert_store.h"
#include "socd/command_inbox.h"
#include "socd/outbox.h"
#include "stix.h"

namespace socd::cli {
namespace {

const char* kForwardUsage =
    "Usage: socd forward status|retry|drain [--data-dir DIR] [--sink NAME] [--forwarding FILE] [--timeout SEC]\n"
    "  status   the outbox per sink (queued, cursor, oldest unsent, dead letters) and the dead letters with their\n"
    "           reasons; works beside a running socd run\n"
    "  retry    queue the dead letters (of --sink, or of every sink) again for their sink\n"
    "  drain    send everything queued to the sinks of --forwarding FILE and exit (0 when the outbox is empty,\n"
    "           1 when --timeout, default 60 s, passed first)\n"
    "Beside a running socd run --forwarding, retry is applied by its forwarder and drain waits (up to --timeout)\n"
    "for it to empty the outbox (--forwarding is then not needed).\n";

namespace fs = std::filesystem;

// retry through the running writer's forwarder: NAME.retry, taken, answered in NAME.reply.
int retry_through_writer(const std::string& data_dir, const std::string& sink, double timeout) {
  const fs::path dir = fs::path(data_dir) / "forward-commands";
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string name = std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-" +
                           std::to_string(::getpid());
  const fs::path tmp = dir / (name + ".tmp"), request = dir / (name + ".retry"), taken = dir / (name + ".taken"),
                 reply = dir / (name + ".reply");
  {
    std::ofstream out(tmp);
    out << sink << "\n";
    if (!out) {
      std::fprintf(stderr, "socd forward retry: cannot write %s (check the permissions of the data directory)\n",
                   tmp.c_str());
      return kRuntimeError;
    }
  }
  fs::rename(tmp, request, ec);
  if (ec) {
    std::fprintf(stderr, "socd forward retry: cannot write %s: %s\n", request.c_str(), ec.message().c_str());
    return kRuntimeError;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  for (;;) {
    if (fs::exists(reply)) {
      std::ifstream in(reply);
      std::stringstream ss;
      ss << in.rdbuf();
      fs::remove(reply, ec);
      const std::string text = ss.str();
      if (text.rfind("ok ", 0) == 0) {
        std::printf("queued again: %s (by the running socd run)\n", text.substr(3).c_str());
        return kOk;
      }
      std::fprintf(stderr, "socd forward retry: %s\n", text.substr(text.find(' ') + 1).c_str());
      return kRuntimeError;
    }
    if (std::chrono::steady_clock::now() > deadline && !fs::exists(taken)) {
      if (fs::remove(request, ec)) {
        std::fprintf(stderr, "socd forward retry: socd run holds the store but did not take the request within "
                             "%.0f s (is it running with --forwarding?); nothing was changed\n", timeout);
        return kRuntimeError;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// drain beside the writer: its forwarder sends; wait until every sink has nothing queued.
int wait_for_writer_to_drain(const std::string& data_dir, double timeout) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  std::fprintf(stderr, "socd forward drain: socd run holds the store; waiting for its forwarder to empty the outbox\n");
  for (;;) {
    StoreOptions so;
    so.read_only = true;
    auto store = AlertStore::open(data_dir, so);
    if (!store) {
      std::fprintf(stderr, "socd forward: %s\n", store.error().message().c_str());
      return kRuntimeError;
    }
    auto st = (*store)->outbox()->state();
    if (!st) {
      std::fprintf(stderr, "socd forward: %s\n", st.error().message().c_str());
      return kRuntimeError;
    }
    uint64_t pending = 0;
    for (const auto& s : st->sinks) pending += s.pending;
    if (st->entries == 0 || (pending == 0 && !st->sinks.empty())) {
      std::printf("outbox empty: %llu entries\n", static_cast<unsigned long long>(st->entries));
      return kOk;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "socd forward drain: %llu alert(s) still queued after %.0f s (is socd run started with "
                           "--forwarding? see socd forward status)\n", static_cast<unsigned long long>(pending),
                   timeout);
      return kRuntimeError;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

}  // namespace

int forward_main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kForwardUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kUsageError : kOk;
  }
  const std::string action = argv[1];
  std::string data_dir = "var/socd", sink, forwarding;
  double timeout = 60;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "socd forward: %s needs a value\n%s", a.c_str(), kForwardUsage);
      return kUsageError;
    }
    if (a == "--data-dir") data_dir = argv[++i];
    else if (a == "--sink") sink = argv[++i];
    else if (a == "--forwarding") forwarding = argv[++i];
    else if (a == "--timeout") timeout = std::atof(argv[++i]);
    else {
      std::fprintf(stderr, "socd forward: unknown option %s\n%s", a.c_str(), kForwardUsage);
      return kUsageError;
    }
  }
  if (action != "status" && action != "retry" && action != "drain") {
    std::fprintf(stderr, "socd forward: unknown action '%s'\n%s", action.c_str(), kForwardUsage);
    return kUsageError;
  }
  if (action != "status" && writer_running(data_dir)) {
    if (action == "retry") return retry_through_writer(data_dir, sink, timeout == 60 ? 10 : timeout);
    return wait_for_writer_to_drain(data_dir, timeout);
  }
  if (action == "drain" && forwarding.empty()) {
    std::fprintf(stderr, "socd forward drain: --forwarding FILE is needed (the sinks to send to)\n");
    return kUsageError;
  }
  StoreOptions so;
  so.read_only = action == "status";
  auto store = AlertStore::open(data_dir, so);
  if (!store) {
    std::fprintf(stderr, "socd forward: %s\n", store.error().message().c_str());
    return kRuntimeError;
  }
  Outbox& outbox = *(*store)->outbox();
  if (action == "status") {
    auto st = outbox.state();
    if (!st) {
      std::fprintf(stderr, "socd forward: %s\n", st.error().message().c_str());
      return kRuntimeError;
    }
    std::printf("outbox: %llu entries, shed %llu\n", static_cast<unsigned long long>(st->entries),
                static_cast<unsigned long long>(st->shed));
    for (const auto& s : st->sinks) {
      if (!sink.empty() && s.sink != sink) continue;
      std::printf("sink %s: queued %llu, cursor %llu, oldest unsent %s, dead letters %llu\n", s.sink.c_str(),
                  static_cast<unsigned long long>(s.pending), static_cast<unsigned long long>(s.cursor),
                  s.oldest_unsent_ms > 0 ? stix::timestamp(s.oldest_unsent_ms).c_str() : "-",
                  static_cast<unsigned long long>(s.dead_letters));
    }
    auto letters = outbox.dead_letters(sink, 0);
    if (!letters) {
      std::fprintf(stderr, "socd forward: %s\n", letters.error().message().c_str());
      return kRuntimeError;
    }
    for (const auto& d : *letters)
      std::printf("dead letter %s %s alert %s rule %s: %s\n", d.sink.c_str(), stix::timestamp(d.time_ms).c_str(),
                  d.alert.id.c_str(), d.alert.rule_id.c_str(), d.reason.c_str());
    return kOk;
  }
  if (action == "retry") {
    auto n = outbox.retry(sink);
    if (!n) {
      std::fprintf(stderr, "socd forward: %s\n", n.error().message().c_str());
      return kRuntimeError;
    }
    std::printf("queued again: %llu\n", static_cast<unsigned long long>(*n));
    return kOk;
  }
  auto config = load_forwarding(forwarding);
  if (!config) {
    std::fprintf(stderr, "socd forward: %s\n", config.error().message().c_str());
    return kUsageError;
  }
  Forwarder forwarder(outbox, std::move(*config));
  if (Status st = forwarder.start(); !st.ok()) {
    std::fprintf(stderr, "socd forward: %s\n", st.message().c_str());
    return kRuntimeError;
  }
  const bool done = forwarder.drain(static_cast<int64_t>(timeout * 1000));
  forwarder.stop();
  for (const auto& c : forwarder.counters())
    std::printf("sink %s: acknowledged %llu, failed %llu, dead-lettered %llu\n", c->name.c_str(),
                static_cast<unsigned long long>(c->acknowledged.load()),
                static_cast<unsigned long long>(c->failed.load()),
                static_cast<unsigned long long>(c->dead_lettered.load()));
  if (!done) std::fprintf(stderr, "socd forward drain: the outbox is not empty after %.0f s\n", timeout);
  return done ? kOk : kRuntimeError;
}

}  // namespace socd::cli
