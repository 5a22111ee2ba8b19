// The Sagan front end: Sagan rule files (*.rules) to Rule values, with the variables of a Sagan YAML
// configuration and the classification and reference files of a rule set.
//
// A Sagan rule is one line (a trailing '\' continues it on the next line):
//   alert any $EXTERNAL_NET any -> $HOME_NET any (msg:"..."; content:"..."; program: sshd; sid:5000001;)
// It becomes one Rule: id = sid, title = msg, level from the classtype's priority (or `priority:`), tags
// "classtype.<name>", "sagan.drop" for `drop` rules and "cve.<id>" for CVE references, references as URLs,
// an empty logsource (Sagan rules run on every syslog event: they are the mapping's unscoped rules), and one
// selection that AND-s
//   message|Contents   the content / pcre sequence (ValueTest::Op::Contents), one check per meta_content
//   program            Glob: the `|` alternatives, '*' and '?' wildcards, case-sensitive
//   facility, severity Equals (Sagan's `facility` / `level`, case-sensitive as Sagan compares them)
//   JSON keys          json_content / json_pcre / json_meta_content on the event field the key names
// Options that need state or data from outside one event are parsed, validated and kept in
// Rule::stateful_options as (keyword, value) with variables resolved: threshold, after, xbits, flexbits
// (+ their _pause forms), alert_time, and the extraction metadata the stateful stage needs to track by source
// or destination: parse_src_ip, parse_dst_ip, parse_port, parse_proto, parse_proto_program, parse_hash,
// normalize, default_proto, default_src_port, default_dst_port, json_map, and the header's networks and
// ports when they are not "any" ("source", "source_port", "destination", "destination_port"); the output
// actions fwsam, email, external are kept there too; so are the list lookups blacklist and bro-intel /
// zeek-intel, with the list files of the Sagan YAML ("blacklist_files", "zeek_intel_files", comma-separated)
// and its default host ("default_host") when it names one.
//
// Reason codes of the diagnostics (skipped rules, one diagnostic each, naming file:line):
//   sagan-dynamic-load        dynamic_load: the processor that loads rule files on demand is not part of socd
//   sagan-bluedot             bluedot: an external reputation service
//   sagan-unsupported-option  an option socd cannot honour (append_program, json_*_base64 decoding,
//                             meta_distance, meta_within, a `pass` action ...), the message says which
//   sagan-bad-header          not "action proto src sport -> dst dport (options)"
//   sagan-bad-option          an option whose value is malformed (bad hex in content, a pcre without slashes,
//                             a threshold without a count, a depth with no content before it ...)
//   sagan-no-sid              no sid
//   sagan-duplicate-sid       a sid already loaded (the first one wins)
//   read-error                a file or directory that cannot be read
// Warnings (the rule loads, read the way Sagan 1.2.0 reads it): warning-sagan-unknown-option (a keyword
// Sagan does not know, e.g. a missing ':' or a Snort-only option: ignored), warning-sagan-option-value (a
// value with text after a stray ':' that is ignored, a content that is not one quoted string, a program with
// blanks in it, a nocase with no content before it, an ignored pcre flag), warning-sagan-variable (an
// undefined $VARIABLE in the header, which then matches anything, or in an extraction option, which is left
// out),
// warning-sagan-classtype (a classtype the classification file does not name, or no classification file),
// warning-sagan-drop (a `drop` rule, loaded as an alert tagged sagan.drop: one per rule so they are counted),
// warning-sagan-geoip (country_code: socd has no GeoIP database, and neither has Sagan 1.2.0 as Debian builds
// it, which loads the rule and fires it as if the option were absent: socd does the same, one warning per
// rule), warning-sagan-lookup-list (blacklist, bro-intel / zeek-intel with no list given in the Sagan YAML:
// the rule loads but cannot fire, as in Sagan with those processors off), warning-sagan-threshold (a
// threshold type other than limit or suppress, which Sagan 1.2.0 loads and does not apply),
// warning-sagan-normalize (a rule has `normalize` but there is no rulebase: it extracts nothing), the
// rulebase's own diagnostics (lognorm-bad-rule: a rulebase line left out, naming the rulebase file:line).
// `normalize` runs the rulebase (see socd/lognorm.h) on " " + the message (rsyslog's msg property, which
// Sagan's rulebases are written for, keeps the space after the tag's ':'); the header's checks, `normalize`
// and the other extraction options are applied by the stateful stage (socd/stateful.h, "Tracking keys").
// Skipped as unsupported: xbits_pause / xbits_upause / flexbits_pause / flexbits_upause (a delay before a
// bit is tested; none of Debian's rules uses them), a tcp/udp/icmp header with parse_proto or
// parse_proto_program (socd does not read protocol.map).
// A meta_content / event_id list naming a $VARIABLE the variables do not define is read as Sagan 1.2.0 reads
// it: the name itself, "$NAME", is the value (warning-sagan-variable).
//
// The stateful options are applied by the stateful stage (socd/stateful.h, "Sagan rules").
//
// Positional content modifiers follow Snort (Sagan's documentation says they are identical): offset and depth
// place a content from the start of the message, distance and within relative to the end of the previous
// content's match; `nocase` and the positional modifiers apply to the last content before them, even when a
// pcre stands in between. Sagan 1.2.0 itself departs from this: its depth window is one byte longer, its
// distance counts from the previous content's depth instead of its match, and a distance of 0 counts as none
// (the shipped rules use none of these but "distance:0").
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"
#include "socd/sigma.h"
#include "socd/status.h"

