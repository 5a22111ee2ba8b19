#include "socd/syslog_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace socd {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

class SyslogParserTest : public ::testing::Test {
protected:
  SyslogParserTest() { ev.set_keep_paths(true); }

  // Every (path, value) the parser added, in order.
  Fields parse(std::string_view line) {
    Status status = parser.parse(line, ev);
    EXPECT_TRUE(status.ok()) << status.message() << "\n  line: " << line;
    Fields fields;
    for (size_t i = 0; i < ev.value_count(); ++i) fields.emplace_back(ev.path(i), ev.value(i));
    return fields;
  }
  // The type of the value at `path` in the last event (fails the test when absent).
  ValueType type_of(std::string_view path) {
    for (size_t i = 0; i < ev.value_count(); ++i)
      if (ev.path(i) == path) return ev.type(i);
    ADD_FAILURE() << "no value at " << path;
    return ValueType::Null;
  }

  SyslogParser parser;
  Event ev;
};

std::string field(const Fields& fields, std::string_view path) {
  for (const auto& [p, v] : fields)
    if (p == path) return v;
  return "<absent>";
}

// ---------------------------------------------------------------- RFC 3164

TEST_F(SyslogParserTest, Rfc3164WithPriority) {
  parser.default_year = 2003;
  EXPECT_EQ(parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"),
            (Fields{{"priority", "34"},
                    {"facility", "auth"},
                    {"severity", "crit"},
                    {"timestamp", "Oct 11 22:14:15"},
                    {"@timestamp", "2003-10-11T22:14:15Z"},
                    {"host", "mymachine"},
                    {"program", "su"},
                    {"tag", "su"},
                    {"message", "'su root' failed for lonvick on /dev/pts/8"}}));
  EXPECT_EQ(type_of("priority"), ValueType::Number);
  EXPECT_EQ(type_of("facility"), ValueType::String);
}

TEST_F(SyslogParserTest, Rfc3164WithoutPriorityWithPid) {
  parser.default_year = 2005;
  EXPECT_EQ(parse("Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186"),
            (Fields{{"timestamp", "Dec 10 06:55:46"},
                    {"@timestamp", "2005-12-10T06:55:46Z"},
                    {"host", "LabSZ"},
                    {"program", "sshd"},
                    {"tag", "sshd"},
                    {"pid", "24200"},
                    {"message", "Invalid user webmaster from 173.234.31.186"}}));
  EXPECT_EQ(type_of("pid"), ValueType::Number);
}

TEST_F(SyslogParserTest, Rfc3164TagWithParenthesisedSuffixAndCrlf) {
  parser.default_year = 2005;
  // the loghub Linux sample: a "(pam_unix)" suffix on the tag, a space before the CRLF line end
  EXPECT_EQ(parse("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 "
                  "rhost=218.188.2.4 \r"),
            (Fields{{"timestamp", "Jun 14 15:16:01"},
                    {"@timestamp", "2005-06-14T15:16:01Z"},
                    {"host", "combo"},
                    {"program", "sshd"},
                    {"tag", "sshd(pam_unix)"},
                    {"pid", "19939"},
                    {"message", "authentication failure; logname= uid=0 rhost=218.188.2.4 "}}));
}

TEST_F(SyslogParserTest, Rfc3164SpacePaddedDay) {
  parser.default_year = 2005;
  Fields f = parse("Jul  1 00:21:28 combo su(pam_unix)[2205]: session opened for user cyrus by (uid=0)");
  EXPECT_EQ(field(f, "timestamp"), "Jul  1 00:21:28");
  EXPECT_EQ(field(f, "@timestamp"), "2005-07-01T00:21:28Z");
  EXPECT_EQ(field(f, "program"), "su");
  EXPECT_EQ(field(f, "tag"), "su(pam_unix)");
  EXPECT_EQ(field(f, "message"), "session opened for user cyrus by (uid=0)");
}

