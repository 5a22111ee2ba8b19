// Threat-intelligence lists: loading plain, CSV and configured lists (malformed entries counted and reported
// with file:line, the rest loaded), and hits per indicator type on real event shapes, through the mapping's
// fields.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "socd/enrichment.h"
#include "socd/event_parser.h"
#include "socd/intel.h"
#include "socd/sigma.h"
#include "support/socd_process.h"

namespace socd {
namespace {

using test::TempDir;

FieldMapping shipped_mapping() {
  auto m = load_field_mapping(std::string(SOCD_SOURCE_DIR) + "/config/mappings.yml");
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message());
  return m.ok() ? *m : FieldMapping{};
}

// A rule set with no rule at all, compiled to read the intelligence fields: whatever hits, no rule asked for
// it.
std::shared_ptr<const RuleSet> rules_for(const IntelSet& intel) {
  std::vector<Diagnostic> diags;
  CompileOptions options;
  options.extra_fields = intel.field_names();
  return RuleSet::compile({}, shipped_mapping(), options, diags);
}

class IntelTest : public ::testing::Test {
protected:
  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_.file(name);
    EXPECT_TRUE(test::write_file(path, text));
    return path;
  }

  void load(std::vector<std::string> paths) {
    diags_.clear();
    auto set = IntelSet::load(paths, diags_);
    ASSERT_TRUE(set.ok()) << set.error().message();
    intel_ = *set;
    rules_ = rules_for(*intel_);
    matcher_ = std::make_unique<IntelMatcher>(intel_, rules_);
  }

  // "list type indicator field" of each hit on one JSON or syslog line.
  std::vector<std::string> hits(const std::string& line) {
    Event ev(&rules_->paths());
    EventParser parser;
    std::string padded = line;
    padded.resize(line.size() + 64, ' ');
    Status st = parser.parse(std::string_view(padded.data(), line.size()), ev);
    EXPECT_TRUE(st.ok()) << st.message();
    std::vector<IntelHit> found;
    matcher_->match(ev, found);
    std::vector<std::string> out;
    for (const auto& h : found)
      out.push_back(intel_->lists()[h.list].name + " " + indicator_type_name(h.type) + " " +
                    std::string(intel_->indicator(h.indicator)) + " " + matcher_->field_name(h.field));
    return out;
  }

  TempDir dir_;
  std::vector<Diagnostic> diags_;
  std::shared_ptr<const IntelSet> intel_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<IntelMatcher> matcher_;
};

using Hits = std::vector<std::string>;

