#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace socd {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string fix_hint(const std::string& dir, const RunAs& who) {
  return "create it for the user (install -d -o " + who.user + " -g " + std::to_string(who.gid) + " -m 0700 '" +
         dir + "', or chown -R " + who.user + " '" + dir + "') or pass --chown-data-dir";
}

}  // namespace

Expected<RunAs> resolve_run_as(const std::string& user, const std::string& group) {
  RunAs who;
  who.user = user;
  who.group = group;
  errno = 0;
  passwd* pw = ::getpwnam(user.c_str());
  if (!pw) {
    return Status::error("--user '" + user + "': no such user" +
                         (errno != 0 ? std::string(" (") + errno_text() + ")" : std::string()) +
                         "; create it (useradd --system --no-create-home " + user + ") or name another");
  }
  who.uid = pw->pw_uid;
  who.gid = pw->pw_gid;
  if (!group.empty()) {
    struct group* gr = ::getgrnam(group.c_str());
    if (!gr) return Status::error("--group '" + group + "': no such group");
    who.gid = gr->gr_gid;
  } else {
    int n = 0;
    ::getgrouplist(pw->pw_name, pw->pw_gid, nullptr, &n);
    who.groups.resize(static_cast<size_t>(std::max(n, 1)));
    if (::getgrouplist(pw->pw_name, pw->pw_gid, who.groups.data(), &n) < 0) n = 0;
    who.groups.resize(static_cast<size_t>(n));
  }
  if (who.uid == 0) return Status::error("--user '" + user + "' is root: name an unprivileged user");
  if (::geteuid() != 0)
    return Status::error("--user needs socd run to be started as root (it runs as uid " +
                         std::to_string(::geteuid()) + "); start it as root or leave --user out");
  return who;
}

Status prepare_data_dir(const std::string& dir, const RunAs& who, bool chown) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (!chown) return Status::error("--data-dir '" + dir + "' does not exist: " + fix_hint(dir, who));
    fs::create_directories(dir, ec);
    if (ec) return Status::error("--data-dir '" + dir + "': cannot create it: " + ec.message());
    ::chmod(dir.c_str(), 0700);
  }
  if (chown) {
    if (::lchown(dir.c_str(), who.uid, who.gid) != 0)
      return Status::error("--data-dir '" + dir + "': cannot give it to " + who.user + ": " + errno_text());
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      if (::lchown(it->path().c_str(), who.uid, who.gid) != 0)
        return Status::error("--data-dir: cannot give '" + it->path().string() + "' to " + who.user + ": " +
                             errno_text());
    if (ec) return Status::error("--data-dir '" + dir + "': cannot walk it: " + ec.message());
  }
  struct stat st{};
  if (::stat(dir.c_str(), &st) != 0) return Status::error("--data-dir '" + dir + "': " + errno_text());
  if (!S_ISDIR(st.st_mode)) return Status::error("--data-dir '" + dir + "' is not a directory");
  if (st.st_uid != who.uid || (st.st_mode & S_IRWXU) != S_IRWXU)
    return Status::error("--data-dir '" + dir + "' is not owned by " + who.user + " (uid " + std::to_string(who.uid) +
                         ") with rwx for it: " + fix_hint(dir, who));
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat f{};
    if (::lstat(it->path().c_str(), &f) != 0) continue;
    if (f.st_uid != who.uid)
      return Status::error("--data-dir: '" + it->path().string() + "' is not owned by " + who.user + ": " +
                           fix_hint(dir, who));
  }
  if (ec) return Status::error("--data-dir '" + dir + "': cannot walk it: " + ec.message());
  // Every directory from the root down must let the user through.
  std::string reach;
  for (const auto& part : fs::absolute(dir)) {
    reach = (fs::path(reach) / part).string();
    struct stat p{};
    if (::stat(reach.c_str(), &p) != 0) break;
    bool through = p.st_uid == who.uid ? (p.st_mode & S_IXUSR) : p.st_gid == who.gid ? (p.st_mode & S_IXGRP)
                                                                                     : (p.st_mode & S_IXOTH);
    if (!through) {
      char mode[8];
      std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(p.st_mode & 0777));
      return Status::error("--data-dir '" + dir + "': " + who.user + " cannot pass through '" + reach + "' (mode " +
                           mode + "); put the data directory where the user can reach it");
    }
  }
  return Status();
}

Status become_user_for_now(const RunAs& who) {
  if (::setegid(who.gid) != 0) return Status::error("setegid(" + std::to_string(who.gid) + "): " + errno_text());
  if (::seteuid(who.uid) != 0) return Status::error("seteuid(" + std::to_string(who.uid) + "): " + errno_text());
  return Status();
}

Status back_to_root() {
  if (::seteuid(0) != 0) return Status::error(std::string("seteuid(0): ") + errno_text());
  if (::setegid(0) != 0) return Status::error(std::string("setegid(0): ") + errno_text());
  return Status();
}

Status drop_privileges(const RunAs& who) {
  if (::geteuid() != 0)
    if (Status st = back_to_root(); !st.ok()) return st;
  if (::setgroups(who.groups.size(), who.groups.empty() ? nullptr : who.groups.data()) != 0)
    return Status::error("cannot drop to " + who.user + ": setgroups: " + errno_text());
  if (::setgid(who.gid) != 0)
    return Status::error("cannot drop to " + who.user + ": setgid(" + std::to_string(who.gid) + "): " + errno_text());
  if (::setuid(who.uid) != 0)
    return Status::error("cannot drop to " + who.user + ": setuid(" + std::to_string(who.uid) + "): " + errno_text());
  uid_t r, e, s;
  gid_t gr, ge, gs;
  if (::getresuid(&r, &e, &s) != 0 || r != who.uid || e != who.uid || s != who.uid || ::getresgid(&gr, &ge, &gs) != 0 ||
      gr != who.gid || ge != who.gid || gs != who.gid)
    return Status::error("cannot drop to " + who.user + ": the ids after setuid are not the user's");
  if (::setuid(0) == 0 || ::seteuid(0) == 0)
    return Status::error("cannot drop to " + who.user + ": root could be taken back after setuid");
  return Status();
}

Expected<size_t> own_files_created_as_root(const std::string& dir, const RunAs& who) {
  namespace fs = std::filesystem;
  std::error_code ec;
  size_t given = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat f{};
    if (::lstat(it->path().c_str(), &f) != 0 || f.st_uid != 0) continue;
    if (::lchown(it->path().c_str(), who.uid, who.gid) != 0)
      return Status::error("cannot give '" + it->path().string() + "' to " + who.user + ": " + errno_text());
    ++given;
  }
  if (ec) return Status::error("--data-dir '" + dir + "': cannot walk it: " + ec.message());
  return given;
}

}  // namespace socd