TEST_F(SyslogParserTest, Rfc3164TagShapes) {
  parser.default_year = 2005;
  // a tag without pid
  Fields f = parse("Jul 27 14:41:57 combo kernel: klogd 1.4.1, log source = /proc/kmsg started.");
  EXPECT_EQ(field(f, "program"), "kernel");
  EXPECT_EQ(field(f, "pid"), "<absent>");
  EXPECT_EQ(field(f, "message"), "klogd 1.4.1, log source = /proc/kmsg started.");
  // sysklogd writes its version into the tag
  f = parse("Jun 19 04:09:11 combo syslogd 1.4.1: restart.");
  EXPECT_EQ(field(f, "host"), "combo");
  EXPECT_EQ(field(f, "program"), "syslogd");
  EXPECT_EQ(field(f, "tag"), "syslogd 1.4.1");
  EXPECT_EQ(field(f, "message"), "restart.");
  // no tag at all: the text after the host is the message
  f = parse("Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2");
  EXPECT_EQ(field(f, "host"), "combo");
  EXPECT_EQ(field(f, "program"), "<absent>");
  EXPECT_EQ(field(f, "tag"), "<absent>");
  EXPECT_EQ(field(f, "message"), "-- root[2421]: ROOT LOGIN ON tty2");
  // a colon inside the parentheses belongs to the tag
  f = parse("Dec 10 06:55:46 LabSZ pam_unix(sshd:auth): check pass; user unknown");
  EXPECT_EQ(field(f, "program"), "pam_unix");
  EXPECT_EQ(field(f, "tag"), "pam_unix(sshd:auth)");
  EXPECT_EQ(field(f, "message"), "check pass; user unknown");
  // a path-like tag, a tag with a pid and no colon
  f = parse("Mar  3 10:00:00 mx1 postfix/smtpd[771]: connect from unknown[192.0.2.7]");
  EXPECT_EQ(field(f, "program"), "postfix/smtpd");
  EXPECT_EQ(field(f, "pid"), "771");
  EXPECT_EQ(field(f, "message"), "connect from unknown[192.0.2.7]");
  f = parse("Mar  3 10:00:00 mx1 crond[12] started");
  EXPECT_EQ(field(f, "program"), "crond");
  EXPECT_EQ(field(f, "pid"), "12");
  EXPECT_EQ(field(f, "message"), "started");
}

TEST_F(SyslogParserTest, Rfc3164WithoutHostname) {
  parser.default_year = 2003;
  EXPECT_EQ(parse("<13>Oct 11 22:14:15 su[77]: 'su root' failed"),
            (Fields{{"priority", "13"},
                    {"facility", "user"},
                    {"severity", "notice"},
                    {"timestamp", "Oct 11 22:14:15"},
                    {"@timestamp", "2003-10-11T22:14:15Z"},
                    {"program", "su"},
                    {"tag", "su"},
                    {"pid", "77"},
                    {"message", "'su root' failed"}}));
}

TEST_F(SyslogParserTest, Rfc3164HeaderOnly) {
  parser.default_year = 2005;
  EXPECT_EQ(parse("Jun 14 15:16:01 combo"), (Fields{{"timestamp", "Jun 14 15:16:01"},
                                                    {"@timestamp", "2005-06-14T15:16:01Z"},
                                                    {"host", "combo"},
                                                    {"message", ""}}));
}

TEST_F(SyslogParserTest, Rfc3164TimestampVariants) {
  parser.default_year = 2005;
  // fractional seconds, and the year some network devices add
  Fields f = parse("Jun 14 15:16:01.250 combo app: x");
  EXPECT_EQ(field(f, "timestamp"), "Jun 14 15:16:01.250");
  EXPECT_EQ(field(f, "@timestamp"), "2005-06-14T15:16:01.250Z");
  f = parse("Jun 14 2019 15:16:01 router1 app: x");
  EXPECT_EQ(field(f, "timestamp"), "Jun 14 2019 15:16:01");
  EXPECT_EQ(field(f, "@timestamp"), "2019-06-14T15:16:01Z");
  EXPECT_EQ(field(f, "host"), "router1");
}

