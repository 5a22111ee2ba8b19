// What `socd run` records in the audit chain when it loads or reloads rules: each rule's id with a digest of its
// file's bytes, id, title and level (a rule whose file changed counts as changed), and the loaded/skipped counts.
#pragma once
#include <string>

#include "socd/ledger.h"
#include "socd/ruleset.h"

namespace socd::cli {

RuleSetLoad describe_rule_set(const RuleSet& rules, const std::string& reason, size_t loaded, size_t skipped);

}  // namespace socd::cli
