// Text log lines to events: RFC 5424 and RFC 3164 syslog, Apache error-log lines, and Apache/NGINX access-log
// lines (on their own or as the message of a syslog line).
//
// Fields added (top-level paths):
//   priority, facility, severity   from <PRI>, facility and severity as names ("auth", "err" ...); an Apache
//                                  error line gives severity from its [level]
//   timestamp, @timestamp          the time as written, and as RFC 3339 UTC ("2003-10-11T22:14:15.003Z") when
//                                  it parses; RFC 3164 times carry no year or zone: default_year, UTC
//   host, program, tag, pid, msgid program is the 3164 tag without "[pid]" and without a "(...)" suffix; tag
//                                  is the tag as written ("sshd(pam_unix)"); the 5424 APP-NAME is the program
//   sd.<SD-ID>.<param>             RFC 5424 structured data, values unescaped
//   message                        the free text (a line of no known shape: the whole line)
//   c-ip, cs-username, cs-method, cs-uri, cs-uri-stem, cs-uri-query, cs-version, sc-status, sc-bytes,
//   cs-referer, cs-user-agent      when the message is a common/combined access-log line (Sigma webserver
//                                  taxonomy); its bracketed time fills timestamp/@timestamp when still unset
// A trailing '\r' (CRLF files) is not part of any field. After the first lines, parse() allocates nothing.
//
// The message of an RFC 5424 or 3164 line may be a JSON object, after optional spaces and an optional "@cee:"
// cookie: parse() only finds it (json_payload()); EventParser walks it into the event with the JSON-line walker.
#pragma once
#include <string>
#include <string_view>

#include "socd/event.h"
#include "socd/status.h"

namespace socd {

class SyslogParser {
public:
  // Parses one line (no trailing newline) into `ev` (calls ev.reset(line) first). Every textual line is
  // accepted (invalid UTF-8 included); an error names why a line is not text at all (a NUL byte, mostly
  // control bytes).
  Status parse(std::string_view line, Event& ev);

  int default_year = 0;  // RFC 3164 has no year: 0 = the current year (UTC)

  // The message of the last parsed line when it looks like a JSON object ("{...}", cookie and spaces before it
  // left out), else empty. Whether it is valid JSON is for the JSON parser to say.
  std::string_view json_payload() const { return json_payload_; }
  // Whether `path` is a field this parser (or the pipeline, "fromhost-ip") gives a syslog line, under which a
  // JSON payload's value must not go: see kPayloadPrefix.
  static bool is_line_field(std::string_view path);
  // Where a payload's value goes whose path is a field of the line ({"host":"x"} -> "payload.host").
  static constexpr std::string_view kPayloadPrefix = "payload.";

private:
  void emit_structured_data(std::string_view sd, Event& ev);
  bool emit_access_log(std::string_view msg, bool have_timestamp, bool have_utc, Event& ev);
  void add_unescaped(std::string_view path, std::string_view value, std::string_view escapable, Event& ev);

  std::string path_;       // scratch: "sd.<SD-ID>.<param>"
  std::string unescaped_;  // scratch: values with their escapes undone
  std::string_view json_payload_;
};

}  // namespace socd