TEST_F(IntelTest, IpAddressesAndNetworksOnEveryShape) {
  load({write("bad-ips.txt",
              "# comment\n"
              "203.0.113.7\n"
              "198.51.100.0/24\n"
              "198.51.100.128/25   # inline comment\n"
              "2001:db8:bad::/48\n"
              "2001:DB8::7\n"
              "\n")});
  EXPECT_EQ(intel_->size(), 5u);
  EXPECT_EQ(intel_->malformed(), 0u);
  // Sysmon 3 in the evtx shape: both ends checked.
  EXPECT_EQ(hits(R"({"Event":{"System":{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3},)"
                 R"("EventData":{"SourceIp":"10.0.0.5","DestinationIp":"203.0.113.7"}}})"),
            (Hits{"bad-ips ip 203.0.113.7 DestinationIp"}));
  // Flat NXLog shape, a network, the most specific one.
  EXPECT_EQ(hits(R"({"Channel":"Security","EventID":4624,"IpAddress":"198.51.100.200"})"),
            (Hits{"bad-ips ip 198.51.100.128/25 IpAddress"}));
  EXPECT_EQ(hits(R"({"Channel":"Security","EventID":4624,"IpAddress":"198.51.100.5"})"),
            (Hits{"bad-ips ip 198.51.100.0/24 IpAddress"}));
  // ECS (Winlogbeat) through the mapping's fields: source.ip is SourceIp.
  EXPECT_EQ(hits(R"({"winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":3},)"
                 R"("source":{"ip":"2001:db8:bad:1::9"}})"),
            (Hits{"bad-ips ip 2001:db8:bad::/48 SourceIp"}));
  EXPECT_EQ(hits(R"({"DestAddress":"2001:db8:0::7"})"), (Hits{"bad-ips ip 2001:db8::7 DestAddress"}));
  // Web access log (the syslog parser's c-ip).
  EXPECT_EQ(hits(R"(203.0.113.7 - - [21/Nov/2026:07:30:02 +0700] "GET / HTTP/1.1" 200 2 "-" "x")"),
            (Hits{"bad-ips ip 203.0.113.7 c-ip"}));
  // Not hits: other addresses, addresses in fields that are not address fields, non-addresses.
  EXPECT_EQ(hits(R"({"IpAddress":"203.0.113.8","CommandLine":"curl http://203.0.113.7/"})"), Hits{});
  EXPECT_EQ(hits(R"({"IpAddress":"-","SourceAddress":"::1"})"), Hits{});
}

TEST_F(IntelTest, DomainsTakeTheirSubdomains) {
  load({write("phish.txt",
              "evil.example\n*.wild.example\n.dot.example\nxacthuc-vneid[.]example\nexact.a.b.example\n")});
  EXPECT_EQ(intel_->size(), 5u);
  EXPECT_EQ(hits(R"({"QueryName":"evil.example"})"), (Hits{"phish domain evil.example QueryName"}));
  EXPECT_EQ(hits(R"({"QueryName":"Login.Mail.EVIL.example."})"),
            (Hits{"phish domain evil.example QueryName"}));
  EXPECT_EQ(hits(R"({"QueryName":"x.wild.example"})"), (Hits{"phish domain wild.example QueryName"}));
  EXPECT_EQ(hits(R"({"DestinationHostname":"a.dot.example"})"),
            (Hits{"phish domain dot.example DestinationHostname"}));
  EXPECT_EQ(hits(R"({"dns":{"question":{"name":"xacthuc-vneid.example"}}})"),
            (Hits{"phish domain xacthuc-vneid.example QueryName"}));
  EXPECT_EQ(hits(R"({"QueryName":"z.exact.a.b.example"})"),
            (Hits{"phish domain exact.a.b.example QueryName"}));
  // A parent of an indicator is not a hit; neither is a name that only ends with the same letters.
  EXPECT_EQ(hits(R"({"QueryName":"a.b.example"})"), Hits{});
  EXPECT_EQ(hits(R"({"QueryName":"notevil.example"})"), Hits{});
  EXPECT_EQ(hits(R"({"QueryName":"example"})"), Hits{});
}

TEST_F(IntelTest, HashesIgnoreCaseAndAreFoundInsideSysmonHashes) {
  const std::string md5 = "44d88612fea8a8f36de82e1278abb02f";
  const std::string sha1 = "3395856CE81F2B7382DEE72602F798B642F14140";
  const std::string sha256 = "c852be1b4ce0837e42cd8c411d5a1ae61ae148885e6fbc330a4dd8c76011bda4";
  load({write("hashes.txt", md5 + "\n" + sha1 + "\n" + sha256 + "\n")});
  EXPECT_EQ(intel_->size(), 3u);
  EXPECT_EQ(
      hits(R"({"Hashes":"SHA1=0000000000000000000000000000000000000000,MD5=44D88612FEA8A8F36DE82E1278ABB02F,)"
           R"(SHA256=0000000000000000000000000000000000000000000000000000000000000000,)"
           R"(IMPHASH=44D88612FEA8A8F36DE82E1278ABB02F"})"),
      (Hits{"hashes hash " + md5 + " Hashes"}));  // IMPHASH is not a file hash: one hit
  EXPECT_EQ(hits(R"({"Event":{"EventData":{"Hashes":"sha1=3395856ce81f2b7382dee72602f798b642f14140"}}})"),
            (Hits{"hashes hash 3395856ce81f2b7382dee72602f798b642f14140 Hashes"}));
  EXPECT_EQ(hits(R"({"Hashes":"SHA256=C852BE1B4CE0837E42CD8C411D5A1AE61AE148885E6FBC330A4DD8C76011BDA4"})"),
            (Hits{"hashes hash " + sha256 + " Hashes"}));
  EXPECT_EQ(hits(R"({"sha256":")" + sha256 + R"("})"), (Hits{"hashes hash " + sha256 + " sha256"}));
  // A hash value under another algorithm's name of the wrong length, or inside other text, is not a hit.
  EXPECT_EQ(hits(R"({"Hashes":"MD5=44D88612FEA8A8F36DE82E1278ABB02F00"})"), Hits{});
  EXPECT_EQ(hits(R"({"CommandLine":")" + md5 + R"("})"), Hits{});
}

