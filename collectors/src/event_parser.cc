#include "socd/event_parser.h"

namespace socd {

bool parse_input_format(std::string_view name, InputFormat& out) {
  if (name == "auto") out = InputFormat::Auto;
  else if (name == "json") out = InputFormat::Json;
  else if (name == "syslog") out = InputFormat::Syslog;
  else return false;
  return true;
}

Status EventParser::parse(std::string_view line, Event& ev) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i == line.size()) {
    ev.reset(line);
    failure_ = ParseFailure::empty;
    return Status::error("empty line");
  }
  bool json = format_ == InputFormat::Json || (format_ == InputFormat::Auto && line[i] == '{');
  ev.set_keep_paths(!json);
  if (json) {
    Status st = json_.parse(line, ev);
    failure_ = json_.failure();
    return st;
  }
  Status st = syslog_.parse(line, ev);
  failure_ = st.ok() ? ParseFailure::none : ParseFailure::malformed;
  if (st.ok() && !syslog_.json_payload().empty()) {
    Status payload = json_.add_object(syslog_.json_payload(), ev, &SyslogParser::is_line_field,
                                      SyslogParser::kPayloadPrefix);
    if (!payload.ok()) {
      // Over a limit, the line is refused as a JSON line would be: the limits bound the work a sender can cause.
      if (json_.failure() == ParseFailure::depth || json_.failure() == ParseFailure::fields) {
        failure_ = json_.failure();
        return Status::error("JSON payload: " + payload.message());
      }
      // Not JSON after all ("{braces} in text"): the syslog line itself is fine and its message stays text. The
      // walk may have added fields before it found the fault, so the line is parsed again without them; only
      // such lines pay for it.
      st = syslog_.parse(line, ev);
    }
  }
  if (st.ok() && ev.value_count() > limits_.max_fields) {
    failure_ = ParseFailure::fields;
    return Status::error("more than " + std::to_string(limits_.max_fields) + " fields (limit max-event-fields)");
  }
  return st;
}

}  // namespace socd
