#include "rocks_ledger.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rocksdb/iterator.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "record_text.h"
#include "store_layout.h"
#include "socd/read_file.h"

namespace socd {

using namespace socd::store;

// ---- digests ---------------------------------------------------------------------------------------------------

namespace {

constexpr size_t kHashSize = 32;
constexpr uint8_t kChainVersion = 1;
constexpr std::string_view kSettingsKey = "incident_settings";
constexpr std::string_view kIncidentNextKey = "incident_next";
constexpr const char* kSystemActor = "socd";

std::string sha256(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), md, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), size);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), md, &size);
  return std::string(reinterpret_cast<char*>(md), size);
}

void put_be64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t get_be64(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

std::string seq_key(uint64_t seq) {
  std::string k;
  put_be64(k, seq);
  return k;
}

// The digest by which the chain holds an alert: its stored key and value.
std::string alert_digest(std::string_view key, std::string_view value) {
  std::string buf;
  put_varint(buf, key.size());
  buf.append(key);
  buf.append(value);
  return sha256(buf);
}

std::string seal_message(std::string_view prev_hash, uint64_t prev_seq) {
  std::string m = "socd-chain-seal 1";
  m.append(prev_hash);
  put_be64(m, prev_seq);
  return m;
}

std::string key_id(std::string_view key) { return to_hex(sha256(key).substr(0, 8)); }

// The record without its hash; the hash is SHA-256 of these bytes.
std::string chain_body(uint64_t seq, ChainKind kind, int64_t time_ms, std::string_view subject,
                       std::string_view payload, std::string_view prev_hash) {
  std::string v;
  v.reserve(20 + subject.size() + payload.size() + 2 * kHashSize + 8);
  v.push_back(static_cast<char>(kChainVersion));
  v.push_back(static_cast<char>(kind));
  put_be64(v, seq);
  put_be64(v, static_cast<uint64_t>(time_ms));
  put_field(v, subject);
  put_field(v, payload);
  v.append(prev_hash);
  return v;
}

bool decode_chain(std::string_view value, ChainRecord& r, std::string_view& body) {
  std::string_view in = value;
  if (in.size() < 18 + 2 * kHashSize || static_cast<uint8_t>(in[0]) != kChainVersion) return false;
  const auto kind = static_cast<uint8_t>(in[1]);
  if (kind < 1 || kind > 7) return false;
  r.kind = static_cast<ChainKind>(kind);
  r.seq = get_be64(in.substr(2));
  r.time_ms = static_cast<int64_t>(get_be64(in.substr(10)));
  in.remove_prefix(18);
  std::string_view subject, payload;
  if (!get_field(in, subject) || !get_field(in, payload) || in.size() != 2 * kHashSize) return false;
  r.subject.assign(subject);
  r.payload.assign(payload);
  r.prev_hash.assign(in.substr(0, kHashSize));
  r.hash.assign(in.substr(kHashSize));
  body = value.substr(0, value.size() - kHashSize);
  return true;
}

std::string format_incident_id(uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "INC-%06llu", static_cast<unsigned long long>(n));
  return buf;
}

std::string group_key(const StoredAlert& a) {
  std::string k = a.rule_id;
  k += '\x1f';
  k += a.system.empty() ? "host:" + a.host : "system:" + a.system;
  return k;
}

std::string member_key(std::string_view incident, std::string_view alert) {
  std::string k = "i";
  k += '\0';
  k.append(incident);
  k += '\0';
  k.append(alert);
  return k;
}

std::string owner_key(std::string_view alert) {
  std::string k = "a";
  k += '\0';
  k.append(alert);
  return k;
}

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

const char* chain_kind_name(ChainKind kind) {
  switch (kind) {
    case ChainKind::Alert: return "alert";
    case ChainKind::Incident: return "incident";
    case ChainKind::RuleSet: return "rule_set";
    case ChainKind::Settings: return "settings";
    case ChainKind::Seal: return "seal";
    case ChainKind::Retention: return "retention";
    case ChainKind::Request: return "request";
  }
  return "unknown";
}

Expected<std::string> load_audit_key(const std::string& file) {
  std::string path = file;
  if (path.empty())
    if (const char* f = std::getenv("SOCD_AUDIT_KEY_FILE"); f && *f) path = f;
  if (path.empty()) {
    const char* k = std::getenv("SOCD_AUDIT_KEY");
    return std::string(k ? k : "");
  }
  std::string key;
  if (!read_file(path, key))
    return Status::error("cannot read the audit key file '" + path + "': " + std::strerror(errno) +
                         " (check --audit-key-file)");
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  if (key.size() < 16)
    return Status::error("the audit key file '" + path + "' holds fewer than 16 bytes: use a long random key "
                         "(e.g. `openssl rand -hex 32 > FILE`)");
  return key;
}

// ---- rule-set loads ------------------------------------------------------------------------------------------

std::string RuleSetLoad::encode() const {
  RecordWriter w("socd-rule-set 1");
  w.field("reason", reason);
  w.field("loaded", std::to_string(loaded));
  w.field("skipped", std::to_string(skipped));
  w.field("digest", digest());
  for (const auto& [id, d] : rules) w.fields({"rule", id, d});
  return w.take();
}

