// The asset inventory: systems tied to events by host name (case, short and full names, "*.domain"), by
// address (longest prefix, IPv4 and IPv6), by sender and by log source; configuration errors with file:line.
#include <gtest/gtest.h>

#include "socd/assets.h"

namespace socd {
namespace {

const char* kInventory = R"(systems:
  - name: portal
    owner: Agency A
    level: 3
    hosts: [Web01.Tinh.Local, db01]
    ranges: [10.20.1.0/24, '2001:db8:20:1::/64']
    sources: [/var/log/nginx/portal*.log, 'udp://*:5514']
  - name: datacentre
    owner: Agency A
    level: 2
    ranges: [10.20.0.0/16, '2001:db8:20::/48', 10.20.1.128/25]
  - name: finance
    owner: Agency B
    level: 4
    classes: [nationally-important]
    contacts: [{name: Ms B, email: b@example.vn, phone: '0123'}, plain text contact]
    hosts: ['*.stc.tinh.local', pc07.tinh.local]
    ranges: [10.30.2.0/24, 0.0.0.0/0]
  - name: host-route
    owner: Agency C
    level: 1
    ranges: [10.20.1.77, '2001:db8:20:1::77/128']
)";

std::shared_ptr<const AssetInventory> inventory() {
  auto inv = AssetInventory::parse("assets.yml", kInventory);
  EXPECT_TRUE(inv.ok()) << (inv.ok() ? "" : inv.error().message());
  return inv.ok() ? *inv : nullptr;
}

std::string name_of(const AssetSystem* s) { return s ? s->name : "(unknown)"; }

TEST(AssetInventory, ReadsEverySystemWithItsFields) {
  auto inv = inventory();
  ASSERT_TRUE(inv);
  ASSERT_EQ(inv->systems().size(), 4u);
  const AssetSystem& finance = inv->systems()[2];
  EXPECT_EQ(finance.name, "finance");
  EXPECT_EQ(finance.owner, "Agency B");
  EXPECT_EQ(finance.level, 4);
  EXPECT_EQ(finance.classes, std::vector<std::string>{"nationally-important"});
  ASSERT_EQ(finance.contacts.size(), 2u);
  EXPECT_EQ(finance.contacts[0], "Ms B <b@example.vn> 0123");
  EXPECT_EQ(finance.contacts[1], "plain text contact");
  EXPECT_EQ(finance.line, 12);
}

TEST(AssetInventory, LongestPrefixWinsForIpv4AndIpv6) {
  auto inv = inventory();
  ASSERT_TRUE(inv);
  struct Case {
    const char* address;
    const char* system;
  } cases[] = {
      {"10.20.1.5", "portal"},       // /24 inside the /16
      {"10.20.1.77", "host-route"},  // a single address inside the /24
      {"10.20.1.78", "portal"},
      {"10.20.1.200", "datacentre"},  // the /25 of datacentre inside portal's /24 inside datacentre's /16
      {"10.20.1.255", "datacentre"},
      {"10.20.1.127", "portal"},
      {"10.20.2.1", "datacentre"},  // the /16 only
      {"10.30.2.9", "finance"},
      {"192.0.2.1", "finance"},  // 0.0.0.0/0 takes every other IPv4 address
      {"2001:db8:20:1::5", "portal"},
      {"2001:DB8:20:1::77", "host-route"},
      {"2001:db8:20:2::1", "datacentre"},  // the /48 only
      {"2001:db8:21::1", "(unknown)"},     // no IPv6 default: ::/0 is not IPv4's 0.0.0.0/0
      {"::ffff:10.20.1.5", "portal"},      // IPv4-mapped IPv6 is the IPv4 address
      {"[2001:db8:20:1::5]", "portal"},
      {"fe80::1%12", "(unknown)"},
      {"web01", "(unknown)"},  // a name is not an address
      {"10.20.1", "(unknown)"},
      {"", "(unknown)"},
  };
  for (const auto& c : cases) EXPECT_EQ(name_of(inv->find_address(c.address)), c.system) << c.address;
}

TEST(AssetInventory, HostNamesIgnoreCaseAndMatchShortAndFullForms) {
  auto inv = inventory();
  ASSERT_TRUE(inv);
  struct Case {
    const char* host;
    const char* system;
  } cases[] = {
      {"web01.tinh.local", "portal"},
      {"WEB01.TINH.LOCAL", "portal"},
      {"web01.tinh.local.", "portal"},  // a trailing dot
      {"web01", "portal"},              // the short form of a listed full name
      {"DB01", "portal"},
      {"db01.tinh.local", "portal"},       // the full form of a listed short name
      {"ws12.stc.tinh.local", "finance"},  // *.stc.tinh.local
      {"a.b.stc.tinh.local", "finance"},
      {"stc.tinh.local", "(unknown)"},  // the domain itself is not below it
      {"pc07.tinh.local", "finance"},
      {"pc07", "finance"},
      {"web02.tinh.local", "(unknown)"},
      {"web01.other.local", "(unknown)"},  // web01 is only the short form of web01.tinh.local
      {"db01.other.local", "portal"},      // a listed short name takes any full name starting with it
  };
  for (const auto& c : cases) EXPECT_EQ(name_of(inv->find_host(c.host)), c.system) << c.host;
}

TEST(AssetInventory, FindTriesHostThenHostAddressThenSenderThenSource) {
  auto inv = inventory();
  ASSERT_TRUE(inv);
  AssetMatch how;
  AssetQuery q;
  q.host = "pc07";
  q.sender_ip = "10.20.1.5";
  q.source = "/var/log/nginx/portal-access.log";
  EXPECT_EQ(name_of(inv->find(q, &how)), "finance");
  EXPECT_EQ(how, AssetMatch::Host);

  q.host = "10.20.2.3";  // a host field holding an address
  EXPECT_EQ(name_of(inv->find(q, &how)), "datacentre");
  EXPECT_EQ(how, AssetMatch::HostAddress);

  q.host = "unknown-host";
  EXPECT_EQ(name_of(inv->find(q, &how)), "portal");
  EXPECT_EQ(how, AssetMatch::Sender);

  q.sender_ip = {};
  EXPECT_EQ(name_of(inv->find(q, &how)), "portal");
  EXPECT_EQ(how, AssetMatch::Source);

  q.source = "udp://0.0.0.0:5514";
  EXPECT_EQ(name_of(inv->find(q, &how)), "portal");
  q.source = "tcp://0.0.0.0:5514";
  EXPECT_EQ(inv->find(q, &how), nullptr);
  EXPECT_EQ(how, AssetMatch::None);
}

TEST(AssetInventory, AssetJsonForKnownAndUnknown) {
  auto inv = inventory();
  ASSERT_TRUE(inv);
  std::string out;
  append_asset_json(out, inv->find_host("pc07"));
  EXPECT_EQ(out, R"(,"asset":{"system":"finance","owner":"Agency B","level":4,"known":true})");
  out.clear();
  append_asset_json(out, nullptr);
  EXPECT_EQ(out, R"(,"asset":{"known":false})");
}

TEST(AssetInventory, ErrorsNameTheFileTheLineAndWhatToDo) {
  struct Case {
    const char* yaml;
    const char* message;  // expected at the start of the error
  } cases[] = {
      {"systems:\n  - name: a\n    owner: o\n    level: 6\n",
       "assets.yml:4: 'level' must be the system's security level, 1 to 5"},
      {"systems:\n  - name: a\n    owner: o\n", "assets.yml:2: system 'a' has no 'level'"},
      {"systems:\n  - name: a\n    level: 2\n", "assets.yml:2: system 'a' has no 'owner'"},
      {"systems:\n  - name: a\n    owner: o\n    level: 2\n    hots: [x]\n",
       "assets.yml:5: unknown key 'hots'"},
      {"systems:\n  - {name: a, owner: o, level: 2, ranges: [10.1.2.3/8]}\n",
       "assets.yml:2: system 'a': '10.1.2.3/8' is not an IP range in CIDR notation (host bits set"},
      {"systems:\n  - {name: a, owner: o, level: 2, ranges: [10.0.0.0/33]}\n",
       "assets.yml:2: system 'a': '10.0.0.0/33' is not an IP range in CIDR notation (prefix length over 32)"},
      {"systems:\n  - {name: a, owner: o, level: 2, hosts: [h1]}\n  - {name: b, owner: o, level: 2, hosts: "
       "[H1]}\n",
       "assets.yml:3: system 'b': host 'H1' belongs to system 'a' already"},
      {"systems:\n  - {name: a, owner: o, level: 2, ranges: [10.0.0.0/8]}\n"
       "  - {name: b, owner: o, level: 2, ranges: [10.0.0.0/8]}\n",
       "assets.yml:3: system 'b': range '10.0.0.0/8' belongs to system 'a' already"},
      // The same range or source twice in one system (the check once looked the holder up among the systems
      // already added, which this one is not yet).
      {"systems:\n  - {name: a, owner: o, level: 2, ranges: [10.0.0.0/8, 10.0.0.0/8]}\n",
       "assets.yml:2: system 'a': range '10.0.0.0/8' is listed twice"},
      {"systems:\n  - {name: a, owner: o, level: 2}\n  - {name: b, owner: o, level: 2, sources: [s.log, s.log]}\n",
       "assets.yml:3: system 'b': source 's.log' is listed twice"},
      {"systems:\n  - {name: a, owner: o, level: 2, sources: [s.log]}\n"
       "  - {name: b, owner: o, level: 2, sources: [s.log]}\n",
       "assets.yml:3: system 'b': source 's.log' belongs to system 'a' already"},
      {"systems:\n  - {name: a, owner: o, level: 2}\n  - {name: a, owner: p, level: 3}\n",
       "assets.yml:3: a second system named 'a'"},
      {"systems:\n  - {name: a, owner: o, level: 2, hosts: ['bad host']}\n",
       "assets.yml:2: system 'a': 'bad host' is not a host name"},
      {"hosts: []\n", "assets.yml:1: an asset inventory is a map with a 'systems' list"},
      {"systems:\n  - name: [\n", "assets.yml:"},
  };
  for (const auto& c : cases) {
    auto inv = AssetInventory::parse("assets.yml", c.yaml);
    ASSERT_FALSE(inv.ok()) << c.yaml;
    EXPECT_EQ(inv.error().message().rfind(c.message, 0), 0u) << "got: " << inv.error().message();
  }
}

TEST(AssetInventory, TheShippedExampleLoadsAndPlacesTheSampleHosts) {
  auto inv = AssetInventory::load(std::string(SOCD_SOURCE_DIR) + "/config/assets.yml");
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  const AssetInventory& a = **inv;
  EXPECT_EQ(name_of(a.find_host("ttcntt-dc01.tinh.local")), "xac-thuc-tap-trung");
  EXPECT_EQ(name_of(a.find_host("ubnd-fs01.tinh.local")), "van-phong-ubnd");
  EXPECT_EQ(name_of(a.find_host("stc-pc07.tinh.local")), "tai-chinh-ngan-sach");
  EXPECT_EQ(name_of(a.find_host("sotttt-db01")), "csdl-dung-chung");
  EXPECT_EQ(name_of(a.find_host("snv-pc03.tinh.local")), "(unknown)");
  EXPECT_EQ(name_of(a.find_source("config/samples/access.log")), "cong-thong-tin");
  EXPECT_EQ(name_of(a.find_address("10.20.1.5")), "cong-thong-tin");
  EXPECT_EQ(name_of(a.find_address("10.20.9.9")), "trung-tam-du-lieu");
}

}  // namespace
}  // namespace socd
