#include "socd/assets.h"

#include <fnmatch.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "config_yaml.h"
#include "ip_ranges.h"
#include "socd/json.h"

namespace socd {

using detail::config_error;
using detail::yaml_line;

// Each inventory's number, so a per-thread memo never mistakes a new inventory at a freed one's address for it.
namespace {
std::atomic<uint64_t> next_inventory_serial{1};
}  // namespace

struct AssetInventory::Impl {
  uint64_t serial = next_inventory_serial.fetch_add(1);
  std::vector<AssetSystem> systems;
  std::unordered_map<std::string, uint32_t> names;  // lower-case full host name -> system
  std::unordered_map<std::string, int64_t>
      short_names;  // first label of a full-name entry -> system, -1: several
  std::unordered_map<std::string, uint32_t> suffixes;  // ".stc.tinh.local" of "*.stc.tinh.local" -> system
  detail::RangeMap<uint32_t> ranges;
  std::vector<std::pair<std::string, uint32_t>> sources;  // glob -> system, in file order

  static Status build(const std::string& file, const YAML::Node& root, Impl& impl);
  Status add_system(const std::string& file, const YAML::Node& node,
                    std::map<std::string, int>& network_lines, std::map<std::string, int>& source_lines);
  const AssetSystem* host(std::string_view name) const;
  const AssetSystem* source(std::string_view source) const;
};

const char* asset_match_name(AssetMatch how) {
  switch (how) {
    case AssetMatch::Host:
      return "host";
    case AssetMatch::HostAddress:
      return "host address";
    case AssetMatch::Sender:
      return "sender address";
    case AssetMatch::Source:
      return "log source";
    case AssetMatch::None:
      break;
  }
  return "none";
}

namespace {

// Lower-case, without a trailing dot, into `out` (reused).
void normal_host(std::string_view name, std::string& out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  out.assign(name);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

bool valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.find("..") != std::string_view::npos)
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

std::string contact_text(const YAML::Node& node) {
  if (node.IsScalar()) return node.Scalar();
  std::string out;
  auto add = [&](const char* key, const char* before, const char* after) {
    if (node[key] && node[key].IsScalar()) {
      if (!out.empty()) out += ' ';
      out += before + node[key].Scalar() + after;
    }
  };
  add("name", "", "");
  add("email", "<", ">");
  add("phone", "", "");
  add("role", "(", ")");
  return out;
}

}  // namespace

Status AssetInventory::Impl::add_system(const std::string& file, const YAML::Node& node,
                                        std::map<std::string, int>& network_lines,
                                        std::map<std::string, int>& source_lines) {
  const int line = yaml_line(node);
  if (!node.IsMap())
    return config_error(file, line, "each entry of 'systems' must be a map (name, owner, level, hosts ...)");
  AssetSystem s;
  s.file = file;
  s.line = line;
  const auto index = static_cast<uint32_t>(systems.size());
  // Who holds a range or source already: this system (it lists it twice) or one added before it.
  auto owner_of = [&](int holder, uint32_t self) {
    return static_cast<uint32_t>(holder) == self
               ? std::string("is listed twice")
               : "belongs to system '" + systems[static_cast<size_t>(holder)].name + "' already";
  };
  // Host names, addresses and sources of this system, checked against the other systems' as they are added.
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    const int key_line = yaml_line(kv.first);
    auto scalars = [&](std::vector<std::string>& out) -> Status {
      if (!detail::yaml_strings(v, out))
        return config_error(file, key_line, "'" + key + "' must be a value or a list of values");
      return Status();
    };
    if (key == "name" || key == "owner" || key == "description") {
      if (!v.IsScalar() || v.Scalar().empty())
        return config_error(file, key_line, "'" + key + "' must be a non-empty text");
      (key == "name" ? s.name : key == "owner" ? s.owner : s.description) = v.Scalar();
    } else if (key == "level") {
      int level = 0;
      if (!v.IsScalar() || !YAML::convert<int>::decode(v, level) || level < 1 || level > 5)
        return config_error(file, key_line, "'level' must be the system's security level, 1 to 5");
      s.level = level;
    } else if (key == "contacts") {
      if (v.IsScalar() || v.IsMap()) {
        s.contacts.push_back(contact_text(v));
      } else if (v.IsSequence()) {
        for (const auto& c : v) s.contacts.push_back(contact_text(c));
      } else {
        return config_error(file, key_line,
                            "'contacts' must be a list of texts or of maps (name, email, phone)");
      }
    } else if (key == "classes") {
      if (Status st = scalars(s.classes); !st.ok()) return st;
    } else if (key == "hosts") {
      if (Status st = scalars(s.hosts); !st.ok()) return st;
    } else if (key == "ranges" || key == "networks") {
      if (Status st = scalars(s.ranges); !st.ok()) return st;
    } else if (key == "sources") {
      if (Status st = scalars(s.sources); !st.ok()) return st;
    } else {
      return config_error(file, key_line,
                          "unknown key '" + key +
                              "' (a system has name, owner, level, description, contacts, classes, "
                              "hosts, ranges, sources)");
    }
  }
  if (s.name.empty()) return config_error(file, line, "the system has no 'name'");
  if (s.owner.empty()) return config_error(file, line, "system '" + s.name + "' has no 'owner' (its agency)");
  if (s.level == 0) return config_error(file, line, "system '" + s.name + "' has no 'level' (1 to 5)");
  for (const auto& other : systems)
    if (other.name == s.name)
      return config_error(file, line,
                          "a second system named '" + s.name + "' (the first is at line " +
                              std::to_string(other.line) + "); names must be unique");

