// Writing JSON text: string escaping shared by every encoder.
#pragma once
#include <string>
#include <string_view>

namespace socd {

// Appends `s` as a JSON string literal (quotes included). Control characters are escaped; bytes that are not
// valid UTF-8 become U+FFFD, so the output is always valid JSON.
void append_json_string(std::string& out, std::string_view s);

}  // namespace socd
