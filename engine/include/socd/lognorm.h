// A log normalizer for the rulebases Sagan uses with its `normalize` option (liblognorm rulebases, as shipped
// with sagan-rules: normalization.rulebase).
//
// The subset of the rulebase syntax those files use:
//   # comment                      (also "#version=2")
//   prefix=TEXT                    TEXT goes before every following rule's pattern (until the next prefix=)
//   rule=TAGS:PATTERN              TAGS (comma-separated, may be empty) up to the first ':'; PATTERN to the
//                                  end of the line, trailing blanks included (they must match)
// A pattern is literal text and fields %name:type% or %name:type:extra% ("-" as name: parsed, not kept);
// "%%" is a literal '%'. In `extra`, \xHH is the byte HH. Field types:
//   word           one or more bytes up to the next space or the end
//   char-to:C      one or more bytes up to the next byte of C, which must follow
//   char-sep:C     zero or more bytes up to the next byte of C or the end
//   ipv4           a dotted quad, each part one to three digits up to 255
//   number         one or more decimal digits
//   rest           everything to the end (possibly nothing)
//   quoted-string  "...": the value is what the quotes enclose
//   time-24hr      HH:MM:SS (00-23, 00-59, 00-59)
//   date-iso       YYYY-MM-DD (month 01-12, day 01-31)
// A rule matches only the whole text. Where several rules could continue, literal text is tried first, then
// the fields in liblognorm's order (ipv4; time-24hr, date-iso; number; word, char-to, char-sep;
// quoted-string; rest), backtracking when a path fails; the first rule reached at the end of the text wins.
//
// The rules are compiled once into one tree (a trie of literal bytes whose nodes also branch on fields), so
// a text is matched against all rules in one walk and most texts leave it at their first bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "socd/rule.h"

namespace socd::lognorm {

// A name and its value: views into the rulebase (name) and into the text (value).
using Capture = std::pair<std::string_view, std::string_view>;

class Rulebase {
public:
  // Parses a rulebase. Lines it cannot use (an unknown field type, an unclosed field, a line that is no
  // prefix=, rule= or comment) are left out, each with a diagnostic naming file:line ("lognorm-bad-rule").
  static std::shared_ptr<const Rulebase> parse(const std::string& file, std::string_view text,
                                               std::vector<Diagnostic>& diagnostics);
  // Reads and parses a file; nullptr (and a "read-error" diagnostic) when it cannot be read.
  static std::shared_ptr<const Rulebase> load(const std::string& path, std::vector<Diagnostic>& diagnostics);

  // Matches `text` against the rules: true when one matches all of it; `out` (cleared first) then holds the
  // named fields of that rule in pattern order, and `rule_line` the rule's line. Allocates nothing once `out`
  // has grown to the largest rule's field count.
  bool normalize(std::string_view text, std::vector<Capture>& out, int* rule_line = nullptr) const;

  size_t rule_count() const { return rule_lines_.size(); }
  size_t node_count() const { return nodes_.size(); }

  enum class Type : uint8_t { Ipv4, Time24hr, DateIso, Number, Word, CharTo, CharSep, QuotedString, Rest };

private:
  struct FieldEdge {
    Type type;
    std::string stops;  // char-to / char-sep: the bytes that end the field
    int32_t name = -1;  // index in names_; -1: not kept ("-")
    uint32_t child = 0;
  };
  struct Node {
    std::vector<std::pair<unsigned char, uint32_t>> literal;  // sorted by byte
    std::vector<FieldEdge> fields;                            // in the order they are tried
    int32_t rule = -1;                                        // a rule ends here: its index
  };
  bool walk(uint32_t node, std::string_view text, size_t pos, std::vector<Capture>& out, int& steps,
            int32_t& rule) const;

  std::vector<Node> nodes_;
  std::vector<std::string> names_;
  std::vector<int> rule_lines_;
  std::string file_;
};

}  // namespace socd::lognorm
