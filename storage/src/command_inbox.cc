#include "socd/command_inbox.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "socd/alert_store.h"
#include "socd/ledger.h"
#include "socd/read_file.h"

namespace socd {
namespace {

namespace fs = std::filesystem;

std::string inbox_dir(const std::string& dir) { return (fs::path(dir) / "commands").string(); }

// Writes `path` through a temporary file and a rename, so a reader never sees half of it.
bool write_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  bool ok = done == text.size() && ::fsync(fd) == 0;
  ok = ::close(fd) == 0 && ok;
  if (ok && ::rename(tmp.c_str(), path.c_str()) == 0) return true;
  ::unlink(tmp.c_str());
  return false;
}

std::string unique_name() {
  static std::atomic<uint64_t> counter{0};
  auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[96];
  std::snprintf(buf, sizeof buf, "%020lld-%d-%llu", static_cast<long long>(now), static_cast<int>(::getpid()),
                static_cast<unsigned long long>(counter++));
  return buf;
}

Expected<Incident> parse_reply(const std::string& reply) {
  if (reply.starts_with("ok\n")) {
    auto inc = decode_incident(std::string_view(reply).substr(3));
    if (!inc) return Status::error("socd run answered with an incident that cannot be read: " + inc.error().message());
    return *inc;
  }
  if (reply.starts_with("error\n")) return Status::error(reply.substr(6));
  return Status::error("socd run answered something this socd cannot read (is it another version?)");
}

Expected<Incident> submit(const std::string& dir, const IncidentCommand& command, int timeout_ms) {
  const std::string inbox = inbox_dir(dir);
  if (::mkdir(inbox.c_str(), 0700) != 0 && errno != EEXIST)
    return Status::error("cannot create the command inbox " + inbox + ": " + std::strerror(errno));
  const std::string base = inbox + "/" + unique_name();
  const std::string cmd = base + ".cmd", reply = base + ".reply";
  if (!write_atomically(cmd, command.encode()))
    return Status::error("cannot write a command into " + inbox + ": " + std::strerror(errno) +
                         " (is the data directory writable by this user?)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool taken = false;
  for (;;) {
    std::string text;
    if (read_file(reply, text)) {
      ::unlink(reply.c_str());
      return parse_reply(text);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      if (!taken) {
        if (::unlink(cmd.c_str()) == 0)
          return Status::error("socd run holds the store under " + dir + " but did not take the command within " +
                               std::to_string(timeout_ms / 1000) + " s (is it stopped, or a version without the "
                               "command inbox?); the command was withdrawn, nothing was changed");
        taken = true;  // the writer has it: its answer comes
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        continue;
      }
      return Status::error("socd run took the command but gave no answer within 30 s; check with `socd incidents "
                           "show` whether it was applied");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

bool writer_running(const std::string& dir) {
  const std::string lock = (fs::path(dir) / "LOCK").string();
  int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 0;
  bool held = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

Expected<Incident> change_incident(const std::string& dir, const IncidentCommand& command, int timeout_ms,
                                   bool* via_inbox) {
  if (via_inbox) *via_inbox = false;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "CURRENT", ec))
    return Status::error("no alert store under '" + dir + "': nothing has been stored there yet (check --data-dir; "
                         "`socd run` creates the store)");
  if (!writer_running(dir)) {
    auto store = AlertStore::open(dir);
    if (store) {
      Ledger* ledger = (*store)->ledger();
      if (!ledger) return Status::error("the store under '" + dir + "' keeps no incidents");
      return ledger->apply(command);
    }
    if (!writer_running(dir)) return store.error();  // not a race with a starting writer
  }
  if (via_inbox) *via_inbox = true;
  return submit(dir, command, timeout_ms);
}

size_t serve_commands(const std::string& dir, Ledger& ledger) {
  const std::string inbox = inbox_dir(dir);
  std::error_code ec;
  if (!fs::is_directory(inbox, ec)) return 0;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(inbox, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".cmd")) names.push_back(name.substr(0, name.size() - 4));
  }
  std::sort(names.begin(), names.end());
  size_t answered = 0;
  for (const auto& name : names) {
    const std::string base = inbox + "/" + name;
    // Taking it: from here on the CLI waits for the answer instead of withdrawing the command.
    if (::rename((base + ".cmd").c_str(), (base + ".taken").c_str()) != 0) continue;
    std::string text, reply;
    if (!read_file(base + ".taken", text)) {
      reply = "error\ncannot read the command file " + base + ".taken";
    } else if (auto command = IncidentCommand::decode(text); !command) {
      reply = "error\n" + command.error().message();
    } else if (auto inc = ledger.apply(*command); !inc) {
      reply = "error\n" + inc.error().message();
    } else {
      reply = "ok\n" + encode_incident(*inc);
    }
    write_atomically(base + ".reply", reply);
    ::unlink((base + ".taken").c_str());
    ++answered;
  }
  return answered;
}

}  // namespace socd
