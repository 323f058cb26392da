// The POSIX suite's table format and runner. A case is a small tree made as root (setup), one
// system call made as some user in a child process (op), the errno it must give, and what it
// must change: times, link counts, modes and owners of every path the case watches. A runner
// plays each case in a directory of its own, on a DFS mount and, when the local disk is ext4,
// on the local disk too: where Linux's local file systems disagree the suite follows ext4, and
// the ext4 run proves the table itself right.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace dfs::posix {

// Who makes a call. The owner of the cases' trees is kOwner; kMember is in kOwner's group.
enum class Who { kRoot, kOwner, kMember, kOther };
// Their uids (and primary gids): 0, 1000, 1001, 65534; kMember's groups are 1001 and 1000.
uid_t uidOf(Who who);
gid_t gidOf(Who who);

// One step of a case's setup, made as root in the case's directory.
struct Step {
  enum class Kind { kDir, kFile, kSymlink, kFifo, kSocket, kHardlink, kXattr, kAcl, kDefaultAcl, kGroup };
  Kind kind;
  std::string path;
  mode_t mode = 0;
  Who owner = Who::kOwner;
  std::string data;  // file content, symlink target, link's existing path, xattr "name=value",
                     // the ACL's text ("u::rw-,u:1001:r--,g::r--,m::r--,o::---") or a gid
};
Step dir(std::string path, mode_t mode, Who owner = Who::kOwner);
Step file(std::string path, mode_t mode, Who owner = Who::kOwner, std::string data = "");
Step symlink(std::string path, std::string target, Who owner = Who::kOwner);
Step fifo(std::string path, mode_t mode, Who owner = Who::kOwner);
// An AF_UNIX socket bound and closed again: a connect to it is refused (ECONNREFUSED) once
// permitted.
Step socket(std::string path, mode_t mode, Who owner = Who::kOwner);
// Gives an existing path another group (the owner keeps it).
Step group(std::string path, gid_t gid);
Step hardlink(std::string path, std::string existing);
Step xattr(std::string path, std::string name, std::string value);
Step acl(std::string path, std::string text);
Step defaultAcl(std::string path, std::string text);

// The binary form of an ACL as the system.posix_acl_* attributes carry it.
std::string aclXattrValue(const std::string& text);

struct Case {
  std::string name;
  std::vector<Step> setup;
  Who who;
  // Runs in the case's directory as `who` (umask 022); returns the errno of the call, 0 when it
  // succeeded. Relative paths only.
  std::function<int()> op;
  int expected_errno;
  // What the call changed, as changesOf prints it (see posix_case.cc): for every watched path
  // that changed, "PATH: " and tokens, entries joined by "; ". "" when nothing changed.
  std::string expected_changes;
  std::vector<std::string> also_watch = {};  // paths the op may create (setup paths are watched)
};

struct Outcome {
  int error = 0;
  std::string changes;
};

// Plays c in a fresh directory dir (which must not exist; its parent is root's) and returns
// what happened. With op_dir, the setup is made in dir and the op and every stat in op_dir:
// the same directory seen through another mount.
Outcome play(const Case& c, const std::string& dir, const std::string& op_dir = "");

// Errno helpers for ops.
int errnoOf(long rc);
int openErrno(const char* path, int flags, mode_t mode = 0644);
int writeErrno(const char* path, const std::string& data, int flags = O_WRONLY);
int readErrno(const char* path);
// Opens path and returns what body returns for the descriptor (or open's errno).
int onDescriptor(const char* path, int flags, const std::function<int(int fd)>& body);

}  // namespace dfs::posix
