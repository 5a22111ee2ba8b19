#include "socd/json_parser.h"

#include <simdjson.h>

#include <cstring>
#include <string>
#include <vector>

namespace socd {

namespace od = simdjson::ondemand;

struct JsonEventParser::Impl {
  od::parser parser;
  size_t max_depth;
  size_t max_fields = 10'000;
  size_t fields = 0;
  Event* ev = nullptr;
  const PathIndex* index = nullptr;
  bool too_deep = false, too_many = false;
  ParseFailure failure = ParseFailure::none;
  // Events that keep their paths (a syslog line's payload) get each value's dotted path, built here as the walk
  // goes; a path `taken` says belongs to the line's own fields is written under `prefix` instead.
  bool build_paths = false;
  bool (*taken)(std::string_view path) = nullptr;
  std::string_view prefix;
  std::string path, moved;  // scratch

  void emit(uint32_t node, std::string_view value, ValueType type) {
    if (!build_paths) {
      ev->add_at(node, value, type);
    } else if (taken && taken(path)) {
      moved.assign(prefix);
      moved.append(path);
      ev->add(moved, value, type);
    } else {
      ev->add_at(node, value, type, path);
    }
  }

  // Every scalar is a field of the event: past the limit the walk stops.
  bool count_field() {
    if (++fields <= max_fields) return true;
    too_many = true;
    return false;
  }

  // The trie lookups of the last events, by parent node and the key's place in its object: lines of one source
  // mostly share their shape, so the n-th key of an object is usually the one seen there before, and comparing
  // it costs less than hashing it.
  struct KeyMemo {
    uint32_t node = PathIndex::npos, ordinal = 0, child = PathIndex::npos, length = 0;
    char key[48];
  };
  std::vector<KeyMemo> memo = std::vector<KeyMemo>(2048);
  uint64_t memo_version = 0;  // PathIndex::version() the memo holds lookups of

  uint32_t child_of(uint32_t node, uint32_t ordinal, std::string_view key) {
    if (node == PathIndex::npos) return PathIndex::npos;
    uint32_t slot = ((node * 0x9e3779b1u) ^ (ordinal * 0x85ebca6bu)) >> 21;  // 11 bits: 2048 entries
    KeyMemo& m = memo[slot];
    if (m.node == node && m.ordinal == ordinal && m.length == key.size() &&
        std::memcmp(m.key, key.data(), key.size()) == 0)
      return m.child;
    uint32_t child = index->child(node, key);
    if (key.size() <= sizeof m.key) {
      m.node = node;
      m.ordinal = ordinal;
      m.child = child;
      m.length = static_cast<uint32_t>(key.size());
      std::memcpy(m.key, key.data(), key.size());
    }
    return child;
  }

  simdjson::error_code walk(od::value v, size_t depth, uint32_t node) {
    od::json_type type;
    if (auto e = v.type().get(type)) return e;
    switch (type) {
      case od::json_type::object: {
        if (depth >= max_depth) {
          too_deep = true;
          return simdjson::DEPTH_ERROR;
        }
        od::object obj;
        if (auto e = v.get_object().get(obj)) return e;
        return walk_object(obj, depth + 1, node);
      }
      case od::json_type::array: {
        if (depth >= max_depth) {
          too_deep = true;
          return simdjson::DEPTH_ERROR;
        }
        od::array arr;
        if (auto e = v.get_array().get(arr)) return e;
        for (auto element : arr) {
          od::value child;
          if (auto e = element.get(child)) return e;
          if (auto e = walk(child, depth + 1, node)) return e;
        }
        return simdjson::SUCCESS;
      }
      case od::json_type::string: {
        if (!count_field()) return simdjson::CAPACITY;
        std::string_view s;
        if (auto e = v.get_string().get(s)) return e;
        emit(node, s, ValueType::String);
        return simdjson::SUCCESS;
      }
      case od::json_type::number: {
        if (!count_field()) return simdjson::CAPACITY;
        std::string_view raw = v.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' || raw.back() == '\n'))
          raw.remove_suffix(1);
        // Validate it as a number, so "12abc" is an error rather than a value.
        double d;
        if (auto e = v.get_double().get(d)) return e;
        emit(node, raw, ValueType::Number);
        return simdjson::SUCCESS;
      }
      case od::json_type::boolean: {
        if (!count_field()) return simdjson::CAPACITY;
        bool b;
        if (auto e = v.get_bool().get(b)) return e;
        emit(node, b ? "true" : "false", ValueType::Bool);
        return simdjson::SUCCESS;
      }
      case od::json_type::null: {
        if (!count_field()) return simdjson::CAPACITY;
        bool is_null;
        if (auto e = v.is_null().get(is_null)) return e;
        if (!is_null) return simdjson::INCORRECT_TYPE;
        emit(node, {}, ValueType::Null);
        return simdjson::SUCCESS;
      }
    }
    return simdjson::INCORRECT_TYPE;
  }

