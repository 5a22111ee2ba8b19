// Sigma values and value modifiers (internal to the Sigma front end).
//
// A Sigma string is kept as a list of pieces (literal bytes and the wildcards '*' and '?') so that modifiers
// can add wildcards, re-encode literals (utf16, base64) or expand placeholders before the value is turned
// into a ValueTest (Equals / Contains / StartsWith / EndsWith / Glob ...).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"

namespace socd::sigma {

struct Piece {
  enum Kind : uint8_t { Literal, Star, Question };
  Kind kind = Literal;
  char c = 0;            // for Literal
  bool escaped = false;  // the literal was written with a backslash escape ('\*', '\?', '\\')
};
using Pattern = std::vector<Piece>;

// Parses a Sigma string with the wildcard and escape rules of the specification ("Escape Character"):
// '\*', '\?' and '\\' are the literal characters, any other backslash is a literal backslash.
Pattern parse_pattern(std::string_view text);
// Literal pieces for every byte of `bytes` (no wildcard interpretation).
Pattern literal_pattern(std::string_view bytes);
bool has_wildcards(const Pattern& p);
std::string literal_text(const Pattern& p);  // the bytes of the literal pieces, wildcards left out

// The comparison a pattern stands for: Equals without wildcards; Contains / StartsWith / EndsWith when the
// only wildcards are '*' at the ends; Glob (text escaped as documented in rule.h) otherwise.
ValueTest pattern_test(const Pattern& p);

// Encodings used by the modifiers.
std::string base64_encode(std::string_view bytes);
// The three base64 forms of `bytes` at offsets 0, 1 and 2 of an encoded stream, without the characters that
// depend on the neighbouring bytes. Forms that end up empty are left out.
std::vector<std::string> base64_offset_forms(std::string_view bytes);
enum class Utf16 { LittleEndian, BigEndian, WithBom };
// Re-encodes the literal runs of `p` (UTF-8; an invalid byte counts as the code point of the same value) as
// UTF-16; wildcards stay in place.
Pattern utf16_pattern(const Pattern& p, Utf16 form);
// Every variant of `p` with each dash ('-', '/', en dash, em dash, horizontal bar) replaced by each of them.
// Fails (returns false) when there would be more than `limit` variants.
bool windash_variants(const Pattern& p, std::vector<Pattern>& out, size_t limit);

// Checks an IPv4 or IPv6 network ("10.0.0.0/8", "fe80::/10"; a bare address counts as a host network) and
// writes it with an explicit prefix length to `normalized`.
bool normalize_network(std::string_view text, std::string& normalized);

// Parses a YAML number ("12", "-3.5", "0x1F", "1e3"); false when `text` is not one.
bool parse_number(std::string_view text, double& out);

// A scalar from the YAML rule, typed as YAML's core schema types it (quoted scalars are always strings).
struct Scalar {
  enum Kind : uint8_t { String, Number, Bool, Null };
  Kind kind = String;
  std::string text;
};

// A problem that makes a rule unusable: a reason code and a message (the caller adds file and line).
struct Problem {
  std::string reason;
  std::string message;
};

// Turns one detection item (`field|mod1|mod2: values`) into field checks appended to `out`. `key` is the map
// key as written (empty field for keyword searches). Usually one check; `all` combined with a modifier that
// turns one value into several (windash, base64offset, expand) gives one check per original value.
bool build_checks(std::string_view key, const std::vector<Scalar>& values, int line,
                  const FieldMapping& mapping, std::vector<FieldCheck>& out, Problem& problem);

// The modifiers the front end knows (for messages).
const std::vector<std::string_view>& known_modifiers();

}  // namespace socd::sigma