Expected<RuleSetLoad> RuleSetLoad::decode(std::string_view text) {
  RecordReader r(text);
  if (!r.header("socd-rule-set 1")) return Status::error("not a rule-set record");
  RuleSetLoad l;
  std::vector<std::string_view> f;
  while (r.next(f)) {
    if (f[0] == "rule" && f.size() == 3)
      l.rules.emplace_back(RecordReader::unescape(f[1]), RecordReader::unescape(f[2]));
    else if (f.size() != 2) return Status::error("rule-set record: malformed line");
    else if (f[0] == "reason") l.reason = RecordReader::unescape(f[1]);
    else if (f[0] == "loaded") l.loaded = std::strtoull(std::string(f[1]).c_str(), nullptr, 10);
    else if (f[0] == "skipped") l.skipped = std::strtoull(std::string(f[1]).c_str(), nullptr, 10);
  }
  return l;
}

std::string RuleSetLoad::digest() const {
  auto sorted = rules;
  std::sort(sorted.begin(), sorted.end());
  std::string all;
  for (const auto& [id, d] : sorted) all += id + "\t" + d + "\n";
  return sha256_hex(all);
}

namespace store {

// The rule title in a stored alert's JSON ({"id":..,"rule":{"id":..,"title":"..."...), or "".
std::string rule_title(std::string_view json) {
  size_t rule = json.find("\"rule\":{");
  if (rule == std::string_view::npos) return {};
  size_t at = json.find("\"title\":\"", rule);
  if (at == std::string_view::npos) return {};
  std::string out;
  for (size_t i = at + 9; i < json.size(); ++i) {
    char c = json[i];
    if (c == '"') return out;
    if (c == '\\' && i + 1 < json.size()) {
      char e = json[++i];
      if (e == 'n') out += ' ';
      else if (e == 'u') i += 4, out += '?';
      else if (e != 'r' && e != 't') out += e;
      continue;
    }
    out += c;
  }
  return {};
}

RocksLedger::RocksLedger(std::string dir, rocksdb::DB* db, LedgerFamilies families, std::mutex& commit_mutex,
                         bool read_only)
    : dir_(std::move(dir)), db_(db), f_(families), commit_mutex_(commit_mutex), read_only_(read_only),
      clock_(system_now_ms) {
  head_hash_.assign(kHashSize, '\0');
  auto z = TimeZone::load(settings_.time_zone, settings_.utc_offset);
  if (z) zone_ = *z;
}

Status RocksLedger::error(const char* what, const rocksdb::Status& s) const {
  return Status::error("alert store '" + dir_ + "': " + what + ": " + s.ToString());
}

bool RocksLedger::keep_in_cache(const Incident& inc) const {
  if (inc.state != IncidentState::Closed) return true;
  if (inc.false_positive) return false;
  return inc.notified_ms == 0 || inc.reported_ms == 0;
}

Status RocksLedger::open() {
  // Settings stored by the writer (readers use them; the writer's configure() replaces them).
  std::string text;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.state, std::string(kSettingsKey), &text);
  if (s.ok()) {
    auto parsed = parse_incident_settings("the settings stored in " + dir_, text);
    if (parsed) {
      settings_ = *parsed;
      if (auto z = TimeZone::load(settings_.time_zone, settings_.utc_offset)) zone_ = *z;
    }
  } else if (!s.IsNotFound()) {
    return error("cannot read the incident settings", s);
  }
  if (read_only_) return Status();
  // The chain head.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f_.chain));
  it->SeekToLast();
  if (it->Valid()) {
    ChainRecord r;
    std::string_view body;
    std::string_view value(it->value().data(), it->value().size());
    if (!decode_chain(value, r, body))
      return Status::error("alert store '" + dir_ + "': the last audit chain record cannot be read; run `socd audit "
                           "verify --data-dir " + dir_ + "` and restore the store from a backup");
    head_seq_ = r.seq;
    head_hash_ = r.hash;
  }
  if (!it->status().ok()) return error("cannot read the audit chain", it->status());
  std::string next;
  s = db_->Get(rocksdb::ReadOptions(), f_.defaults, std::string(kIncidentNextKey), &next);
  if (s.ok()) next_incident_ = get_fixed64(next).value_or(1);
  else if (!s.IsNotFound()) return error("cannot read the incident counter", s);
  // Incidents still open or owing a deadline; the open ones by group.
  Status st = incidents([&](const Incident& inc) {
    if (keep_in_cache(inc)) cache_[inc.id] = inc;
    if (is_open(inc.state) && !inc.group_key.empty()) groups_[inc.group_key] = inc.id;
    return true;
  });
  if (!st.ok()) return st;
  last_seal_ms_ = now();
  return Status();
}

// ---- appending -----------------------------------------------------------------------------------------------

void RocksLedger::begin() {
  txn_ = Txn();
  txn_.seq = head_seq_;
  txn_.hash = head_hash_;
  txn_.since_seal = since_seal_;
  txn_.next_incident = next_incident_;
  in_commit_ = true;
}