namespace socd {

struct SaganVariables {
  // Variable name without '$' -> value as written ("any", "[10.0.0.0/8, 192.168.0.0/16]", "22",
  // "a,b,c" lists for meta_content ...).
  std::map<std::string, std::string> values;
  // classification.config: classtype -> priority (1 highest).
  std::map<std::string, int> classification_priority;
  // reference.config: system ("cve", "url" ...) -> URL prefix.
  std::map<std::string, std::string> reference_prefix;
  bool classifications_loaded = false;  // false: the loader looks for classification.config beside the rules
  // sagan-core/core default-host: the address Sagan gives an event whose syslog host is not an address, and
  // the destination of an event whose message names none; empty: such events share one "no address" key.
  std::string default_host;
  // The lists of the blacklist and bro-intel (zeek-intel) processors when sagan.yaml enables them (file names
  // with variables resolved; Sagan separates several with commas). Rules with `blacklist` / `bro-intel` look
  // the event's addresses up in them; with none, such rules load but cannot fire (as in Sagan).
  std::vector<std::string> blacklist_files, zeek_intel_files;
  // The liblognorm rulebase of `normalize` (sagan-core/liblognorm normalize_rulebase when enabled; else
  // normalization.rulebase beside the rules when there is one). Empty: `normalize` extracts nothing.
  std::string normalize_rulebase;
  // sagan-core/core default-port and default-proto: the port and protocol of an event whose message names
  // none, which the rule header's port and protocol are checked against (Sagan's defaults: 514, udp).
  int default_port = 514;
  std::string default_proto = "udp";

  // Sagan's defaults: HOME_NET and EXTERNAL_NET "any", the usual service ports (SSH_PORT 22, HTTP_PORT 80
  // ...), HOME_COUNTRY, SAGAN_HOURS / SAGAN_DAYS, and RFC1918 (the private IPv4 prefixes). Site lists such as
  // CREDIT_CARD_PREFIXES or PSEXEC_MD5 have no default: until a Sagan YAML defines them, rules that name them
  // look for the name itself, as Sagan does (with a warning).
  static SaganVariables defaults();
};

// Reads a Sagan YAML configuration (sagan.yaml): every scalar under `vars:` (in its groups: address-groups,
// port-groups, misc-groups ...) becomes a variable, on top of the defaults; the classification and reference
// files it names under sagan-core/core (with $RULE_PATH and other variables resolved) are read when present.
Expected<SaganVariables> load_sagan_variables(const std::string& yaml_path);
// "config classification: name,description,priority" lines; errors name file:line.
Status load_sagan_classifications(const std::string& path, SaganVariables& vars);
// "config reference: system url" lines.
Status load_sagan_references(const std::string& path, SaganVariables& vars);

// Parses the Sagan rules in `text` (one rule file) and appends them to `out`; `file` names it in diagnostics.
void load_sagan_text(const std::string& file, std::string_view text, const SaganVariables& vars,
                     RuleLoad& out);

// Loads a *.rules file, or every *.rules file below a directory (sorted by path). When `vars` has no
// classifications, classification.config and reference.config beside the rules (in the directory, or the
// file's directory) are read first.
void load_sagan_path(const std::string& path, const SaganVariables& vars, RuleLoad& out);
// Loads the given *.rules files, found below directory `dir` (by list_files), as load_sagan_path would.
void load_sagan_files(const std::string& dir, const std::vector<std::string>& files, const SaganVariables& vars,
                      RuleLoad& out);

// Sagan classification priority -> Sigma level: 1 high, 2 medium, 3 low, 4 and above informational
// (Sagan's top priority is 1; nothing in it distinguishes Sigma's "critical").
std::string sagan_priority_level(int priority);

}  // namespace socd