TEST_F(SyslogParserTest, Rfc3164IsoTimestamp) {
  // what rsyslog and systemd write in traditional files: RFC 3339 in place of "Mmm dd hh:mm:ss"
  EXPECT_EQ(parse("2024-01-15T10:20:30.123456+01:00 web1 nginx[88]: upstream timed out"),
            (Fields{{"timestamp", "2024-01-15T10:20:30.123456+01:00"},
                    {"@timestamp", "2024-01-15T09:20:30.123456Z"},
                    {"host", "web1"},
                    {"program", "nginx"},
                    {"tag", "nginx"},
                    {"pid", "88"},
                    {"message", "upstream timed out"}}));
  Fields f = parse("<78>2024-12-31T23:59:59-02:30 host CRON[1]: (root) CMD (run-parts)");
  EXPECT_EQ(field(f, "facility"), "cron");
  EXPECT_EQ(field(f, "severity"), "info");
  EXPECT_EQ(field(f, "@timestamp"), "2025-01-01T02:29:59Z");
  EXPECT_EQ(field(f, "program"), "CRON");
  EXPECT_EQ(field(f, "message"), "(root) CMD (run-parts)");
}

TEST_F(SyslogParserTest, DefaultYearIsTheCurrentYear) {
  using namespace std::chrono;
  int year_before = int(year_month_day{floor<days>(system_clock::now())}.year());
  Fields f = parse("Jun 14 15:16:01 combo app: x");
  int year_after = int(year_month_day{floor<days>(system_clock::now())}.year());
  std::string at = field(f, "@timestamp");
  EXPECT_TRUE(at == std::to_string(year_before) + "-06-14T15:16:01Z" ||
              at == std::to_string(year_after) + "-06-14T15:16:01Z")
      << at;
}

TEST_F(SyslogParserTest, ImpossibleDateKeepsTheWrittenTimestampOnly) {
  parser.default_year = 2023;
  Fields f = parse("Feb 29 12:00:00 host app: x");
  EXPECT_EQ(field(f, "timestamp"), "Feb 29 12:00:00");
  EXPECT_EQ(field(f, "@timestamp"), "<absent>");
  EXPECT_EQ(field(f, "host"), "host");
  parser.default_year = 2024;
  EXPECT_EQ(field(parse("Feb 29 12:00:00 host app: x"), "@timestamp"), "2024-02-29T12:00:00Z");
  EXPECT_EQ(field(parse("Oct 11 25:14:15 host app: x"), "@timestamp"), "<absent>");
}

// ---------------------------------------------------------------- RFC 5424

TEST_F(SyslogParserTest, Rfc5424WithBomAndNilValues) {
  EXPECT_EQ(parse("<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                  "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8"),
            (Fields{{"priority", "34"},
                    {"facility", "auth"},
                    {"severity", "crit"},
                    {"timestamp", "2003-10-11T22:14:15.003Z"},
                    {"@timestamp", "2003-10-11T22:14:15.003Z"},
                    {"host", "mymachine.example.com"},
                    {"program", "su"},
                    {"msgid", "ID47"},
                    {"message", "'su root' failed for lonvick on /dev/pts/8"}}));
}

TEST_F(SyslogParserTest, Rfc5424OffsetAndProcId) {
  EXPECT_EQ(parse("<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - "
                  "%% It's time to make the do-nuts."),
            (Fields{{"priority", "165"},
                    {"facility", "local4"},
                    {"severity", "notice"},
                    {"timestamp", "2003-08-24T05:14:15.000003-07:00"},
                    {"@timestamp", "2003-08-24T12:14:15.000003Z"},
                    {"host", "192.0.2.1"},
                    {"program", "myproc"},
                    {"pid", "8710"},
                    {"message", "%% It's time to make the do-nuts."}}));
  EXPECT_EQ(type_of("pid"), ValueType::Number);
  // a PROCID that is not a number stays a string
  parse("<165>1 2003-08-24T05:14:15Z host app worker-3 - - x");
  EXPECT_EQ(type_of("pid"), ValueType::String);
}

TEST_F(SyslogParserTest, Rfc5424StructuredData) {
  EXPECT_EQ(parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
                  "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBF"
                  "An application event log entry..."),
            (Fields{{"priority", "165"},
                    {"facility", "local4"},
                    {"severity", "notice"},
                    {"timestamp", "2003-10-11T22:14:15.003Z"},
                    {"@timestamp", "2003-10-11T22:14:15.003Z"},
                    {"host", "mymachine.example.com"},
                    {"program", "evntslog"},
                    {"msgid", "ID47"},
                    {"sd.exampleSDID@32473.iut", "3"},
                    {"sd.exampleSDID@32473.eventSource", "Application"},
                    {"sd.exampleSDID@32473.eventID", "1011"},
                    {"message", "An application event log entry..."}}));
}

