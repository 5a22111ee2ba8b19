// JSON-lines events: simdjson On-Demand walks the object and hands every scalar, with its dotted path, to the Event.
#pragma once
#include <memory>
#include <string_view>

#include "socd/event.h"
#include "socd/status.h"

namespace socd {

// Why a line did not become an event: a limit it went over, or anything else wrong with it.
enum class ParseFailure { none, malformed, empty, depth, fields };
const char* parse_failure_name(ParseFailure failure);  // "malformed", "empty", "json_depth", "event_fields"

// Limits a hostile line cannot pass: nesting depth of objects and arrays, and values (fields) per event.
struct ParseLimits {
  size_t max_depth = 64;
  size_t max_fields = 10'000;
};

class JsonEventParser {
public:
  explicit JsonEventParser(size_t max_depth = 64);
  explicit JsonEventParser(const ParseLimits& limits);
  ~JsonEventParser();
  JsonEventParser(JsonEventParser&&) noexcept;
  // Parses one line into `ev` (ev.reset(line) first). `line` must be followed by at least `padding()` readable
  // bytes (the line reader's batches guarantee it). An error names what is wrong; the event is then unusable.
  Status parse(std::string_view line, Event& ev);
  // Adds the fields of `json`, a JSON object inside a line whose other fields `ev` already holds (a syslog
  // message's payload), after them: the event is not reset, and the paths are kept when ev.keeps_paths(). A
  // path `taken(path)` says is one of the line's own fields goes under `prefix` instead ("payload.host"), so the
  // payload can neither add to nor pass for them. Same padding and limits as parse(), the fields already in `ev`
  // counted. After an error `ev` may hold some of the payload's fields: the caller parses the line again.
  Status add_object(std::string_view json, Event& ev, bool (*taken)(std::string_view path), std::string_view prefix);
  static size_t padding();
  // Why the last parse() failed (ParseFailure::none after a success).
  ParseFailure failure() const;

private:
  Status walk_json(std::string_view json, Event& ev, bool (*taken)(std::string_view path), std::string_view prefix);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socd
