// End-to-end test support: runs a program (usually the socd binary) as a child process and hands back its
// exit status, its stdout and stderr, its peak memory, and the `summary:` line socd writes last on stderr.
#pragma once
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace socd::test {

struct ProcessResult {
  bool started = false;
  std::string start_error;  // why the program could not be started
  int exit_code = -1;       // when the program exited
  int signal = 0;           // when a signal ended it
  long max_rss_kib = 0;
  std::string out;
  std::string err;

  bool exited_with(int code) const { return started && signal == 0 && exit_code == code; }
  // "exit 0", "killed by signal 11 (Segmentation fault)" or "not started: ..."
  std::string describe() const {
    if (!started) return "not started: " + start_error;
    if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
    return "exit " + std::to_string(exit_code);
  }
};

// A directory under $TMPDIR (or /tmp), removed with everything in it when the object goes away.
class TempDir {
public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/socd-test-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline bool write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return static_cast<bool>(out);
}

// Runs `program` with `args` in directory `cwd` (empty: the current one), stdin from /dev/null. stdout and
// stderr go to files in a temporary directory, so large outputs cannot fill a pipe and stall the child.
inline ProcessResult run_process(const std::string& program, const std::vector<std::string>& args,
                                 const std::string& cwd = {}) {
  ProcessResult result;
  TempDir capture;
  if (!capture.ok()) {
    result.start_error = std::string("cannot create a temporary directory: ") + strerror(errno);
    return result;
  }
  const std::string out_path = capture.file("stdout"), err_path = capture.file("stderr");

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  pid_t pid = 0;
  int spawn_error = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawn_error != 0) {
    result.start_error = program + ": " + strerror(spawn_error);
    return result;
  }

  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0) {
    if (errno != EINTR) {
      result.start_error = std::string("wait4: ") + strerror(errno);
      return result;
    }
  }
  result.started = true;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  result.max_rss_kib = usage.ru_maxrss;
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

// Runs the socd binary under test from the repository root, as the README does.
inline ProcessResult run_socd(const std::vector<std::string>& args) {
  return run_process(SOCD_BINARY, args, SOCD_SOURCE_DIR);
}

// The lines of `text`, without their '\n' (a last line without '\n' counts; a final empty one does not).
inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t end = text.find('\n');
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
  }
  return lines;
}

// The last `count` lines of `text`, for failure messages that would otherwise drown in output.
inline std::string last_lines(std::string_view text, size_t count) {
  if (text.empty()) return "(nothing)\n";
  std::vector<std::string_view> lines = split_lines(text);
  size_t first = lines.size() > count ? lines.size() - count : 0;
  std::string tail;
  if (first > 0) tail += "[... " + std::to_string(first) + " earlier lines]\n";
  for (size_t i = first; i < lines.size(); ++i) {
    tail.append(lines[i].substr(0, 400));
    tail += '\n';
  }
  return tail;
}

// The key=value pairs of the summary line, which socd writes as the LAST line of stderr:
//   summary: events=N bytes=N malformed=N rules_loaded=N ... ; nullopt when the last line is something else.
using Summary = std::map<std::string, std::string, std::less<>>;
inline std::optional<Summary> parse_summary(std::string_view err) {
  std::vector<std::string_view> lines = split_lines(err);
  if (lines.empty()) return std::nullopt;
  std::string_view line = lines.back();
  constexpr std::string_view prefix = "summary: ";
  if (line.substr(0, prefix.size()) != prefix) return std::nullopt;
  Summary summary;
  std::istringstream fields{std::string(line.substr(prefix.size()))};
  std::string field;
  while (fields >> field) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) return std::nullopt;
    summary[field.substr(0, eq)] = field.substr(eq + 1);
  }
  return summary;
}

// A numeric summary field; -1 when it is missing or not a number (so an assertion on it fails visibly).
inline double summary_number(const Summary& summary, std::string_view key) {
  auto it = summary.find(key);
  if (it == summary.end()) return -1;
  char* end = nullptr;
  double value = std::strtod(it->second.c_str(), &end);
  return end != nullptr && *end == '\0' && end != it->second.c_str() ? value : -1;
}

}  // namespace socd::test
