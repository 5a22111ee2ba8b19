// Text lines (syslog) whose bytes are not all UTF-8: kept as events -- legacy encodings are common in syslog and
// nothing is lost -- counted per source (socd_limit_hits_total{limit="invalid_utf8"}), and their alerts are valid
// JSON with each stray byte shown as U+FFFD. JSON lines are checked by the parser and not counted here.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "pipeline.h"
#include "socd/json_parser.h"
#include "socd/rule_loader.h"
#include "support/socd_process.h"

namespace socd::test {
namespace {

const char* kRule = R"(title: Failed password
id: 7d1c0000-0000-4000-8000-0000000000f8
logsource: {product: linux, service: sshd}
detection:
    keywords: ['Failed password']
    condition: keywords
level: low
)";

class AuthLog : public Source {
public:
  std::string name() const override { return "file:auth.log"; }
  Status start(BatchSink&) override { return {}; }
  void stop() override {}
};

TEST(PipelineInvalidUtf8, TextLinesAreKeptCountedAndTheirAlertsAreValidJson) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file(dir.file("rules.yml"), kRule));
  auto mapping = parse_field_mapping("mappings", "");
  ASSERT_TRUE(mapping.ok()) << mapping.error().message();
  LoadedRules loaded = load_rules({dir.file("rules.yml")}, *mapping, {});
  ASSERT_EQ(loaded.loaded, 1u);
  auto store = AlertStore::open(dir.file("store"));
  ASSERT_TRUE(store.ok()) << store.error().message();
  PipelineOptions options;
  options.format = InputFormat::Syslog;
  Pipeline pipeline(**store, loaded.set, options, loaded.stateful);
  AuthLog source;
  const uint32_t index = pipeline.add_source(source);
  pipeline.start();
  auto batch = std::make_unique<SourceBatch>();
  batch->origin = "auth.log";
  const std::vector<std::string> lines = {
      "Nov 23 10:00:00 web1 sshd[1]: Failed password for ng\xe6\xf4\xe9n from 10.0.0.1 port 22 ssh2",  // Latin-1
      "Nov 23 10:00:01 web1 sshd[2]: Failed password for admin from 10.0.0.2 port 22 ssh2",
      "Nov 23 10:00:02 web1 sshd[3]: Connection closed by \xff\xfe 10.0.0.3",
      "Nov 23 10:00:03 web1 sshd[4]: Failed password for ng\xc6\xb0\xe1\xbb\x9di from 10.0.0.4 port 22 ssh2",  // UTF-8
  };
  uint64_t number = 1;
  for (const auto& l : lines) batch->lines.add(l, number, number * 100), ++number;
  batch->lines.finish(JsonEventParser::padding());
  ASSERT_TRUE(pipeline.sink(index).push(std::move(batch), true));
  pipeline.drain();
  ASSERT_EQ(pipeline.sources().size(), 1u);
  EXPECT_EQ(pipeline.sources()[0].events, 4u);  // nothing set aside
  EXPECT_EQ(pipeline.sources()[0].malformed, 0u);
  EXPECT_EQ(pipeline.sources()[0].invalid_utf8.load(), 2u);
  EXPECT_EQ(pipeline.alerts_stored(), 3u);
  size_t replaced = 0;
  Status st = (*store)->list({}, [&](const StoredAlert& a) {
    EXPECT_TRUE(simdjson::validate_utf8(a.json.data(), a.json.size())) << a.json;
    simdjson::dom::parser parser;
    simdjson::dom::element alert;
    EXPECT_EQ(parser.parse(a.json).get(alert), simdjson::SUCCESS) << a.json;
    if (a.json.find("ng\\ufffd\\ufffd\\ufffdn") != std::string::npos) ++replaced;  // three U+FFFD, escaped
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(replaced, 1u);
}

}  // namespace
}  // namespace socd::test
