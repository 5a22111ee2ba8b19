// A real Prometheus server scrapes `socd run` every second; the test feeds the service through two sources
// (its standard input and a TCP syslog listener) and asks Prometheus' HTTP API for the scraped counters,
// which must equal what was fed, source by source. Prometheus runs with its own configuration and storage in
// a temporary directory on a loopback port, and is stopped at the end; the test is skipped when it is not
// installed.
#include <gtest/gtest.h>

#include "support/socd_service.h"

namespace socd {
namespace {

using namespace std::chrono_literals;
using test::series;

constexpr const char* kHitRule = "5e1f0000-0000-4000-8000-00000000c001";

// Prometheus on 127.0.0.1, scraping `target` (host:port) every second as job "socd".
class Prometheus {
public:
  Prometheus(const std::filesystem::path& dir, const std::string& target) : dir_(dir) {
    test::write_file(dir / "prometheus.yml",
                     "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
                     "scrape_configs:\n  - job_name: socd\n    static_configs:\n      - targets: ['" +
                         target + "']\n");
  }
  // Starts it (retrying when its port was taken meanwhile) and waits until it says it is ready (at most 60
  // s).
  bool start(const std::string& program, std::string& error) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = test::free_tcp_port();
      process_ = std::make_unique<test::ChildProcess>();
      if (!process_->start(program,
                           {"--config.file=" + (dir_ / "prometheus.yml").string(),
                            "--storage.tsdb.path=" + (dir_ / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"},
                           (dir_ / "prometheus.log").string(), {})) {
        error = process_->error();
        return false;
      }
      if (test::eventually(
              [&] { return !process_->running() || test::http_get(port_, "/-/ready").status == 200; }, 60s) &&
          process_->running())
        return true;
      if (process_->running()) {
        error = "prometheus is not ready after 60 s; its log:\n" + test::last_lines(process_->log(), 20);
        return false;
      }
    }
    error =
        "prometheus ended (" + process_->status() + "); its log:\n" + test::last_lines(process_->log(), 20);
    return false;
  }
  // The samples of an instant query, by the value of `label`; empty when the query failed.
  std::map<std::string, double> query(const std::string& promql, const std::string& label) {
    std::map<std::string, double> values;
    test::HttpResponse r = test::http_get(port_, "/api/v1/query?query=" + test::url_encode(promql));
    if (r.status != 200) return values;
    simdjson::ondemand::parser parser;
    simdjson::padded_string body(r.body);
    simdjson::ondemand::document doc;
    simdjson::ondemand::array result;
    if (parser.iterate(body).get(doc) || doc["data"]["result"].get_array().get(result)) return values;
    for (auto item : result) {
      simdjson::ondemand::object sample;
      if (item.get_object().get(sample)) return {};
      std::string key;
      std::string_view text;
      if (!label.empty() && !sample["metric"][label].get_string().get(text)) key = std::string(text);
      simdjson::ondemand::array pair;
      if (sample["value"].get_array().get(pair)) return {};
      size_t index = 0;
      for (auto element : pair) {  // [ <time>, "<value>" ]
        if (index++ == 1 && !element.get_string().get(text))
          values[key] = std::strtod(std::string(text).c_str(), nullptr);
      }
    }
    return values;
  }
  // Polls `promql` until its samples equal `expected` or `timeout` passes; returns the last samples.
  std::map<std::string, double> wait_for(const std::string& promql, const std::string& label,
                                         const std::map<std::string, double>& expected,
                                         std::chrono::milliseconds timeout = 30s) {
    std::map<std::string, double> got;
    test::eventually(
        [&] {
          got = query(promql, label);
          return got == expected;
        },
        timeout);
    return got;
  }
  std::string log() const { return process_ ? process_->log() : ""; }

private:
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  std::unique_ptr<test::ChildProcess> process_;
};

std::string describe(const std::map<std::string, double>& samples) {
  std::string s = "{";
  for (const auto& [k, v] : samples) s += " " + k + "=" + std::to_string(v);
  return s + " }";
}

TEST(RunPrometheus, ScrapedCountersEqualWhatWasFed) {
  std::string prometheus = test::find_program("prometheus");
  if (prometheus.empty())
    GTEST_SKIP()
        << "prometheus is not installed (apt-get install prometheus; .ci/setup does): nothing to scrape with";
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  std::filesystem::create_directories(dir.path() / "rules");
  std::filesystem::create_directories(dir.path() / "prometheus");
  ASSERT_TRUE(test::write_file(dir.path() / "rules" / "hit.yml",
                               test::keyword_rule(kHitRule, "Test hit", test::kHitToken)));
  test::SocdService::Options options;
  options.data_dir = dir.file("store");
  options.rules = dir.file("rules");
  options.cache_dir = dir.file("cache");
  options.log = dir.file("socd.log");
  options.sources = {"--stdin", "--syslog-tcp", "127.0.0.1:0"};
  options.stdin_pipe = true;
  test::SocdService socd(options);
  std::string error;
  ASSERT_TRUE(socd.start(error)) << error;
  const std::string tcp_source = socd.source_name("syslog-tcp", "127.0.0.1");
  ASSERT_NE(socd.port_of("syslog-tcp", "127.0.0.1"), 0) << socd.running_line();

  // Prometheus starts while the service is fed.
  Prometheus server(dir.path() / "prometheus", "127.0.0.1:" + std::to_string(socd.metrics_port()));
  std::thread starter([&] { ASSERT_TRUE(server.start(prometheus, error)) << error; });

  constexpr uint64_t kStdinLines = 700, kTcpLines = 1300;
  uint64_t hits = 0;
  std::string text;
  for (uint64_t seq = 0; seq < kStdinLines; ++seq) {
    text += test::numbered_line(seq, test::hits(seq));
    hits += test::hits(seq);
  }
  EXPECT_TRUE(socd.write_stdin(text));
  socd.close_stdin();
  text.clear();
  for (uint64_t seq = kStdinLines; seq < kStdinLines + kTcpLines; ++seq) {
    text += "<134>" + test::numbered_line(seq, test::hits(seq));
    hits += test::hits(seq);
  }
  int fd = test::tcp_connect("127.0.0.1", socd.port_of("syslog-tcp", "127.0.0.1"));
  EXPECT_GE(fd, 0);
  EXPECT_TRUE(fd >= 0 && test::send_all(fd, text));
  if (fd >= 0) ::close(fd);
  starter.join();
  if (::testing::Test::HasFatalFailure()) return;

  const std::map<std::string, double> events{{"stdin", kStdinLines}, {tcp_source, kTcpLines}};
  auto scraped = server.wait_for("socd_source_events_total", "source", events);
  EXPECT_EQ(scraped, events) << "scraped " << describe(scraped) << "\nprometheus log:\n"
                             << test::last_lines(server.log(), 10);
  auto lines = server.wait_for("socd_source_lines_total", "source", events);
  EXPECT_EQ(lines, events) << "scraped " << describe(lines);
  std::map<std::string, double> alerts{{"", static_cast<double>(hits)}};
  auto stored = server.wait_for("socd_alerts_stored_total", "", alerts);
  EXPECT_EQ(stored, alerts) << "scraped " << describe(stored);
  std::map<std::string, double> matches{{kHitRule, static_cast<double>(hits)}};
  auto matched = server.wait_for("socd_rule_matches_total", "rule", matches);
  EXPECT_EQ(matched, matches) << "scraped " << describe(matched);
  std::map<std::string, double> up{{"", 1}};
  EXPECT_EQ(server.query("up{job=\"socd\"}", ""), up);

  test::Summary summary;
  ASSERT_EQ(socd.stop(summary), "");
  EXPECT_EQ(test::summary_number(summary, "events"), kStdinLines + kTcpLines);
  EXPECT_EQ(test::summary_number(summary, "alerts_stored"), hits);
}

}  // namespace
}  // namespace socd
