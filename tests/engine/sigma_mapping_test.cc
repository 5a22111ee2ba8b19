// The mapping file: its reader (format, errors with file:line) and the shipped config/mappings.yml.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "sigma_test_support.h"

namespace socd::test {
namespace {

using Op = ValueTest::Op;

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

const FieldMapping::Source* find_source(const FieldMapping& m, const std::string& product,
                                        const std::string& category, const std::string& service) {
  for (const auto& s : m.sources)
    if (s.match.product == product && s.match.category == category && s.match.service == service) return &s;
  return nullptr;
}

TEST(SigmaMapping, ReadsEverySection) {
  const char* text = R"(
prefixes: ['', 'Event.EventData.']
fields:
  EventID: [EventID, Event.System.EventID]
  Computer: Event.System.Computer
aliases:
  Image: [Image, NewProcessName]
time_fields: [TimeCreated]
host_fields: [Computer, host]
placeholders:
  Admins: [root, 'adm*']
sources:
  win:
    product: windows
    condition:
      - Channel|exists: true
  proc-sysmon:
    product: windows
    category: process_creation
    condition: {Channel: Sysmon, EventID: 1}
  proc-security:
    product: windows
    category: process_creation
    description: merged with the entry above
    condition:
      Channel: Security
      EventID: 4688
)";
  auto m = parse_field_mapping("m.yml", text);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->prefixes, (std::vector<std::string>{"", "Event.EventData."}));
  EXPECT_EQ(m->fields["EventID"], (std::vector<std::string>{"EventID", "Event.System.EventID"}));
  EXPECT_EQ(m->fields["Computer"], (std::vector<std::string>{"Event.System.Computer"}));
  EXPECT_EQ(m->fields["Image"], (std::vector<std::string>{"Image", "Event.EventData.Image", "NewProcessName",
                                                          "Event.EventData.NewProcessName"}));
  EXPECT_EQ(m->time_fields, (std::vector<std::string>{"TimeCreated"}));
  EXPECT_EQ(m->host_fields, (std::vector<std::string>{"Computer", "host"}));
  EXPECT_EQ(m->placeholders["Admins"], (std::vector<std::string>{"root", "adm*"}));
  ASSERT_EQ(m->sources.size(), 2u);
  const auto* win = find_source(*m, "windows", "", "");
  ASSERT_NE(win, nullptr);
  ASSERT_EQ(win->condition.alternatives.size(), 1u);
  EXPECT_EQ(win->condition.alternatives[0][0].values[0].op, Op::Exists);
  const auto* proc = find_source(*m, "windows", "process_creation", "");
  ASSERT_NE(proc, nullptr);
  ASSERT_EQ(proc->condition.alternatives.size(), 2u);  // same keys: alternatives of one source
  EXPECT_EQ(proc->condition.alternatives[1][1].field, "EventID");
  EXPECT_EQ(proc->condition.alternatives[1][1].values[0].text, "4688");
}

TEST(SigmaMapping, AliasesAddToExplicitPaths) {
  auto m = parse_field_mapping("m.yml",
                               "prefixes: ['', 'x.']\nfields:\n  Image: [process.executable]\n"
                               "aliases:\n  Image: [Image]\n");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->fields["Image"], (std::vector<std::string>{"process.executable", "Image", "x.Image"}));
}

TEST(SigmaMapping, EmptyFileGivesDefaults) {
  auto m = parse_field_mapping("m.yml", "# nothing\n");
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->prefixes, (std::vector<std::string>{""}));
  EXPECT_TRUE(m->sources.empty());
  EXPECT_FALSE(m->time_fields.empty());
}

void expect_error(const std::string& text, const std::string& where, const std::string& what) {
  auto m = parse_field_mapping("map.yml", text);
  ASSERT_FALSE(m.ok()) << text;
  EXPECT_EQ(m.error().message().rfind(where, 0), 0u) << m.error().message();
  EXPECT_NE(m.error().message().find(what), std::string::npos) << m.error().message();
}

