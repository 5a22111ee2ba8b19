#include "rule_set_record.h"

#include <fstream>
#include <map>

namespace socd::cli {

RuleSetLoad describe_rule_set(const RuleSet& rules, const std::string& reason, size_t loaded, size_t skipped) {
  RuleSetLoad load;
  load.reason = reason;
  load.loaded = loaded;
  load.skipped = skipped;
  std::map<std::string, std::string> file_digests;
  for (uint32_t i = 0; i < rules.size(); ++i) {
    const Rule& rule = rules.rule(i);
    auto [it, fresh] = file_digests.emplace(rule.file, "");
    if (fresh) {
      std::ifstream in(rule.file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      it->second = in || !bytes.empty() ? sha256_hex(bytes) : "unreadable";
    }
    load.rules.emplace_back(rule.id, sha256_hex(it->second + "\n" + rule.id + "\n" + rule.title + "\n" + rule.level));
  }
  return load;
}

}  // namespace socd::cli
