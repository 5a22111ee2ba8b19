// Bad input end to end: `socd scan` over files that mix good events with lines no parser should accept
// (empty, truncated, invalid UTF-8, 50 MB long, 10,000 levels deep, binary) and over a rule folder holding a
// file that is not YAML. How many bad lines the engine counts as malformed is its own decision; what must
// hold whatever it decides: it does not crash, exits 0, processes and matches every good event, and accounts
// for every line (each is an event or counted as malformed; each line that cannot be JSON in any reading is
// counted as malformed).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "support/socd_process.h"

namespace socd::test {
namespace {

constexpr std::string_view kMarkerRuleId = "5e0c1f2a-7b3d-4c9e-8f10-2a3b4c5d6e7f";
constexpr std::string_view kMarkerRule = R"(title: Bad-input test marker
id: 5e0c1f2a-7b3d-4c9e-8f10-2a3b4c5d6e7f
status: test
description: Fires on every good event of the bad-input tests.
logsource:
  product: socd_bad_input_test
detection:
  selection:
    marker: socd-good-event
  condition: selection
level: low
)";

std::string good_event(size_t n) {
  return R"({"marker":"socd-good-event","n":)" + std::to_string(n) + R"(,"user":"alice","ok":true,"x":null})";
}

// An input file under construction: good events and bad lines, with the line numbers of the good ones.
struct InputFile {
  std::string text;
  std::vector<uint64_t> good_lines;
  size_t bad_lines = 0;       // non-empty lines that are not good events
  size_t definitely_bad = 0;  // of those, lines that are not JSON in any reading
  uint64_t line = 0;

  void add_line(std::string_view content) {
    text.append(content);
    text += '\n';
    ++line;
  }
  void good() {
    add_line(good_event(good_lines.size()));
    good_lines.push_back(line);
  }
  void bad(std::string_view content, bool definitely_not_json) {
    add_line(content);
    ++bad_lines;
    if (definitely_not_json) ++definitely_bad;
  }
  // `count` good events, with `insert` called between them.
  template <class Insert>
  void good_events_around(size_t count, Insert insert) {
    for (size_t i = 0; i < count; ++i) {
      good();
      insert(i);
    }
    good();
  }
};

class BadInputTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_TRUE(dir_.ok()) << "cannot create a temporary directory";
    std::filesystem::create_directory(dir_.path() / "rules");
    ASSERT_TRUE(write_file(dir_.path() / "rules" / "marker.yml", kMarkerRule));
  }

  std::string write_input(const InputFile& input, std::string_view name = "input.jsonl") {
    std::string path = dir_.file(name);
    EXPECT_TRUE(write_file(path, input.text)) << "cannot write " << path;
    return path;
  }

  ProcessResult scan(const std::vector<std::string>& inputs, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"scan", "--rules", dir_.file("rules"), "--format", "json"};
    for (const std::string& input : inputs) {
      args.push_back("--input");
      args.push_back(input);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return run_socd(args);
  }

  // The robust facts about a scan of `input` (plus `extra_bad` definitely-bad lines in other input files).
  void expect_good_events_survive(const ProcessResult& run, const InputFile& input, size_t extra_bad = 0) {
    ASSERT_TRUE(run.exited_with(0)) << run.describe() << "\nstderr:\n" << last_lines(run.err, 20);
    std::optional<Summary> summary = parse_summary(run.err);
    ASSERT_TRUE(summary.has_value()) << "no summary line at the end of stderr:\n" << last_lines(run.err, 20);
    const double good = static_cast<double>(input.good_lines.size());
    const double events = summary_number(*summary, "events");
    const double malformed = summary_number(*summary, "malformed");
    EXPECT_GE(events, good) << "not every good event was processed\n" << last_lines(run.err, 20);
    EXPECT_GE(events + malformed, good + static_cast<double>(input.bad_lines + extra_bad))
        << "some lines were neither processed as events nor counted as malformed\n"
        << last_lines(run.err, 20);
    EXPECT_GE(malformed, static_cast<double>(input.definitely_bad + extra_bad))
        << "lines that cannot be JSON were not all counted as malformed\n"
        << last_lines(run.err, 20);
    EXPECT_EQ(summary_number(*summary, "alerts"), good);

    std::vector<uint64_t> alert_lines;
    simdjson::dom::parser parser;
    for (std::string_view line : split_lines(run.out)) {
      simdjson::dom::element alert;
      uint64_t source_line = 0;
      std::string_view rule_id;
      ASSERT_FALSE(parser.parse(line.data(), line.size()).get(alert) ||
                   alert["source"]["line"].get(source_line) || alert["rule"]["id"].get(rule_id))
          << "stdout line is not an alert: " << line.substr(0, 300);
      EXPECT_EQ(rule_id, kMarkerRuleId);
      alert_lines.push_back(source_line);
    }
    std::sort(alert_lines.begin(), alert_lines.end());
    EXPECT_EQ(alert_lines, input.good_lines) << "the alerts are not exactly one per good event";
  }

  TempDir dir_;
};

