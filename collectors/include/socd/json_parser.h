// JSON-lines events: simdjson On-Demand walks the object and hands every scalar, with its dotted path, to the Event.
#pragma once
#include <memory>
#include <string_view>

#include "socd/event.h"
#include "socd/status.h"

namespace socd {

class JsonEventParser {
public:
  explicit JsonEventParser(size_t max_depth = 64);
  ~JsonEventParser();
  JsonEventParser(JsonEventParser&&) noexcept;
  // Parses one line into `ev` (ev.reset(line) first). `line` must be followed by at least `padding()` readable
  // bytes (the line reader's batches guarantee it). An error names what is wrong; the event is then unusable.
  Status parse(std::string_view line, Event& ev);
  static size_t padding();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace socd
