// A directory tree deeper than PATH_MAX, for the code that walks rule directories: its deepest directories
// cannot be opened by their path (ENAMETOOLONG), whoever runs the test, root included (unlike a directory
// without permissions, which root reads anyway). Built and removed relative to open directories, as no path
// reaches the bottom.
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <string>
#include <string_view>

namespace socd::test {

// Creates `levels` nested directories named `name_size` x 'd' under `root` (an existing directory), and in
// the deepest one a file `file` holding `text`. With the defaults the deepest path is over 5000 bytes long.
inline bool make_deep_tree(const std::string& root, std::string_view file, std::string_view text,
                           int levels = 25, size_t name_size = 200) {
  const std::string name(name_size, 'd');
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  for (int i = 0; fd >= 0 && i < levels; ++i) {
    if (::mkdirat(fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
      ::close(fd);
      return false;
    }
    int next = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ::close(fd);
    fd = next;
  }
  if (fd < 0) return false;
  int out = ::openat(fd, std::string(file).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ::close(fd);
  if (out < 0) return false;
  bool ok = ::write(out, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(out);
  return ok;
}

// Removes `name` below the open directory `dir_fd`, with everything in it, however deep.
inline void remove_tree_at(int dir_fd, const char* name) {
  if (::unlinkat(dir_fd, name, 0) == 0) return;
  int fd = ::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  if (DIR* d = ::fdopendir(fd)) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        remove_tree_at(::dirfd(d), e->d_name);
    ::closedir(d);  // closes fd
  } else {
    ::close(fd);
  }
  ::unlinkat(dir_fd, name, AT_REMOVEDIR);
}

// Removes the deep tree make_deep_tree built under `root` (std::filesystem::remove_all cannot: it goes by path).
inline void remove_deep_tree(const std::string& root, size_t name_size = 200) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  remove_tree_at(fd, std::string(name_size, 'd').c_str());
  ::close(fd);
}

}  // namespace socd::test