TEST_F(SyslogParserTest, Rfc5424SeveralElementsAndNoMessage) {
  EXPECT_EQ(parse("<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 "
                  "iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
                  "[examplePriority@32473 class=\"high\"]"),
            (Fields{{"priority", "165"},
                    {"facility", "local4"},
                    {"severity", "notice"},
                    {"timestamp", "2003-10-11T22:14:15.003Z"},
                    {"@timestamp", "2003-10-11T22:14:15.003Z"},
                    {"host", "mymachine.example.com"},
                    {"program", "evntslog"},
                    {"msgid", "ID47"},
                    {"sd.exampleSDID@32473.iut", "3"},
                    {"sd.exampleSDID@32473.eventSource", "Application"},
                    {"sd.exampleSDID@32473.eventID", "1011"},
                    {"sd.examplePriority@32473.class", "high"}}));
}

TEST_F(SyslogParserTest, Rfc5424ParamValueEscapes) {
  Fields f = parse(R"(<14>1 2020-01-01T00:00:00Z h a - - )"
                   R"([x@1 q="say \"hi\"" b="C:\\temp" r="a\]b" k="keep\n" e=""][origin ip="192.0.2.1"] )"
                   R"(msg with "quotes" ] and [brackets])");
  EXPECT_EQ(field(f, "sd.x@1.q"), "say \"hi\"");
  EXPECT_EQ(field(f, "sd.x@1.b"), "C:\\temp");
  EXPECT_EQ(field(f, "sd.x@1.r"), "a]b");
  EXPECT_EQ(field(f, "sd.x@1.k"), "keep\\n");  // only \" \\ \] are escapes; other backslashes stay
  EXPECT_EQ(field(f, "sd.x@1.e"), "");
  EXPECT_EQ(field(f, "sd.origin.ip"), "192.0.2.1");
  EXPECT_EQ(field(f, "message"), "msg with \"quotes\" ] and [brackets]");
}

TEST_F(SyslogParserTest, Rfc5424AllNil) {
  EXPECT_EQ(parse("<14>1 - - - - - -"),
            (Fields{{"priority", "14"}, {"facility", "user"}, {"severity", "info"}}));
  EXPECT_EQ(parse("<14>1 - - - - - - hello"),
            (Fields{{"priority", "14"}, {"facility", "user"}, {"severity", "info"}, {"message", "hello"}}));
}

TEST_F(SyslogParserTest, Rfc5424WithoutPriority) {
  EXPECT_EQ(parse("1 2003-10-11T22:14:15Z host app 12 ID1 - text"),
            (Fields{{"timestamp", "2003-10-11T22:14:15Z"},
                    {"@timestamp", "2003-10-11T22:14:15Z"},
                    {"host", "host"},
                    {"program", "app"},
                    {"pid", "12"},
                    {"msgid", "ID1"},
                    {"message", "text"}}));
  // "1 " followed by no 5424 header is ordinary text
  EXPECT_EQ(parse("1 apple a day"), (Fields{{"message", "1 apple a day"}}));
}

TEST_F(SyslogParserTest, MalformedRfc5424LeavesNoPartialFields) {
  // unterminated structured data: nothing of the header is kept, the text after <PRI> is the message
  EXPECT_EQ(parse("<14>1 2003-10-11T22:14:15Z host app - - [x a=\"b] msg"),
            (Fields{{"priority", "14"},
                    {"facility", "user"},
                    {"severity", "info"},
                    {"message", "1 2003-10-11T22:14:15Z host app - - [x a=\"b] msg"}}));
  // structured data must be followed by SP or the end
  EXPECT_EQ(field(parse("<14>1 - h a - - [x a=\"b\"]msg"), "host"), "<absent>");
}

// ---------------------------------------------------------------- PRI decoding

