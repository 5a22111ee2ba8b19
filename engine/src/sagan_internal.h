// Internals of the Sagan front end shared by its source files.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "socd/sagan.h"

namespace socd::sagan_detail {

// A decimal number without sign (at most 9 digits).
bool parse_uint(std::string_view s, int& out);

// Replaces every $NAME (letters, digits, '_') by its value; names with no value stay as written and are
// listed in `undefined`.
std::string resolve_variables(std::string_view text, const SaganVariables& vars,
                              std::vector<std::string>& undefined);

// Checks the value of a stateful or extraction option (threshold, after, xbits, flexbits, alert_time ...);
// returns an empty string when it is valid, else what is wrong. `warning` gets a note for a value that is
// accepted as Sagan reads it but written in a way Sagan's documentation does not show.
std::string check_stateful_option(const std::string& keyword, const std::string& value, std::string& warning);

}  // namespace socd::sagan_detail
