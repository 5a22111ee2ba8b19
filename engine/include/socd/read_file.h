// Reading a whole file into memory, for the configuration, key and cache files socd reads at start and on reload.
#pragma once
#include <string>

namespace socd {

// Reads the file at `path` into `out`. Returns false, with errno set, when it cannot be opened or read, or is a
// directory (EISDIR): a name given where a file was meant is an error to report, not an exception (reading a
// directory through an ifstream throws from inside the standard library).
bool read_file(const std::string& path, std::string& out);

}  // namespace socd
