// A syslog message that is a JSON object (RFC 5424, RFC 3164, after an "@cee:" cookie) gives its fields to the
// event beside the syslog ones, through the JSON-line walker: dotted paths, arrays, limits and all.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "socd/event_parser.h"

namespace socd {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

class SyslogJsonPayloadTest : public ::testing::Test {
protected:
  // Parses `line` as the line reader hands it over: followed by the JSON parser's padding.
  Status try_parse(EventParser& with, std::string_view line, Event& into) {
    buffer_.assign(line);
    buffer_.append(JsonEventParser::padding(), '\0');
    return with.parse(std::string_view(buffer_.data(), line.size()), into);
  }
  // Every (path, value) of the event, in order; the line must parse.
  Fields parse(std::string_view line) {
    Status st = try_parse(parser, line, ev);
    EXPECT_TRUE(st.ok()) << st.message() << "\n  line: " << line;
    EXPECT_EQ(parser.failure(), ParseFailure::none);
    Fields fields;
    for (size_t i = 0; i < ev.value_count(); ++i) fields.emplace_back(ev.path(i), ev.value(i));
    return fields;
  }
  // The fields the syslog parser alone gives the line: what an event whose payload is no JSON must hold.
  Fields syslog_only(std::string_view line) {
    SyslogParser alone;
    alone.default_year = 2026;
    Event plain;
    plain.set_keep_paths(true);
    EXPECT_TRUE(alone.parse(line, plain).ok());
    Fields fields;
    for (size_t i = 0; i < plain.value_count(); ++i) fields.emplace_back(plain.path(i), plain.value(i));
    return fields;
  }
  ValueType type_of(std::string_view path) {
    for (size_t i = 0; i < ev.value_count(); ++i)
      if (ev.path(i) == path) return ev.type(i);
    ADD_FAILURE() << "no value at " << path;
    return ValueType::Null;
  }

  void SetUp() override { parser.syslog().default_year = 2026; }