Status RocksLedger::append(ChainKind kind, std::string_view subject, std::string_view payload,
                           rocksdb::WriteBatch& batch) {
  const uint64_t seq = txn_.seq + 1;
  std::string value = chain_body(seq, kind, now(), subject, payload, txn_.hash);
  std::string hash = sha256(value);
  value += hash;
  rocksdb::Status s = batch.Put(f_.chain, seq_key(seq), value);
  if (!s.ok()) return error("cannot add an audit record to the write batch", s);
  txn_.seq = seq;
  txn_.hash = std::move(hash);
  txn_.since_seal = kind == ChainKind::Seal ? 0 : txn_.since_seal + 1;
  return Status();
}

std::string RocksLedger::new_incident_id() { return format_incident_id(txn_.next_incident++); }

Expected<Incident> RocksLedger::load_incident(const std::string& id) {
  if (auto t = txn_.touched.find(id); t != txn_.touched.end()) return t->second;
  {
    std::lock_guard lk(cache_mu_);
    if (auto c = cache_.find(id); c != cache_.end()) return c->second;
  }
  auto stored = incident(id);
  if (!stored) return stored.error();
  if (!stored->has_value())
    return Status::error("no incident '" + id + "' in " + dir_ + " (see `socd incidents list`)");
  return std::move(**stored);
}

Status RocksLedger::put_incident(const Incident& inc, std::string_view change, rocksdb::WriteBatch& batch) {
  const std::string record = encode_incident(inc);
  rocksdb::Status s = batch.Put(f_.incidents, inc.id, record);
  if (!s.ok()) return error("cannot add an incident to the write batch", s);
  std::string payload = sha256(record);
  payload.append(change);
  return append(ChainKind::Incident, inc.id, payload, batch);
}

Status RocksLedger::add_alert(const StoredAlert& alert, std::string_view key, std::string_view value,
                              rocksdb::WriteBatch& batch) {
  if (Status st = append(ChainKind::Alert, alert.id, alert_digest(key, value), batch); !st.ok()) return st;
  IncidentSettings settings;
  {
    std::lock_guard lk(cache_mu_);
    settings = settings_;
  }
  if (!settings.group_automatically || level_rank(alert.level) < level_rank(settings.group_min_level))
    return Status();
  const std::string group = group_key(alert);
  std::string id;
  if (auto g = txn_.groups.find(group); g != txn_.groups.end()) id = g->second;
  else if (auto g2 = groups_.find(group); g2 != groups_.end()) id = g2->second;
  Incident inc;
  bool joined = false;
  if (!id.empty()) {
    auto loaded = load_incident(id);
    if (!loaded) return loaded.error();
    inc = std::move(*loaded);
    joined = is_open(inc.state) && alert.time_ms >= inc.first_alert_ms - settings.group_window_ms &&
             alert.time_ms <= inc.last_alert_ms + settings.group_window_ms;
  }
  if (!joined) {
    inc = Incident();
    inc.id = new_incident_id();
    inc.title = rule_title(alert.json);
    if (inc.title.empty()) inc.title = alert.rule_id;
    inc.rule_id = alert.rule_id;
    inc.system = alert.system;
    inc.system_level = alert.system_level;
    inc.group_key = group;
    inc.level = alert.level;
    inc.discovered_ms = now();
    inc.first_alert_ms = inc.last_alert_ms = alert.time_ms;
    inc.updated_ms = inc.discovered_ms;
    inc.history.push_back({inc.discovered_ms, kSystemActor, "new",
                           "grouped: rule " + alert.rule_id + " on " +
                               (alert.system.empty() ? "unknown system, host " + alert.host : alert.system)});
    txn_.created.insert(inc.id);
    txn_.groups[group] = inc.id;
  }
  if (Status st = attach_alert(inc, alert.id, batch, false); !st.ok()) return st;
  inc.first_alert_ms = std::min(inc.first_alert_ms, alert.time_ms);
  inc.last_alert_ms = std::max(inc.last_alert_ms, alert.time_ms);
  if (level_rank(alert.level) > level_rank(inc.level)) inc.level = alert.level;
  inc.serious = settings.is_serious(inc);
  txn_.grouped[inc.id].push_back(alert.id);
  txn_.touched[inc.id] = std::move(inc);
  return Status();
}

