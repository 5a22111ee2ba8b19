// Comparisons of one event value with one rule value: the leaves of rule evaluation (internal).
#pragma once
#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"

namespace socd::detail {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
std::string ascii_lower(std::string_view s);

// `pattern` is already lower-case when !cased.
bool equals(std::string_view value, std::string_view pattern, bool cased);
bool starts_with(std::string_view value, std::string_view pattern, bool cased);
bool ends_with(std::string_view value, std::string_view pattern, bool cased);
bool contains(std::string_view value, std::string_view pattern, bool cased);
// Glob with '*', '?' and '\' escapes (see ValueTest::Op::Glob); `pattern` lower-case when !cased.
bool glob_match(std::string_view value, std::string_view pattern, bool cased);
// The longest run of literal characters of a glob pattern (unescaped), for prefiltering.
std::string glob_longest_literal(std::string_view pattern);

// An IPv4 or IPv6 network; IPv4 is kept as IPv4-mapped IPv6.
struct Network {
  std::array<uint8_t, 16> addr{};
  int prefix = 0;  // in bits of the 128-bit form
};
std::optional<Network> parse_network(std::string_view text);
bool network_contains(const Network& net, std::string_view address);

std::optional<double> parse_number(std::string_view value);

// One compiled step of a Sagan content/pcre sequence (ValueTest::Op::Contents; see ContentPattern).
struct ContentStep {
  std::string text;              // a content's bytes, lower-case when nocase
  pcre2_code* regex = nullptr;   // a pcre (owned by the rule set); matched anywhere in the value
  bool negated = false, nocase = false;
  int offset = -1, depth = -1, distance = -1, within = -1;  // -1: not given
  bool relative() const { return distance >= 0 || within >= 0; }
};

// Snort's content semantics, which Sagan documents as its own: a content without distance/within is searched
// in [offset, offset + depth) of the value (whole value by default); one with distance/within is searched in
// [end + distance, end + distance + within), `end` being where the previous matched content ended (0 before
// any). A negated content must not occur in its window and moves nothing. When a relative content fails, the
// previous contents are tried at their later occurrences. A pcre matches anywhere, independently of the
// contents. `match_data` and `context` are the caller's PCRE2 scratch.
bool contents_match(std::string_view value, const std::vector<ContentStep>& steps, pcre2_match_data* match_data,
                    pcre2_match_context* context);
// The part of a date/time value ("2024-05-01T10:20:30Z", "2024-05-01 10:20:30.123") the time modifiers name.
std::optional<double> time_part(std::string_view value, TimePart part);

}  // namespace socd::detail
