// Layer-4 forwarding as CEF over syslog TLS (RFC 5425, octet counting) to a real rsyslog on 127.0.0.1 that
// requires a client certificate from the test CA: every L4 alert arrives exactly once as parseable CEF, with the
// header's `|` and `\` and the extension's `=`, `\` and line breaks escaped; a server whose certificate the sink
// cannot verify gets nothing.
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <map>

#include "cef.h"
#include "forward.h"
#include "socd/outbox.h"
#include "storage/store_test_support.h"
#include "support/rsyslog_cef_receiver.h"

namespace socd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kInstallHint = "(apt-get install rsyslog rsyslog-openssl openssl; .ci/setup does)";
const std::string kTrickyTitle = "Admin | logon \\ from a=b";
const std::string kTrickyCommand = "cmd.exe /c set a=b\\c\nwhoami";

std::vector<StoredAlert> l4_alerts(uint64_t n) {
  std::vector<StoredAlert> out;
  for (uint64_t i = 0; i < n; ++i) {
    StoredAlert a = test::make_alert(i, test::kBaseTimeMs + static_cast<int64_t>(i), i % 2 ? "rule-a" : "rule-b",
                                     "high", "web01", i == 7 ? kTrickyTitle : "Failed logon for an admin account");
    a.json.pop_back();  // }
    a.json.pop_back();  // the event's }
    a.json += ",\"SourceIp\":\"203.0.113.7\"";
    if (i == 7) {
      a.json += ",\"CommandLine\":";
      append_json_string(a.json, kTrickyCommand);
    }
    a.json += "}}";
    a.layers = kLayer2 | kLayer4;
    out.push_back(std::move(a));
  }
  return out;
}

std::string forwarding_file(const fs::path& dir, uint16_t port, const std::string& ca, const test::TestPki& pki) {
  const fs::path path = dir / "forwarding.yml";
  std::ofstream(path) << "soc_name: Test SOC\nsinks:\n  - name: national-cef\n    type: cef\n"
                      << "    url: tls://127.0.0.1:" << port << "\n    ca_file: " << ca
                      << "\n    client_cert: " << pki.client_cert << "\n    client_key: " << pki.client_key
                      << "\n    batch_size: 64\n    timeout_ms: 3000\n    backoff_initial_ms: 20\n"
                      << "    backoff_max_ms: 200\n    breaker_failures: 100\n";
  return path.string();
}

TEST(ForwardCef, RsyslogReceivesEveryAlertOnceOverTlsAsEscapedCef) {
  if (!test::rsyslog_openssl_installed()) GTEST_SKIP() << "rsyslogd with its openssl driver is missing " << kInstallHint;
  if (test::find_program("openssl").empty()) GTEST_SKIP() << "the openssl command is missing " << kInstallHint;
  test::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const fs::path root = dir.path();
  fs::create_directories(root / "pki");
  test::TestPki pki(root / "pki");
  ASSERT_TRUE(pki.error.empty()) << pki.error;
  test::RsyslogTlsReceiver rsyslog(root / "rsyslog", pki.ca, pki.server_cert, pki.server_key);
  std::string error;
  ASSERT_TRUE(rsyslog.start(error)) << error;

  auto store = AlertStore::open((root / "store").string());
  ASSERT_TRUE(store) << store.error().message();
  const auto alerts = l4_alerts(300);
  ASSERT_TRUE((*store)->commit(alerts, {}, nullptr).ok());

  {  // A CA that did not issue the server's certificate: nothing is sent, nothing acknowledged.
    auto config = load_forwarding(forwarding_file(root, rsyslog.port(), root / "pki" / "other-ca.pem", pki));
    ASSERT_TRUE(config) << config.error().message();
    Forwarder forwarder(*(*store)->outbox(), std::move(*config));
    ASSERT_TRUE(forwarder.start().ok());
    EXPECT_FALSE(forwarder.drain(1500));
    forwarder.stop();
    EXPECT_GT(forwarder.counters()[0]->failed.load(), 0u);
    EXPECT_EQ(forwarder.counters()[0]->acknowledged.load(), 0u);
    EXPECT_EQ((*store)->outbox()->state()->sinks[0].pending, 300u);
  }
  auto config = load_forwarding(forwarding_file(root, rsyslog.port(), pki.ca, pki));
  ASSERT_TRUE(config) << config.error().message();
  Forwarder forwarder(*(*store)->outbox(), std::move(*config));
  ASSERT_TRUE(forwarder.start().ok());
  ASSERT_TRUE(forwarder.drain(30000)) << "the outbox did not empty; rsyslog's log:\n" << rsyslog.log();
  forwarder.stop();
  EXPECT_EQ(forwarder.counters()[0]->acknowledged.load(), 300u);
  EXPECT_EQ((*store)->outbox()->state()->entries, 0u);

  // Acknowledged means rsyslog read it all before closing; its file may trail by a moment.
  EXPECT_EQ(rsyslog.wait_for_lines(300, 10s), 300u) << rsyslog.log();
  std::map<std::string, int> times;
  std::map<std::string, const StoredAlert*> by_id;
  for (const auto& a : alerts) by_id[a.id] = &a;
  for (const auto& line : rsyslog.lines()) {
    test::CefEvent e = test::parse_cef(line);
    ASSERT_EQ(e.error, "") << line;
    ASSERT_EQ(e.header[0], "0");
    EXPECT_EQ(e.header[1], "socd");
    EXPECT_EQ(e.header[2], "socd");
    const std::string id = e.extension["externalId"];
    ASSERT_TRUE(by_id.count(id)) << "an event for an unknown alert: " << line;
    const StoredAlert& a = *by_id[id];
    ++times[id];
    EXPECT_EQ(e.header[4], a.rule_id);
    EXPECT_EQ(e.header[6], "8") << "severity of a high alert";
    EXPECT_EQ(e.extension["rt"], std::to_string(a.time_ms));
    EXPECT_EQ(e.extension["dvchost"], "web01");
    EXPECT_EQ(e.extension["src"], "203.0.113.7") << "the IPv4 observable of the event";
    if (id == alerts[7].id) {
      EXPECT_EQ(e.header[5], kTrickyTitle) << line;
      EXPECT_EQ(e.extension["msg"], kTrickyTitle) << line;
      EXPECT_EQ(e.extension["sproc"], kTrickyCommand) << line;
      EXPECT_NE(line.find("Admin \\| logon \\\\ from a=b|"), std::string::npos) << "header escaping: " << line;
      EXPECT_NE(line.find("sproc=cmd.exe /c set a\\=b\\\\c\\nwhoami"), std::string::npos)
          << "extension escaping: " << line;
    } else {
      EXPECT_EQ(e.header[5], "Failed logon for an admin account");
    }
  }
  EXPECT_EQ(times.size(), 300u);
  for (const auto& [id, n] : times) EXPECT_EQ(n, 1) << id;
}