TEST_F(SyslogParserTest, EveryPriorityDecodes) {
  const char* facilities[] = {"kern",   "user",   "mail",   "daemon", "auth",    "syslog",   "lpr",
                              "news",   "uucp",   "cron",   "authpriv", "ftp",   "ntp",      "security",
                              "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
                              "local5", "local6", "local7"};
  const char* severities[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
  parser.default_year = 2003;
  for (int pri = 0; pri <= 191; ++pri) {
    Fields f = parse("<" + std::to_string(pri) + ">Oct 11 22:14:15 host app: x");
    EXPECT_EQ(field(f, "priority"), std::to_string(pri));
    EXPECT_EQ(field(f, "facility"), facilities[pri / 8]) << pri;
    EXPECT_EQ(field(f, "severity"), severities[pri % 8]) << pri;
    EXPECT_EQ(field(f, "host"), "host") << pri;
  }
}

TEST_F(SyslogParserTest, InvalidPriorityIsText) {
  for (std::string line : {"<192>Oct 11 22:14:15 host app: x", "<>Oct 11 22:14:15 host app: x",
                           "<1234>Oct 11 22:14:15 host app: x", "<12 Oct 11 22:14:15 host app: x"}) {
    EXPECT_EQ(parse(line), (Fields{{"message", line}}));
  }
  // a valid <PRI> before text of no known shape
  EXPECT_EQ(parse("<13>hello world"),
            (Fields{{"priority", "13"}, {"facility", "user"}, {"severity", "notice"},
                    {"message", "hello world"}}));
}

// ---------------------------------------------------------------- Apache error log

TEST_F(SyslogParserTest, ApacheErrorLog) {
  EXPECT_EQ(parse("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
                  "/etc/httpd/conf/workers2.properties\r"),
            (Fields{{"severity", "notice"},
                    {"timestamp", "Sun Dec 04 04:47:44 2005"},
                    {"@timestamp", "2005-12-04T04:47:44Z"},
                    {"message", "workerEnv.init() ok /etc/httpd/conf/workers2.properties"}}));
  Fields f = parse("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6");
  EXPECT_EQ(field(f, "severity"), "err");
  EXPECT_EQ(field(f, "message"), "mod_jk child workerEnv in error state 6");
  f = parse("[Mon Dec 05 11:05:08 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: "
            "/var/www/html/");
  EXPECT_EQ(field(f, "severity"), "err");
  EXPECT_EQ(field(f, "message"),
            "[client 222.166.160.184] Directory index forbidden by rule: /var/www/html/");
}

TEST_F(SyslogParserTest, ApacheErrorLog24) {
  Fields f = parse("[Wed Oct 11 14:32:52.123456 2000] [core:warn] [pid 35708:tid 4328636416] [client "
                   "72.15.99.187] File does not exist: /usr/local/apache2/htdocs/favicon.ico");
  EXPECT_EQ(field(f, "severity"), "warning");
  EXPECT_EQ(field(f, "@timestamp"), "2000-10-11T14:32:52.123456Z");
  EXPECT_EQ(field(f, "message"),
            "[pid 35708:tid 4328636416] [client 72.15.99.187] File does not exist: "
            "/usr/local/apache2/htdocs/favicon.ico");
  EXPECT_EQ(field(parse("[Wed Oct 11 14:32:52 2000] [ssl:trace3] x"), "severity"), "debug");
  EXPECT_EQ(field(parse("[Wed Oct 11 14:32:52 2000] [crit] x"), "severity"), "crit");
  // an unknown level stays in the message
  EXPECT_EQ(parse("[Wed Oct 11 14:32:52 2000] [loud] x"), (Fields{{"timestamp", "Wed Oct 11 14:32:52 2000"},
                                                                  {"@timestamp", "2000-10-11T14:32:52Z"},
                                                                  {"message", "[loud] x"}}));
}

// ---------------------------------------------------------------- access logs

TEST_F(SyslogParserTest, AccessLogCommon) {
  const std::string line =
      "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 2326";
  EXPECT_EQ(parse(line), (Fields{{"message", line},
                                 {"timestamp", "10/Oct/2000:13:55:36 -0700"},
                                 {"@timestamp", "2000-10-10T20:55:36Z"},
                                 {"c-ip", "127.0.0.1"},
                                 {"cs-username", "frank"},
                                 {"cs-method", "GET"},
                                 {"cs-uri", "/apache_pb.gif"},
                                 {"cs-uri-stem", "/apache_pb.gif"},
                                 {"cs-version", "HTTP/1.0"},
                                 {"sc-status", "200"},
                                 {"sc-bytes", "2326"}}));
  EXPECT_EQ(type_of("sc-status"), ValueType::Number);
  EXPECT_EQ(type_of("sc-bytes"), ValueType::Number);
}

TEST_F(SyslogParserTest, AccessLogCombinedWithQuery) {
  const std::string line =
      "203.0.113.9 - - [10/Oct/2000:13:55:36 +0000] \"GET /a/b.php?id=1%27+OR+1=1&x=y HTTP/1.1\" 404 - "
      "\"http://www.example.com/start.html\" \"Mozilla/4.08 [en] (Win98; I ;Nav)\"";
  EXPECT_EQ(parse(line), (Fields{{"message", line},
                                 {"timestamp", "10/Oct/2000:13:55:36 +0000"},
                                 {"@timestamp", "2000-10-10T13:55:36Z"},
                                 {"c-ip", "203.0.113.9"},
                                 {"cs-method", "GET"},
                                 {"cs-uri", "/a/b.php?id=1%27+OR+1=1&x=y"},
                                 {"cs-uri-stem", "/a/b.php"},
                                 {"cs-uri-query", "id=1%27+OR+1=1&x=y"},
                                 {"cs-version", "HTTP/1.1"},
                                 {"sc-status", "404"},
                                 {"cs-referer", "http://www.example.com/start.html"},
                                 {"cs-user-agent", "Mozilla/4.08 [en] (Win98; I ;Nav)"}}));
}

TEST_F(SyslogParserTest, AccessLogIpv6AndEmptyReferer) {
  Fields f = parse("2001:db8::1 - - [01/Feb/2024:00:00:01 +0100] \"POST /login HTTP/2.0\" 302 0 \"-\" "
                   "\"curl/8.5.0\"");
  EXPECT_EQ(field(f, "c-ip"), "2001:db8::1");
  EXPECT_EQ(field(f, "@timestamp"), "2024-01-31T23:00:01Z");
  EXPECT_EQ(field(f, "cs-method"), "POST");
  EXPECT_EQ(field(f, "cs-uri-stem"), "/login");
  EXPECT_EQ(field(f, "cs-uri-query"), "<absent>");
  EXPECT_EQ(field(f, "sc-bytes"), "0");
  EXPECT_EQ(field(f, "cs-referer"), "<absent>");
  EXPECT_EQ(field(f, "cs-user-agent"), "curl/8.5.0");
  EXPECT_EQ(field(f, "cs-username"), "<absent>");
}

TEST_F(SyslogParserTest, AccessLogEscapesAndOddRequests) {
  // Apache writes '"' and '\' inside quoted fields as \" and \\ .
  Fields f = parse(R"(10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "GET /q?s=\"x\" HTTP/1.1" 200 5 "-" )"
                   R"("sqlmap/1.7 \"test\" C:\\dir")");
  EXPECT_EQ(field(f, "cs-uri"), "/q?s=\"x\"");
  EXPECT_EQ(field(f, "cs-uri-query"), "s=\"x\"");
  EXPECT_EQ(field(f, "cs-user-agent"), "sqlmap/1.7 \"test\" C:\\dir");
  // a request that is no request line gives no request fields, the rest stays
  f = parse("10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] \"-\" 408 0 \"-\" \"-\"");
  EXPECT_EQ(field(f, "cs-method"), "<absent>");
  EXPECT_EQ(field(f, "cs-uri"), "<absent>");
  EXPECT_EQ(field(f, "sc-status"), "408");
  EXPECT_EQ(field(f, "cs-user-agent"), "<absent>");
  f = parse(R"(10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] "\x16\x03\x01\x02" 400 226 "-" "-")");
  EXPECT_EQ(field(f, "cs-method"), "<absent>");
  EXPECT_EQ(field(f, "sc-status"), "400");
  // HTTP/0.9: no version; an empty query after '?'
  f = parse("10.1.1.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /x?\" 200 5");
  EXPECT_EQ(field(f, "cs-uri"), "/x?");
  EXPECT_EQ(field(f, "cs-uri-stem"), "/x");
  EXPECT_EQ(field(f, "cs-uri-query"), "");
  EXPECT_EQ(field(f, "cs-version"), "<absent>");
}

