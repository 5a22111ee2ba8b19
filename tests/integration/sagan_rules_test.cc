// The Sagan rule set Debian ships (package sagan-rules, /etc/sagan-rules) through socd's Sagan front end and
// matcher: socd must load every rule Sagan 1.2.0 loads from the same files except those whose options neither
// can honour, and the rules must fire on real OpenSSH and Linux lines (../shared/corpus/loghub).
//
// Sagan 1.2.0 (Debian package sagan) loads 2,150 rules from the 181 files: 2,128 `alert` + 22 `drop`; it
// skips 63 dynamic_load and 74 Bluedot rules and the one line whose action is misspelt ("lert"). socd loads
// the same 2,150: the 68 country_code rules with a warning each (no GeoIP database: Sagan 1.2.0 lacks GeoIP2
// as well and fires them as if the option were absent), the 44 blacklist / bro-intel rules with a warning
// each (their processors are off in Debian's sagan.yaml: neither engine can fire them), and the 2 rules
// whose meta_content names a site variable (defined in Debian's sagan.yaml; undefined, both engines look
// for the name itself).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "socd/event_parser.h"
#include "socd/ruleset.h"
#include "socd/sagan.h"
#include "socd/stateful.h"

namespace socd {
namespace {

namespace fs = std::filesystem;

const char* kRules = "/etc/sagan-rules";
const char* kYaml = "/etc/sagan.yaml";

struct SaganSet {
  RuleLoad load;
  std::map<std::string, size_t> skipped;  // by reason
  std::map<std::string, size_t> warned;   // warnings by reason
  std::map<std::string, size_t> rulebase;  // diagnostics of the normalize rulebase, by reason
  size_t drops = 0;
};

SaganSet load_debian_rules() {
  SaganSet s;
  SaganVariables vars = SaganVariables::defaults();
  if (fs::exists(kYaml)) {
    auto v = load_sagan_variables(kYaml);
    EXPECT_TRUE(v.ok()) << v.error().message();
    if (v.ok()) vars = *v;
  }
  load_sagan_path(kRules, vars, s.load);
  for (const auto& d : s.load.diagnostics) {
    if (d.reason.rfind("lognorm-", 0) == 0) ++s.rulebase[d.reason];  // a line of the normalize rulebase
    else if (d.reason.rfind("warning", 0) != 0) ++s.skipped[d.reason];
    else ++s.warned[d.reason];
    if (d.reason == "warning-sagan-drop") ++s.drops;
  }
  return s;
}

TEST(SaganDebianRules, LoadsWhatSagan120Loads) {
  if (!fs::exists(kRules)) GTEST_SKIP() << kRules << " is absent (apt-get install sagan-rules)";
  if (!fs::exists(kYaml))
    GTEST_SKIP() << kYaml << " is absent (apt-get install sagan): its variables are needed";
  SaganSet s = load_debian_rules();
  std::map<std::string, size_t> want = {
      {"sagan-dynamic-load", 63}, {"sagan-bluedot", 74}, {"sagan-bad-header", 1}};
  EXPECT_EQ(s.skipped, want);
  // Debian's normalization rulebase has one line that is no rule (`rule =:`, line 148): left out, said once.
  EXPECT_EQ(s.rulebase, (std::map<std::string, size_t>{{"lognorm-bad-rule", 1}}));
  EXPECT_EQ(s.load.skipped, 63u + 74 + 1);
  EXPECT_EQ(s.drops, 22u);
  EXPECT_EQ(s.warned["warning-sagan-geoip"], 68u);
  EXPECT_EQ(s.warned["warning-sagan-lookup-list"], 44u);
  const size_t sagan_loaded = 2150, sagan_alert = 2128;
  EXPECT_GE(s.load.rules.size() - s.drops, sagan_alert);
  EXPECT_EQ(s.load.rules.size(), sagan_loaded);
  // Every loaded rule compiles (its regexes included).
  std::vector<Diagnostic> diags;
  size_t loaded = s.load.rules.size();
  auto set = RuleSet::compile(std::move(s.load.rules), FieldMapping{}, {}, diags);
  EXPECT_EQ(set->size(), loaded);
  for (const auto& d : diags) EXPECT_EQ(d.reason.rfind("warning", 0), 0u) << d.to_string();
}

TEST(SaganDebianRules, WithoutTheYamlTheSameRulesLoadAndTheStageTakesTheirOptions) {
  if (!fs::exists(kRules)) GTEST_SKIP() << kRules << " is absent (apt-get install sagan-rules)";
  RuleLoad load;
  load_sagan_path(kRules, SaganVariables::defaults(), load);
  size_t drops = 0, variables = 0;
  for (const auto& d : load.diagnostics) {
    if (d.reason == "warning-sagan-drop") ++drops;
    if (d.reason == "warning-sagan-variable" && d.message.find("itself") != std::string::npos) ++variables;
  }
  EXPECT_EQ(load.rules.size(), 2150u);
  EXPECT_GE(load.rules.size() - drops, 2128u);
  EXPECT_EQ(variables, 2u);  // $CREDIT_CARD_PREFIXES and $PSEXEC_MD5, looked for as written
  StageConfig config;
  note_state_fields(load.rules, {}, config);
  std::vector<Diagnostic> diags;
  auto set = RuleSet::compile(std::move(load.rules), FieldMapping{}, {}, diags);
  auto stateful = StatefulRules::build(set, {}, config, diags);
  for (const auto& d : diags) EXPECT_EQ(d.reason.rfind("warning", 0), 0u) << d.to_string();
  EXPECT_TRUE(stateful->active());
  // Every rule with threshold, after, xbits, alert_time or a list lookup, and every rule whose header names
  // networks, ports or a protocol (checked by the stage on the parsed or normalized addresses).
  size_t with_state = 0, with_header = 0;
  for (size_t i = 0; i < set->size(); ++i) {
    bool state = false, header = false;
    for (const auto& [k, v] : set->rule(i).stateful_options) {
      if (k == "threshold" || k == "after" || k == "xbits" || k == "alert_time" || k == "blacklist" ||
          k == "zeek-intel")
        state = true;
      if (k == "source" || k == "destination" || k == "source_port" || k == "destination_port" || k == "protocol")
        header = true;
    }
    with_state += state;
    with_header += header && !state;
  }
  EXPECT_EQ(stateful->sagan_rule_count(), with_state + with_header);
  EXPECT_EQ(with_state, 489u);
}

// Matches every line of a loghub file; returns alerts per sid.
std::map<std::string, size_t> fire_counts(const std::shared_ptr<const RuleSet>& set, const fs::path& file,
                                          size_t& lines) {
  std::map<std::string, size_t> counts;
  std::ifstream in(file);
  Event ev(&set->paths());
  EventParser parser(InputFormat::Syslog);
  Matcher m(set);
  std::vector<uint32_t> matched;
  lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || !parser.parse(line, ev).ok()) continue;
    ++lines;
    matched.clear();
    m.match(ev, matched);
    for (uint32_t r : matched) ++counts[set->rule(r).id];
  }
  return counts;
}