Status RocksLedger::attach_alert(Incident& inc, const std::string& alert_id, rocksdb::WriteBatch& batch,
                                 bool check_membership) {
  if (check_membership) {
    auto owner = incident_of_alert(alert_id);
    if (!owner) return owner.error();
    if (owner->has_value())
      return Status::error("alert " + alert_id + " is in incident " + **owner + " already");
    auto alert = [&]() -> Expected<std::optional<StoredAlert>> {
      std::string key, value;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.alert_ids, alert_id, &key);
      if (s.IsNotFound()) return std::optional<StoredAlert>();
      if (!s.ok()) return error("cannot look up an alert id", s);
      s = db_->Get(rocksdb::ReadOptions(), f_.alerts, key, &value);
      AlertView view;
      if (!s.ok() || key.size() <= kTimeKeySize || !decode_alert(value, view))
        return Status::error("alert store '" + dir_ + "': alert " + alert_id + " cannot be read");
      StoredAlert a;
      fill_alert(key, view, a);
      return std::optional<StoredAlert>(std::move(a));
    }();
    if (!alert) return alert.error();
    if (!alert->has_value())
      return Status::error("no alert '" + alert_id + "' in " + dir_ + " (ids are in `socd alerts list`)");
    const StoredAlert& a = **alert;
    if (inc.alert_count == 0) {
      inc.first_alert_ms = inc.last_alert_ms = a.time_ms;
      if (inc.rule_id.empty()) inc.rule_id = a.rule_id;
      if (inc.title.empty()) inc.title = rule_title(a.json);
      if (inc.system.empty()) inc.system = a.system, inc.system_level = a.system_level;
    }
    inc.first_alert_ms = std::min(inc.first_alert_ms, a.time_ms);
    inc.last_alert_ms = std::max(inc.last_alert_ms, a.time_ms);
    if (level_rank(a.level) > level_rank(inc.level)) inc.level = a.level;
  }
  rocksdb::Status s = batch.Put(f_.incident_alerts, member_key(inc.id, alert_id), "");
  if (s.ok()) s = batch.Put(f_.incident_alerts, owner_key(alert_id), inc.id);
  if (!s.ok()) return error("cannot add an incident membership to the write batch", s);
  ++inc.alert_count;
  return Status();
}

Status RocksLedger::finish(rocksdb::WriteBatch& batch) {
  // Incidents grouped into by this write: the record once, one chain record naming the alerts.
  for (auto& [id, inc] : txn_.touched) {
    auto grouped = txn_.grouped.find(id);
    if (grouped == txn_.grouped.end()) continue;
    const bool created = txn_.created.count(id) > 0;
    IncidentCommand change;
    change.action = created ? IncidentCommand::Action::New : IncidentCommand::Action::Attach;
    change.incident = id;
    change.actor = kSystemActor;
    change.alerts = grouped->second;
    if (Status st = put_incident(inc, change.encode(), batch); !st.ok()) return st;
  }
  if (txn_.next_incident != next_incident_) {
    std::string v;
    put_fixed64(v, txn_.next_incident);
    rocksdb::Status s = batch.Put(f_.defaults, std::string(kIncidentNextKey), v);
    if (!s.ok()) return error("cannot add the incident counter to the write batch", s);
  }
  // Source activity noted since the last write (put back by failed()).
  {
    std::lock_guard lk(activity_mu_);
    txn_.activity.swap(activity_pending_);
  }
  for (const auto& [key, add] : txn_.activity) {
    uint64_t batches = add.first, events = add.second;
    std::string old;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.activity, key, &old);
    if (s.ok() && old.size() == 16) {
      batches += get_fixed64(std::string_view(old).substr(0, 8)).value_or(0);
      events += get_fixed64(std::string_view(old).substr(8)).value_or(0);
    }
    std::string v;
    put_fixed64(v, batches);
    put_fixed64(v, events);
    s = batch.Put(f_.activity, key, v);
    if (!s.ok()) return error("cannot add source activity to the write batch", s);
  }
  return maybe_seal(batch, false);
}

void RocksLedger::written() {
  in_commit_ = false;
  head_seq_ = txn_.seq;
  head_hash_ = txn_.hash;
  since_seal_ = txn_.since_seal;
  next_incident_ = txn_.next_incident;
  for (const auto& [key, id] : txn_.groups) groups_[key] = id;
  std::lock_guard lk(cache_mu_);
  for (auto& [id, inc] : txn_.touched) {
    if (!is_open(inc.state) && !inc.group_key.empty()) {
      auto g = groups_.find(inc.group_key);
      if (g != groups_.end() && g->second == id) groups_.erase(g);
    } else if (is_open(inc.state) && !inc.group_key.empty() && !groups_.count(inc.group_key)) {
      groups_[inc.group_key] = id;
    }
    if (keep_in_cache(inc)) cache_[id] = std::move(inc);
    else cache_.erase(id);
  }
  txn_ = Txn();
}

void RocksLedger::failed() {
  in_commit_ = false;
  // The activity of the failed write is noted again for the next one.
  std::lock_guard lk(activity_mu_);
  for (const auto& [key, counts] : txn_.activity) {
    activity_pending_[key].first += counts.first;
    activity_pending_[key].second += counts.second;
  }
  txn_ = Txn();
}

Status RocksLedger::maybe_seal(rocksdb::WriteBatch& batch, bool force) {
  if (seal_key_.empty() || txn_.since_seal == 0) return Status();
  IncidentSettings s;
  {
    std::lock_guard lk(cache_mu_);
    s = settings_;
  }
  const bool due = txn_.since_seal >= s.seal_every_records || now() - last_seal_ms_ >= s.seal_interval_ms;
  if (!force && !due) return Status();
  const std::string mac = hmac_sha256(seal_key_, seal_message(txn_.hash, txn_.seq));
  if (Status st = append(ChainKind::Seal, key_id(seal_key_), mac, batch); !st.ok()) return st;
  last_seal_ms_ = now();
  return Status();
}

