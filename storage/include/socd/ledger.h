// The ledger of an alert store: incidents and the audit chain (layer 3), kept in the same RocksDB as the alerts
// and written in the same atomic batches.
//
// Audit chain: every stored alert, every incident change, every rule-set load and settings change is appended to
// the `chain` column family as a record (seq, kind, time, subject, payload, previous hash, hash), hash =
// SHA-256 over the record with the previous record's hash in it. Alerts are chained by a digest of their stored
// key and value; incident changes carry the digest of the incident record after the change and the change itself.
// With a key (--audit-key-file, SOCD_AUDIT_KEY), the head is sealed periodically by a seal record whose payload is
// HMAC-SHA256(key, previous hash, previous seq). verify() recomputes everything and names the first record altered,
// removed or reordered, and checks that the alerts and incidents in the store still match their chain entries.
//
// Incidents: grouped at commit time (socd/incidents.h), changed by commands (apply) that only the writer runs; a
// CLI beside a running writer hands its command to it through the command inbox (socd/command_inbox.h).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socd/incidents.h"
#include "socd/status.h"
#include "socd/time_zone.h"

namespace socd {

enum class ChainKind : uint8_t {
  Alert = 1, Incident = 2, RuleSet = 3, Settings = 4, Seal = 5, Retention = 6,
  Request = 7  // a request to the HTTP API (who, what, the answer's status)
};
const char* chain_kind_name(ChainKind kind);

struct ChainRecord {
  uint64_t seq = 0;
  ChainKind kind = ChainKind::Alert;
  int64_t time_ms = 0;   // when it was appended (wall clock of the writer)
  std::string subject;   // alert id, incident id, "rules", "settings", the seal key's id, the retention scope,
                         // the API token's name (request)
  std::string payload;   // alert: SHA-256 of its stored record; incident: SHA-256 of the record, then the change
                         // text; rule set, settings, retention: their text; seal: the HMAC
  std::string prev_hash, hash;  // 32 bytes each
};

// A load or reload of the rule set, as `socd run` records it.
struct RuleSetLoad {
  std::string reason;  // "start", "reload"
  uint64_t loaded = 0, skipped = 0;
  // Rule id -> digest (of its file's bytes, id, title and level): a digest that differs from the previous load's
  // marks the rule as changed.
  std::vector<std::pair<std::string, std::string>> rules;
  std::string encode() const;
  static Expected<RuleSetLoad> decode(std::string_view text);
  std::string digest() const;  // over the sorted rule digests
};

struct VerifyReport {
  bool ok = true;
  uint64_t records = 0, alerts = 0, incident_changes = 0, rule_sets = 0, seals = 0, seals_checked = 0;
  uint64_t requests = 0;  // API requests recorded
  uint64_t alerts_in_store = 0, incidents_in_store = 0;
  uint64_t last_seal_seq = 0;  // records after it are not covered by a seal
  std::string head_hash;       // hex
  // The problems found, in chain order: the first names the first record altered, removed or reordered.
  std::vector<std::string> problems;
  std::vector<std::string> warnings;
};

// Activity of a source per hour of arrival (for the report's silent sources).
struct SourceActivity {
  std::string source;
  int64_t hour_ms = 0;  // start of the hour, UTC
  uint64_t batches = 0, events = 0;
};

class Ledger {
public:
  virtual ~Ledger() = default;

  // Writer: the settings in force (stored, and chained when they change) and the key sealing the chain head
  // (empty: no seals). Readers use the settings the writer stored.
  virtual Status configure(const IncidentSettings& settings, const std::string& seal_key) = 0;
  virtual IncidentSettings settings() = 0;
  virtual TimeZone zone() = 0;
  // The clock of incident times and chain records (tests); the system clock by default.
  virtual void set_clock(std::function<int64_t()> now_ms) = 0;

  // Writer: applies an analyst's command (new, attach, ack, ...) and returns the incident after it.
  virtual Expected<Incident> apply(const IncidentCommand& command) = 0;
  virtual Expected<std::optional<Incident>> incident(std::string_view id) = 0;
  // Every incident, in id (creation) order, until `visit` returns false.
  virtual Status incidents(const std::function<bool(const Incident&)>& visit) = 0;
  virtual Status incident_alerts(std::string_view id, const std::function<bool(const std::string&)>& visit) = 0;
  virtual Expected<std::optional<std::string>> incident_of_alert(std::string_view alert_id) = 0;
  // Incidents with an overdue deadline now, by deadline name (writer: from memory, for metrics; thread-safe).
  virtual std::map<std::string, uint64_t> overdue(int64_t now_ms) = 0;

  // Writer: a rule-set load, chained with its digest.
  virtual Status record_rule_set(const RuleSetLoad& load) = 0;
  // Writer: a request to the HTTP API, chained (subject: the token's name or "-"; payload: its description).
  virtual Status record_request(std::string_view subject, std::string_view payload) = 0;
  // Writer: a source delivered a batch; written with the next commit (any thread).
  virtual void note_source_activity(const std::string& source, uint64_t events) = 0;
  virtual Status source_activity(const std::function<bool(const SourceActivity&)>& visit) = 0;
  // Writer: seals the head when a key is set and records were appended since the last seal: now, or with
  // `only_when_due` when the settings' record count or interval has been reached (socd run calls it regularly).
  virtual Status seal(bool only_when_due = false) = 0;

  // The chain from `from_seq` (1: the start), in order, until `visit` returns false.
  virtual Status chain(uint64_t from_seq, const std::function<bool(const ChainRecord&)>& visit) = 0;
  virtual Expected<VerifyReport> verify(const std::string& key) = 0;
};

// Hex of SHA-256 of `data`.
std::string sha256_hex(std::string_view data);
std::string to_hex(std::string_view bytes);
// The audit key: the file's bytes (trailing newline removed) when `file` is given, else $SOCD_AUDIT_KEY_FILE's,
// else $SOCD_AUDIT_KEY; empty when none is set. Errors name the file (never the key).
Expected<std::string> load_audit_key(const std::string& file);

}  // namespace socd