TEST_F(SyslogParserTest, AccessLogInsideSyslog) {
  parser.default_year = 2000;
  Fields f = parse("<190>Oct 10 13:55:36 web1 nginx: 10.0.0.5 - alice [10/Oct/2000:13:55:36 -0700] "
                   "\"GET /index.html HTTP/1.1\" 200 612 \"-\" \"curl/7.68.0\"");
  EXPECT_EQ(f, (Fields{{"priority", "190"},
                       {"facility", "local7"},
                       {"severity", "info"},
                       {"timestamp", "Oct 10 13:55:36"},
                       {"@timestamp", "2000-10-10T13:55:36Z"},
                       {"host", "web1"},
                       {"program", "nginx"},
                       {"tag", "nginx"},
                       {"message",
                        "10.0.0.5 - alice [10/Oct/2000:13:55:36 -0700] \"GET /index.html HTTP/1.1\" 200 612 "
                        "\"-\" \"curl/7.68.0\""},
                       {"c-ip", "10.0.0.5"},
                       {"cs-username", "alice"},
                       {"cs-method", "GET"},
                       {"cs-uri", "/index.html"},
                       {"cs-uri-stem", "/index.html"},
                       {"cs-version", "HTTP/1.1"},
                       {"sc-status", "200"},
                       {"sc-bytes", "612"},
                       {"cs-user-agent", "curl/7.68.0"}}));
}

