// Encoders of the national link, decoded after encoding and compared with what went in:
//  - append_json_string (every JSON text socd sends): decoding its output gives the input, with each byte that
//    is not part of valid UTF-8 replaced by U+FFFD;
//  - the STIX 2.1 objects of an alert (stix::alert_objects): every object is valid JSON; the SOC's name, the
//    rule's title, id and level, the alert id, the observables (command line, file name) and the STIX pattern
//    (a string literal, quotes and backslashes escaped) decode to the values the alert carried.
// Input: 8 bytes of time (milliseconds), then fields separated by '\n': SOC name, alert id, rule id, level,
// title, command line, image path, source address. A first byte 'J' makes the rest of the input the
// alert's JSON verbatim instead (hostile JSON in a stored alert).
#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "socd/json.h"
#include "stix.h"

namespace {

using socd::fuzz::as_valid_utf8;
using socd::fuzz::check;
using socd::fuzz::is_ipv4;

// A STIX pattern's string literal, undone: "[type:prop = 'lit']" -> lit, with \' and \\ unescaped.
SOCD_FUZZ_ORACLE bool pattern_value(std::string_view pattern, std::string& type_prop, std::string& value) {
  if (pattern.size() < 4 || pattern.front() != '[' || pattern.substr(pattern.size() - 2) != "']") return false;
  size_t eq = pattern.find(" = '");
  if (eq == std::string_view::npos) return false;
  type_prop.assign(pattern.substr(1, eq - 1));
  std::string_view lit = pattern.substr(eq + 4, pattern.size() - eq - 6);
  value.clear();
  for (size_t i = 0; i < lit.size(); ++i) {
    if (lit[i] == '\\') {
      if (i + 1 >= lit.size() || (lit[i + 1] != '\\' && lit[i + 1] != '\'')) return false;
      value.push_back(lit[++i]);
    } else if (lit[i] == '\'') {
      return false;  // an unescaped quote inside the literal
    } else {
      value.push_back(lit[i]);
    }
  }
  return true;
}

std::string_view field(simdjson::dom::element o, const char* key) {
  std::string_view v;
  if (o[key].get(v) != simdjson::SUCCESS) socd::fuzz::fail("a STIX object lacks a string field", key);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static simdjson::dom::parser* parser = new simdjson::dom::parser();

  // 1. The JSON string encoder on the whole input.
  std::string encoded;
  socd::append_json_string(encoded, in);
  simdjson::dom::element decoded;
  check(parser->parse(encoded).get(decoded) == simdjson::SUCCESS, "append_json_string wrote invalid JSON", encoded);
  std::string_view text;
  check(decoded.get(text) == simdjson::SUCCESS, "append_json_string wrote something else than a string");
  check(text == as_valid_utf8(in), "decoding append_json_string's output does not give its input", in);

  // 2. The STIX objects of an alert made of the input.
  bool raw_json = !in.empty() && in[0] == 'J';
  std::string_view rest = in;
  const std::string_view time_bytes = rest.substr(0, std::min<size_t>(8, rest.size()));
  rest.remove_prefix(time_bytes.size());
  std::vector<std::string_view> f;
  while (f.size() < 8) {
    size_t nl = rest.find('\n');
    f.push_back(rest.substr(0, nl));
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  f.resize(8);
  socd::StoredAlert alert;
  int64_t ms = 0;
  if (!time_bytes.empty()) std::memcpy(&ms, time_bytes.data(), time_bytes.size());
  alert.time_ms = ms;
  const std::string soc_name(f[0]);
  alert.id.assign(f[1]);
  alert.rule_id.assign(f[2]);
  alert.level.assign(f[3]);
  const std::string title(f[4]), command(f[5]), image(f[6]), address(f[7]);
  if (raw_json) {
    alert.json.assign(in.substr(1));
  } else {
    std::string& j = alert.json;
    j = "{\"id\":";
    socd::append_json_string(j, alert.id);
    j += ",\"rule\":{\"title\":";
    socd::append_json_string(j, title);
    j += "},\"event\":{\"EventData\":{\"CommandLine\":";
    socd::append_json_string(j, command);
    j += ",\"Image\":";
    socd::append_json_string(j, image);
    j += "},\"SourceIp\":";
    socd::append_json_string(j, address);
    j += "}}";
  }
  static std::vector<std::string>& objects = *new std::vector<std::string>();  // reused: fewer allocations
  objects.clear();
  socd::stix::alert_objects(alert, soc_name, objects);
  check(objects.size() >= 3, "fewer than identity, indicator and sighting");

  // What the fields must decode to, computed once.
  const std::string valid_soc = as_valid_utf8(soc_name), valid_rule = as_valid_utf8(alert.rule_id),
                    valid_level = as_valid_utf8(alert.level), valid_id = as_valid_utf8(alert.id),
                    valid_title = as_valid_utf8(title), valid_command = as_valid_utf8(command),
                    valid_image = as_valid_utf8(image);
  std::string type_prop, literal;
  static std::string& padded = *new std::string();  // each object, with the padding simdjson reads past its end
  for (const auto& object : objects) {
    padded.assign(object);
    padded.reserve(object.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::element o;
    check(parser->parse(padded.data(), padded.size(), false).get(o) == simdjson::SUCCESS,
          "a STIX object is not valid JSON", object);
    std::string_view type = field(o, "type");
    check(field(o, "spec_version") == "2.1", "spec_version is not 2.1");
    std::string_view id = field(o, "id");
    check(id.substr(0, type.size() + 2) == std::string(type) + "--" && id.size() == type.size() + 38,
          "an id is not TYPE--UUID", id);
    if (type == "identity") {
      check(field(o, "name") == valid_soc, "the identity's name does not decode to the SOC's name");
    } else if (type == "indicator") {
      if (!raw_json) {
        const std::string& want_title = valid_title.empty() ? valid_rule : valid_title;
        check(field(o, "name") == want_title, "the indicator's name does not decode to the title", title);
      }
      simdjson::dom::array labels;
      check(o["labels"].get(labels) == simdjson::SUCCESS && labels.size() == 2, "the indicator's labels");
      std::string_view l0, l1;
      check(labels.at(0).get(l0) == simdjson::SUCCESS && l0 == "rule:" + valid_rule,
            "the rule label does not decode to the rule id");
      check(labels.at(1).get(l1) == simdjson::SUCCESS && l1 == "level:" + valid_level,
            "the level label does not decode to the level");
      std::string_view external;
      check(o["external_references"].at(0)["external_id"].get(external) == simdjson::SUCCESS &&
                external == valid_id,
            "the external id does not decode to the alert id");
      std::string_view pattern = field(o, "pattern");
      check(pattern_value(pattern, type_prop, literal), "the pattern is not one comparison to a literal", pattern);
      if (type_prop == "x-socd-alert:rule_id")
        check(literal == valid_rule, "the pattern's literal is not the rule id", pattern);
      else if (!raw_json && type_prop == "process:command_line")
        check(literal == valid_command, "the pattern's literal is not the command line", pattern);
      else if (!raw_json && type_prop == "ipv4-addr:value")
        check(literal == address, "the pattern's literal is not the address", pattern);
    } else if (type == "process" && !raw_json) {
      check(field(o, "command_line") == valid_command, "command_line does not decode to the command line");
    } else if (type == "ipv4-addr" && !raw_json) {
      check(is_ipv4(address) && field(o, "value") == address, "an ipv4-addr that is not the address");
    } else if (type == "file" && !raw_json) {
      size_t slash = valid_image.find_last_of("/\\");
      check(field(o, "name") == (slash == std::string::npos ? std::string_view(valid_image)
                                                             : std::string_view(valid_image).substr(slash + 1)),
            "the file's name does not decode to the image's last path part");
    }
  }
  return 0;
}
