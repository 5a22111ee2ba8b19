// Same work, same answer: socd and Sagan 1.2.0 itself (Debian package sagan) with the same rules (Debian's
// sagan-rules, a copy without `threshold` and `after`, whose windows Sagan counts in wall-clock time) on the
// same 20,000 syslog lines built from ../shared/corpus/loghub must raise the same alerts, as (sid, line)
// pairs, except for the differences listed and explained below (bench/README.md, "Sagan", has the list).
//
// The run is bench/sagan_compare.sh (it builds the lines with bench/loghub_syslog.py, feeds Sagan through
// its FIFO at a rate it keeps up with, checks that Sagan read every line and dropped none, runs `socd scan`,
// checks that both saw the same host, program and message on every line socd alerted on, and writes the
// pairs of each engine). Needs /usr/sbin/sagan, /etc/sagan-rules, python3, script (util-linux) and
// bench/feed (built with everything: `cmake --build build`). About 30 s.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>

namespace socd::test {
namespace {

namespace fs = std::filesystem;

enum class Side { OnlySocd, OnlySagan, Either };

// The differences known and explained. An entry allows pairs of that sid on that side only (or on either);
// anything else fails the test. An entry allows a difference, it does not require one.
struct Explained {
  const char* sid;
  Side side;
  const char* why;
};
const Explained kExplained[] = {
    // Sagan's quirks: socd does what the rule says.
    {"5000412", Side::OnlySagan,
     "Sagan 1.2.0 matches every pcre but the first one it loads as if it had the i flag: "
     "\"/ ... | ftp | ... /\" matches \"ANONYMOUS FTP LOGIN FROM ...\"; socd matches case-sensitively, "
     "as the rule is written"},
    {"5002177", Side::OnlySocd,
     "xbits isset,by_src,brute_force: Sagan now and then misses a bit set long before (its 1,000 worker "
     "threads share the xbit table; seen on the run's first Accepted password at 4,000 and 6,400 lines/s, "
     "not in other runs at the same rates); socd sees it every time"},
    // Wall clock: Sagan fires an alert_time rule only while its own clock is within the days and hours given
    // (SAGAN_DAYS 12345, SAGAN_HOURS 0700-1800), whatever the log's time, so its answer depends on when the
    // test runs; socd looks at the event's time (the corpus's lines are stamped from 06:55).
    {"5002049", Side::Either, "alert_time: Sagan's wall clock, socd's event time"},
    {"5002050", Side::Either, "alert_time: Sagan's wall clock, socd's event time"},
    {"5002051", Side::Either, "alert_time: Sagan's wall clock, socd's event time"},
};

std::multiset<std::pair<long, std::string>> read_pairs(const fs::path& file) {
  std::multiset<std::pair<long, std::string>> pairs;
  std::ifstream in(file);
  long line = 0;
  std::string sid;
  while (in >> line >> sid) pairs.emplace(line, sid);
  return pairs;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool on_path(const char* program) {
  std::string cmd = std::string("command -v ") + program + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

TEST(SaganCompare, SameAlertsAsSagan120OnLoghubLines) {
  const fs::path root = SOCD_SOURCE_DIR;
  const fs::path feed = fs::path(SOCD_BINARY).parent_path() / "bench" / "feed";
  if (!fs::exists(root / ".." / "shared" / "corpus" / "loghub" / "OpenSSH_2k.log"))
    GTEST_SKIP() << "../shared/corpus/loghub (relative to the repository root) is absent";
  if (!fs::exists("/usr/sbin/sagan")) GTEST_SKIP() << "/usr/sbin/sagan is absent (apt-get install sagan)";
  if (!fs::exists("/etc/sagan-rules"))
    GTEST_SKIP() << "/etc/sagan-rules is absent (apt-get install sagan-rules)";
  if (!on_path("python3") || !on_path("script"))
    GTEST_SKIP() << "python3 or script (util-linux) is missing: run .ci/setup";
  if (!fs::exists(feed)) GTEST_SKIP() << feed << " is missing: build it (cmake --build BUILD --target feed)";

  fs::path out = fs::temp_directory_path() / ("socd-sagan-compare-" + std::to_string(::getpid()));
  fs::remove_all(out);
  fs::create_directories(out);
  // 4,000 lines/s: Sagan keeps up with it on a loaded 2-core machine (it drops lines silently when it does
  // not; the script then tries again slower and fails if it still drops).
  std::string cmd = "bash '" + (root / "bench" / "sagan_compare.sh").string() + "' --build '" +
                    fs::path(SOCD_BINARY).parent_path().string() +
                    "' --lines 20000 --rate 4000 --no-search --variants stripped --socd-runs 1 --out '" +
                    out.string() + "' > '" + (out / "run.txt").string() + "' 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_EQ(status, 0) << cmd << "\n" << read_file(out / "run.txt");

  // Sagan read every line and dropped none.
  std::string stats = read_file(out / "sagan-stripped.stats");
  EXPECT_NE(stats.find("read=20000 "), std::string::npos) << stats;
  EXPECT_NE(stats.find("thread_exhaustion=0 "), std::string::npos) << stats;

  auto socd = read_pairs(out / "stripped" / "socd.pairs");
  auto sagan = read_pairs(out / "stripped" / "sagan.pairs");
  std::map<std::string, const Explained*> explained;
  for (const auto& e : kExplained) explained[e.sid] = &e;
  std::multiset<std::pair<long, std::string>> only_socd, only_sagan;
  std::set_difference(socd.begin(), socd.end(), sagan.begin(), sagan.end(),
                      std::inserter(only_socd, only_socd.end()));
  std::set_difference(sagan.begin(), sagan.end(), socd.begin(), socd.end(),
                      std::inserter(only_sagan, only_sagan.end()));
  size_t equal = socd.size() - only_socd.size();
  std::map<std::string, size_t> allowed;
  for (auto [side, pairs] :
       {std::pair{Side::OnlySocd, &only_socd}, std::pair{Side::OnlySagan, &only_sagan}}) {
    for (const auto& [line, sid] : *pairs) {
      auto it = explained.find(sid);
      if (it != explained.end() && (it->second->side == side || it->second->side == Side::Either)) {
        ++allowed[sid];
        continue;
      }
      ADD_FAILURE() << "sid " << sid << " line " << line << ": alert only in "
                    << (side == Side::OnlySocd ? "socd" : "Sagan") << " (results in " << out
                    << "; bench/loghub_syslog.py --lines 20000 writes the lines)";
    }
  }
  for (const auto& [sid, n] : allowed)
    std::printf("explained: sid %s, %zu pairs (%s)\n", sid.c_str(), n, explained[sid]->why);
  std::printf("pairs: socd %zu, Sagan %zu, equal %zu\n", socd.size(), sagan.size(), equal);
  // The comparison means something: most of what either engine raises is raised by both.
  EXPECT_GT(equal, 10000u);
  if (!HasFailure()) fs::remove_all(out);
}

}  // namespace
}  // namespace socd::test