TEST_F(SyslogParserTest, NotAnAccessLog) {
  for (std::string line : {"1.2.3.4 - - [yesterday] \"GET / HTTP/1.1\" 200 5",
                           "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 20 5",
                           "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1 200 5",
                           "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.1\" 200 5x",
                           "hello - - [10/Oct/2000:13:55:36] x"}) {
    EXPECT_EQ(parse(line), (Fields{{"message", line}}));
  }
}

// ---------------------------------------------------------------- robustness

TEST_F(SyslogParserTest, BinaryInputIsRejected) {
  std::string with_nul("Oct 11 22:14:15 host app: ab\0cd", 31);
  Status status = parser.parse(with_nul, ev);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("NUL byte at offset 28"), std::string::npos) << status.message();
  EXPECT_EQ(ev.value_count(), 0u);
  EXPECT_EQ(ev.raw(), with_nul);

  status = parser.parse("\x7f" "ELF\x02\x01\x01\x03\x04\x05\x06", ev);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("control characters"), std::string::npos) << status.message();
  EXPECT_EQ(ev.value_count(), 0u);

  // a few control bytes in a long text line are text: tabs, colour escapes, a stray BEL
  Fields f = parse("Oct 11 22:14:15 host app: \x1b[31mred\x1b[0m\tcol\x07 and more words to make it text");
  EXPECT_EQ(field(f, "message"), "\x1b[31mred\x1b[0m\tcol\x07 and more words to make it text");
}

TEST_F(SyslogParserTest, InvalidUtf8IsText) {
  parser.default_year = 2005;
  Fields f = parse("Jun 14 15:16:01 combo app: caf\xE9 \xFF\xFE \xC3( end");
  EXPECT_EQ(field(f, "message"), "caf\xE9 \xFF\xFE \xC3( end");
  EXPECT_EQ(field(parse("\xC0\xAF\xED\xA0\x80"), "message"), "\xC0\xAF\xED\xA0\x80");
}

TEST_F(SyslogParserTest, EmptyAndBlankLines) {
  EXPECT_EQ(parse(""), (Fields{{"message", ""}}));
  EXPECT_EQ(parse("\r"), (Fields{{"message", ""}}));
  EXPECT_EQ(parse("   "), (Fields{{"message", "   "}}));
}

