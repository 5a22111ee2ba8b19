// The event model: every scalar of an event as a value in one per-event buffer, reachable by field id.
//
// A parser (JSON, syslog) walks an input line and calls Event::add() for each scalar with its dotted path
// ("Event.System.Provider.#attributes.Name"). The PathIndex, built once with the rule set, says which field ids
// a path stands for; values are linked to those ids, so a rule reads a field in O(1). Every value is also
// appended, '\n'-separated, to the scan buffer that Hyperscan scans once per event. An Event is reused from one
// line to the next: after the first few events nothing is allocated.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace socd {

enum class ValueType : uint8_t { String, Number, Bool, Null };

// Dotted event path -> field ids, as a trie of path segments ("Event" -> "System" -> "Channel"), so a parser walking
// nested objects looks up each key once, under its parent, and skips subtrees no rule reads. A key that itself
// holds dots ({"process.name": ..}) is walked segment by segment, so it reaches the same node as the nested form.
// Immutable once built; shared by all workers.
class PathIndex {
public:
  PathIndex();
  // Registers a field name, returning its id (the same id for the same name).
  uint32_t field_id(std::string_view name);
  // The id of a registered field, or npos.
  uint32_t find_field(std::string_view name) const;
  const std::string& field_name(uint32_t id) const { return names_[id]; }
  size_t field_count() const { return names_.size(); }
  // Makes `path` stand for field `id` (a path may stand for several fields).
  void add_path(std::string_view path, uint32_t id);

  struct Ids {
    const uint32_t* data = nullptr;
    uint32_t size = 0;
  };
  static constexpr uint32_t npos = UINT32_MAX;
  static constexpr uint32_t root = 0;
  // The node under `node` for one key (npos when no registered path goes there, or when node is npos).
  uint32_t child(uint32_t node, std::string_view key) const;
  // The field ids the path ending at `node` stands for.
  Ids ids(uint32_t node) const {
    if (node == npos) return {};
    const auto& v = node_ids_[node];
    return {v.data(), static_cast<uint32_t>(v.size())};
  }
  // The field ids a whole dotted path stands for; empty when none.
  Ids lookup(std::string_view path) const;
  // Differs between any two indexes (or states of one) that may give different answers: what caches of lookups
  // compare to know they are still right.
  uint64_t version() const { return version_; }

private:
  struct Slot {  // an edge parent --key--> child, in an open-addressing table
    uint64_t hash = 0;
    uint32_t parent = npos, child = npos;
    uint32_t key_off = 0, key_len = 0;
  };
  static uint64_t hash(uint32_t parent, std::string_view key);
  uint32_t edge(uint32_t node, std::string_view segment) const;
  uint32_t add_edge(uint32_t node, std::string_view segment);
  void rehash(size_t capacity);

  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> name_ids_;
  std::vector<std::vector<uint32_t>> node_ids_;  // per node: the field ids of the path ending there
  std::vector<Slot> slots_;
  std::string keys_;
  size_t edges_ = 0;
  uint64_t version_;
};

class Event {
public:
  explicit Event(const PathIndex* index = nullptr) { set_index(index); }
  void set_index(const PathIndex* index);

  // Starts a new event over `raw` (the original bytes, kept verbatim for output).
  void reset(std::string_view raw);
  // Adds one scalar value found at `path`.
  void add(std::string_view path, std::string_view value, ValueType type);
  // Adds one scalar value at a PathIndex node the parser walked to (`path` is used only when paths are kept).
  void add_at(uint32_t node, std::string_view value, ValueType type, std::string_view path = {});
  const PathIndex* index() const { return index_; }

  std::string_view raw() const { return raw_; }
  size_t value_count() const { return values_.size(); }
  std::string_view value(size_t i) const { return {buf_.data() + values_[i].off, values_[i].len}; }
  ValueType type(size_t i) const { return values_[i].type; }
  // The buffer Hyperscan scans: every value followed by '\n'.
  std::string_view scan_buffer() const { return buf_; }

  // Iterates the values of field `id` in document order: for (auto it = first(id); it != end; it = next(it)).
  static constexpr uint32_t end = UINT32_MAX;
  uint32_t first(uint32_t field) const { return stamp_[field] == gen_ ? head_[field] : end; }
  uint32_t next(uint32_t link) const { return links_[link].next; }
  size_t link_value(uint32_t link) const { return links_[link].value; }
  bool has(uint32_t field) const { return stamp_[field] == gen_; }
  // The field ids that have at least one value, in the order they were first seen.
  const std::vector<uint32_t>& present_fields() const { return present_; }

  // Parsers of non-JSON input (syslog) keep the paths, so the event can be written out as a JSON object.
  void set_keep_paths(bool keep) { keep_paths_ = keep; }
  bool keeps_paths() const { return keep_paths_; }
  std::string_view path(size_t i) const { return {paths_.data() + values_[i].path_off, values_[i].path_len}; }

  // Position of the event in its source (1-based line number), set by the reader.
  uint64_t line = 0;
  // Names the event this object holds now, unlike any other event held by any Event of the process: caches of
  // what was computed from an event compare it.
  std::pair<uint64_t, uint64_t> serial() const { return {identity_.value, resets_}; }

private:
  struct Value {
    uint32_t off, len;
    uint32_t path_off, path_len;
    ValueType type;
  };
  struct Link {
    uint32_t value, next;
  };
  uint32_t append(std::string_view value, ValueType type, std::string_view path);  // stores a value, returns its index
  void link(uint32_t value, PathIndex::Ids ids);
  const PathIndex* index_ = nullptr;
  std::string_view raw_;
  std::string buf_;
  std::string paths_;
  bool keep_paths_ = false;
  std::vector<Value> values_;
  std::vector<Link> links_;
  std::vector<uint32_t> head_, tail_, stamp_;
  std::vector<uint32_t> present_;
  uint32_t gen_ = 0;
  // Unique per Event object: a copy (or a moved-to object) takes a new one.
  struct Identity {
    uint64_t value = next();
    Identity() = default;
    Identity(const Identity&) : value(next()) {}
    Identity& operator=(const Identity&) {
      value = next();
      return *this;
    }
    static uint64_t next();
  };
  Identity identity_;
  uint64_t resets_ = 0;
};

}  // namespace socd
