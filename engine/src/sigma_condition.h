// The Sigma condition language (internal to the Sigma front end).
//
//   expr    := or
//   or      := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | primary
//   primary := '(' expr ')' | quant 'of' target | identifier
//   quant   := '1' | 'any' | 'all'            ('any of' is read as '1 of')
//   target  := 'them' | identifier pattern with '*' wildcards
//
// Precedence from least to most binding: or, and, not, "x of", parentheses (Sigma specification,
// "Condition"). "1 of X" becomes an Or of the matching selections, "all of X" an And; "them" means every
// selection whose name does not start with '_'. Keywords are matched without regard to case; selection names
// are case-sensitive.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "socd/rule.h"

namespace socd::sigma {

// Parses `text` over the selections named `names` (indexes into that list). On failure returns false with a
// message that says what is wrong and where.
bool parse_condition(std::string_view text, const std::vector<std::string>& names, Condition& out,
                     std::string& error);

// Matches `name` against a pattern where '*' stands for any run of characters.
bool name_matches(std::string_view pattern, std::string_view name);

}  // namespace socd::sigma
