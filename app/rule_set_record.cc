#include "rule_set_record.h"

#include <map>

#include "socd/read_file.h"

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
      std::string bytes;
      it->second = read_file(rule.file, bytes) ? sha256_hex(bytes) : "unreadable";
    }
    load.rules.emplace_back(rule.id, sha256_hex(it->second + "\n" + rule.id + "\n" + rule.title + "\n" + rule.level));
  }
  return load;
}

}  // namespace socd::cli