TEST_F(SyslogParserTest, VeryLongLines) {
  parser.default_year = 2005;
  std::string text(4 << 20, 'x');
  Fields f = parse("Jun 14 15:16:01 combo app[1]: " + text);
  EXPECT_EQ(field(f, "message"), text);
  // long runs of what each shape starts with end in plain text, not in a crash or a stall
  for (char c : {'[', '<', '1', 'a', '"', ' '}) {
    std::string line(1 << 20, c);
    f = parse(line);
    EXPECT_EQ(f.back().first, "message") << c;
    EXPECT_EQ(f.back().second.size(), line.size()) << c;
  }
  std::string long_tag = "Jun 14 15:16:01 combo " + std::string(1 << 20, 'a') + ": x";
  EXPECT_EQ(field(parse(long_tag), "message"), "x");
  std::string long_sd = "<14>1 - h a - - [x@1 v=\"" + std::string(1 << 20, '\\') + "\"] m";
  EXPECT_EQ(field(parse(long_sd), "sd.x@1.v"), std::string(1 << 19, '\\'));
}

TEST_F(SyslogParserTest, FieldsReachTheirIdsThroughThePathIndex) {
  PathIndex index;
  uint32_t host = index.field_id("host"), sd = index.field_id("sd.origin.ip"), uri = index.field_id("cs-uri");
  index.add_path("host", host);
  index.add_path("sd.origin.ip", sd);
  index.add_path("cs-uri", uri);
  Event indexed(&index);
  ASSERT_TRUE(parser.parse("<14>1 - web1 httpd - - [origin ip=\"192.0.2.1\"] 1.2.3.4 - - "
                           "[10/Oct/2000:13:55:36 -0700] \"GET /x HTTP/1.1\" 200 5",
                           indexed)
                  .ok());
  ASSERT_NE(indexed.first(host), Event::end);
  EXPECT_EQ(indexed.value(indexed.link_value(indexed.first(host))), "web1");
  ASSERT_NE(indexed.first(sd), Event::end);
  EXPECT_EQ(indexed.value(indexed.link_value(indexed.first(sd))), "192.0.2.1");
  ASSERT_NE(indexed.first(uri), Event::end);
  EXPECT_EQ(indexed.value(indexed.link_value(indexed.first(uri))), "/x");
  // the next line replaces every value
  ASSERT_TRUE(parser.parse("plain text", indexed).ok());
  EXPECT_FALSE(indexed.has(host));
  EXPECT_FALSE(indexed.has(uri));
}

// ---------------------------------------------------------------- the loghub samples

TEST_F(SyslogParserTest, EveryLoghubLineParses) {
  const std::filesystem::path dir =
      std::filesystem::path(SOCD_SOURCE_DIR) / ".." / "shared" / "corpus" / "loghub";
  if (!std::filesystem::exists(dir / "OpenSSH_2k.log"))
    GTEST_SKIP() << "../shared/corpus/loghub is absent (" << dir << ")";
  parser.default_year = 2005;
  struct Expectation {
    const char* file;
    std::vector<const char*> always;  // fields every line must have
  };
  const Expectation files[] = {
      {"OpenSSH_2k.log", {"timestamp", "@timestamp", "host", "program", "pid", "message"}},
      {"Linux_2k.log", {"timestamp", "@timestamp", "host", "message"}},
      {"Apache_2k.log", {"timestamp", "@timestamp", "severity", "message"}}};
  for (const Expectation& expect : files) {
    std::ifstream in(dir / expect.file, std::ios::binary);
    ASSERT_TRUE(in) << dir / expect.file;
    std::string line;
    size_t lines = 0, with_program = 0;
    while (std::getline(in, line)) {
      ++lines;
      Status status = parser.parse(line, ev);
      ASSERT_TRUE(status.ok()) << expect.file << ":" << lines << ": " << status.message();
      Fields f;
      for (size_t i = 0; i < ev.value_count(); ++i) f.emplace_back(ev.path(i), ev.value(i));
      for (const char* name : expect.always)
        ASSERT_NE(field(f, name), "<absent>")
            << expect.file << ":" << lines << ": no " << name << " in " << line;
      with_program += field(f, "program") != "<absent>";
      ASSERT_EQ(field(f, "message").find('\r'), std::string::npos) << expect.file << ":" << lines;
    }
    EXPECT_EQ(lines, 2000u) << expect.file;
    if (std::string_view(expect.file) == "Linux_2k.log") {
      EXPECT_EQ(with_program, lines - 1);  // all but the "combo  -- root[2421]: ROOT LOGIN ON tty2" line
    }
  }
}

}  // namespace
}  // namespace socd