Status RocksLedger::write(rocksdb::WriteBatch& batch) {
  if (batch.Count() == 0) {
    failed();
    return Status();
  }
  rocksdb::WriteOptions wo;
  rocksdb::Status s = db_->Write(wo, &batch);
  if (!s.ok()) {
    failed();
    return error("cannot write (nothing of it was stored)", s);
  }
  written();
  return Status();
}

Status RocksLedger::seal_now(bool force) {
  if (read_only_ || seal_key_.empty()) return Status();
  std::lock_guard lock(commit_mutex_);
  begin();
  rocksdb::WriteBatch batch;
  if (Status st = maybe_seal(batch, force); !st.ok()) {
    failed();
    return st;
  }
  return write(batch);
}

// ---- configuration -------------------------------------------------------------------------------------------

Status RocksLedger::configure(const IncidentSettings& settings, const std::string& seal_key) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only: only the writer configures it");
  auto zone = TimeZone::load(settings.time_zone, settings.utc_offset);
  if (!zone) return zone.error();
  std::lock_guard lock(commit_mutex_);
  seal_key_ = seal_key;
  const std::string text = settings.to_text();
  std::string stored;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.state, std::string(kSettingsKey), &stored);
  if (!s.ok() && !s.IsNotFound()) return error("cannot read the incident settings", s);
  {
    std::lock_guard lk(cache_mu_);
    settings_ = settings;
    zone_ = *zone;
  }
  if (s.ok() && stored == text) return Status();
  begin();
  rocksdb::WriteBatch batch;
  s = batch.Put(f_.state, std::string(kSettingsKey), text);
  if (!s.ok()) {
    failed();
    return error("cannot add the incident settings to the write batch", s);
  }
  if (Status st = append(ChainKind::Settings, "settings", text, batch); !st.ok()) {
    failed();
    return st;
  }
  // Seriousness follows the settings: recompute it for the incidents in memory.
  {
    std::lock_guard lk(cache_mu_);
    for (auto& [id, inc] : cache_) {
      if (settings.is_serious(inc) == inc.serious) continue;
      Incident changed = inc;
      changed.serious = !inc.serious;
      txn_.touched[id] = std::move(changed);
    }
  }
  for (auto& [id, inc] : txn_.touched)
    if (Status st = put_incident(inc, "settings changed: serious=" + std::string(inc.serious ? "yes" : "no"), batch);
        !st.ok()) {
      failed();
      return st;
    }
  return write(batch);
}

IncidentSettings RocksLedger::settings() {
  std::lock_guard lk(cache_mu_);
  return settings_;
}

TimeZone RocksLedger::zone() {
  std::lock_guard lk(cache_mu_);
  return zone_;
}

// ---- commands ------------------------------------------------------------------------------------------------

Expected<Incident> RocksLedger::apply(const IncidentCommand& command) {
  using A = IncidentCommand::Action;
  if (read_only_)
    return Status::error("alert store '" + dir_ + "' is open read-only: incident changes go through the writer");
  std::lock_guard lock(commit_mutex_);
  begin();
  rocksdb::WriteBatch batch;
  const int64_t t = now();
  const IncidentSettings settings = this->settings();
  auto fail = [&](Status st) -> Expected<Incident> {
    failed();
    return st;
  };
  Incident inc;
  if (command.action == A::New) {
    if (command.alerts.empty() && command.text.empty())
      return fail(Status::error("a new incident needs a title (--title) or alerts"));
    inc.id = new_incident_id();
    inc.title = command.text;
    inc.manual = true;
    inc.discovered_ms = t;
    for (const auto& a : command.alerts)
      if (Status st = attach_alert(inc, a, batch, true); !st.ok()) return fail(st);
    if (inc.title.empty()) inc.title = inc.rule_id;
    inc.updated_ms = t;
    inc.serious = settings.is_serious(inc);
    inc.history.push_back({t, command.actor, "new", command.alerts.empty() ? "by hand" :
                               "by hand, " + std::to_string(command.alerts.size()) + " alert(s)"});
    txn_.created.insert(inc.id);
  } else {
    if (command.incident.empty()) return fail(Status::error("no incident id given"));
    auto loaded = load_incident(command.incident);
    if (!loaded) return fail(loaded.error());
    inc = std::move(*loaded);
    if (command.action == A::Attach) {
      if (inc.state == IncidentState::Closed)
        return fail(Status::error("incident " + inc.id + " is closed: it takes no more alerts (open a new one with "
                                  "`socd incidents new`)"));
      if (command.alerts.empty()) return fail(Status::error("attach: no alert id given"));
      for (const auto& a : command.alerts)
        if (Status st = attach_alert(inc, a, batch, true); !st.ok()) return fail(st);
      inc.updated_ms = t;
      inc.serious = settings.is_serious(inc);
      inc.history.push_back({t, command.actor, "attach", std::to_string(command.alerts.size()) + " alert(s)"});
    } else if (Status st = apply_command(inc, command, settings, t); !st.ok()) {
      return fail(st);
    }
  }
  IncidentCommand recorded = command;
  recorded.incident = inc.id;
  if (recorded.time_ms == 0) recorded.time_ms = t;
  if (Status st = put_incident(inc, recorded.encode(), batch); !st.ok()) return fail(st);
  if (txn_.next_incident != next_incident_) {
    std::string v;
    put_fixed64(v, txn_.next_incident);
    rocksdb::Status s = batch.Put(f_.defaults, std::string(kIncidentNextKey), v);
    if (!s.ok()) return fail(error("cannot add the incident counter to the write batch", s));
  }
  txn_.touched[inc.id] = inc;
  if (Status st = maybe_seal(batch, false); !st.ok()) return fail(st);
  if (Status st = write(batch); !st.ok()) return st;
  return inc;
}