// The CEF text of one alert, byte for byte (the format the national centre's parser sees).
TEST(ForwardCef, EventAndFrameFormat) {
  StoredAlert a = test::make_alert(1, test::kBaseTimeMs, "rule|x", "critical", "db01", "T\\itle|x");
  a.system = "Cổng dịch vụ công";
  a.system_level = 4;
  const std::string cef = cef::event(a, "1");
  EXPECT_EQ(cef, "CEF:0|socd|socd|1|rule\\|x|T\\\\itle\\|x|10|rt=" + std::to_string(test::kBaseTimeMs) +
                     " externalId=" + a.id + " dvchost=db01 cat=critical cs1Label=system cs1=Cổng dịch vụ công "
                     "cn1Label=systemLevel cn1=4 msg=T\\\\itle|x");
  const std::string message = cef::syslog_message(a, "", 16, "1");
  EXPECT_EQ(message.rfind("<130>1 2024-05-01T10:00:00.000Z db01 socd - alert - CEF:0|", 0), 0u) << message;
  std::string frame;
  cef::append_frame(frame, message);
  EXPECT_EQ(frame, std::to_string(message.size()) + " " + message);
  EXPECT_EQ(cef::escape_extension("a=b\\c\r\nd"), "a\\=b\\\\c\\r\\nd");
  EXPECT_EQ(cef::escape_header("a|b\\c\nd=e"), "a\\|b\\\\c d=e");
}

// A `|` is not escaped in the extension, so a value may end in one: the next pair is still separated by a space
// (the first pair after the header's last `|` is the only one without).
TEST(ForwardCef, ExtensionValueEndingInPipeKeepsTheNextPairApart) {
  StoredAlert a = test::make_alert(1, test::kBaseTimeMs, "rule-a", "high", "web|", "Title|");
  a.id = "id|";
  const std::string cef = cef::event(a, "1");
  EXPECT_EQ(cef, "CEF:0|socd|socd|1|rule-a|Title\\||8|rt=" + std::to_string(test::kBaseTimeMs) +
                     " externalId=id| dvchost=web| cat=high msg=Title|");
  test::CefEvent e = test::parse_cef(cef);
  ASSERT_EQ(e.error, "") << cef;
  EXPECT_EQ(e.extension["externalId"], "id|");
  EXPECT_EQ(e.extension["dvchost"], "web|");
  EXPECT_EQ(e.extension["msg"], "Title|");
}

// RFC 5424's TIMESTAMP has a 4-digit year: an alert time outside 0000..9999 (an event's own time can be anything)
// goes as the NILVALUE `-`, and the extension's rt still carries it; the first and last representable
// milliseconds are written in full.
TEST(ForwardCef, SyslogTimestampOutsideFourDigitYearsIsNil) {
  StoredAlert a = test::make_alert(1, test::kBaseTimeMs, "rule-a", "low", "db01", "Title");
  auto header_time = [&](int64_t ms) {
    a.time_ms = ms;
    const std::string message = cef::syslog_message(a, "", 1, "1");
    EXPECT_EQ(message.rfind("<13>1 ", 0), 0u) << message;
    const size_t end =
        message.find(" db01 socd - alert - CEF:0|socd|socd|1|rule-a|Title|3|rt=" + std::to_string(ms) + " ");
    EXPECT_NE(end, std::string::npos) << message;
    return end == std::string::npos ? message : message.substr(6, end - 6);
  };
  EXPECT_EQ(header_time(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(header_time(-62167219200000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(header_time(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(header_time(253402300800000), "-");  // 10000-01-01
  EXPECT_EQ(header_time(-62167219200001), "-");
  EXPECT_EQ(header_time(std::numeric_limits<int64_t>::max()), "-");
  EXPECT_EQ(header_time(std::numeric_limits<int64_t>::min()), "-");
}

}  // namespace
}  // namespace socd
