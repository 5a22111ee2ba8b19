// The asset inventory (config/assets.yml): the information systems the SOC watches, each with its owner
// agency, its approved security level (1..5, Decree 85/2016) and what belongs to it: host names, IP ranges
// and log sources. Every alert is tied to the system its event came from, or flagged as coming from an
// unknown asset.
//
// Lookup order for an event: its host field as a name (case-insensitive; "pc07" also finds "pc07.tinh.local"
// and the other way round; "*.stc.tinh.local" entries take every name below), its host field as an IP
// address, the address of the network peer that sent it (syslog), then its log source (the file path, or the
// listener as udp://ADDR:PORT, tcp://..., tls://...) against the systems' source globs. Addresses take the
// longest prefix. Immutable once loaded; shared by all workers; a reload builds a new one.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"
#include "socd/status.h"

namespace socd {

struct AssetSystem {
  std::string name;   // short name, shown on alerts as asset.system
  std::string owner;  // the owner agency (layer 1 routing goes to its on-site team)
  int level = 0;      // security level 1..5
  std::string description;
  std::vector<std::string> contacts;  // as written ("Nguyễn Văn A <a@example.vn> 0912...")
  std::vector<std::string> classes;   // free labels the routing may test ("nationally-important" ...)
  std::vector<std::string> hosts, ranges, sources;  // as written
  std::string file;                                 // where it was defined
  int line = 0;
};

// What an event says about where it came from.
struct AssetQuery {
  std::string_view host;       // the event's host field (a name or an address); empty when none
  std::string_view sender_ip;  // the address of the peer that sent the line over the network; empty for files
  std::string_view source;     // the file path, or the listener's origin (udp://ADDR:PORT ...)
};

// How an event was tied to its system (for the routing reason and for tests).
enum class AssetMatch : uint8_t { None, Host, HostAddress, Sender, Source };
const char* asset_match_name(AssetMatch how);

class AssetInventory {
public:
  // Reads and checks an inventory file; every error names the file, the line and what to do.
  static Expected<std::shared_ptr<const AssetInventory>> load(const std::string& path);
  static Expected<std::shared_ptr<const AssetInventory>> parse(const std::string& name,
                                                               const std::string& yaml);
  ~AssetInventory();
  AssetInventory(const AssetInventory&) = delete;
  AssetInventory& operator=(const AssetInventory&) = delete;

  const std::vector<AssetSystem>& systems() const;
  // The system of an event, or null (an unknown asset); `how` says what matched.
  const AssetSystem* find(const AssetQuery& query, AssetMatch* how = nullptr) const;
  const AssetSystem* find_host(std::string_view name) const;
  const AssetSystem* find_address(std::string_view address) const;  // longest prefix; null for a non-address
  const AssetSystem* find_source(std::string_view source) const;

  struct Impl;

private:
  AssetInventory();
  std::unique_ptr<Impl> impl_;
};

// Appends the alert member ,"asset":{"system":..,"owner":..,"level":N,"known":true} for `system`, or
// ,"asset":{"known":false} for an unknown asset (null).
void append_asset_json(std::string& out, const AssetSystem* system);

}  // namespace socd
