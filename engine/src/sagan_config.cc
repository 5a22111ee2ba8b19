// Sagan configuration for the rule loader: variables (sagan.yaml `vars:`), classification.config and
// reference.config.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sagan_internal.h"
#include "socd/sagan.h"
#include "socd/read_file.h"

namespace socd {

SaganVariables SaganVariables::defaults() {
  SaganVariables v;
  v.values = {
      {"HOME_NET", "any"},
      {"EXTERNAL_NET", "any"},
      {"SSH_PORT", "22"},
      {"HTTP_PORT", "80"},
      {"HTTPS_PORT", "443"},
      {"TELNET_PORT", "23"},
      {"DNS_PORT", "53"},
      {"SNMP_PORT", "161"},
      {"POP3_PORT", "110"},
      {"IMAP_PORT", "143"},
      {"SMTP_PORT", "25"},
      {"MYSQL_PORT", "3306"},
      {"MSSQL_PORT", "1433"},
      {"NTP_PORT", "123"},
      {"OPENVPN_PORT", "1194"},
      {"PPTP_PORT", "1723"},
      {"FTP_PORT", "21"},
      {"RSYNC_PORT", "873"},
      {"SQUID_PORT", "3128"},
      {"HOME_COUNTRY", "US,CA"},
      {"SAGAN_HOURS", "0700-1800"},
      {"SAGAN_DAYS", "12345"},
      // The private IPv4 networks of RFC 1918 as the message prefixes meta_content looks for.
      {"RFC1918",
       "10.,192.168.,172.16.,172.17.,172.18.,172.19.,172.20.,172.21.,172.22.,172.23.,172.24.,172.25.,"
       "172.26.,172.27.,172.28.,172.29.,172.30.,172.31."},
  };
  return v;
}

std::string sagan_priority_level(int priority) {
  if (priority <= 0) return "medium";  // no classtype and no priority option: Sagan reports priority 0
  if (priority == 1) return "high";
  if (priority == 2) return "medium";
  if (priority == 3) return "low";
  return "informational";
}

namespace {

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

Expected<std::string> read_text(const std::string& path) {
  std::string text;
  if (!read_file(path, text)) return Status::error(path + ": cannot read the file: " + std::strerror(errno));
  return text;
}

// Every scalar below `node`, by its key (groups nest one level in sagan.yaml, but any depth is read).
void collect_vars(const YAML::Node& node, std::map<std::string, std::string>& out) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const YAML::Node& value = kv.second;
    std::string key = kv.first.as<std::string>("");
    if (value.IsScalar()) {
      out[key] = trim(value.Scalar());
    } else if (value.IsSequence()) {
      std::string joined;
      for (const auto& item : value)
        if (item.IsScalar()) joined += (joined.empty() ? "" : ",") + trim(item.Scalar());
      out[key] = joined;
    } else if (value.IsMap()) {
      collect_vars(value, out);
    }
  }
}

}  // namespace

Status load_sagan_classifications(const std::string& path, SaganVariables& vars) {
  auto text = read_text(path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  int n = 0;
  const std::string prefix = "config classification:";
  while (std::getline(in, line)) {
    ++n;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.compare(0, prefix.size(), prefix) != 0)
      return Status::error(path + ":" + std::to_string(n) +
                           ": expected 'config classification: name,description,priority'");
    std::string body = t.substr(prefix.size());
    size_t first = body.find(','), last = body.rfind(',');
    if (first == std::string::npos || first == last)
      return Status::error(path + ":" + std::to_string(n) +
                           ": a classification needs name,description,priority");
    std::string name = trim(body.substr(0, first)), prio = trim(body.substr(last + 1));
    int p = 0;
    if (!sagan_detail::parse_uint(prio, p) || name.empty())
      return Status::error(path + ":" + std::to_string(n) + ": priority '" + prio + "' is not a number");
    vars.classification_priority[name] = p;
  }
  vars.classifications_loaded = true;
  return {};
}

Status load_sagan_references(const std::string& path, SaganVariables& vars) {
  auto text = read_text(path);
  if (!text) return text.error();
  std::istringstream in(*text);
  std::string line;
  int n = 0;
  const std::string prefix = "config reference:";
  while (std::getline(in, line)) {
    ++n;
    std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    if (t.compare(0, prefix.size(), prefix) != 0)
      return Status::error(path + ":" + std::to_string(n) + ": expected 'config reference: system url'");
    std::string body = trim(t.substr(prefix.size()));
    size_t sp = body.find_first_of(" \t,");
    if (sp == std::string::npos)
      return Status::error(path + ":" + std::to_string(n) + ": a reference needs a system and a URL prefix");
    vars.reference_prefix[body.substr(0, sp)] = trim(body.substr(sp + 1));
  }
  return {};
}

