// One entry point for turning a line into an Event, whatever its format.
#pragma once
#include <string_view>

#include "socd/json_parser.h"
#include "socd/status.h"
#include "socd/syslog_parser.h"

namespace socd {

enum class InputFormat { Auto, Json, Syslog };

// Parses "auto", "json" or "syslog".
bool parse_input_format(std::string_view name, InputFormat& out);

class EventParser {
public:
  explicit EventParser(InputFormat format = InputFormat::Auto) : format_(format) {}
  EventParser(InputFormat format, const ParseLimits& limits) : format_(format), json_(limits), limits_(limits) {}
  // Auto: a line whose first non-blank byte is '{' is JSON, any other line is syslog/plain text.
  // An empty line is an error ("empty line"): it holds no event. The JSON object a syslog message may be
  // (SyslogParser::json_payload) adds its fields by dotted path beside the syslog ones, which keep their names
  // (a payload value at one of them goes under "payload."); a payload that is not valid JSON adds nothing and
  // the line is still an event; one over max-json-depth or max-event-fields fails the line as a JSON line would.
  // Like a JSON line, the line must be followed by JsonEventParser::padding() readable bytes.
  Status parse(std::string_view line, Event& ev);
  SyslogParser& syslog() { return syslog_; }
  // Why the last parse() failed: a limit (depth, fields), an empty line, or anything else (malformed).
  ParseFailure failure() const { return failure_; }

private:
  InputFormat format_;
  JsonEventParser json_;
  SyslogParser syslog_;
  ParseLimits limits_;
  ParseFailure failure_ = ParseFailure::none;
};

}  // namespace socd