TEST(SigmaMapping, ErrorsNameFileAndLine) {
  expect_error("prefixes: ['']\nbogus: 1\n", "map.yml:2:", "unknown key 'bogus'");
  expect_error("fields:\n  EventID: {a: b}\n", "map.yml:2:", "list of texts");
  expect_error("fields: [a]\n", "map.yml:1:", "map of names");
  expect_error("sources:\n  s:\n    product: windows\n", "map.yml:2:", "no 'condition'");
  expect_error("sources:\n  s:\n    condition: {a: b}\n", "map.yml:2:", "sets none of product");
  expect_error("sources:\n  s:\n    product: windows\n    colour: red\n    condition: {a: b}\n",
               "map.yml:4:", "unknown key 'colour'");
  expect_error("sources:\n  s:\n    product: windows\n    condition:\n      Channel|contain: x\n",
               "map.yml:5:", "unknown modifier 'contain'");
  expect_error("placeholders:\n  x: [a]\n  x: [b]\n", "map.yml:3:", "twice");
  expect_error("fields:\n  A: [a\n", "map.yml:", "YAML syntax error");
  expect_error("- a\n- b\n", "map.yml:1:", "must be a map");
}

TEST(SigmaMapping, MissingFileIsAnError) {
  auto m = load_field_mapping("/nonexistent/socd/mappings.yml");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("/nonexistent/socd/mappings.yml"), std::string::npos);
}

// ---- the shipped config/mappings.yml ----

class ShippedMapping : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    auto m = load_field_mapping(std::string(SOCD_SOURCE_DIR) + "/config/mappings.yml");
    ASSERT_TRUE(m.ok()) << m.error().message();
    mapping_ = new FieldMapping(std::move(*m));
  }
  static void TearDownTestSuite() {
    delete mapping_;
    mapping_ = nullptr;
  }
  static const FieldMapping& m() { return *mapping_; }
  static FieldMapping* mapping_;
};
FieldMapping* ShippedMapping::mapping_ = nullptr;

TEST_F(ShippedMapping, WindowsHeaderFieldsReachAllThreeShapes) {
  const auto& f = m().fields;
  EXPECT_TRUE(has(f.at("EventID"), "Event.System.EventID"));
  EXPECT_TRUE(has(f.at("EventID"), "Event.System.EventID.#text"));
  EXPECT_TRUE(has(f.at("EventID"), "EventID"));
  EXPECT_TRUE(has(f.at("EventID"), "winlog.event_id"));
  EXPECT_TRUE(has(f.at("Channel"), "winlog.channel"));
  EXPECT_TRUE(has(f.at("Provider_Name"), "Event.System.Provider.#attributes.Name"));
  EXPECT_TRUE(has(f.at("Provider_Name"), "SourceName"));
  EXPECT_TRUE(has(f.at("Provider_Name"), "winlog.provider_name"));
  EXPECT_TRUE(has(f.at("Computer"), "Event.System.Computer"));
  EXPECT_TRUE(has(f.at("Computer"), "Hostname"));
  EXPECT_TRUE(has(f.at("Computer"), "winlog.computer_name"));
  EXPECT_TRUE(has(f.at("TimeCreated"), "Event.System.TimeCreated.#attributes.SystemTime"));
}

TEST_F(ShippedMapping, EventDataFieldsByPrefixAndRenames) {
  EXPECT_TRUE(has(m().prefixes, ""));
  EXPECT_TRUE(has(m().prefixes, "Event.EventData."));
  EXPECT_TRUE(has(m().prefixes, "winlog.event_data."));
  const auto& image = m().fields.at("Image");
  for (const char* p : {"Image", "Event.EventData.Image", "winlog.event_data.Image", "NewProcessName",
                        "Event.EventData.NewProcessName", "winlog.event_data.NewProcessName"})
    EXPECT_TRUE(has(image, p)) << p;
  EXPECT_TRUE(has(m().fields.at("ParentImage"), "Event.EventData.ParentProcessName"));
  EXPECT_TRUE(has(m().fields.at("ThreatName"), "Event.EventData.Threat Name"));
}

TEST_F(ShippedMapping, TimeAndHostFields) {
  EXPECT_EQ(m().time_fields.front(), "TimeCreated");
  EXPECT_TRUE(has(m().time_fields, "@timestamp"));
  EXPECT_TRUE(has(m().time_fields, "timestamp"));
  EXPECT_TRUE(has(m().host_fields, "Computer"));
  EXPECT_TRUE(has(m().host_fields, "host"));
}