Expected<SaganVariables> load_sagan_variables(const std::string& yaml_path) {
  auto text = read_text(yaml_path);
  if (!text) return text.error();
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Status::error(yaml_path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  SaganVariables vars = SaganVariables::defaults();
  if (!root.IsMap() || !root["vars"])
    return Status::error(yaml_path + ": no 'vars:' section (is this a Sagan YAML configuration?)");
  collect_vars(root["vars"], vars.values);
  // The classification and reference files it names, when they can be read.
  // sagan-core: a map holding core: and liblognorm: (another shape is ignored, as an unknown section would be;
  // a subscript of a scalar or a list would throw).
  const YAML::Node sagan_core = root["sagan-core"];
  const bool has_core = sagan_core && sagan_core.IsMap();
  YAML::Node core = has_core ? sagan_core["core"] : YAML::Node();
  if (core && core.IsMap() && core["default-host"] && core["default-host"].IsScalar())
    vars.default_host = trim(core["default-host"].Scalar());
  if (core && core.IsMap() && core["default-port"] && core["default-port"].IsScalar()) {
    int port = 0;
    if (!sagan_detail::parse_uint(trim(core["default-port"].Scalar()), port) || port > 65535)
      return Status::error(yaml_path + ":" + std::to_string(core["default-port"].Mark().line + 1) +
                           ": default-port '" + core["default-port"].Scalar() + "' is not a port");
    vars.default_port = port;
  }
  if (core && core.IsMap() && core["default-proto"] && core["default-proto"].IsScalar())
    vars.default_proto = trim(core["default-proto"].Scalar());
  // The rulebase of `normalize`, when liblognorm is enabled (a name that cannot be resolved is an error; a
  // file that is not there is reported by the rule loader).
  YAML::Node lognorm = has_core ? sagan_core["liblognorm"] : YAML::Node();
  if (lognorm && lognorm.IsMap() && lognorm["normalize_rulebase"] &&
      lognorm["normalize_rulebase"].IsScalar()) {
    std::string enabled = lognorm["enabled"] ? lognorm["enabled"].as<std::string>("") : "yes";
    if (enabled == "yes" || enabled == "true" || enabled == "enabled") {
      std::vector<std::string> undefined;
      vars.normalize_rulebase =
          sagan_detail::resolve_variables(lognorm["normalize_rulebase"].Scalar(), vars, undefined);
      if (!undefined.empty())
        return Status::error(yaml_path + ":" + std::to_string(lognorm["normalize_rulebase"].Mark().line + 1) +
                             ": normalize_rulebase names " + undefined[0] + ", which vars: does not define");
    }
  }
  // The lists of the blacklist and bro-intel / zeek-intel processors, when enabled.
  YAML::Node processors = root["processors"];
  if (processors && processors.IsSequence()) {
    for (const auto& item : processors) {
      if (!item.IsMap()) continue;
      for (const auto& kv : item) {
        std::string name = kv.first.as<std::string>("");
        const YAML::Node& p = kv.second;
        if (name != "blacklist" && name != "bro-intel" && name != "zeek-intel") continue;
        if (!p.IsMap() || !p["enabled"] || !p["filename"] || !p["filename"].IsScalar()) continue;
        std::string enabled = p["enabled"].as<std::string>("");
        if (enabled != "yes" && enabled != "true" && enabled != "enabled") continue;
        std::vector<std::string> undefined;
        std::string files = sagan_detail::resolve_variables(p["filename"].Scalar(), vars, undefined);
        if (!undefined.empty())
          return Status::error(yaml_path + ":" + std::to_string(p["filename"].Mark().line + 1) + ": " + name +
                               " filename names " + undefined[0] + ", which vars: does not define");
        auto& out = name == "blacklist" ? vars.blacklist_files : vars.zeek_intel_files;
        std::string_view rest = files;
        while (!rest.empty()) {
          size_t comma = rest.find(',');
          std::string f = trim(rest.substr(0, comma));
          if (!f.empty()) out.push_back(f);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
      }
    }
  }
  for (const char* key : {"classification", "reference"}) {
    if (!core || !core.IsMap() || !core[key] || !core[key].IsScalar()) continue;
    std::vector<std::string> undefined;
    std::string file = sagan_detail::resolve_variables(core[key].Scalar(), vars, undefined);
    if (!undefined.empty() || !std::filesystem::exists(file)) continue;
    Status st = std::string(key) == "classification" ? load_sagan_classifications(file, vars)
                                                     : load_sagan_references(file, vars);
    if (!st.ok()) return st;
  }
  return vars;
}

}  // namespace socd