Status RocksLedger::record_rule_set(const RuleSetLoad& load) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only");
  std::lock_guard lock(commit_mutex_);
  begin();
  rocksdb::WriteBatch batch;
  if (Status st = append(ChainKind::RuleSet, "rules", load.encode(), batch); !st.ok()) {
    failed();
    return st;
  }
  return write(batch);
}

Status RocksLedger::record_request(std::string_view subject, std::string_view payload) {
  if (read_only_) return Status::error("alert store '" + dir_ + "' is open read-only");
  std::lock_guard lock(commit_mutex_);
  begin();
  rocksdb::WriteBatch batch;
  if (Status st = append(ChainKind::Request, subject, payload, batch); !st.ok()) {
    failed();
    return st;
  }
  if (Status st = maybe_seal(batch, false); !st.ok()) {
    failed();
    return st;
  }
  return write(batch);
}

void RocksLedger::note_source_activity(const std::string& source, uint64_t events) {
  const int64_t hour = now() / 3'600'000 * 3'600'000;
  std::string key = source;
  key += '\0';
  key += time_key(hour);
  std::lock_guard lk(activity_mu_);
  auto& counts = activity_pending_[key];
  ++counts.first;
  counts.second += events;
}

// ---- reading -------------------------------------------------------------------------------------------------

Expected<std::optional<Incident>> RocksLedger::incident(std::string_view id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.incidents, rocksdb::Slice(id.data(), id.size()), &value);
  if (s.IsNotFound()) return std::optional<Incident>();
  if (!s.ok()) return error("cannot read an incident", s);
  auto inc = decode_incident(value);
  if (!inc) return Status::error("alert store '" + dir_ + "': incident " + std::string(id) + ": " +
                                 inc.error().message() + " (run `socd audit verify`)");
  return std::optional<Incident>(std::move(*inc));
}

Status RocksLedger::incidents(const std::function<bool(const Incident&)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f_.incidents));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto inc = decode_incident(std::string_view(it->value().data(), it->value().size()));
    if (!inc)
      return Status::error("alert store '" + dir_ + "': incident " + it->key().ToString() + ": " +
                           inc.error().message() + " (run `socd audit verify`)");
    if (!visit(*inc)) return Status();
  }
  return it->status().ok() ? Status() : error("cannot read incidents", it->status());
}

Status RocksLedger::incident_alerts(std::string_view id, const std::function<bool(const std::string&)>& visit) {
  std::string prefix = member_key(id, "");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f_.incident_alerts));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next())
    if (!visit(it->key().ToString().substr(prefix.size()))) return Status();
  return it->status().ok() ? Status() : error("cannot read the alerts of an incident", it->status());
}

Expected<std::optional<std::string>> RocksLedger::incident_of_alert(std::string_view alert_id) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), f_.incident_alerts, owner_key(alert_id), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return error("cannot look up the incident of an alert", s);
  return std::optional<std::string>(std::move(value));
}

std::map<std::string, uint64_t> RocksLedger::overdue(int64_t now_ms) {
  std::map<std::string, uint64_t> out{{"notify", 0}, {"report", 0}};
  std::lock_guard lk(cache_mu_);
  for (const auto& [id, inc] : cache_)
    for (const auto& d : incident_deadlines(inc, settings_, zone_, now_ms))
      if (d.status == Deadline::Status::Overdue) ++out[d.name];
  return out;
}

Status RocksLedger::source_activity(const std::function<bool(const SourceActivity&)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f_.activity));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size()), value(it->value().data(), it->value().size());
    size_t zero = key.rfind('\0', key.size() > kTimeKeySize ? key.size() - kTimeKeySize - 1 : 0);
    if (key.size() < kTimeKeySize + 1 || zero != key.size() - kTimeKeySize - 1 || value.size() != 16) continue;
    SourceActivity a;
    a.source.assign(key.substr(0, zero));
    a.hour_ms = time_from_key(key.substr(zero + 1));
    a.batches = get_fixed64(value.substr(0, 8)).value_or(0);
    a.events = get_fixed64(value.substr(8)).value_or(0);
    if (!visit(a)) return Status();
  }
  return it->status().ok() ? Status() : error("cannot read source activity", it->status());
}

Status RocksLedger::chain(uint64_t from_seq, const std::function<bool(const ChainRecord&)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), f_.chain));
  for (it->Seek(seq_key(from_seq)); it->Valid(); it->Next()) {
    ChainRecord r;
    std::string_view body;
    if (!decode_chain(std::string_view(it->value().data(), it->value().size()), r, body))
      return Status::error("alert store '" + dir_ + "': audit record " +
                           std::to_string(get_be64(it->key().ToString())) +
                           " cannot be read (run `socd audit verify`)");
    if (!visit(r)) return Status();
  }
  return it->status().ok() ? Status() : error("cannot read the audit chain", it->status());
}

