#include "bench_reference.h"

#include <hs/hs.h>
#include <simdjson.h>
#include <stdlib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace socd::bench {
namespace {

namespace ondemand = simdjson::ondemand;

#define SOCD_STRINGIFY_(x) #x
#define SOCD_STRINGIFY(x) SOCD_STRINGIFY_(x)
constexpr const char* kOnDemandImplementation = SOCD_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);

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

// Parses the file already in memory: the figure is the parse alone, not the reading of the file.
BareRun parse_once(const simdjson::padded_string& file) {
  BareRun run;
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
          parser.iterate(data + begin, length, file.size() + simdjson::SIMDJSON_PADDING - begin).get(document);
      if (!error) error = document.get_object().get(object);
      if (!error) error = visitor.fields(object);
      // Once the object is read, the document must be at its end: anything after it is trailing content.
      if (!error && document.current_location().error() != simdjson::OUT_OF_BOUNDS)
        error = simdjson::TRAILING_CONTENT;
      if (error) ++run.malformed;
      else ++run.events;
    }
    begin = end + 1;
  }
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  run.checksum = visitor.checksum;
  return run;
}

void literal_pieces(const std::string& value, std::set<std::string>& out) {
  std::string piece;
  auto flush = [&] {
    if (piece.size() >= 3) out.insert(piece);
    piece.clear();
  };
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '\\' && i + 1 < value.size() && (value[i + 1] == '*' || value[i + 1] == '?' || value[i + 1] == '\\'))
      piece += value[++i];
    else if (c == '*' || c == '?')
      flush();
    else
      piece += c;
  }
  flush();
}

void collect_literals(const YAML::Node& node, bool regex, std::set<std::string>& out) {
  if (node.IsScalar()) {
    if (!regex) literal_pieces(node.Scalar(), out);
  } else if (node.IsSequence()) {
    for (const auto& n : node) collect_literals(n, regex, out);
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (key == "condition" || key == "timeframe") continue;
      collect_literals(kv.second, regex || key.find("|re") != std::string::npos, out);
    }
  }
}

}  // namespace

const char* bare_parse_implementation() { return kOnDemandImplementation; }

Expected<BareRun> bare_parse_file(const std::string& path, int repeat) {
  simdjson::padded_string file;
  if (auto error = simdjson::padded_string::load(path).get(file))
    return Status::error(path + ": cannot read: " + simdjson::error_message(error));
  parse_once(file);  // warm-up: the parser's buffers allocated, the file's pages touched
  std::vector<BareRun> runs;
  for (int i = 0; i < std::max(1, repeat); ++i) runs.push_back(parse_once(file));
  std::sort(runs.begin(), runs.end(), [](const BareRun& a, const BareRun& b) { return a.seconds < b.seconds; });
  return runs[runs.size() / 2];
}

std::set<std::string> sigma_literals(const std::string& dir, size_t* rules, size_t* unreadable) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    auto ext = it->path().extension();
    if (!it->is_regular_file() || (ext != ".yml" && ext != ".yaml")) continue;
    try {
      for (const auto& doc : YAML::LoadAllFromFile(it->path().string()))
        if (doc.IsMap() && doc["detection"]) {
          if (rules) ++*rules;
          collect_literals(doc["detection"], false, out);
        }
    } catch (const YAML::Exception&) {
      if (unreadable) ++*unreadable;
    }
  }
  return out;
}

Expected<hs_database*> compile_literals(const std::set<std::string>& literals) {
  if (literals.empty()) return Status::error("no literal to compile");
  std::vector<const char*> exprs;
  std::vector<size_t> lens;
  std::vector<unsigned> flags, ids;
  for (const auto& l : literals) {
    exprs.push_back(l.data());
    lens.push_back(l.size());
    flags.push_back(HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    ids.push_back(static_cast<unsigned>(ids.size()));
  }
  hs_database_t* db = nullptr;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_lit_multi(exprs.data(), flags.data(), ids.data(), lens.data(), static_cast<unsigned>(exprs.size()),
                           HS_MODE_BLOCK, nullptr, &db, &err) != HS_SUCCESS) {
    std::string message = std::string("hyperscan: ") + (err ? err->message : "compile failed");
    if (err) hs_free_compile_error(err);
    return Status::error(message);
  }
  return db;
}

Expected<BareScan> bare_hs_file(const std::string& rules_dir, const std::string& path, int repeat) {
  BareScan out;
  size_t unreadable = 0;
  std::set<std::string> literals = sigma_literals(rules_dir, &out.rules, &unreadable);
  if (literals.empty())
    return Status::error("no literal found in the rules under " + rules_dir + " (" + std::to_string(unreadable) +
                         " unreadable files)");
  out.patterns = literals.size();
  auto db = compile_literals(literals);
  if (!db) return db.error();
  hs_scratch_t* scratch = nullptr;
  if (hs_alloc_scratch(*db, &scratch) != HS_SUCCESS) {
    hs_free_database(*db);
    return Status::error("hyperscan: cannot allocate scratch space");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    hs_free_scratch(scratch);
    hs_free_database(*db);
    return Status::error(path + ": cannot read");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string data = ss.str();
  std::vector<std::pair<size_t, size_t>> lines;
  for (size_t pos = 0; pos < data.size();) {
    size_t end = data.find('\n', pos);
    if (end == std::string::npos) end = data.size();
    if (end > pos) lines.emplace_back(pos, end - pos);
    pos = end + 1;
  }
  auto on_match = [](unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) -> int {
    *static_cast<bool*>(ctx) = true;
    return 0;
  };
  auto scan_all = [&] {
    uint64_t n = 0;
    for (auto [off, len] : lines) {
      bool hit = false;
      hs_scan(*db, data.data() + off, static_cast<unsigned>(len), 0, scratch, on_match, &hit);
      n += hit;
    }
    return n;
  };
  out.lines_matching = scan_all();  // untimed warm-up
  double best = 1e30;
  for (int r = 0; r < std::max(1, repeat); ++r) {
    auto t0 = std::chrono::steady_clock::now();
    out.lines_matching = scan_all();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  hs_free_scratch(scratch);
  hs_free_database(*db);
  out.run.events = lines.size();
  out.run.bytes = data.size();
  out.run.seconds = best;
  return out;
}

void fill_bench_alerts(std::vector<StoredAlert>& alerts, uint64_t& serial) {
  static const std::string json(600, 'x');  // about the size of a rendered Windows alert
  for (auto& a : alerts) {
    a.id = "bench-" + std::to_string(++serial);
    a.time_ms = 1714558830000 + static_cast<int64_t>(serial);
    a.rule_id = "rule-" + std::to_string(serial % 100);
    a.level = "high";
    a.host = "WS01";
    a.json = json;
  }
}

Expected<double> store_write_rate(const std::string& dir, size_t batch_size, size_t batches) {
  double seconds = 0;
  {
    auto store = AlertStore::open(dir);
    if (!store) return store.error();
    std::vector<StoredAlert> alerts(std::max<size_t>(1, batch_size));
    uint64_t serial = 0;
    std::vector<std::pair<std::string, std::string>> checkpoints = {{"bench", "0"}}, no_state;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t b = 0; b < batches; ++b) {
      fill_bench_alerts(alerts, serial);
      checkpoints[0].second = std::to_string(serial);
      size_t stored = 0;
      Status st = (*store)->commit_with_state(alerts, checkpoints, no_state, &stored);
      if (!st.ok()) return st;
    }
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return seconds > 0 ? static_cast<double>(batches * std::max<size_t>(1, batch_size)) / seconds : 0.0;
}

}  // namespace socd::bench