  std::string h;
  for (const auto& host : s.hosts) {
    normal_host(host, h);
    if (h.size() > 2 && h[0] == '*' && h[1] == '.') {
      std::string suffix = h.substr(1);
      if (!valid_host_name(suffix.substr(1)))
        return config_error(file, line, "system '" + s.name + "': '" + host + "' is not a host name pattern");
      auto [it, fresh] = suffixes.emplace(suffix, index);
      if (!fresh && it->second != index)
        return config_error(file, line,
                            "system '" + s.name + "': hosts '" + host + "' belong to system '" +
                                systems[it->second].name + "' already");
      continue;
    }
    if (!valid_host_name(h))
      return config_error(file, line,
                          "system '" + s.name + "': '" + host +
                              "' is not a host name (letters, digits, '-', '_', '.'; or '*.domain')");
    auto [it, fresh] = names.emplace(h, index);
    if (!fresh && it->second != index)
      return config_error(file, line,
                          "system '" + s.name + "': host '" + host + "' belongs to system '" +
                              systems[it->second].name + "' already");
    if (size_t dot = h.find('.'); dot != std::string::npos) {
      auto [sit, sfresh] = short_names.emplace(h.substr(0, dot), index);
      if (!sfresh && sit->second != index) sit->second = -1;  // the same short name in two systems
    }
  }
  for (const auto& range : s.ranges) {
    detail::Address first, last;
    int prefix = 0;
    std::string why;
    if (!detail::parse_network(range, first, last, prefix, &why))
      return config_error(file, line,
                          "system '" + s.name + "': '" + range +
                              "' is not an IP range in CIDR "
                              "notation (" +
                              why + ")");
    std::string key(16, '\0');
    first.bytes(key.data());
    key += std::to_string(prefix);
    auto [it, fresh] = network_lines.emplace(key, static_cast<int>(index));
    if (!fresh)
      return config_error(file, line,
                          "system '" + s.name + "': range '" + range + "' " + owner_of(it->second, index));
    ranges.add(first, last, index);
  }
  for (const auto& source : s.sources) {
    if (source.empty()) return config_error(file, line, "system '" + s.name + "': an empty source");
    auto [it, fresh] = source_lines.emplace(source, static_cast<int>(index));
    if (!fresh)
      return config_error(file, line,
                          "system '" + s.name + "': source '" + source + "' " + owner_of(it->second, index));
    sources.emplace_back(source, index);
  }
  systems.push_back(std::move(s));
  return Status();
}

Status AssetInventory::Impl::build(const std::string& file, const YAML::Node& root, Impl& impl) {
  if (!root.IsMap() || !root["systems"])
    return config_error(file, root.IsDefined() ? yaml_line(root) : 1,
                        "an asset inventory is a map with a 'systems' list (see config/assets.yml)");
  for (const auto& kv : root)
    if (kv.first.Scalar() != "systems")
      return config_error(file, yaml_line(kv.first),
                          "unknown key '" + kv.first.Scalar() + "' (expected 'systems')");
  const YAML::Node& list = root["systems"];
  if (!list.IsSequence()) return config_error(file, yaml_line(list), "'systems' must be a list of systems");
  std::map<std::string, int> network_lines, source_lines;
  for (const auto& node : list)
    if (Status s = impl.add_system(file, node, network_lines, source_lines); !s.ok()) return s;
  impl.ranges.build();
  return Status();
}

Expected<std::shared_ptr<const AssetInventory>> AssetInventory::parse(const std::string& name,
                                                                      const std::string& yaml) {
  YAML::Node root;
  if (Status s = detail::load_yaml_file(name, &yaml, root); !s.ok()) return s;
  std::shared_ptr<AssetInventory> inv(new AssetInventory());
  if (Status s = Impl::build(name, root, *inv->impl_); !s.ok()) return s;
  return std::shared_ptr<const AssetInventory>(std::move(inv));
}

