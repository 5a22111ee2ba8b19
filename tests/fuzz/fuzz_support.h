// Helpers shared by the fuzz targets: a check that aborts with a message (a finding), and the field lookups
// every parsed event gets (each value reached through the PathIndex must be one of the event's values).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "socd/event.h"

// For the targets' own models and checks (the oracles, not the code under test): no coverage instrumentation,
// so their branches and comparisons neither count as new coverage nor cost the comparison tracing on every
// byte they look at. AddressSanitizer still checks them.
#define SOCD_FUZZ_ORACLE __attribute__((no_sanitize("coverage")))

namespace socd::fuzz {

[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz check failed: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

inline void check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) fail(what, detail);
}

// A text as append_json_string renders it (what a JSON decoder gives back): valid UTF-8 (RFC 3629: shortest form,
// no surrogates, at most U+10FFFF) kept, any other byte replaced by U+FFFD. Written apart from the encoder, to
// check it; shared by the targets that put fuzzed text through socd's JSON.
SOCD_FUZZ_ORACLE inline std::string as_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0, run = 0;  // run: where the valid characters not yet appended start
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok && len >= 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) ok = false;   // overlong
      if (c == 0xED && c1 >= 0xA0) ok = false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) ok = false;   // overlong
      if (c == 0xF4 && c1 >= 0x90) ok = false;  // above U+10FFFF
    }
    if (ok) {
      i += len;  // kept: appended with the rest of its run of valid characters
    } else {
      out.append(s.substr(run, i - run));
      out += "\xEF\xBF\xBD";
      run = ++i;
    }
  }
  out.append(s.substr(run));
  return out;
}

// The paths rules read most (Windows, syslog, web), registered once in `index`.
inline void register_common_paths(PathIndex& index) {
  static const char* const paths[] = {
      "EventID", "Event.System.EventID", "Channel", "Image", "CommandLine", "User", "TargetFilename",
      "EventData.CommandLine", "Event.EventData.Data", "host", "program", "message", "pid", "severity",
      "facility", "@timestamp", "timestamp", "sd.origin.ip", "c-ip", "cs-uri", "cs-method", "sc-status",
      "a.b.c", "a", "a.b", "x.y"};
  for (const char* p : paths) index.add_path(p, index.field_id(p));
}

// Walks every field of `ev` through its links, and every value; checks the links stay within the event.
SOCD_FUZZ_ORACLE inline void walk_fields(const Event& ev, const PathIndex& index) {
  for (uint32_t field : ev.present_fields()) {
    check(field < index.field_count(), "present field id out of range");
    check(ev.has(field), "a present field has no value");
    for (uint32_t link = ev.first(field); link != Event::end; link = ev.next(link)) {
      size_t v = ev.link_value(link);
      check(v < ev.value_count(), "a link names a value past the event's values");
      volatile size_t n = ev.value(v).size();
      (void)n;
    }
  }
  size_t total = 0;
  for (size_t i = 0; i < ev.value_count(); ++i) {
    std::string_view value = ev.value(i);
    total += value.size() + 1;
    if (ev.keeps_paths()) {
      std::string_view path = ev.path(i);
      PathIndex::Ids ids = index.lookup(path);
      for (uint32_t k = 0; k < ids.size; ++k) check(ids.data[k] < index.field_count(), "lookup id out of range");
    }
  }
  check(total <= ev.scan_buffer().size(), "the scan buffer is shorter than the values it holds");
}

// A dotted-quad IPv4 address (four numbers 0-255, at most three digits each), written apart from the engine's
// own test, for the oracles that check which observables an encoder emits.
SOCD_FUZZ_ORACLE inline bool is_ipv4(std::string_view s) {
  int parts = 0, digits = 0, value = 0;
  for (char c : s) {
    if (c == '.') {
      if (digits == 0 || ++parts > 3) return false;
      digits = value = 0;
    } else if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 3 && digits > 0;
}

}  // namespace socd::fuzz