  // Keys are looked up in the path trie under their parent: no path string is built, and a subtree no rule reads
  // costs no lookups (its values still go to the scan buffer for keyword rules).
  simdjson::error_code walk_object(od::object obj, size_t depth, uint32_t node) {
    uint32_t ordinal = 0;
    for (auto field : obj) {
      std::string_view key;
      if (auto e = field.unescaped_key().get(key)) return e;
      od::value child;
      if (auto e = field.value().get(child)) return e;
      const size_t parent_length = path.size();
      if (build_paths) {
        if (parent_length) path.push_back('.');
        path.append(key);
      }
      if (auto e = walk(child, depth, index ? child_of(node, ordinal++, key) : PathIndex::npos)) return e;
      if (build_paths) path.resize(parent_length);  // (a JSON line builds no paths: nothing per field)
    }
    return simdjson::SUCCESS;
  }
};

const char* parse_failure_name(ParseFailure failure) {
  switch (failure) {
    case ParseFailure::none: return "none";
    case ParseFailure::malformed: return "malformed";
    case ParseFailure::empty: return "empty";
    case ParseFailure::depth: return "json_depth";
    case ParseFailure::fields: return "event_fields";
  }
  return "malformed";
}

JsonEventParser::JsonEventParser(size_t max_depth) : impl_(std::make_unique<Impl>()) {
  impl_->max_depth = max_depth;
}
JsonEventParser::JsonEventParser(const ParseLimits& limits) : impl_(std::make_unique<Impl>()) {
  impl_->max_depth = limits.max_depth;
  impl_->max_fields = limits.max_fields;
}
ParseFailure JsonEventParser::failure() const { return impl_->failure; }
JsonEventParser::~JsonEventParser() = default;
JsonEventParser::JsonEventParser(JsonEventParser&&) noexcept = default;
size_t JsonEventParser::padding() { return simdjson::SIMDJSON_PADDING; }

Status JsonEventParser::parse(std::string_view line, Event& ev) {
  ev.reset(line);
  return walk_json(line, ev, nullptr, {});
}

Status JsonEventParser::add_object(std::string_view json, Event& ev, bool (*taken)(std::string_view path),
                                   std::string_view prefix) {
  return walk_json(json, ev, taken, prefix);
}

Status JsonEventParser::walk_json(std::string_view json, Event& ev, bool (*taken)(std::string_view path),
                                  std::string_view prefix) {
  Impl& p = *impl_;
  p.ev = &ev;
  p.index = ev.index();
  if (p.index && p.index->version() != p.memo_version) {  // another rule set: other nodes
    p.memo.assign(p.memo.size(), Impl::KeyMemo{});
    p.memo_version = p.index->version();
  }
  p.too_deep = false;
  p.too_many = false;
  p.fields = ev.value_count();  // what the line gave before the JSON counts toward max_fields too
  p.build_paths = ev.keeps_paths() || taken;
  p.taken = taken;
  p.prefix = prefix;
  p.path.clear();
  p.failure = ParseFailure::malformed;
  od::document doc;
  auto err = p.parser.iterate(json.data(), json.size(), json.size() + simdjson::SIMDJSON_PADDING).get(doc);
  if (!err) {
    od::object obj;
    err = doc.get_object().get(obj);
    if (err == simdjson::INCORRECT_TYPE) return Status::error("not a JSON object");
    if (!err) err = p.walk_object(obj, 1, PathIndex::root);
    if (!err && !doc.current_location().error()) return Status::error("trailing content after the JSON object");
  }
  if (err) {
    if (p.too_deep) {
      p.failure = ParseFailure::depth;
      return Status::error("nesting deeper than " + std::to_string(p.max_depth) + " levels (limit max-json-depth)");
    }
    if (p.too_many) {
      p.failure = ParseFailure::fields;
      return Status::error("more than " + std::to_string(p.max_fields) + " fields (limit max-event-fields)");
    }
    // simdjson's own depth bound (the structural stage) is a depth limit too.
    if (err == simdjson::DEPTH_ERROR) {
      p.failure = ParseFailure::depth;
      return Status::error("nesting too deep for the JSON parser (limit max-json-depth)");
    }
    return Status::error(std::string("invalid JSON: ") + simdjson::error_message(err));
  }
  p.failure = ParseFailure::none;
  return {};
}

}  // namespace socd
