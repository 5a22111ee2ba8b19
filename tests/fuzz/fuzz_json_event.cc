// JSON event path: one input = one JSON line through JsonEventParser (with the padding the line reader gives)
// and EventParser in auto mode, then every field looked up through the PathIndex.
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_support.h"
#include "socd/event_parser.h"
#include "socd/json_parser.h"

namespace {

struct State {
  socd::PathIndex index;
  socd::JsonEventParser json;
  socd::EventParser automatic{socd::InputFormat::Auto};
  socd::Event event;
  std::vector<char> line;
  State() {
    socd::fuzz::register_common_paths(index);
    event.set_index(&index);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* s = new State();
  // The bytes, then the zero padding the line reader's batches guarantee after each line.
  s->line.assign(data, data + size);
  s->line.resize(size + socd::JsonEventParser::padding(), '\0');
  std::string_view text(s->line.data(), size);

  socd::Status st = s->json.parse(text, s->event);
  if (st.ok()) socd::fuzz::walk_fields(s->event, s->index);

  s->event.set_keep_paths((size & 1) != 0);
  st = s->automatic.parse(text, s->event);
  if (st.ok()) socd::fuzz::walk_fields(s->event, s->index);
  return 0;
}
