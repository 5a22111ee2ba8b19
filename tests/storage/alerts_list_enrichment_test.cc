// `socd alerts list` shows each alert's system and the layers the routing sent it to in its table ('-' for an
// unknown asset and for no routing); --json prints the stored alert object unchanged, with its id and the
// enrichment members.
#include <gtest/gtest.h>

#include "storage/store_test_support.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

TEST(AlertsListEnrichment, TheTableShowsSystemAndLayersAndJsonKeepsTheStoredObject) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("store");
  StoredAlert routed = make_alert(1, kBaseTimeMs, "rule-a", "high", "dc01");
  routed.system = "treasury-portal";
  routed.system_level = 4;
  routed.layers = kLayer1 | kLayer2 | kLayer3 | kLayer4;
  routed.json.pop_back();
  routed.json += R"(,"asset":{"system":"treasury-portal","owner":"So Tai chinh","level":4,"known":true},)"
                 R"("routing":{"layers":["L1","L2","L3","L4"],"reason":"L4: default"}})";
  StoredAlert unknown = make_alert(2, kBaseTimeMs + 1000, "rule-a", "low", "pc99");
  unknown.layers = kLayer2 | kLayer3;
  unknown.json.pop_back();
  unknown.json += R"(,"asset":{"known":false},"routing":{"layers":["L2","L3"],"reason":"L2, L3: always"}})";
  StoredAlert plain = make_alert(3, kBaseTimeMs + 2000, "rule-a", "low", "web01");  // no inventory, no routing
  {
    auto store = AlertStore::open(path);
    ASSERT_TRUE(store.ok()) << store.error().message();
    size_t n = 0;
    ASSERT_TRUE((*store)->commit({routed, unknown, plain}, {}, &n).ok());
    ASSERT_EQ(n, 3u);
  }

  ProcessResult r = run_socd({"alerts", "list", "--data-dir", path});
  ASSERT_TRUE(r.exited_with(0)) << r.describe() << "\n" << r.err;
  auto rows = split_lines(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  // Columns are separated by two spaces; the cells of these rows have none inside.
  auto cells = [](std::string_view row) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < row.size()) {
      size_t end = row.find("  ", at);
      if (end == std::string_view::npos) end = row.size();
      if (end > at) out.emplace_back(row.substr(at, end - at));
      at = end + 1;
      while (at < row.size() && row[at] == ' ') ++at;
    }
    return out;
  };
  EXPECT_EQ(cells(rows[0]), (std::vector<std::string>{"TIME", "LEVEL", "RULE", "HOST", "SYSTEM", "LAYERS", "ID"}));
  auto routed_row = cells(rows[1]);
  ASSERT_EQ(routed_row.size(), 7u) << rows[1];
  EXPECT_EQ(routed_row[3], "dc01");
  EXPECT_EQ(routed_row[4], "treasury-portal");
  EXPECT_EQ(routed_row[5], "L1,L2,L3,L4");
  EXPECT_EQ(routed_row[6], routed.id);
  auto unknown_row = cells(rows[2]);
  ASSERT_EQ(unknown_row.size(), 7u) << rows[2];
  EXPECT_EQ(unknown_row[4], "-");
  EXPECT_EQ(unknown_row[5], "L2,L3");
  auto plain_row = cells(rows[3]);
  ASSERT_EQ(plain_row.size(), 7u) << rows[3];
  EXPECT_EQ(plain_row[4], "-");
  EXPECT_EQ(plain_row[5], "-");

  ProcessResult j = run_socd({"alerts", "list", "--json", "--data-dir", path});
  ASSERT_TRUE(j.exited_with(0)) << j.describe() << "\n" << j.err;
  auto lines = split_lines(j.out);
  ASSERT_EQ(lines.size(), 3u) << j.out;
  EXPECT_EQ(lines[0], routed.json);
  EXPECT_EQ(lines[1], unknown.json);
  EXPECT_EQ(lines[2], plain.json);
}

}  // namespace
}  // namespace socd::test
