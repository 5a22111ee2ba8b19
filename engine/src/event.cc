#include "socd/event.h"

#include <atomic>
#include <cstring>

namespace socd {

namespace {
std::atomic<uint64_t> next_path_index_version{1};
}

uint64_t Event::Identity::next() {
  static std::atomic<uint64_t> counter{1};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

PathIndex::PathIndex() : version_(next_path_index_version.fetch_add(1)) {
  node_ids_.emplace_back();  // the root
  slots_.resize(64);
}

uint64_t PathIndex::hash(uint32_t parent, std::string_view s) {
  // Multiply-xorshift over 8-byte words: keys are short, this is cheaper than a byte-wise hash.
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(parent) * 0xff51afd7ed558ccdull) ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 31;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, s.data() + i, s.size() - i);
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

uint32_t PathIndex::edge(uint32_t node, std::string_view key) const {
  uint64_t h = hash(node, key);
  size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.parent == npos) return npos;
    if (s.hash == h && s.parent == node && s.key_len == key.size() &&
        std::memcmp(keys_.data() + s.key_off, key.data(), key.size()) == 0)
      return s.child;
  }
}

uint32_t PathIndex::child(uint32_t node, std::string_view key) const {
  if (node == npos) return npos;
  if (key.find('.') == std::string_view::npos) return edge(node, key);
  // A dotted key walks its segments.
  size_t start = 0;
  while (node != npos) {
    size_t dot = key.find('.', start);
    node = edge(node, key.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return node;
}

void PathIndex::rehash(size_t capacity) {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  for (const Slot& s : old) {
    if (s.parent == npos) continue;
    size_t mask = capacity - 1;
    size_t i = s.hash & mask;
    while (slots_[i].parent != npos) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

uint32_t PathIndex::add_edge(uint32_t node, std::string_view key) {
  uint32_t existing = edge(node, key);
  if (existing != npos) return existing;
  if ((edges_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
  version_ = next_path_index_version.fetch_add(1);
  uint32_t child = static_cast<uint32_t>(node_ids_.size());
  node_ids_.emplace_back();
  Slot s;
  s.hash = hash(node, key);
  s.parent = node;
  s.child = child;
  s.key_off = static_cast<uint32_t>(keys_.size());
  s.key_len = static_cast<uint32_t>(key.size());
  keys_.append(key);
  size_t mask = slots_.size() - 1;
  size_t i = s.hash & mask;
  while (slots_[i].parent != npos) i = (i + 1) & mask;
  slots_[i] = s;
  ++edges_;
  return child;
}

uint32_t PathIndex::field_id(std::string_view name) {
  auto it = name_ids_.find(std::string(name));
  if (it != name_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  name_ids_.emplace(std::string(name), id);
  return id;
}

uint32_t PathIndex::find_field(std::string_view name) const {
  auto it = name_ids_.find(std::string(name));
  return it == name_ids_.end() ? npos : it->second;
}

void PathIndex::add_path(std::string_view path, uint32_t id) {
  uint32_t node = root;
  size_t start = 0;
  for (;;) {
    size_t dot = path.find('.', start);
    node = add_edge(node, path.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  auto& list = node_ids_[node];
  for (uint32_t x : list)
    if (x == id) return;
  list.push_back(id);
  version_ = next_path_index_version.fetch_add(1);
}

PathIndex::Ids PathIndex::lookup(std::string_view path) const { return ids(child(root, path)); }

void Event::set_index(const PathIndex* index) {
  index_ = index;
  size_t n = index ? index->field_count() : 0;
  head_.assign(n, 0);
  tail_.assign(n, 0);
  stamp_.assign(n, 0);
  gen_ = 1;
}

void Event::reset(std::string_view raw) {
  raw_ = raw;
  ++resets_;
  buf_.clear();
  paths_.clear();
  values_.clear();
  present_.clear();
  links_.clear();
  if (++gen_ == 0) {  // wrapped: clear the stamps once every 4 billion events
    std::fill(stamp_.begin(), stamp_.end(), 0);
    gen_ = 1;
  }
}

void Event::add(std::string_view path, std::string_view value, ValueType type) {
  uint32_t vi = append(value, type, path);
  if (index_) link(vi, index_->lookup(path));
}

void Event::add_at(uint32_t node, std::string_view value, ValueType type, std::string_view path) {
  uint32_t vi = append(value, type, path);
  if (index_) link(vi, index_->ids(node));
}

uint32_t Event::append(std::string_view value, ValueType type, std::string_view path) {
  uint32_t vi = static_cast<uint32_t>(values_.size());
  Value v{static_cast<uint32_t>(buf_.size()), static_cast<uint32_t>(value.size()), 0, 0, type};
  if (keep_paths_) {
    v.path_off = static_cast<uint32_t>(paths_.size());
    v.path_len = static_cast<uint32_t>(path.size());
    paths_.append(path);
  }
  values_.push_back(v);
  buf_.append(value);
  buf_.push_back('\n');
  return vi;
}

void Event::link(uint32_t vi, PathIndex::Ids ids) {
  for (uint32_t k = 0; k < ids.size; ++k) {
    uint32_t f = ids.data[k];
    uint32_t li = static_cast<uint32_t>(links_.size());
    links_.push_back({vi, end});
    if (stamp_[f] != gen_) {
      stamp_[f] = gen_;
      head_[f] = li;
      present_.push_back(f);
    } else {
      links_[tail_[f]].next = li;
    }
    tail_[f] = li;
  }
}

}  // namespace socd
