#include "socd/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace socd {

bool read_file(const std::string& path, std::string& out) {
  out.clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    int saved = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    errno = saved;
    return false;
  }
  // The size is a hint only: files of /proc say 0, and a file may grow while it is read.
  if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      out.clear();
      errno = saved;
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

DirectoryListing list_files(const std::string& dir, const std::function<bool(const std::filesystem::path&)>& keep) {
  namespace fs = std::filesystem;
  // One directory at a time rather than a recursive_directory_iterator: that one ends the whole walk at the first
  // directory it cannot open (or skips it without a word, with skip_permission_denied).
  DirectoryListing out;
  std::vector<fs::path> pending{fs::path(dir)};
  while (!pending.empty()) {
    fs::path at = std::move(pending.back());
    pending.pop_back();
    std::error_code ec;
    fs::directory_iterator it(at, ec), end;
    while (!ec && it != end) {
      std::error_code type_ec;
      if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) pending.push_back(it->path());
      else if (it->is_regular_file(type_ec) && keep(it->path())) out.files.push_back(it->path().string());
      it.increment(ec);
    }
    if (ec) out.unreadable.emplace_back(at.string(), ec.message());
  }
  std::sort(out.files.begin(), out.files.end());
  return out;
}

}  // namespace socd