TEST_F(BadInputTest, EmptyAndBlankLines) {
  InputFile input;
  input.add_line("");
  input.good_events_around(30, [&](size_t i) {
    input.add_line(i % 3 == 0 ? "" : i % 3 == 1 ? "   " : "\t \r");
  });
  input.add_line("");
  expect_good_events_survive(scan({write_input(input)}), input);
}

TEST_F(BadInputTest, TruncatedJson) {
  const std::vector<std::string> truncated = {R"({"marker":"socd-good-event","n":)",
                                              R"({"marker":"socd-go)",
                                              "{",
                                              "[1,2",
                                              R"({"a":{"b":[1,2,{"c":"d")",
                                              R"({"marker":"socd-good-event")",
                                              R"({"marker")",
                                              "\"unterminated"};
  InputFile input;
  input.good_events_around(truncated.size(), [&](size_t i) { input.bad(truncated[i], true); });
  expect_good_events_survive(scan({write_input(input)}), input);
}

TEST_F(BadInputTest, InvalidUtf8) {
  struct BadLine {
    std::string text;
    bool definitely_not_json;
  };
  const std::vector<BadLine> bad_lines = {
      {"{\"marker\":\"socd-bad-\xff\",\"n\":1}", false},   // a stray byte in a string
      {"{\"marker\":\"\xc3\x28\"}", false},                // a broken 2-byte sequence
      {"{\"k\xed\xa0\x80\":\"surrogate\"}", false},        // an encoded surrogate in a key
      {"{\"overlong\":\"\xc0\xaf\"}", false},              // an overlong '/'
      {"\xfe\xff{\"marker\":\"socd-good-event\"}", true},  // not JSON from the first byte
      {"{\"truncated\":\"\xe2\x82", true},                 // cut inside a sequence, never closed
  };
  InputFile input;
  input.good_events_around(bad_lines.size(),
                           [&](size_t i) { input.bad(bad_lines[i].text, bad_lines[i].definitely_not_json); });
  expect_good_events_survive(scan({write_input(input)}), input);
}

TEST_F(BadInputTest, FiftyMegabyteLines) {
  const std::string pad(50u << 20, 'x');
  InputFile input;
  input.good_events_around(2, [&](size_t i) {
    if (i == 0) {
      input.bad(R"({"marker":"socd-big-event","pad":")" + pad + R"("})", false);  // valid, 50 MB
    } else {
      input.bad(R"({"marker":"socd-good-event","pad":")" + pad, true);  // 50 MB, never closed
    }
  });
  ProcessResult run = scan({write_input(input)});
  expect_good_events_survive(run, input);
  EXPECT_LT(run.max_rss_kib, 1024 * 1024) << "peak memory over 1 GiB for a 100 MB input with two 50 MB lines";
}

TEST_F(BadInputTest, TenThousandLevelsOfNesting) {
  constexpr size_t kDepth = 10000;
  std::string deep_objects;
  for (size_t i = 0; i < kDepth; ++i) deep_objects += R"({"a":)";
  deep_objects += '1';
  deep_objects.append(kDepth, '}');
  InputFile input;
  input.good_events_around(3, [&](size_t i) {
    std::string line;
    if (i == 0) {  // valid JSON, 10,000 nested arrays
      input.bad(line.append(R"({"marker":"socd-deep","deep":)").append(kDepth, '[').append(kDepth, ']') + "}",
                false);
    } else if (i == 1) {  // valid JSON, 10,000 nested objects
      input.bad(deep_objects, false);
    } else {  // 10,000 arrays opened and never closed
      input.bad(line.append(R"({"marker":"socd-good-event","deep":)").append(kDepth, '['), true);
    }
  });
  expect_good_events_survive(scan({write_input(input)}), input);
}