Expected<std::shared_ptr<const AssetInventory>> AssetInventory::load(const std::string& path) {
  YAML::Node root;
  if (Status s = detail::load_yaml_file(path, nullptr, root); !s.ok()) return s;
  std::shared_ptr<AssetInventory> inv(new AssetInventory());
  if (Status s = Impl::build(path, root, *inv->impl_); !s.ok()) return s;
  return std::shared_ptr<const AssetInventory>(std::move(inv));
}

AssetInventory::AssetInventory() : impl_(std::make_unique<Impl>()) {}
AssetInventory::~AssetInventory() = default;

const std::vector<AssetSystem>& AssetInventory::systems() const { return impl_->systems; }

const AssetSystem* AssetInventory::Impl::host(std::string_view name) const {
  static thread_local std::string h;
  normal_host(name, h);
  if (h.empty()) return nullptr;
  if (auto it = names.find(h); it != names.end()) return &systems[it->second];
  size_t dot = h.find('.');
  if (dot == std::string::npos) {  // a short name: the system whose full name starts with it
    auto it = short_names.find(h);
    return it != short_names.end() && it->second >= 0 ? &systems[static_cast<size_t>(it->second)] : nullptr;
  }
  if (!suffixes.empty()) {  // "*.domain" entries, the most specific first
    for (size_t d = dot; d != std::string::npos; d = h.find('.', d + 1)) {
      if (auto it = suffixes.find(h.substr(d)); it != suffixes.end()) return &systems[it->second];
    }
  }
  // A full name whose first label is listed on its own ("pc07.tinh.local" for an entry "pc07").
  if (auto it = names.find(h.substr(0, dot)); it != names.end()) return &systems[it->second];
  return nullptr;
}

const AssetSystem* AssetInventory::Impl::source(std::string_view source) const {
  if (sources.empty() || source.empty()) return nullptr;
  // Sources repeat from batch to batch: the last answer per thread is kept.
  struct Memo {
    uint64_t inventory = 0;  // Impl::serial
    std::string source;
    const AssetSystem* system = nullptr;
  };
  static thread_local Memo memo;
  if (memo.inventory == serial && memo.source == source) return memo.system;
  std::string text(source);
  std::string absolute;
  if (!text.empty() && text.front() != '/' && text.find("://") == std::string::npos) {
    std::error_code ec;
    absolute = std::filesystem::absolute(text, ec).lexically_normal().string();
  }
  const AssetSystem* found = nullptr;
  for (const auto& [glob, index] : sources) {
    if (fnmatch(glob.c_str(), text.c_str(), 0) == 0 ||
        (!absolute.empty() && fnmatch(glob.c_str(), absolute.c_str(), 0) == 0)) {
      found = &systems[index];
      break;
    }
  }
  memo = {serial, std::move(text), found};
  return found;
}

const AssetSystem* AssetInventory::find_host(std::string_view name) const { return impl_->host(name); }

const AssetSystem* AssetInventory::find_address(std::string_view address) const {
  detail::Address a;
  if (impl_->ranges.empty() || !detail::parse_address(address, a)) return nullptr;
  const uint32_t* index = impl_->ranges.find(a);
  return index ? &impl_->systems[*index] : nullptr;
}

const AssetSystem* AssetInventory::find_source(std::string_view source) const {
  return impl_->source(source);
}

const AssetSystem* AssetInventory::find(const AssetQuery& q, AssetMatch* how) const {
  auto found = [&](const AssetSystem* s, AssetMatch m) {
    if (how) *how = s ? m : AssetMatch::None;
    return s;
  };
  if (!q.host.empty()) {
    detail::Address a;
    if (detail::parse_address(q.host, a)) {
      if (const uint32_t* index = impl_->ranges.find(a))
        return found(&impl_->systems[*index], AssetMatch::HostAddress);
    } else if (const AssetSystem* s = impl_->host(q.host)) {
      return found(s, AssetMatch::Host);
    }
  }
  if (const AssetSystem* s = find_address(q.sender_ip)) return found(s, AssetMatch::Sender);
  return found(impl_->source(q.source), AssetMatch::Source);
}

void append_asset_json(std::string& out, const AssetSystem* system) {
  if (!system) {
    out += ",\"asset\":{\"known\":false}";
    return;
  }
  out += ",\"asset\":{\"system\":";
  append_json_string(out, system->name);
  out += ",\"owner\":";
  append_json_string(out, system->owner);
  out += ",\"level\":";
  out += static_cast<char>('0' + system->level);
  out += ",\"known\":true}";
}

}  // namespace socd
