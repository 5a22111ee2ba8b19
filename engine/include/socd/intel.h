// Threat-intelligence lists: indicators of compromise (IP addresses and networks, domains, file hashes, URLs)
// from plain or CSV files, matched against the event fields that can carry them. A hit is an alert of the
// list's own rule, `intel:<list name>`, at the list's level (default high), naming the list, the indicator
// and the field.
//
// Files (`--intel FILE`, repeatable):
//   *.yml / *.yaml   a configuration naming lists and their settings (see config/intel/lists.yml):
//                      lists: [{name, file, level, title, tags, type, format, column, type_column}, ...]
//                      fields: {ip: [..], domain: [..], hash: [..], url: [..]}   (replace the defaults per
//                      type)
//   *.csv            one list (named after the file), CSV with a header line; the indicator column is the
//   first
//                    of indicator, ioc, value, ip, domain, url, hash, sha256, sha1, md5 (else the first
//                    column); a `type` column, when present, gives each entry's type
//   anything else    one list (named after the file), one indicator per line
// In every file '#' starts a comment line, blank lines are skipped, and an entry's type is recognised from
// its text unless the list sets it: a URL has a scheme ("http://"), an address may carry a prefix
// ("10.0.0.0/8", "2001:db8::/32"), a hash is 32, 40 or 64 hex digits (MD5, SHA-1, SHA-256), a domain takes
// its subdomains too. Defanged writing ("hxxp://", "evil[.]com") is undone. An entry that is none of these is
// counted and reported with its file:line; the rest of the file loads.
//
// Matching: IPs in a hash set and a longest-prefix interval map, domains (and every parent domain of a value)
// and hashes and URLs in hash sets; only over the fields of `fields` (Sigma names resolved through the
// mappings, so every log shape's spelling of a field is found): hashes also inside Sysmon's
// "SHA1=..,MD5=..,SHA256=.." values, and the host of a URL field against the domain and IP indicators.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socd/event.h"
#include "socd/rule.h"
#include "socd/ruleset.h"
#include "socd/status.h"

namespace socd {

enum class IndicatorType : uint8_t { Ip = 0, Domain = 1, Hash = 2, Url = 3 };
inline constexpr int kIndicatorTypes = 4;
const char* indicator_type_name(IndicatorType type);  // "ip", "domain", "hash", "url"

struct IntelList {
  std::string name;  // unique over all files
  std::string file;  // the list file
  std::string level = "high";
  std::string title;
  std::vector<std::string> tags;
  std::string rule_id;    // "intel:<name>"
  std::string rule_json;  // the alert's {"rule":{"id","title","level","tags"} prefix (AlertWriter::append_as)
  uint64_t indicators[kIndicatorTypes] = {0, 0, 0, 0};  // loaded, per type
  uint64_t duplicates = 0;                              // entries given twice in this list (loaded once)
  uint64_t malformed = 0;                               // entries set aside
};

// The event fields checked for each type of indicator (Sigma field names, resolved through the mappings).
struct IntelFields {
  std::vector<std::string> by_type[kIndicatorTypes];
  static IntelFields defaults();
};

struct IntelHit {
  uint32_t list = 0;
  uint32_t indicator = 0;
  IndicatorType type = IndicatorType::Ip;
  uint32_t field = 0;      // PathIndex field id
  std::string_view value;  // the event's value (a view into the event)
};

class IntelSet {
public:
  // Loads every file; errors that stop the load (a missing file, a bad configuration) are returned; malformed
  // entries are counted, and reported in `diagnostics` (file:line, reason "bad-indicator"; the first 100 of
  // each file, then one line with the count of the others).
  static Expected<std::shared_ptr<const IntelSet>> load(const std::vector<std::string>& paths,
                                                        std::vector<Diagnostic>& diagnostics);
  ~IntelSet();
  IntelSet(const IntelSet&) = delete;
  IntelSet& operator=(const IntelSet&) = delete;

  const std::vector<IntelList>& lists() const;
  const IntelFields& fields() const;
  // Every field name of `fields()` whose type has indicators: what RuleSet::compile must make readable
  // (CompileOptions::extra_fields).
  std::vector<std::string> field_names() const;
  uint64_t size() const;       // indicators loaded (an indicator in two lists counts twice)
  uint64_t malformed() const;  // entries set aside, all files
  double load_seconds() const;
  // An indicator as the list wrote it (normalised: lower case, defanging undone).
  std::string_view indicator(uint32_t index) const;
  uint32_t indicator_list(uint32_t index) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

private:
  IntelSet();
  std::unique_ptr<Impl> impl_;
};

// An IntelSet bound to one rule set's field ids. Immutable: shared by the workers of that rule set.
class IntelMatcher {
public:
  // The fields of `intel` that `rules` cannot read (compiled without them in CompileOptions::extra_fields)
  // are not checked: see unreadable_fields().
  IntelMatcher(std::shared_ptr<const IntelSet> intel, std::shared_ptr<const RuleSet> rules);
  // Appends the hits of `event` (at most one per list and indicator). No allocation once `hits` has grown.
  void match(const Event& event, std::vector<IntelHit>& hits) const;
  const IntelSet& intel() const { return *intel_; }
  const std::vector<std::string>& unreadable_fields() const { return unreadable_; }
  // The alert member ,"intel":{"list","type","indicator","field","value"} of a hit.
  void append_json(std::string& out, const IntelHit& hit) const;
  // The (Sigma) name of a field id of the bound rule set.
  const std::string& field_name(uint32_t field) const { return rules_->paths().field_name(field); }

private:
  struct Field {
    uint32_t id;
    IndicatorType type;
  };
  std::shared_ptr<const IntelSet> intel_;
  std::shared_ptr<const RuleSet> rules_;
  std::vector<Field> fields_;
  std::vector<std::string> unreadable_;
};

}  // namespace socd
