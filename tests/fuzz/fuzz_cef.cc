// The CEF encoder of the national link (app/cef.cc), decoded after encoding and compared with what went in. An
// alert made of the input becomes a CEF event, an RFC 5424 message carrying it and octet-counted frames; a CEF
// parser written here from the format (not from cef.cc) reads them back and checks:
//  - the header: `CEF:0|socd|socd|Version|SignatureID|Name|Severity|`, exactly 7 unescaped `|`, only `\|` and
//    `\\` escaped; each field decodes to its value, with a CR or LF made a space (a header field cannot hold a
//    line break); the severity is the level's (informational 1, low 3, medium 5, high 8, critical 10, else 5);
//  - the extension: `key=value` pairs separated by one space, only `\=`, `\\`, `\n` and `\r` escaped; the pairs
//    are rt, externalId, dvchost, cat, cs1Label/cs1, cn1Label/cn1, src, fname, sproc and msg in that order, each
//    present when its value is not empty, and each decodes to the value exactly (no other byte is changed);
//  - the message: `<PRI>1 TIMESTAMP HOSTNAME socd - alert - CEF:...` with PRI = facility * 8 + the level's
//    syslog severity, the alert's time in RFC 5424 form (a 4-digit year; `-` when the year has no 4 digits), the
//    host name as printable US-ASCII (at most 255 bytes looked at, `-` when nothing is left), no raw CR or LF;
//  - the frames: `LEN SP MSG`, one after the other, LEN the message's byte count.
// Input: 8 bytes of time (milliseconds), a byte of facility (mod 24), a byte of system level (signed), then
// fields separated by NUL: version, rule id, level, alert id, host, system, syslog host name, title, command
// line, image path, source address. A first byte 'J' makes everything after the syslog host name the alert's
// JSON verbatim (hostile JSON in a stored alert); the title and observables are then what stix::alert_facts
// reads from it (checked by fuzz_national_link), and only their CEF encoding is checked here.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cef.h"
#include "fuzz_support.h"
#include "socd/json.h"
#include "stix.h"

namespace {

using socd::fuzz::as_valid_utf8;
using socd::fuzz::check;
using socd::fuzz::is_ipv4;
using socd::fuzz::fail;

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A header field as it must decode: line breaks become spaces, nothing else changes.
SOCD_FUZZ_ORACLE std::string header_value(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

SOCD_FUZZ_ORACLE std::string cef_severity(std::string_view level) {
  if (level == "informational") return "1";
  if (level == "low") return "3";
  if (level == "medium") return "5";
  if (level == "high") return "8";
  if (level == "critical") return "10";
  return "5";
}

SOCD_FUZZ_ORACLE int syslog_severity(std::string_view level) {
  if (level == "critical") return 2;   // critical
  if (level == "high") return 3;       // error
  if (level == "medium") return 4;     // warning
  if (level == "low") return 5;        // notice
  return 6;                            // informational
}

// The alert's time as an RFC 5424 TIMESTAMP (UTC, milliseconds, "Z"), or "-" (NILVALUE) when its year is not
// 0000..9999 (FULL-DATE has a 4-digit year). The civil date from the day count (proleptic Gregorian calendar, in
// 400-year eras of 146097 days), computed here without the C library.
SOCD_FUZZ_ORACLE std::string rfc5424_time(int64_t ms) {
  constexpr int64_t kDay = 86400000;
  constexpr int64_t kFirst = -719528 * kDay, kEnd = 2932897 * kDay;  // 0000-01-01, 10000-01-01
  if (ms < kFirst || ms >= kEnd) return "-";
  int64_t days = ms / kDay, rest = ms % kDay;
  if (rest < 0) {  // rounded down, before 1970 too
    rest += kDay;
    --days;
  }
  days += 719468;  // from 0000-03-01
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(year),
                static_cast<long long>(month), static_cast<long long>(day), static_cast<long long>(rest / 3600000),
                static_cast<long long>(rest / 60000 % 60), static_cast<long long>(rest / 1000 % 60),
                static_cast<long long>(rest % 1000));
  return buf;
}

// An RFC 5424 HOSTNAME from a name: of its first 255 bytes the printable US-ASCII ones (33..126), "-" if none.
SOCD_FUZZ_ORACLE std::string syslog_host(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 255))
    if (static_cast<unsigned char>(c) >= 33 && static_cast<unsigned char>(c) <= 126) out.push_back(c);
  return out.empty() ? "-" : out;
}