TEST_F(IntelTest, UrlsAndTheHostsOfUrlFields) {
  load({write("urls.txt",
              "http://bad.example/payload.exe\nhxxps://Drop.Example/a?b=1\nbad-referer.example\n")});
  EXPECT_EQ(intel_->lists()[0].indicators[int(IndicatorType::Url)], 2u);
  EXPECT_EQ(intel_->lists()[0].indicators[int(IndicatorType::Domain)], 1u);
  EXPECT_EQ(hits(R"({"c-uri":"HTTP://BAD.example/payload.exe"})"),
            (Hits{"urls url bad.example/payload.exe c-uri"}));
  EXPECT_EQ(hits(R"({"c-uri":"https://drop.example/a?b=1#frag"})"),
            (Hits{"urls url drop.example/a?b=1 c-uri"}));
  EXPECT_EQ(hits(R"({"c-uri":"http://bad.example/payload.exe?x=2"})"),
            (Hits{"urls url bad.example/payload.exe c-uri"}));  // the query dropped as a second try
  EXPECT_EQ(hits(R"({"c-uri":"http://bad.example/other"})"), Hits{});
  // A URL field's host against the domains.
  EXPECT_EQ(hits(R"(10.0.0.1 - - [21/Nov/2026:07:30:02 +0700] "GET / HTTP/1.1" 200 2 )"
                 R"("https://www.bad-referer.example/x" "Mozilla")"),
            (Hits{"urls domain bad-referer.example cs-referer"}));
}

TEST_F(IntelTest, OneIndicatorInSeveralListsHitsEachList) {
  load({write("a.txt", "203.0.113.7\n10.0.0.0/8\n"),
        write("b.txt", "203.0.113.7\n10.0.0.0/8\n203.0.113.7\n")});
  EXPECT_EQ(intel_->lists()[1].duplicates, 1u);
  EXPECT_EQ(hits(R"({"IpAddress":"203.0.113.7"})"),
            (Hits{"a ip 203.0.113.7 IpAddress", "b ip 203.0.113.7 IpAddress"}));
  EXPECT_EQ(hits(R"({"IpAddress":"10.1.2.3"})"),
            (Hits{"a ip 10.0.0.0/8 IpAddress", "b ip 10.0.0.0/8 IpAddress"}));
  // The same indicator in two fields of one event: one hit.
  EXPECT_EQ(hits(R"({"SourceIp":"203.0.113.7","DestinationIp":"203.0.113.7"})"),
            (Hits{"a ip 203.0.113.7 SourceIp", "b ip 203.0.113.7 SourceIp"}));
}

TEST_F(IntelTest, MalformedEntriesAreCountedReportedWithFileAndLineAndTheRestLoads) {
  std::string path = write("mixed.txt",
                           "203.0.113.7\n"       // 1
                           "10.1.2.3/8\n"        // 2: host bits
                           "1.2.3\n"             // 3: a broken address
                           "not an indicator\n"  // 4: spaces
                           "evil.example\n"      // 5
                           "nodot\n"             // 6: one label
                           "10.0.0.0/40\n"       // 7
                           "http:///nohost\n"    // 8
                           "abcdefabcdef\n");    // 9: hex, but no hash length
  load({path});
  EXPECT_EQ(intel_->size(), 2u);
  EXPECT_EQ(intel_->malformed(), 7u);
  EXPECT_EQ(intel_->lists()[0].malformed, 7u);
  std::set<int> lines;
  for (const auto& d : diags_) {
    EXPECT_EQ(d.file, path);
    EXPECT_EQ(d.reason, "bad-indicator");
    lines.insert(d.line);
  }
  EXPECT_EQ(lines, (std::set<int>{2, 3, 4, 6, 7, 8, 9}));
  auto message_of = [&](int line) {
    for (const auto& d : diags_)
      if (d.line == line) return d.to_string();
    return std::string();
  };
  EXPECT_NE(message_of(2).find(":2: '10.1.2.3/8': host bits set under the prefix"), std::string::npos)
      << message_of(2);
  EXPECT_NE(message_of(4).find("one indicator per line"), std::string::npos) << message_of(4);
  EXPECT_EQ(hits(R"({"QueryName":"evil.example","IpAddress":"203.0.113.7"})"),
            (Hits{"mixed ip 203.0.113.7 IpAddress", "mixed domain evil.example QueryName"}));
}

TEST_F(IntelTest, CsvWithATypeColumnAndConfiguredLists) {
  write("feed.csv",
        "# exported feed\n"
        "id,type,indicator,comment\n"
        "1,ip-dst,203.0.113.9,\"c2, port 443\"\n"
        "2,domain,c2.example,\n"
        "3,sha256,C852BE1B4CE0837E42CD8C411D5A1AE61AE148885E6FBC330A4DD8C76011BDA4,\n"
        "4,mutex,Global\\abc,\n"    // unknown type
        "5,domain,203.0.113.10,\n"  // not a domain
        "6,url,\"http://c2.example/gate.php\",\n"
        "7,ip\n");  // no indicator column
  write("only-ips.txt", "203.0.113.11\nc2.example\n");
  std::string config =
      write("lists.yml",
            "lists:\n"
            "  - {name: feed, file: feed.csv, level: critical, tags: [attack.command_and_control]}\n"
            "  - {file: only-ips.txt, type: ip}\n"
            "fields:\n"
            "  ip: [IpAddress]\n");
  load({config});
  ASSERT_EQ(intel_->lists().size(), 2u);
  const IntelList& feed = intel_->lists()[0];
  EXPECT_EQ(feed.rule_id, "intel:feed");
  EXPECT_EQ(feed.level, "critical");
  EXPECT_EQ(feed.indicators[int(IndicatorType::Ip)], 1u);
  EXPECT_EQ(feed.indicators[int(IndicatorType::Domain)], 1u);
  EXPECT_EQ(feed.indicators[int(IndicatorType::Hash)], 1u);
  EXPECT_EQ(feed.indicators[int(IndicatorType::Url)], 1u);
  EXPECT_EQ(feed.malformed, 3u);
  EXPECT_EQ(intel_->lists()[1].name, "only-ips");
  EXPECT_EQ(intel_->lists()[1].malformed, 1u);  // c2.example in a list of type ip
  std::set<std::pair<std::string, int>> where;
  for (const auto& d : diags_) where.insert({std::filesystem::path(d.file).filename().string(), d.line});
  EXPECT_EQ(where, (std::set<std::pair<std::string, int>>{
                       {"feed.csv", 6}, {"feed.csv", 7}, {"feed.csv", 9}, {"only-ips.txt", 2}}));
  EXPECT_NE(feed.rule_json.find(R"("level":"critical","tags":["attack.command_and_control"]})"),
            std::string::npos);
  // fields: ip replaced by IpAddress alone; the other types keep their defaults.
  EXPECT_EQ(hits(R"({"IpAddress":"203.0.113.9","SourceIp":"203.0.113.11","QueryName":"www.c2.example"})"),
            (Hits{"feed ip 203.0.113.9 IpAddress", "feed domain c2.example QueryName"}));
}

TEST_F(IntelTest, LoadErrorsStopTheLoad) {
  std::vector<Diagnostic> diags;
  auto missing = IntelSet::load({dir_.file("absent.txt")}, diags);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("cannot read the intelligence list"), std::string::npos);
  // A directory given for a list says so (not a bare "read error").
  auto directory = IntelSet::load({dir_.path().string()}, diags);
  ASSERT_FALSE(directory.ok());
  EXPECT_NE(directory.error().message().find("Is a directory"), std::string::npos) << directory.error().message();
  write("x.txt", "203.0.113.1\n");
  auto twice = IntelSet::load({dir_.file("x.txt"), dir_.file("x.txt")}, diags);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.error().message().find("a second list named 'x'"), std::string::npos);
  std::string bad_config = write("bad.yml", "lists:\n  - {file: x.txt, level: severe}\n");
  auto bad = IntelSet::load({bad_config}, diags);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(),
            bad_config + ":2: 'level' must be informational, low, medium, high or critical");
  std::string bad_csv = write("c.yml", "lists:\n  - {file: x.txt, format: csv, column: ioc}\n");
  auto csv = IntelSet::load({bad_csv}, diags);
  ASSERT_FALSE(csv.ok());
  EXPECT_NE(csv.error().message().find("the CSV header has no column 'ioc'"), std::string::npos)
      << csv.error().message();
}

TEST_F(IntelTest, FieldsNoRuleReadsAreOnlyCheckedWhenCompiledIn) {
  load({write("ips.txt", "203.0.113.7\n")});
  // Compiled without the extra fields, a rule set cannot read them: the matcher says which.
  std::vector<Diagnostic> diags;
  auto bare = RuleSet::compile({}, shipped_mapping(), {}, diags);
  IntelMatcher blind(intel_, bare);
  EXPECT_FALSE(blind.unreadable_fields().empty());
  EXPECT_TRUE(matcher_->unreadable_fields().empty());
  // Types without indicators add no field.
  for (const auto& f : intel_->field_names()) EXPECT_NE(f, "QueryName");
}

TEST_F(IntelTest, TheShippedExampleListsLoadWithoutMalformedEntries) {
  load({std::string(SOCD_SOURCE_DIR) + "/config/intel/lists.yml"});
  EXPECT_EQ(intel_->malformed(), 0u);
  EXPECT_EQ(intel_->lists().size(), 3u);
  EXPECT_GT(intel_->size(), 5u);
}

}  // namespace
}  // namespace socd
