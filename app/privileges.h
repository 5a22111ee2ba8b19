// Least privilege for `socd run --user NAME [--group NAME]`: started as root, socd creates its store's files as that
// user (the effective ids are switched while the store is opened), takes root back only to bind its listeners (and
// read their keys), then drops for good (setgroups, setgid, setuid, in that order) before any source starts reading
// input, and checks the drop cannot be undone.
//
// The data directory must exist, belong to the user and be writable by it (or --chown-data-dir gives it to the
// user); otherwise the start is refused with what to do. Files socd creates are 0600 and directories 0700 (the
// umask is 077 from the start of `socd run`).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

#include "socd/status.h"

namespace socd {

struct RunAs {
  std::string user, group;  // as given
  uid_t uid = 0;
  gid_t gid = 0;                // --group, else the user's primary group
  std::vector<gid_t> groups;    // supplementary groups: the user's, when no --group is given; else none
};

// Looks the user (and group) up. Errors: unknown names, and a process that is not root (only root can switch).
Expected<RunAs> resolve_run_as(const std::string& user, const std::string& group);

// The data directory for `who`: created (0700) when missing and `chown` is set, given to the user with everything
// in it when `chown` is set; then it must be owned by the user and writable by it, and so must everything already
// in it. Errors name the path and the command that fixes it.
Status prepare_data_dir(const std::string& dir, const RunAs& who, bool chown);

// Effective ids only (reversible): to the user, and back to root.
Status become_user_for_now(const RunAs& who);
Status back_to_root();

// The drop for good: setgroups, setgid, setuid; then checks that setuid(0) fails and the ids are the user's.
Status drop_privileges(const RunAs& who);

// Files under `dir` (recursively) not owned by `who` (e.g. written by a store thread while root was effective)
// are given to it. Returns how many were.
Expected<size_t> own_files_created_as_root(const std::string& dir, const RunAs& who);

}  // namespace socd