TEST(SaganDebianRules, FireOnRealOpenSshAndLinuxLines) {
  if (!fs::exists(kRules)) GTEST_SKIP() << kRules << " is absent (apt-get install sagan-rules)";
  const fs::path corpus = fs::path(SOCD_SOURCE_DIR) / ".." / "shared" / "corpus" / "loghub";
  if (!fs::exists(corpus / "OpenSSH_2k.log")) GTEST_SKIP() << "../shared/corpus/loghub is absent";
  SaganSet s = load_debian_rules();
  std::map<std::string, std::string> titles;
  for (const auto& r : s.load.rules) titles[r.id] = r.title;
  std::vector<Rule> copy = s.load.rules;
  std::vector<Diagnostic> diags;
  auto set = RuleSet::compile(std::move(s.load.rules), FieldMapping{}, {}, diags);
  // With the prefilter off every rule is evaluated on every line: the alerts must be the same.
  CompileOptions everything;
  everything.prefilter = false;
  auto unfiltered = RuleSet::compile(std::move(copy), FieldMapping{}, everything, diags);

  size_t lines = 0;
  auto ssh = fire_counts(set, corpus / "OpenSSH_2k.log", lines);
  EXPECT_EQ(lines, 2000u);
  EXPECT_EQ(ssh, fire_counts(unfiltered, corpus / "OpenSSH_2k.log", lines));
  for (const auto& [sid, n] : ssh)
    std::printf("OpenSSH_2k  %6zu  %s %s\n", n, sid.c_str(), titles[sid].c_str());
  // sshd's own messages: unknown users, failed passwords, reverse-mapping failures.
  EXPECT_GT(ssh["5000016"], 0u) << "authentication failure (a drop rule)";
  EXPECT_GT(ssh["5000018"], 0u) << "POSSIBLE BREAK-IN ATTEMPT";
  EXPECT_GT(ssh["5001646"], 0u) << "Failed password";
  EXPECT_GT(ssh["5000022"], 0u) << "invalid user (pcre with a negated content)";
  auto linux = fire_counts(set, corpus / "Linux_2k.log", lines);
  EXPECT_EQ(lines, 2000u);
  EXPECT_EQ(linux, fire_counts(unfiltered, corpus / "Linux_2k.log", lines));
  for (const auto& [sid, n] : linux)
    std::printf("Linux_2k    %6zu  %s %s\n", n, sid.c_str(), titles[sid].c_str());
  size_t linux_alerts = 0;
  for (const auto& [sid, n] : linux) linux_alerts += n;
  EXPECT_GT(linux_alerts, 0u);
}

}  // namespace
}  // namespace socd
