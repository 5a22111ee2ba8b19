// The limits hostile input cannot pass, one by one: JSON nesting depth and fields per event (the parsers), a
// regex's repetition weight and rules testing too many values (the rule compiler), a regex that backtracks
// without end (the matcher gives up and counts it), and on a TCP listener a slow sender, a silent connection
// and a burst of connections (closed or refused, and counted), while a well-behaved sender is served.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/sigma.h"
#include "support/syslog_test_support.h"

namespace socd {
namespace {

using namespace std::chrono_literals;

std::string padded(std::string s) {
  s.append(64, '\0');
  return s;
}

Status parse(EventParser& parser, const std::string& line) {
  std::string buffer = padded(line);
  Event ev;
  return parser.parse(std::string_view(buffer.data(), line.size()), ev);
}

TEST(InputLimits, JsonDeeperThanTheLimitIsRefusedAsADepthFailure) {
  ParseLimits limits;
  limits.max_depth = 10;
  EventParser parser(InputFormat::Auto, limits);
  std::string ok, deep;
  for (int i = 0; i < 8; ++i) ok += "{\"a\":";
  ok += "1" + std::string(8, '}');
  EXPECT_TRUE(parse(parser, ok).ok());
  EXPECT_EQ(parser.failure(), ParseFailure::none);
  for (int i = 0; i < 100'000; ++i) deep += "{\"a\":";
  deep += "1" + std::string(100'000, '}');
  Status st = parse(parser, deep);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(parser.failure(), ParseFailure::depth);
  EXPECT_NE(st.message().find("max-json-depth"), std::string::npos) << st.message();
  std::string arrays = "{\"a\":" + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  EXPECT_FALSE(parse(parser, arrays).ok());
  EXPECT_EQ(parser.failure(), ParseFailure::depth);
}

TEST(InputLimits, MoreFieldsThanTheLimitAreRefusedAsAFieldsFailure) {
  ParseLimits limits;
  limits.max_fields = 100;
  EventParser parser(InputFormat::Auto, limits);
  auto event_with = [](int fields) {
    std::string s = "{";
    for (int i = 0; i < fields; ++i) s += (i ? "," : "") + std::string("\"k") + std::to_string(i) + "\":" + std::to_string(i);
    return s + "}";
  };
  EXPECT_TRUE(parse(parser, event_with(100)).ok());
  Status st = parse(parser, event_with(101));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(parser.failure(), ParseFailure::fields);
  EXPECT_NE(st.message().find("max-event-fields"), std::string::npos);
  // Invalid UTF-8 and a NUL byte are malformed, not a limit.
  EXPECT_FALSE(parse(parser, "{\"a\":\"\xff\xfe\"}").ok());
  EXPECT_EQ(parser.failure(), ParseFailure::malformed);
  EXPECT_FALSE(parse(parser, std::string("{\"a\":\"x\0y\"}", 11)).ok());
  EXPECT_EQ(parser.failure(), ParseFailure::malformed);
  EXPECT_FALSE(parse(parser, "   ").ok());
  EXPECT_EQ(parser.failure(), ParseFailure::empty);
}

TEST(InputLimits, RegexComplexityMultipliesNestedCountedRepeats) {
  EXPECT_EQ(regex_complexity("abc").repeat_weight, 3u);
  EXPECT_EQ(regex_complexity("a{100}").repeat_weight, 100u);
  EXPECT_EQ(regex_complexity("(a{100}){100}").repeat_weight, 10'000u);
  EXPECT_EQ(regex_complexity("((a{100}){100}){100}").repeat_weight, 1'000'000u);
  EXPECT_EQ(regex_complexity("\\d{1,3}\\.\\d{1,3}").repeat_weight, 7u);
  EXPECT_EQ(regex_complexity("[a-z{}]{2}x").repeat_weight, 3u);  // braces in a class are no repeat
  EXPECT_EQ(regex_complexity("\\x{41}{3}").repeat_weight, 3u);
  EXPECT_EQ(regex_complexity("(((a)))").nesting, 3u);
}

// Compiles Sigma `text` with `options`; returns the diagnostics.
std::vector<Diagnostic> compile(const std::string& text, const CompileOptions& options, size_t& rules) {
  RuleLoad load;
  load_sigma_text("bomb.yml", text, FieldMapping{}, load);
  EXPECT_EQ(load.skipped, 0u);
  std::vector<Diagnostic> diagnostics;
  auto set = RuleSet::compile(std::move(load.rules), FieldMapping{}, options, diagnostics);
  rules = set->size();
  return diagnostics;
}

std::string rule(const std::string& id, const std::string& selection) {
  return "title: t\nid: " + id + "\nstatus: test\nlogsource:\n  product: test\ndetection:\n  selection:\n" +
         selection + "  condition: selection\nlevel: low\n";
}

TEST(InputLimits, ARuleOverACompileLimitIsLeftOutWithItsFileAndLine) {
  std::string text = rule("00000000-0000-4000-8000-000000000001", "    msg|re: '((a{100}){100}){100}'\n") + "---\n" +
                     rule("00000000-0000-4000-8000-000000000002", "    msg|contains: fine\n") + "---\n" +
                     rule("00000000-0000-4000-8000-000000000003", "    msg|re: '" + std::string(9000, 'a') + "'\n");
  std::string many = "    msg:\n";
  for (int i = 0; i < 50; ++i) many += "      - v" + std::to_string(i) + "\n";
  text += "---\n" + rule("00000000-0000-4000-8000-000000000004", many);
  CompileOptions options;
  options.max_patterns_per_rule = 40;
  size_t rules = 0;
  auto diags = compile(text, options, rules);
  EXPECT_EQ(rules, 1u);  // only the fine one
  std::vector<std::string> reasons;
  for (const auto& d : diags)
    if (d.reason.rfind("limit-", 0) == 0) {
      reasons.push_back(d.reason);
      EXPECT_EQ(d.file, "bomb.yml");
      EXPECT_GT(d.line, 0);
    }
  EXPECT_EQ(reasons, (std::vector<std::string>{"limit-regex-complexity", "limit-regex-complexity",
                                               "limit-patterns-per-rule"}));
  // Without the limits all four compile.
  CompileOptions none;
  none.max_patterns_per_rule = 0;
  none.max_regex_bytes = 0;
  none.max_regex_repeat = 0;
  compile(rule("00000000-0000-4000-8000-000000000005", "    msg|re: '(a{10}){10}'\n"), none, rules);
  EXPECT_EQ(rules, 1u);
}

TEST(InputLimits, ABacktrackingRegexGivesUpAtTheMatchLimitAndIsCounted) {
  CompileOptions options;
  options.regex_match_limit = 10'000;
  RuleLoad load;
  // The literal makes the rule a candidate (the prefilter's necessary pattern), so PCRE2 runs the regex.
  load_sigma_text("redos.yml",
                  "title: t\nid: 00000000-0000-4000-8000-000000000006\nstatus: test\nlogsource:\n  product: test\n"
                  "detection:\n  trigger:\n    msg|contains: redos-trigger\n  redos:\n    msg|re: '(a|aa)+$'\n"
                  "  condition: trigger and redos\nlevel: low\n",
                  FieldMapping{}, load);
  std::vector<Diagnostic> diags;
  auto set = RuleSet::compile(std::move(load.rules), FieldMapping{}, options, diags);
  ASSERT_EQ(set->size(), 1u);
  Matcher matcher(set);
  Event ev(&set->paths());
  EventParser parser(InputFormat::Json);
  std::string hostile = padded("{\"msg\":\"redos-trigger " + std::string(60, 'a') + "b\"}");
  ASSERT_TRUE(parser.parse(std::string_view(hostile.data(), hostile.size() - 64), ev).ok());
  std::vector<uint32_t> matched;
  auto start = std::chrono::steady_clock::now();
  matcher.match(ev, matched);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_TRUE(matched.empty());
  EXPECT_EQ(matcher.regex_limit_hits(), 1u);
  std::string benign = padded("{\"msg\":\"redos-trigger aaaa\"}");
  ASSERT_TRUE(parser.parse(std::string_view(benign.data(), benign.size() - 64), ev).ok());
  matched.clear();
  matcher.match(ev, matched);
  EXPECT_EQ(matched.size(), 1u);
  EXPECT_EQ(matcher.regex_limit_hits(), 1u);
}

// A TCP listener with small limits.
std::unique_ptr<Source> listener(ListenerLimits limits) {
  limits.batch_flush_ms = 5;
  auto s = make_syslog_tcp_source("127.0.0.1:0", limits, nullptr);
  EXPECT_TRUE(s);
  return std::move(*s);
}

TEST(InputLimits, ASlowSenderIsClosedAtTheFrameTimeoutAndASilentOneAtTheIdleTimeout) {
  ListenerLimits limits;
  limits.frame_timeout_seconds = 1;
  limits.idle_timeout_seconds = 2;
  auto source = listener(limits);
  test::CollectingSink sink;
  ASSERT_TRUE(source->start(sink).ok());
  uint16_t port = test::port_of(*source);
  int slow = test::tcp_connect("127.0.0.1", port), silent = test::tcp_connect("127.0.0.1", port),
      good = test::tcp_connect("127.0.0.1", port);
  ASSERT_GE(slow, 0);
  ASSERT_GE(silent, 0);
  ASSERT_GE(good, 0);
  // The slow sender: a byte every 300 ms, never a whole message; the good one: a message every 300 ms.
  auto start = std::chrono::steady_clock::now();
  size_t sent_good = 0;
  bool slow_closed = false;
  while (std::chrono::steady_clock::now() - start < 2500ms) {
    if (!slow_closed && !test::send_all(slow, "x")) slow_closed = true;
    ASSERT_TRUE(test::send_all(good, "<13>good message " + std::to_string(sent_good++) + "\n"));
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_TRUE(test::closed_by_peer(slow, 3s));
  EXPECT_TRUE(test::closed_by_peer(silent, 3s));
  EXPECT_EQ(source->counters().slow_closed.load(), 1u);
  EXPECT_EQ(source->counters().idle_closed.load(), 1u);
  EXPECT_EQ(sink.wait_for(sent_good + 1), sent_good + 1);  // every good message, and the slow one's partial
  ::close(slow);
  ::close(silent);
  ::close(good);
  source->stop();
}

TEST(InputLimits, ConnectionsOverTheLimitAreRefusedAndCounted) {
  ListenerLimits limits;
  limits.max_connections = 4;
  auto source = listener(limits);
  test::CollectingSink sink;
  ASSERT_TRUE(source->start(sink).ok());
  uint16_t port = test::port_of(*source);
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) fds.push_back(test::tcp_connect("127.0.0.1", port));
  EXPECT_TRUE(test::eventually([&] { return source->counters().refused.load() == 16; }))
      << source->counters().refused.load();
  EXPECT_EQ(source->counters().connections.load(), 4u);
  ASSERT_TRUE(test::send_all(fds[0], "<13>still served\n"));
  EXPECT_EQ(sink.wait_for(1), 1u);
  for (int fd : fds) ::close(fd);
  source->stop();
}

}  // namespace
}  // namespace socd