// ---- verification --------------------------------------------------------------------------------------------

Expected<VerifyReport> RocksLedger::verify(const std::string& key) {
  VerifyReport rep;
  rocksdb::ReadOptions ro;
  const rocksdb::Snapshot* snapshot = read_only_ ? nullptr : db_->GetSnapshot();
  ro.snapshot = snapshot;
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() {
      if (s) db->ReleaseSnapshot(s);
    }
  } release{db_, snapshot};
  // problems by seq (0: not tied to a record), so the first in chain order is named first
  std::multimap<uint64_t, std::string> problems;
  auto problem = [&](uint64_t seq, std::string text) { problems.emplace(seq, std::move(text)); };

  std::unordered_map<std::string, std::pair<uint64_t, std::string>> alerts;      // id -> seq, digest
  std::map<std::string, std::pair<uint64_t, std::string>> incidents;            // id -> last seq, digest
  std::map<std::string, std::set<std::string>> members;                          // incident -> alerts
  std::vector<std::pair<int64_t, std::string>> retention;                        // alerts before t may be gone
  std::string prev(kHashSize, '\0');
  uint64_t expected = 1;
  bool chain_broken = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, f_.chain));
  for (it->SeekToFirst(); it->Valid() && !chain_broken; it->Next()) {
    std::string_view k(it->key().data(), it->key().size()), v(it->value().data(), it->value().size());
    if (k.size() != 8) {
      problem(expected, "the chain holds a key that is not a record number (" + std::to_string(k.size()) +
                            " bytes) after record " + std::to_string(expected - 1) + ": something was inserted");
      chain_broken = true;
      break;
    }
    const uint64_t at = get_be64(k);
    if (at != expected) {
      const std::string range =
          std::to_string(expected) + (at - expected > 1 ? "-" + std::to_string(at - 1) : std::string());
      problem(expected, at > expected ? "record " + range + " removed: the chain jumps from record " +
                                            std::to_string(expected - 1) + " to " + std::to_string(at)
                                      : "record " + std::to_string(at) + " appears twice");
      chain_broken = true;
      break;
    }
    ChainRecord r;
    std::string_view body;
    if (!decode_chain(v, r, body)) {
      problem(at, "record " + std::to_string(at) + " altered: it cannot be read as a chain record");
      chain_broken = true;
      break;
    }
    if (r.seq != at) {
      problem(at, "record " + std::to_string(at) + " holds record " + std::to_string(r.seq) +
                      ": records were reordered (or one was altered)");
      chain_broken = true;
      break;
    }
    if (sha256(body) != r.hash) {
      problem(at, "record " + std::to_string(at) + " (" + chain_kind_name(r.kind) + " " + r.subject +
                      ") altered: its hash does not match its content");
      chain_broken = true;
      break;
    }
    if (r.prev_hash != prev) {
      problem(at - 1, "record " + std::to_string(at - 1) + " altered or replaced: record " + std::to_string(at) +
                          " does not carry its hash");
      chain_broken = true;
      break;
    }
    prev = r.hash;
    ++expected;
    ++rep.records;
    switch (r.kind) {
      case ChainKind::Alert:
        ++rep.alerts;
        alerts[r.subject] = {at, r.payload};
        break;
      case ChainKind::Incident: {
        ++rep.incident_changes;
        if (r.payload.size() < kHashSize) {
          problem(at, "record " + std::to_string(at) + " (incident " + r.subject + ") has no incident digest");
          break;
        }
        incidents[r.subject] = {at, r.payload.substr(0, kHashSize)};
        auto c = IncidentCommand::decode(std::string_view(r.payload).substr(kHashSize));
        if (c && (c->action == IncidentCommand::Action::New || c->action == IncidentCommand::Action::Attach))
          for (const auto& a : c->alerts) members[r.subject].insert(a);
        break;
      }
      case ChainKind::RuleSet: ++rep.rule_sets; break;
      case ChainKind::Seal:
        ++rep.seals;
        rep.last_seal_seq = at;
        if (!key.empty()) {
          if (r.subject != key_id(key)) {
            rep.warnings.push_back("seal at record " + std::to_string(at) + " was made with another key (id " +
                                   r.subject + "); it is not checked");
          } else if (hmac_sha256(key, seal_message(r.prev_hash, at - 1)) != r.payload) {
            problem(at, "seal at record " + std::to_string(at) + " does not match the key: the chain before it was "
                        "rewritten");
          } else {
            ++rep.seals_checked;
          }
        }
        break;
      case ChainKind::Retention: {
        // payload: "before <ms>\tlevel <n>"
        int64_t before = std::strtoll(r.payload.c_str() + (r.payload.starts_with("before ") ? 7 : 0), nullptr, 10);
        retention.emplace_back(before, r.subject);
        break;
      }
      case ChainKind::Request: ++rep.requests; break;
      case ChainKind::Settings: break;
    }
  }
  if (!it->status().ok()) return error("cannot read the audit chain", it->status());
  rep.head_hash = to_hex(prev);

  // The alerts of the store against their chain records.
  auto retained_away = [&](int64_t time_ms) {
    for (const auto& [before, scope] : retention)
      if (time_ms < before) return true;
    return false;
  };
  std::unique_ptr<rocksdb::Iterator> ai(db_->NewIterator(ro, f_.alerts));
  std::set<std::string> seen;
  for (ai->SeekToFirst(); ai->Valid(); ai->Next()) {
    std::string_view k(ai->key().data(), ai->key().size()), v(ai->value().data(), ai->value().size());
    ++rep.alerts_in_store;
    if (k.size() <= kTimeKeySize) {
      problem(0, "the alerts hold a key of " + std::to_string(k.size()) + " bytes that is no alert");
      continue;
    }
    std::string id(k.substr(kTimeKeySize));
    auto c = alerts.find(id);
    if (c == alerts.end()) {
      if (!chain_broken)
        problem(expected, "alert " + id + " (" + format_utc(time_from_key(k)) + ") is in the store but not in the "
                          "chain: it was inserted, or its chain record removed");
      continue;
    }
    seen.insert(id);
    if (alert_digest(k, v) != c->second.second)
      problem(c->second.first, "alert " + id + " (chain record " + std::to_string(c->second.first) +
                                   ") altered: the stored alert does not match its chain record");
  }
  if (!ai->status().ok()) return error("cannot read the alerts", ai->status());
  for (const auto& [id, entry] : alerts) {
    if (seen.count(id)) continue;
    std::string key_of;
    rocksdb::Status s = db_->Get(ro, f_.alert_ids, id, &key_of);
    if (s.ok() && key_of.size() > kTimeKeySize && retained_away(time_from_key(key_of))) continue;
    if (!s.ok() && !s.IsNotFound()) return error("cannot look up an alert id", s);
    // Without its index entry the time is unknown: an alert removed by retention leaves no index entry either.
    if (s.IsNotFound() && !retention.empty()) continue;
    problem(entry.first, "alert " + id + " (chain record " + std::to_string(entry.first) + ") removed from the store");
  }

  // Incidents against the digests of their last chain records, and their alerts.
  std::unique_ptr<rocksdb::Iterator> ii(db_->NewIterator(ro, f_.incidents));
  std::set<std::string> incidents_seen;
  for (ii->SeekToFirst(); ii->Valid(); ii->Next()) {
    ++rep.incidents_in_store;
    std::string id = ii->key().ToString();
    incidents_seen.insert(id);
    auto c = incidents.find(id);
    if (c == incidents.end()) {
      if (!chain_broken) problem(expected, "incident " + id + " is in the store but not in the chain: it was inserted");
      continue;
    }
    if (sha256(std::string_view(ii->value().data(), ii->value().size())) != c->second.second)
      problem(c->second.first, "incident " + id + " (last changed by chain record " + std::to_string(c->second.first) +
                                   ") altered: the stored incident does not match the chain");
  }
  if (!ii->status().ok()) return error("cannot read the incidents", ii->status());
  for (const auto& [id, entry] : incidents)
    if (!incidents_seen.count(id))
      problem(entry.first,
              "incident " + id + " (chain record " + std::to_string(entry.first) + ") removed from the store");
  std::map<std::string, std::set<std::string>> stored_members;
  std::unique_ptr<rocksdb::Iterator> mi(db_->NewIterator(ro, f_.incident_alerts));
  for (mi->Seek(std::string("i") + '\0'); mi->Valid() && mi->key().starts_with(std::string("i") + '\0'); mi->Next()) {
    std::string_view k(mi->key().data() + 2, mi->key().size() - 2);
    size_t zero = k.find('\0');
    if (zero == std::string_view::npos) continue;
    stored_members[std::string(k.substr(0, zero))].insert(std::string(k.substr(zero + 1)));
  }
  if (!mi->status().ok()) return error("cannot read the incident memberships", mi->status());
  if (!chain_broken)
    for (const auto& [id, set] : members)
      if (stored_members[id] != set)
        problem(incidents.count(id) ? incidents[id].first : 0,
                "incident " + id + ": its alerts in the store (" + std::to_string(stored_members[id].size()) +
                    ") differ from those the chain records (" + std::to_string(set.size()) + ")");

  if (!key.empty() && rep.seals == 0 && rep.records > 0)
    rep.warnings.push_back("no seal in the chain: the key checks nothing (was socd run given the audit key?)");
  if (rep.records > rep.last_seal_seq && rep.seals > 0)
    rep.warnings.push_back(std::to_string(rep.records - rep.last_seal_seq) + " record(s) after the last seal (record " +
                           std::to_string(rep.last_seal_seq) + ") are not covered by a seal yet");
  if (key.empty() && rep.seals > 0)
    rep.warnings.push_back(std::to_string(rep.seals) + " seal(s) not checked: no key given (--key-file)");
  for (auto& [seq, text] : problems) rep.problems.push_back(std::move(text));
  rep.ok = rep.problems.empty();
  return rep;
}

}  // namespace store
}  // namespace socd
