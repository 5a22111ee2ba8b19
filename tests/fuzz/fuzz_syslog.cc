// Syslog parser: one input = one line (RFC 5424, RFC 3164, Apache error and access-log lines, or any text)
// through SyslogParser, then every field looked up through the PathIndex. The same parser object is reused
// from input to input, as a worker reuses it from line to line.
#include <cstdint>
#include <string>

#include "fuzz_support.h"
#include "socd/syslog_parser.h"

namespace {

struct State {
  socd::PathIndex index;
  socd::SyslogParser parser;
  socd::Event event;
  State() {
    socd::fuzz::register_common_paths(index);
    event.set_index(&index);
    event.set_keep_paths(true);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* s = new State();
  // A copy of exactly `size` bytes: reading one past the line is a finding.
  std::string line(reinterpret_cast<const char*>(data), size);
  s->parser.default_year = size % 3 == 0 ? 0 : 1970 + static_cast<int>(size % 200);
  socd::Status st = s->parser.parse(line, s->event);
  if (!st.ok()) return 0;
  socd::fuzz::walk_fields(s->event, s->index);
  return 0;
}
