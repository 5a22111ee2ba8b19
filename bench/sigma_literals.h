// The literals of Sigma rules, for the bare Hyperscan references (bare_hs, BM_HyperscanBatchScan): every string
// value under each rule's `detection:` (not `condition` or `timeframe`, not values of `|re` keys), cut at its
// unescaped wildcards (* and ?), pieces of at least 3 bytes, deduplicated. compile_literals() builds one
// block-mode database of them, case-insensitive, one match per literal per scan.
#pragma once
#include <hs/hs.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace socd::bench {

inline void literal_pieces(const std::string& value, std::set<std::string>& out) {
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

inline void collect_literals(const YAML::Node& node, bool regex, std::set<std::string>& out) {
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

// The literals of every *.yml / *.yaml rule under `dir`; `rules` counts the rules read, `unreadable` the files
// that are not YAML.
inline std::set<std::string> sigma_literals(const std::string& dir, size_t* rules = nullptr,
                                            size_t* unreadable = nullptr) {
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

// One database of `literals`; null (with the reason on stderr) when Hyperscan refuses them.
inline hs_database_t* compile_literals(const std::set<std::string>& literals) {
  if (literals.empty()) return nullptr;
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
    std::fprintf(stderr, "hyperscan: %s\n", err ? err->message : "compile failed");
    if (err) hs_free_compile_error(err);
    return nullptr;
  }
  return db;
}

}  // namespace socd::bench
