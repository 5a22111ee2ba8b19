// Reading a whole file into memory, for the configuration, key and cache files socd reads at start and on reload.
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace socd {

// Reads the file at `path` into `out`. Returns false, with errno set, when it cannot be opened or read, or is a
// directory (EISDIR): a name given where a file was meant is an error to report, not an exception (reading a
// directory through an ifstream throws from inside the standard library).
bool read_file(const std::string& path, std::string& out);

// The files below a directory, and the directories below it that could not be read.
struct DirectoryListing {
  std::vector<std::string> files;                               // sorted by path
  std::vector<std::pair<std::string, std::string>> unreadable;  // directory, why
};

// Lists the regular files at any depth below `dir` whose path `keep` accepts (symbolic links to directories are
// not followed). A directory that cannot be read (permissions, a path too long ...) does not end the walk: it is
// named in `unreadable` and the rest is still listed, so one bad directory costs only the files below it.
DirectoryListing list_files(const std::string& dir, const std::function<bool(const std::filesystem::path&)>& keep);

}  // namespace socd