  EventParser parser{InputFormat::Syslog};
  Event ev;
  std::string buffer_;
};

TEST_F(SyslogJsonPayloadTest, Rfc5424MessageFieldsFollowTheHeaderFields) {
  EXPECT_EQ(parse(R"(<134>1 2026-11-23T10:00:00Z host app 12 ID7 - {"user":"alice","action":"login","n":3})"),
            (Fields{{"priority", "134"},
                    {"facility", "local0"},
                    {"severity", "info"},
                    {"timestamp", "2026-11-23T10:00:00Z"},
                    {"@timestamp", "2026-11-23T10:00:00Z"},
                    {"host", "host"},
                    {"program", "app"},
                    {"pid", "12"},
                    {"msgid", "ID7"},
                    {"message", R"({"user":"alice","action":"login","n":3})"},
                    {"user", "alice"},
                    {"action", "login"},
                    {"n", "3"}}));
  EXPECT_EQ(type_of("n"), ValueType::Number);
  EXPECT_EQ(type_of("user"), ValueType::String);
  // with structured data and a BOM before the message
  Fields sd = parse("<134>1 - host app - - [origin ip=\"10.0.0.5\"] \xEF\xBB\xBF{\"user\":\"bob\"}");
  EXPECT_EQ(sd, (Fields{{"priority", "134"},
                        {"facility", "local0"},
                        {"severity", "info"},
                        {"host", "host"},
                        {"program", "app"},
                        {"sd.origin.ip", "10.0.0.5"},
                        {"message", R"({"user":"bob"})"},
                        {"user", "bob"}}));
}

TEST_F(SyslogJsonPayloadTest, Rfc3164MessageWithAndWithoutTag) {
  EXPECT_EQ(parse(R"(<13>Nov 23 10:00:00 host app[12]: {"user":"alice"})"),
            (Fields{{"priority", "13"},
                    {"facility", "user"},
                    {"severity", "notice"},
                    {"timestamp", "Nov 23 10:00:00"},
                    {"@timestamp", "2026-11-23T10:00:00Z"},
                    {"host", "host"},
                    {"program", "app"},
                    {"tag", "app"},
                    {"pid", "12"},
                    {"message", R"({"user":"alice"})"},
                    {"user", "alice"}}));
  // no PRI, no tag, blanks around the object, CRLF
  EXPECT_EQ(parse("Nov 23 10:00:00 host   {\"user\": \"alice\", \"ok\": false}  \r"),
            (Fields{{"timestamp", "Nov 23 10:00:00"},
                    {"@timestamp", "2026-11-23T10:00:00Z"},
                    {"host", "host"},
                    {"message", "{\"user\": \"alice\", \"ok\": false}  "},
                    {"user", "alice"},
                    {"ok", "false"}}));
  EXPECT_EQ(type_of("ok"), ValueType::Bool);
}

TEST_F(SyslogJsonPayloadTest, CeeCookieIsSkippedAndTheMessageKeepsIt) {
  for (std::string_view cookie : {"@cee:", "@cee: ", "@cee:   "}) {
    std::string message = std::string(cookie) + R"({"user":"alice","action":"login"})";
    Fields fields = parse("<13>Nov 23 10:00:00 host app[12]: " + message);
    ASSERT_GE(fields.size(), 3u);
    EXPECT_EQ(fields[fields.size() - 3], (std::pair<std::string, std::string>{"message", message}));
    EXPECT_EQ(fields[fields.size() - 2], (std::pair<std::string, std::string>{"user", "alice"}));
    EXPECT_EQ(fields.back(), (std::pair<std::string, std::string>{"action", "login"}));
  }
  // a cookie must lead the message; anything else before the object leaves the message text
  for (std::string_view line : {R"(<13>Nov 23 10:00:00 host app[12]: x @cee: {"user":"alice"})",
                                R"(<13>Nov 23 10:00:00 host app[12]: @cees: {"user":"alice"})",
                                R"(<13>Nov 23 10:00:00 host app[12]: login {"user":"alice"})"}) {
    EXPECT_EQ(parse(line), syslog_only(line)) << line;
  }
}

TEST_F(SyslogJsonPayloadTest, NestedObjectsAndArraysGetTheJsonLinePaths) {
  const std::string object =
      R"({"session":{"src":{"ip":"198.51.100.7","port":443}},"tags":["web","mfa"],"process.name":"sshd",)"
      R"("list":[{"k":1},{"k":2}],"none":null})";
  Fields fields = parse("<134>1 - host app - - - " + object);
  ASSERT_GE(fields.size(), 8u);
  EXPECT_EQ(Fields(fields.end() - 8, fields.end()), (Fields{{"session.src.ip", "198.51.100.7"},
                                                            {"session.src.port", "443"},
                                                            {"tags", "web"},
                                                            {"tags", "mfa"},
                                                            {"process.name", "sshd"},
                                                            {"list.k", "1"},
                                                            {"list.k", "2"},
                                                            {"none", ""}}));
  EXPECT_EQ(type_of("none"), ValueType::Null);

  // Rules reach them by the same field ids as in a JSON line, nested or dotted.
  PathIndex index;
  const uint32_t ip = index.field_id("session.src.ip"), tags = index.field_id("tags"),
                 process = index.field_id("process.name"), k = index.field_id("list.k");
  index.add_path("session.src.ip", ip);
  index.add_path("tags", tags);
  index.add_path("process.name", process);
  index.add_path("list.k", k);
  auto values = [](const Event& e, uint32_t field) {
    std::vector<std::string> out;
    for (uint32_t l = e.first(field); l != Event::end; l = e.next(l)) out.emplace_back(e.value(e.link_value(l)));
    return out;
  };
  Event from_syslog(&index), from_json(&index);
  ASSERT_TRUE(try_parse(parser, "<134>1 - host app - - - " + object, from_syslog).ok());
  EventParser json(InputFormat::Json);
  ASSERT_TRUE(try_parse(json, object, from_json).ok());
  for (uint32_t field : {ip, tags, process, k}) {
    EXPECT_FALSE(values(from_syslog, field).empty()) << index.field_name(field);
    EXPECT_EQ(values(from_syslog, field), values(from_json, field)) << index.field_name(field);
  }
  EXPECT_EQ(values(from_syslog, tags), (std::vector<std::string>{"web", "mfa"}));
}

TEST_F(SyslogJsonPayloadTest, InvalidJsonStaysAPlainMessageAndTheLineIsAnEvent) {
  for (std::string_view message : {
           R"({"user":"alice" "action":"login"})",  // no comma
           R"({"user":"alice","n":12abc})",          // fails after a field was added
           R"({"user":"alice"} {"action":"login"})", // two objects
           "{not json}",
           "{\"user\":\"\xff\xfe\"}",                // invalid UTF-8
           "{}}",
           "{ }",                                    // valid and empty: no fields either
       }) {
    std::string line = "<13>Nov 23 10:00:00 host app[12]: " + std::string(message);
    EXPECT_EQ(parse(line), syslog_only(line)) << line;
    std::string rfc5424 = "<134>1 - host app - - - " + std::string(message);
    EXPECT_EQ(parse(rfc5424), syslog_only(rfc5424)) << rfc5424;
  }
  // and the parser is fine for the next line
  EXPECT_EQ(parse(R"(<13>Nov 23 10:00:00 host app[12]: {"user":"alice"})").back(),
            (std::pair<std::string, std::string>{"user", "alice"}));
}

TEST_F(SyslogJsonPayloadTest, KeysNamedLikeSyslogFieldsGoUnderPayload) {
  Fields fields = parse(
      R"(<134>1 2026-11-23T10:00:00Z web01 app 12 - [origin ip="10.0.0.5"] )"
      R"({"host":"dc01","message":"hi","severity":"high","sd":{"origin":{"ip":"1.2.3.4"}},"sd.x":"y",)"
      R"("fromhost-ip":"192.0.2.9","pid":[1,2],"hostname":"h","host.name":"n","program":{"name":"p"}})");
  Fields payload(fields.begin() + 10, fields.end());
  EXPECT_EQ(payload, (Fields{{"payload.host", "dc01"},
                             {"payload.message", "hi"},
                             {"payload.severity", "high"},
                             {"payload.sd.origin.ip", "1.2.3.4"},
                             {"payload.sd.x", "y"},
                             {"payload.fromhost-ip", "192.0.2.9"},
                             {"payload.pid", "1"},
                             {"payload.pid", "2"},
                             {"hostname", "h"},
                             {"host.name", "n"},
                             {"program.name", "p"}}));
  // The header's fields hold only the header's values, for rules as much as for the output.
  PathIndex index;
  const uint32_t host = index.field_id("host"), moved = index.field_id("payload.host"),
                 sd = index.field_id("sd.origin.ip"), message = index.field_id("message");
  index.add_path("host", host);
  index.add_path("payload.host", moved);
  index.add_path("sd.origin.ip", sd);
  index.add_path("message", message);
  Event indexed(&index);
  ASSERT_TRUE(try_parse(parser,
                        R"(<134>1 - web01 app - - [origin ip="10.0.0.5"] )"
                        R"({"host":"dc01","sd":{"origin":{"ip":"1.2.3.4"}},"message":"hi"})",
                        indexed)
                  .ok());
  auto only = [&](uint32_t field) {
    uint32_t l = indexed.first(field);
    EXPECT_NE(l, Event::end) << index.field_name(field);
    if (l == Event::end) return std::string("<absent>");
    EXPECT_EQ(indexed.next(l), Event::end) << index.field_name(field) << " has more than one value";
    return std::string(indexed.value(indexed.link_value(l)));
  };
  EXPECT_EQ(only(host), "web01");
  EXPECT_EQ(only(moved), "dc01");
  EXPECT_EQ(only(sd), "10.0.0.5");
  EXPECT_EQ(only(message), R"({"host":"dc01","sd":{"origin":{"ip":"1.2.3.4"}},"message":"hi"})");
}

TEST_F(SyslogJsonPayloadTest, DepthLimitAppliesToThePayload) {
  ParseLimits limits;
  limits.max_depth = 4;
  EventParser limited(InputFormat::Auto, limits);
  Event e;
  const std::string header = "<13>Nov 23 10:00:00 host app[12]: @cee: ";
  // four levels (objects and arrays alike) are allowed, five are not
  for (std::string_view at_limit : {R"({"a":{"b":{"c":{"d":1}}}})", R"({"a":{"b":[[1]]}})"}) {
    EXPECT_TRUE(try_parse(limited, header + std::string(at_limit), e).ok()) << at_limit;
    EXPECT_EQ(limited.failure(), ParseFailure::none);
  }
  const std::string far_too_deep = "{\"a\":" + std::string(50'000, '[') + std::string(50'000, ']') + "}";
  for (const std::string& deep : {std::string(R"({"a":{"b":{"c":{"d":{"e":1}}}}})"), std::string(R"({"a":[[[[1]]]]})"),
                                  far_too_deep}) {
    Status st = try_parse(limited, header + deep, e);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(limited.failure(), ParseFailure::depth);
    EXPECT_NE(st.message().find("JSON payload"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("max-json-depth"), std::string::npos) << st.message();
  }
  // the same object as a JSON line fails the same way
  EXPECT_FALSE(try_parse(limited, R"({"a":{"b":{"c":{"d":{"e":1}}}}})", e).ok());
  EXPECT_EQ(limited.failure(), ParseFailure::depth);
}

TEST_F(SyslogJsonPayloadTest, FieldLimitCountsTheSyslogFieldsToo) {
  ParseLimits limits;
  limits.max_fields = 12;
  EventParser limited(InputFormat::Syslog, limits);
  limited.syslog().default_year = 2026;
  Event e;
  e.set_keep_paths(true);
  auto object_with = [](int fields) {
    std::string s = "{";
    for (int i = 0; i < fields; ++i) s += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
    return s + "}";
  };
  // 10 header fields (priority, facility, severity, timestamp, @timestamp, host, program, tag, pid, message)
  const std::string header = "<13>Nov 23 10:00:00 host app[12]: ";
  ASSERT_TRUE(try_parse(limited, header + object_with(2), e).ok());
  EXPECT_EQ(e.value_count(), 12u);
  Status st = try_parse(limited, header + object_with(3), e);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(limited.failure(), ParseFailure::fields);
  EXPECT_NE(st.message().find("max-event-fields"), std::string::npos) << st.message();
  st = try_parse(limited, header + object_with(100'000), e);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(limited.failure(), ParseFailure::fields);
}

TEST_F(SyslogJsonPayloadTest, OtherLineShapesKeepTheirMessageAsText) {
  // An Apache error line or a line of no known shape is not a syslog message: no payload is looked for.
  for (std::string_view line : {R"([Wed Oct 11 14:32:52 2000] [error] {"user":"alice"})", R"(<13>{"user":"alice"})"})
    EXPECT_EQ(parse(line), syslog_only(line)) << line;
}

}  // namespace
}  // namespace socd
