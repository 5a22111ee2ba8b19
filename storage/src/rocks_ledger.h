// The ledger (socd/ledger.h) on the alert store's RocksDB. The store calls begin/add_alert/finish inside its
// commit, under its commit mutex, so the chain records and incident changes of new alerts go into the same
// atomic write as the alerts; written() or failed() after the write tells the ledger whether to keep what it
// prepared. The ledger's own writes (commands, rule-set loads, seals) take the same mutex. Internal to storage/.
//
//   column family     key                                       value
//   chain             seq (8 bytes big-endian, from 1)          chain record (below)
//   incidents         incident id ("INC-000001")                encode_incident() text
//   incident_alerts   "i" 0x00 incident id 0x00 alert id         empty (membership)
//                     "a" 0x00 alert id                          the incident id (an alert is in one incident)
//   activity          source 0x00 hour (8 bytes, time key)      batches, events (8 bytes little-endian each)
//   state             "incident_settings"                       IncidentSettings::to_text() in force
//   default           "incident_next"                           8 bytes little-endian: the next incident number
//
// Chain record: version (1), kind (1), seq (8, big-endian), time_ms (8, big-endian two's complement), subject and
// payload (each a varint length and bytes), prev hash (32), hash (32); hash = SHA-256 of every byte before it.
#pragma once
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <map>
#include <mutex>
#include <set>

#include "socd/alert_store.h"
#include "socd/ledger.h"

namespace socd::store {

inline constexpr const char* kIncidentsFamily = "incidents";
inline constexpr const char* kIncidentAlertsFamily = "incident_alerts";
inline constexpr const char* kChainFamily = "chain";
inline constexpr const char* kActivityFamily = "activity";

// The rule title in a stored alert's JSON ({"id":..,"rule":{"id":..,"title":"..."...), or "".
std::string rule_title(std::string_view json);

struct LedgerFamilies {
  rocksdb::ColumnFamilyHandle *defaults = nullptr, *alerts = nullptr, *alert_ids = nullptr, *state = nullptr,
                              *incidents = nullptr, *incident_alerts = nullptr, *chain = nullptr,
                              *activity = nullptr;
};

class RocksLedger final : public Ledger {
public:
  RocksLedger(std::string dir, rocksdb::DB* db, LedgerFamilies families, std::mutex& commit_mutex, bool read_only);
  // Loads the chain head, the incident counter and the incidents that still owe something (writer).
  Status open();

  // The store's commit, under the commit mutex.
  void begin();
  Status add_alert(const StoredAlert& alert, std::string_view key, std::string_view value,
                   rocksdb::WriteBatch& batch);
  Status finish(rocksdb::WriteBatch& batch);
  void written();
  void failed();
  // Inside begin() .. written()/failed() (the caller holds the commit mutex): a chain record in `batch` (retention).
  Status add_record(ChainKind kind, std::string_view subject, std::string_view payload, rocksdb::WriteBatch& batch) {
    return append(kind, subject, payload, batch);
  }

  Status configure(const IncidentSettings& settings, const std::string& seal_key) override;
  IncidentSettings settings() override;
  TimeZone zone() override;
  void set_clock(std::function<int64_t()> now_ms) override { clock_ = std::move(now_ms); }
  Expected<Incident> apply(const IncidentCommand& command) override;
  Expected<std::optional<Incident>> incident(std::string_view id) override;
  Status incidents(const std::function<bool(const Incident&)>& visit) override;
  Status incident_alerts(std::string_view id, const std::function<bool(const std::string&)>& visit) override;
  Expected<std::optional<std::string>> incident_of_alert(std::string_view alert_id) override;
  std::map<std::string, uint64_t> overdue(int64_t now_ms) override;
  Status record_rule_set(const RuleSetLoad& load) override;
  Status record_request(std::string_view subject, std::string_view payload) override;
  void note_source_activity(const std::string& source, uint64_t events) override;
  Status source_activity(const std::function<bool(const SourceActivity&)>& visit) override;
  Status seal(bool only_when_due = false) override { return seal_now(!only_when_due); }
  Status chain(uint64_t from_seq, const std::function<bool(const ChainRecord&)>& visit) override;
  Expected<VerifyReport> verify(const std::string& key) override;

private:
  struct Txn {
    uint64_t seq = 0, since_seal = 0, next_incident = 1;
    std::string hash;
    std::map<std::string, Incident> touched;                    // incidents changed by this write
    std::map<std::string, std::vector<std::string>> grouped;    // incident -> alerts grouped into it
    std::set<std::string> created;                              // incidents this write created
    std::map<std::string, std::string> groups;                  // group key -> incident (changes)
    std::map<std::string, std::pair<uint64_t, uint64_t>> activity;  // activity written: key -> batches, events
  };

  int64_t now() const { return clock_(); }
  Status error(const char* what, const rocksdb::Status& s) const;
  Status append(ChainKind kind, std::string_view subject, std::string_view payload, rocksdb::WriteBatch& batch);
  Status put_incident(const Incident& incident, std::string_view change, rocksdb::WriteBatch& batch);
  Expected<Incident> load_incident(const std::string& id);  // the txn's, the cache's, or the stored one
  Status attach_alert(Incident& incident, const std::string& alert_id, rocksdb::WriteBatch& batch,
                      bool check_membership);
  std::string new_incident_id();
  Status write(rocksdb::WriteBatch& batch);  // a ledger-only write (commands, rule sets, seals), then commit
  Status seal_now(bool force);
  Status maybe_seal(rocksdb::WriteBatch& batch, bool force);
  bool keep_in_cache(const Incident& incident) const;

  std::string dir_;
  rocksdb::DB* db_;
  LedgerFamilies f_;
  std::mutex& commit_mutex_;
  bool read_only_;
  std::function<int64_t()> clock_;

  IncidentSettings settings_;
  TimeZone zone_;
  std::string seal_key_;
  bool in_commit_ = false;
  Txn txn_;
  // Committed state (writer).
  uint64_t head_seq_ = 0, since_seal_ = 0, next_incident_ = 1;
  std::string head_hash_;
  int64_t last_seal_ms_ = 0;
  std::map<std::string, std::string> groups_;  // group key -> open incident
  mutable std::mutex cache_mu_;                // cache_, settings_ (metrics read them)
  std::map<std::string, Incident> cache_;      // incidents that are open or still owe a deadline
  std::mutex activity_mu_;
  std::map<std::string, std::pair<uint64_t, uint64_t>> activity_pending_;  // key -> batches, events to add
};

}  // namespace socd::store