// A CEF event read back: the 7 header fields after "CEF:" and the extension's pairs in order.
struct Decoded {
  std::vector<std::string> header;
  Pairs extension;
};

SOCD_FUZZ_ORACLE bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Parses a CEF event per the format; any departure from it is a finding.
SOCD_FUZZ_ORACLE Decoded decode_cef(std::string_view text) {
  Decoded d;
  check(text.substr(0, 4) == "CEF:", "the event does not start with CEF:", text);
  size_t i = 4;
  std::string field;
  while (d.header.size() < 7) {
    check(i < text.size(), "the header has fewer than 7 unescaped | separators", text);
    const char c = text[i++];
    if (c == '\\') {
      check(i < text.size() && (text[i] == '|' || text[i] == '\\'), "a header backslash escapes neither | nor \\",
            text);
      field.push_back(text[i++]);
    } else if (c == '|') {
      d.header.push_back(std::move(field));
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  // The extension: every unescaped '=' ends a key, which runs back to the space before it (or the start); the
  // value before that space belongs to the previous key.
  const std::string_view ext = text.substr(i);
  std::vector<std::pair<size_t, size_t>> keys;  // (key start, '=' position)
  for (size_t p = 0; p < ext.size(); ++p) {
    if (ext[p] == '\\') {
      ++p;
      check(p < ext.size(), "the extension ends in a lone backslash", text);
      continue;
    }
    if (ext[p] != '=') continue;
    size_t start = p;
    while (start > 0 && ext[start - 1] != ' ') --start;
    check(start < p, "an empty extension key", text);
    check(keys.empty() ? start == 0 : start > keys.back().second + 1, "an extension value is missing its key", text);
    for (size_t k = start; k < p; ++k) check(is_key_char(ext[k]), "an extension key is not alphanumeric", text);
    keys.emplace_back(start, p);
  }
  check(ext.empty() || (!keys.empty() && keys.front().first == 0), "the extension does not start with a key", text);
  for (size_t k = 0; k < keys.size(); ++k) {
    const size_t begin = keys[k].second + 1;
    const size_t end = k + 1 < keys.size() ? keys[k + 1].first - 1 : ext.size();
    std::string value;
    for (size_t p = begin; p < end; ++p) {
      if (ext[p] != '\\') {
        value.push_back(ext[p]);
        continue;
      }
      check(++p < end, "an extension value ends in a lone backslash", text);
      switch (ext[p]) {
        case '\\': value.push_back('\\'); break;
        case '=': value.push_back('='); break;
        case 'n': value.push_back('\n'); break;
        case 'r': value.push_back('\r'); break;
        default: fail("an extension escape other than \\\\ \\= \\n \\r", text);
      }
    }
    d.extension.emplace_back(std::string(ext.substr(keys[k].first, keys[k].second - keys[k].first)),
                             std::move(value));
  }
  return d;
}

SOCD_FUZZ_ORACLE void add(Pairs& pairs, const char* key, std::string value) {
  if (!value.empty()) pairs.emplace_back(key, std::move(value));
}

// Reads `LEN SP MSG` frames from `stream`: the messages, or a finding when a frame is malformed.
SOCD_FUZZ_ORACLE std::vector<std::string_view> read_frames(std::string_view stream) {
  std::vector<std::string_view> out;
  while (!stream.empty()) {
    size_t digits = 0;
    uint64_t len = 0;
    while (digits < stream.size() && stream[digits] >= '0' && stream[digits] <= '9' && digits < 12)
      len = len * 10 + static_cast<uint64_t>(stream[digits++] - '0');
    check(digits > 0 && stream[0] != '0', "a frame's length is not a number without leading zeros", stream);
    check(digits < stream.size() && stream[digits] == ' ', "a frame's length is not followed by a space", stream);
    stream.remove_prefix(digits + 1);
    check(len <= stream.size(), "a frame's length runs past the stream's end");
    out.push_back(stream.substr(0, len));
    stream.remove_prefix(len);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool raw_json = !in.empty() && in[0] == 'J';
  std::string_view rest = in;
  const std::string_view params = rest.substr(0, std::min<size_t>(10, rest.size()));
  rest.remove_prefix(params.size());
  std::vector<std::string_view> f;
  while (f.size() < (raw_json ? 7u : 11u)) {
    const size_t nul = rest.find('\0');
    f.push_back(rest.substr(0, nul));
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }
  int64_t ms = 0;
  std::memcpy(&ms, params.data(), std::min<size_t>(8, params.size()));
  const int facility = params.size() > 8 ? static_cast<unsigned char>(params[8]) % 24 : 0;
  const int system_level = params.size() > 9 ? static_cast<signed char>(params[9]) : 0;
  const std::string_view version = f[0], hostname = f[6];

  socd::StoredAlert alert;
  alert.time_ms = ms;
  alert.rule_id.assign(f[1]);
  alert.level.assign(f[2]);
  alert.id.assign(f[3]);
  alert.host.assign(f[4]);
  alert.system.assign(f[5]);
  alert.system_level = system_level;
  // What the title and the observables must be: from the fields as the JSON carries them (invalid UTF-8
  // replaced), or what alert_facts reads from hostile JSON.
  std::string title, src, fname, sproc;
  if (raw_json) {
    alert.json.assign(rest);
    const socd::stix::AlertFacts facts = socd::stix::alert_facts(alert);
    title = facts.title;
    if (!facts.ipv4.empty()) src = facts.ipv4.front();
    if (!facts.files.empty()) fname = facts.files.front();
    if (!facts.command_lines.empty()) sproc = facts.command_lines.front();
  } else {
    std::string& j = alert.json;
    j = "{\"id\":";
    socd::append_json_string(j, alert.id);
    j += ",\"rule\":{\"title\":";
    socd::append_json_string(j, f[7]);
    j += "},\"event\":{\"EventData\":{\"CommandLine\":";
    socd::append_json_string(j, f[8]);
    j += ",\"Image\":";
    socd::append_json_string(j, f[9]);
    j += "},\"SourceIp\":";
    socd::append_json_string(j, f[10]);
    j += "}}";
    title = as_valid_utf8(f[7]);
    if (title.empty()) title = alert.rule_id;  // a rule without a title is named by its id
    if (is_ipv4(f[10])) src.assign(f[10]);
    fname = as_valid_utf8(f[9]);
    sproc = as_valid_utf8(f[8]);
  }

  // The event.
  const std::string event = socd::cef::event(alert, version);
  check(event.find_first_of("\r\n") == std::string::npos, "a raw line break in the event", event);
  const Decoded d = decode_cef(event);
  const std::vector<std::string> want_header = {"0", "socd", "socd", header_value(version),
                                                header_value(alert.rule_id), header_value(title),
                                                cef_severity(alert.level)};
  for (size_t k = 0; k < 7; ++k)
    check(d.header[k] == want_header[k], "a header field does not decode to its value", event);
  Pairs want;
  add(want, "rt", std::to_string(ms));
  add(want, "externalId", alert.id);
  add(want, "dvchost", alert.host);
  add(want, "cat", alert.level);
  if (!alert.system.empty()) {
    add(want, "cs1Label", "system");
    add(want, "cs1", alert.system);
  }
  if (system_level > 0) {
    add(want, "cn1Label", "systemLevel");
    add(want, "cn1", std::to_string(system_level));
  }
  add(want, "src", src);
  add(want, "fname", fname);
  add(want, "sproc", sproc);
  add(want, "msg", title);
  check(d.extension.size() == want.size(), "the extension does not have the expected pairs", event);
  for (size_t k = 0; k < want.size(); ++k) {
    check(d.extension[k].first == want[k].first, "an extension key is not the expected one", event);
    check(d.extension[k].second == want[k].second, "an extension value does not decode to its value", event);
  }

  // The syslog message carrying it.
  const std::string message = socd::cef::syslog_message(alert, hostname, facility, version);
  check(message.find_first_of("\r\n") == std::string::npos, "a raw line break in the syslog message", message);
  const std::string head = "<" + std::to_string(facility * 8 + syslog_severity(alert.level)) + ">1 " +
                           rfc5424_time(ms) + " " + syslog_host(hostname.empty() ? f[4] : hostname) +
                           " socd - alert - ";
  check(message.size() == head.size() + event.size() && message.compare(0, head.size(), head) == 0 &&
            message.compare(head.size(), event.size(), event) == 0,
        "the syslog message is not the RFC 5424 header and the event", message);

  // Frames: the message, then the bare event, in one stream.
  std::string stream;
  socd::cef::append_frame(stream, message);
  socd::cef::append_frame(stream, event);
  const std::vector<std::string_view> frames = read_frames(stream);
  check(frames.size() == 2 && frames[0] == message && frames[1] == event,
        "the frames do not give back the messages framed", stream);
  return 0;
}
