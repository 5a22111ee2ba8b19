// How the alert store lays its data out in RocksDB: column families, keys and the value encoding. Internal to
// storage/.
//
//   column family  key                                   value
//   alerts         time key (8 bytes) + alert id          encoded StoredAlert (below), time and id from the key
//   alert_ids      alert id                               the alerts key of that alert
//   checkpoints    checkpoint key (a source's name)       its checkpoint, as the writer gave it
//   state          a stage's name ("stateful")            its snapshot (StatefulStage::snapshot, socd/stateful.h)
//   incidents, incident_alerts, chain, activity: the ledger (incidents and audit chain), see rocks_ledger.h
//   outbox, dead_letter_forward: the layer-4 outbox, see outbox_rocks.h
//   dead_letter_input: the input's dead letters (lines set aside), see input_dead_letters_rocks.h
//   default        "format"                               kFormat: marks the directory as an alert store
//                  "alert_count"                          8 bytes little-endian: alerts stored, kept exact by commit()
//
// The time key is time_ms as 8 bytes big-endian with the sign bit flipped, so byte order is time order for every
// int64 (times before 1970 sort before later ones).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "socd/alert_store.h"

namespace socd::store {

inline constexpr const char* kAlertsFamily = "alerts";
inline constexpr const char* kAlertIdsFamily = "alert_ids";
inline constexpr const char* kCheckpointsFamily = "checkpoints";
inline constexpr const char* kStateFamily = "state";

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kFormat = "socd-alert-store 1";
inline constexpr std::string_view kAlertCountKey = "alert_count";

inline constexpr size_t kTimeKeySize = 8;
inline constexpr uint8_t kValueVersion = 2;  // 1: without system, system_level, layers (still read)

inline std::string time_key(int64_t time_ms) {
  uint64_t t = static_cast<uint64_t>(time_ms) ^ (uint64_t{1} << 63);
  std::string key(kTimeKeySize, '\0');
  for (size_t i = 0; i < kTimeKeySize; ++i) key[i] = static_cast<char>(t >> (8 * (kTimeKeySize - 1 - i)));
  return key;
}

inline int64_t time_from_key(std::string_view key) {
  uint64_t t = 0;
  for (size_t i = 0; i < kTimeKeySize && i < key.size(); ++i) t = (t << 8) | static_cast<unsigned char>(key[i]);
  return static_cast<int64_t>(t ^ (uint64_t{1} << 63));
}

inline std::string alert_key(int64_t time_ms, std::string_view id) {
  std::string key = time_key(time_ms);
  key.append(id);
  return key;
}

inline void put_fixed64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

inline std::optional<uint64_t> get_fixed64(std::string_view in) {
  if (in.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline bool get_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= uint64_t{byte & 0x7fu} << shift;
    if (byte < 0x80) return true;
  }
  return false;
}

inline void put_field(std::string& out, std::string_view field) {
  put_varint(out, field.size());
  out.append(field);
}

inline bool get_field(std::string_view& in, std::string_view& field) {
  uint64_t size = 0;
  if (!get_varint(in, size) || size > in.size()) return false;
  field = in.substr(0, size);
  in.remove_prefix(size);
  return true;
}

// Value of an alert: version byte, then rule_id, level, host and json, each a varint length and its bytes; then
// (version 2) system as a varint length and its bytes, system_level as a varint, layers as one byte.
inline void encode_alert(const StoredAlert& alert, std::string& out) {
  out.clear();
  out.reserve(1 + 5 * 2 + 2 + alert.rule_id.size() + alert.level.size() + alert.host.size() + alert.json.size() +
              alert.system.size());
  out.push_back(static_cast<char>(kValueVersion));
  put_field(out, alert.rule_id);
  put_field(out, alert.level);
  put_field(out, alert.host);
  put_field(out, alert.json);
  put_field(out, alert.system);
  put_varint(out, static_cast<uint64_t>(alert.system_level < 0 ? 0 : alert.system_level));
  out.push_back(static_cast<char>(alert.layers));
}

// The fields of an encoded alert as views into the value, so filters can look at them before anything is copied.
struct AlertView {
  std::string_view rule_id, level, host, json, system;
  int system_level = 0;
  uint8_t layers = 0;
};

inline bool decode_alert(std::string_view value, AlertView& view) {
  if (value.empty()) return false;
  const auto version = static_cast<uint8_t>(value.front());
  if (version != 1 && version != kValueVersion) return false;
  value.remove_prefix(1);
  if (!(get_field(value, view.rule_id) && get_field(value, view.level) && get_field(value, view.host) &&
        get_field(value, view.json)))
    return false;
  view.system = {};
  view.system_level = 0;
  view.layers = 0;
  if (version == 1) return value.empty();
  uint64_t level = 0;
  if (!get_field(value, view.system) || !get_varint(value, level) || level > 5 || value.size() != 1) return false;
  view.system_level = static_cast<int>(level);
  view.layers = static_cast<uint8_t>(value.front());
  return true;
}

inline void fill_alert(std::string_view key, const AlertView& view, StoredAlert& alert) {
  alert.time_ms = time_from_key(key);
  alert.id.assign(key.substr(kTimeKeySize));
  alert.rule_id.assign(view.rule_id);
  alert.level.assign(view.level);
  alert.host.assign(view.host);
  alert.json.assign(view.json);
  alert.system.assign(view.system);
  alert.system_level = view.system_level;
  alert.layers = view.layers;
}

}  // namespace socd::store