TEST_F(ShippedMapping, PlaceholdersUsedBySigmaHq) {
  for (const char* p :
       {"Administrators", "DomainControllers", "JumpServers", "Servers", "Workstations", "known_cdcs"})
    EXPECT_FALSE(m().placeholders.at(p).empty()) << p;
}

std::string describe(const Selection& s) {
  std::string out;
  for (const auto& conj : s.alternatives) {
    out += "[";
    for (const auto& c : conj) {
      out += c.field + "=";
      for (const auto& v : c.values)
        out += v.text + (v.op == Op::Exists ? (v.expect_exists ? "?" : "!") : "") + "|";
      out += " ";
    }
    out += "]";
  }
  return out;
}

TEST_F(ShippedMapping, WindowsLogSources) {
  const auto* proc = find_source(m(), "windows", "process_creation", "");
  ASSERT_NE(proc, nullptr);
  EXPECT_EQ(describe(proc->condition),
            "[Channel=Microsoft-Windows-Sysmon/Operational| EventID=1| ][Channel=Security| EventID=4688| ]");
  const auto* reg = find_source(m(), "windows", "registry_set", "");
  ASSERT_NE(reg, nullptr);
  EXPECT_EQ(describe(reg->condition), "[Channel=Microsoft-Windows-Sysmon/Operational| EventID=13| ]");
  const auto* del = find_source(m(), "windows", "registry_delete", "");
  ASSERT_NE(del, nullptr);
  EXPECT_EQ(describe(del->condition),
            "[Channel=Microsoft-Windows-Sysmon/Operational| EventID=12| EventType=DeleteKey|DeleteValue| ]");
  const auto* ps = find_source(m(), "windows", "ps_script", "");
  ASSERT_NE(ps, nullptr);
  EXPECT_EQ(describe(ps->condition),
            "[Channel=Microsoft-Windows-PowerShell/Operational|PowerShellCore/Operational| EventID=4104| ]");
  const auto* sec = find_source(m(), "windows", "", "security");
  ASSERT_NE(sec, nullptr);
  EXPECT_EQ(describe(sec->condition), "[Channel=Security| ]");
  const auto* def = find_source(m(), "windows", "", "windefend");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(describe(def->condition), "[Channel=Microsoft-Windows-Windows Defender/Operational| ]");
  const auto* av = find_source(m(), "", "antivirus", "");
  ASSERT_NE(av, nullptr);
  for (const char* category : {"file_event", "image_load", "network_connection", "pipe_created", "dns_query",
                               "ps_module", "process_access", "registry_add", "registry_event", "driver_load",
                               "create_remote_thread", "wmi_event", "file_delete"})
    EXPECT_NE(find_source(m(), "windows", category, ""), nullptr) << category;
  for (const char* service :
       {"system", "application", "sysmon", "powershell", "powershell-classic", "taskscheduler", "wmi",
        "applocker", "codeintegrity-operational", "bits-client"})
    EXPECT_NE(find_source(m(), "windows", "", service), nullptr) << service;
}

TEST_F(ShippedMapping, LinuxAndWebLogSources) {
  const auto* linux_any = find_source(m(), "linux", "", "");
  ASSERT_NE(linux_any, nullptr);
  EXPECT_EQ(describe(linux_any->condition), "[program=?| ]");
  EXPECT_EQ(describe(find_source(m(), "linux", "", "sshd")->condition), "[program=sshd| ]");
  EXPECT_EQ(describe(find_source(m(), "linux", "", "sudo")->condition), "[program=sudo| ]");
  EXPECT_EQ(describe(find_source(m(), "linux", "", "su")->condition), "[program=su| ]");
  EXPECT_EQ(describe(find_source(m(), "linux", "", "cron")->condition),
            "[program=cron|CRON|crond|anacron| ]");
  std::string auth = describe(find_source(m(), "linux", "", "auth")->condition);
  EXPECT_EQ(auth.rfind("[facility=auth|authpriv| ][facility=!| program=sshd|", 0), 0u) << auth;
  EXPECT_EQ(describe(find_source(m(), "", "webserver", "")->condition), "[cs-method=?| ]");
  EXPECT_NE(find_source(m(), "linux", "", "syslog"), nullptr);
  EXPECT_NE(find_source(m(), "", "", "apache"), nullptr);
}

}  // namespace
}  // namespace socd::test
