#include "socd/event.h"

#include <cstring>

namespace socd {

size_t PathIndex::Hash::operator()(std::string_view s) const noexcept {
  // FNV-1a over 8-byte words: paths are short, this is cheaper than the standard string hash.
  uint64_t h = 1469598103934665603ull;
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 1099511628211ull;
    h ^= h >> 29;
  }
  for (; i < s.size(); ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 32));
}

uint32_t PathIndex::field_id(std::string_view name) {
  auto it = name_ids_.find(name);
  if (it != name_ids_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  name_ids_.emplace(std::string(name), id);
  return id;
}

uint32_t PathIndex::find_field(std::string_view name) const {
  auto it = name_ids_.find(name);
  return it == name_ids_.end() ? npos : it->second;
}

void PathIndex::add_path(std::string_view path, uint32_t id) {
  auto it = paths_.find(path);
  if (it == paths_.end()) it = paths_.emplace(std::string(path), std::vector<uint32_t>{}).first;
  for (uint32_t x : it->second)
    if (x == id) return;
  it->second.push_back(id);
}

PathIndex::Ids PathIndex::lookup(std::string_view path) const {
  auto it = paths_.find(path);
  if (it == paths_.end()) return {};
  return {it->second.data(), static_cast<uint32_t>(it->second.size())};
}

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
  buf_.clear();
  paths_.clear();
  values_.clear();
  links_.clear();
  if (++gen_ == 0) {  // wrapped: clear the stamps once every 4 billion events
    std::fill(stamp_.begin(), stamp_.end(), 0);
    gen_ = 1;
  }
}

void Event::add(std::string_view path, std::string_view value, ValueType type) {
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
  if (!index_) return;
  PathIndex::Ids ids = index_->lookup(path);
  for (uint32_t k = 0; k < ids.size; ++k) {
    uint32_t f = ids.data[k];
    uint32_t li = static_cast<uint32_t>(links_.size());
    links_.push_back({vi, end});
    if (stamp_[f] != gen_) {
      stamp_[f] = gen_;
      head_[f] = li;
    } else {
      links_[tail_[f]].next = li;
    }
    tail_[f] = li;
  }
}

}  // namespace socd
