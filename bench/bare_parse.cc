// The reference figure for the scan benchmark: how fast simdjson On-Demand alone gets through a JSON-lines
// file when it visits everything an engine must see. Every line is parsed as one document; every object key
// is read unescaped and every scalar read as its type (strings unescaped, numbers converted), recursively.
// Nothing else happens: no matching, no output. A line that is not one JSON object counts as malformed.
//
// usage: bare_parse FILE [REPEAT]
// prints: bare_parse: events=N bytes=N malformed=N seconds=F events_per_s=F mb_per_s=F   (MB = 10^6 bytes)
// The file is read into memory first and parsed once untimed (warm-up); then REPEAT timed passes (default 1)
// parse it, and the median is printed. The time is the parse alone, not the reading.
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

// The instruction set the On-Demand code in this program was compiled for (set by -march: the library's
// run-time dispatch does not apply to On-Demand).
#define SOCD_STRINGIFY_(x) #x
#define SOCD_STRINGIFY(x) SOCD_STRINGIFY_(x)
constexpr const char* kOnDemandImplementation = SOCD_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);

namespace ondemand = simdjson::ondemand;

// Folds everything read into one number, so the compiler cannot skip reading it.
struct Visitor {
  uint64_t checksum = 0;

  simdjson::error_code value(ondemand::value v) {
    ondemand::json_type type;
    if (auto error = v.type().get(type)) return error;
    switch (type) {
      case ondemand::json_type::object: {
        ondemand::object object;
        if (auto error = v.get_object().get(object)) return error;
        return fields(object);
      }
      case ondemand::json_type::array: {
        ondemand::array array;
        if (auto error = v.get_array().get(array)) return error;
        for (auto element : array) {
          ondemand::value item;
          if (auto error = element.get(item)) return error;
          if (auto error = value(item)) return error;
        }
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::string: {
        std::string_view text;
        if (auto error = v.get_string().get(text)) return error;
        checksum += text.size();
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::number: {
        ondemand::number number;
        if (auto error = v.get_number().get(number)) return error;
        checksum += static_cast<uint64_t>(number.get_number_type());
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::boolean: {
        bool flag = false;
        if (auto error = v.get_bool().get(flag)) return error;
        checksum += flag;
        return simdjson::SUCCESS;
      }
      case ondemand::json_type::null: {
        bool is_null = false;
        if (auto error = v.is_null().get(is_null)) return error;
        checksum += is_null;
        return simdjson::SUCCESS;
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  simdjson::error_code fields(ondemand::object& object) {
    for (auto field : object) {
      std::string_view key;
      if (auto error = field.unescaped_key().get(key)) return error;
      checksum += key.size();
      if (auto error = value(field.value())) return error;
    }
    return simdjson::SUCCESS;
  }
};

struct Run {
  uint64_t events = 0, bytes = 0, malformed = 0, checksum = 0;
  double seconds = 0;
};

// Parses the file already in memory: the figure is the parse alone, not the reading of the file.
Run parse_file(const simdjson::padded_string& file) {
  Run run;
  auto start = std::chrono::steady_clock::now();
  ondemand::parser parser;
  Visitor visitor;
  const char* data = file.data();
  const size_t size = file.size();
  run.bytes = size;
  for (size_t begin = 0; begin < size;) {
    const char* newline = static_cast<const char*>(std::memchr(data + begin, '\n', size - begin));
    size_t end = newline ? static_cast<size_t>(newline - data) : size;
    size_t length = end - begin;
    if (length > 0 && data[end - 1] == '\r') --length;
    if (length > 0) {
      // The line is parsed in place: the rest of the file (and the padding after it) is its padding.
      ondemand::document document;
      ondemand::object object;
      simdjson::error_code error =
          parser.iterate(data + begin, length, file.size() + simdjson::SIMDJSON_PADDING - begin)
              .get(document);
      if (!error) error = document.get_object().get(object);
      if (!error) error = visitor.fields(object);
      // Once the object is read, the document must be at its end: anything after it is trailing content.
      if (!error && document.current_location().error() != simdjson::OUT_OF_BOUNDS)
        error = simdjson::TRAILING_CONTENT;
      if (error) {
        ++run.malformed;
      } else {
        ++run.events;
      }
    }
    begin = end + 1;
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.checksum = visitor.checksum;
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: bare_parse FILE [REPEAT]\n");
    return 2;
  }
  int repeat = argc == 3 ? std::atoi(argv[2]) : 1;
  if (repeat < 1) {
    std::fprintf(stderr, "bare_parse: REPEAT must be a positive number, not '%s'\n", argv[2]);
    return 2;
  }
  std::vector<Run> runs;
  simdjson::padded_string file;
  if (auto error = simdjson::padded_string::load(argv[1]).get(file)) {
    std::fprintf(stderr, "bare_parse: cannot read %s: %s\n", argv[1], simdjson::error_message(error));
    return 1;
  }
  parse_file(file);  // one warm-up pass: the parser's buffers allocated, the file's pages touched
  for (int i = 0; i < repeat; ++i) runs.push_back(parse_file(file));
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
  const Run& median = runs[runs.size() / 2];
  std::printf(
      "bare_parse: events=%llu bytes=%llu malformed=%llu seconds=%.4f events_per_s=%.0f mb_per_s=%.1f "
      "checksum=%llu implementation=%s\n",
      static_cast<unsigned long long>(median.events), static_cast<unsigned long long>(median.bytes),
      static_cast<unsigned long long>(median.malformed), median.seconds, median.events / median.seconds,
      median.bytes / median.seconds / 1e6, static_cast<unsigned long long>(median.checksum),
      kOnDemandImplementation);
  return 0;
}