TEST_F(BadInputTest, BinaryBytes) {
  std::mt19937 random(20240301);
  auto random_bytes = [&](size_t size, bool allow_newline) {
    std::string bytes(size, '\0');
    for (char& byte : bytes) {
      do byte = static_cast<char>(random() & 0xff);
      while (!allow_newline && byte == '\n');
    }
    return bytes;
  };
  // Binary lines among the good events, each starting with NUL so no reading can take it for JSON.
  InputFile input;
  input.good_events_around(20, [&](size_t i) {
    std::string line(1, '\0');
    input.bad(line.append(random_bytes(1 + i * 97, false)), true);
  });
  // And a wholly binary file (1 MiB, NULs and newlines anywhere) given as a second input; its first line
  // starts with NUL, so at least that one is malformed.
  std::string binary(1, '\0');
  binary.append(random_bytes(1u << 20, true));
  std::string binary_path = dir_.file("random.bin");
  ASSERT_TRUE(write_file(binary_path, binary));
  ProcessResult run = scan({write_input(input), binary_path});
  expect_good_events_survive(run, input, 1);
  for (std::string_view line : split_lines(run.out)) {
    EXPECT_EQ(line.find("random.bin"), std::string_view::npos)
        << "an alert came from the random bytes: " << line;
  }
}

TEST_F(BadInputTest, RuleFileThatIsNotYaml) {
  ASSERT_TRUE(
      write_file(dir_.path() / "rules" / "not_yaml.yml",
                 "title: Not YAML at all\ndetection: {selection: [unclosed\n\tcondition: \"selection\n"));
  InputFile input;
  input.good_events_around(5, [](size_t) {});
  std::string path = write_input(input);

  ProcessResult run = scan({path});
  expect_good_events_survive(run, input);
  std::optional<Summary> summary = parse_summary(run.err);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary_number(*summary, "rules_loaded"), 1);
  EXPECT_GE(summary_number(*summary, "rules_skipped"), 1);
  EXPECT_NE(run.err.find("not_yaml.yml:"), std::string::npos) << "no diagnostic names the broken rule file:\n"
                                                              << last_lines(run.err, 20);

  ProcessResult strict = scan({path}, {"--strict"});
  EXPECT_TRUE(strict.exited_with(2)) << "--strict with a broken rule file: " << strict.describe() << "\n"
                                     << last_lines(strict.err, 20);
  EXPECT_NE(strict.err.find("not_yaml.yml:"), std::string::npos)
      << "--strict: no diagnostic names the broken rule file:\n"
      << last_lines(strict.err, 20);
}

// Each malformed line is reported on stderr as "FILE:LINE: malformed input (REASON): FIRST BYTES", the first 80
// bytes with every byte that is not printable ASCII, and the backslash, written as \xNN; the same with two threads.
TEST_F(BadInputTest, MalformedLinesAreReportedWithTheirLineNumberAndFirstBytes) {
  InputFile input;
  input.good();
  input.bad(R"({"marker":"socd-good-event","n":)", true);
  input.bad("not json at all", true);
  input.bad("{\"marker\":\"\xff\xfe\"}", true);
  input.bad("{\"a\":\"" + std::string(200, 'x'), true);
  input.bad(R"({"path":"C:\\x")", true);
  input.good();
  const std::string path = write_input(input);
  auto reason = [](simdjson::error_code e) { return std::string("invalid JSON: ") + simdjson::error_message(e); };
  const std::vector<std::string> expected = {
      path + ":2: malformed input (" + reason(simdjson::INCOMPLETE_ARRAY_OR_OBJECT) +
          R"(): {"marker":"socd-good-event","n":)",
      path + ":3: malformed input (not a JSON object): not json at all",
      path + ":4: malformed input (" + reason(simdjson::UTF8_ERROR) + R"(): {"marker":"\xff\xfe"})",
      path + ":5: malformed input (" + reason(simdjson::UNCLOSED_STRING) + R"(): {"a":")" + std::string(74, 'x'),
      path + ":6: malformed input (" + reason(simdjson::INCOMPLETE_ARRAY_OR_OBJECT) +
          R"(): {"path":"C:\x5c\x5cx")",
  };
  for (const char* threads : {"1", "2"}) {
    SCOPED_TRACE(std::string("--threads ") + threads);
    ProcessResult run = scan({path}, {"--threads", threads});
    expect_good_events_survive(run, input);
    std::vector<std::string> reported;
    for (std::string_view line : split_lines(run.err))
      if (line.find(": malformed input (") != std::string_view::npos) reported.emplace_back(line);
    EXPECT_EQ(reported, expected) << last_lines(run.err, 20);
  }
}

}  // namespace
}  // namespace socd::test
