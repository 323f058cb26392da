#include "tests/posix/posix_case.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace dfs::posix {
namespace {

constexpr uid_t kOwnerId = 1000;
constexpr uid_t kMemberId = 1001;
constexpr uid_t kOtherId = 65534;

std::vector<gid_t> groupsOf(Who who) {
  switch (who) {
    case Who::kRoot: return {0};
    case Who::kOwner: return {kOwnerId};
    case Who::kMember: return {kMemberId, kOwnerId};
    case Who::kOther: return {kOtherId};
  }
  return {};
}

void check(long rc, const Step& step, const char* what) {
  if (rc < 0) {
    throw std::runtime_error("setup: " + std::string(what) + " " + step.path + ": " +
                             std::strerror(errno));
  }
}

void make(const Step& step) {
  const char* path = step.path.c_str();
  switch (step.kind) {
    case Step::Kind::kDir:
      check(::mkdir(path, 0700), step, "mkdir");
      break;
    case Step::Kind::kFile: {
      int fd = ::open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
      check(fd, step, "create");
      if (!step.data.empty()) {
        check(::write(fd, step.data.data(), step.data.size()) ==
                      static_cast<ssize_t>(step.data.size()) ? 0 : -1,
              step, "write");
      }
      check(::close(fd), step, "close");
      break;
    }
    case Step::Kind::kSymlink:
      check(::symlink(step.data.c_str(), path), step, "symlink");
      check(::lchown(path, uidOf(step.owner), gidOf(step.owner)), step, "lchown");
      return;
    case Step::Kind::kFifo:
      check(::mkfifo(path, 0600), step, "mkfifo");
      break;
    case Step::Kind::kSocket: {
      sockaddr_un address{};
      address.sun_family = AF_UNIX;
      if (step.path.size() >= sizeof address.sun_path) {
        throw std::runtime_error("setup: socket path too long: " + step.path);
      }
      std::memcpy(address.sun_path, path, step.path.size());
      int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      check(fd, step, "socket");
      int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      ::close(fd);
      check(bound, step, "bind");
      break;
    }
    case Step::Kind::kGroup:
      check(::lchown(path, -1, static_cast<gid_t>(std::stoul(step.data))), step, "chgrp");
      return;
    case Step::Kind::kHardlink:
      check(::link(step.data.c_str(), path), step, "link");
      return;
    case Step::Kind::kXattr: {
      auto eq = step.data.find('=');
      std::string name = step.data.substr(0, eq), value = step.data.substr(eq + 1);
      check(::lsetxattr(path, name.c_str(), value.data(), value.size(), 0), step, "setxattr");
      return;
    }
    case Step::Kind::kAcl:
    case Step::Kind::kDefaultAcl: {
      std::string value = aclXattrValue(step.data);
      const char* name = step.kind == Step::Kind::kAcl ? "system.posix_acl_access"
                                                      : "system.posix_acl_default";
      check(::setxattr(path, name, value.data(), value.size(), 0), step, "set ACL");
      return;
    }
  }
  check(::chown(path, uidOf(step.owner), gidOf(step.owner)), step, "chown");
  check(::chmod(path, step.mode), step, "chmod");
}

char typeOf(mode_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  return '?';
}

bool sameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

std::string describe(const struct stat& st) {
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
  std::ostringstream out;
  out << typeOf(st.st_mode) << mode << ' ' << st.st_uid << ':' << st.st_gid << " n"
      << st.st_nlink;
  return out.str();
}

// The tokens for one path: see Case::expected_changes.
std::string changesOf(const std::optional<struct stat>& before,
                      const std::optional<struct stat>& after) {
  if (!before && !after) return "";
  if (!before) return "new " + describe(*after);
  if (!after) return "gone";
  const struct stat& b = *before;
  const struct stat& a = *after;
  if (a.st_ino != b.st_ino) return "replaced " + describe(a);
  std::vector<std::string> tokens;
  if (!sameTime(a.st_mtim, b.st_mtim)) tokens.push_back("m");
  if (!sameTime(a.st_ctim, b.st_ctim)) tokens.push_back("c");
  if (a.st_nlink != b.st_nlink) {
    std::ostringstream nlink;
    nlink << 'n' << a.st_nlink;
    tokens.push_back(nlink.str());
  }
  if ((a.st_mode & 07777) != (b.st_mode & 07777)) {
    char mode[12];
    std::snprintf(mode, sizeof mode, "mode%04o", a.st_mode & 07777);
    tokens.push_back(mode);
  }
  if (a.st_uid != b.st_uid || a.st_gid != b.st_gid) {
    tokens.push_back("own" + std::to_string(a.st_uid) + ":" + std::to_string(a.st_gid));
  }
  // A directory's size is the file system's own business (ext4 counts blocks).
  if (!S_ISDIR(a.st_mode) && a.st_size != b.st_size) {
    tokens.push_back("size" + std::to_string(a.st_size));
  }
  std::string joined;
  for (const auto& token : tokens) joined += (joined.empty() ? "" : " ") + token;
  return joined;
}

std::optional<struct stat> statOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
  return st;
}

}  // namespace

uid_t uidOf(Who who) {
  switch (who) {
    case Who::kRoot: return 0;
    case Who::kOwner: return kOwnerId;
    case Who::kMember: return kMemberId;
    case Who::kOther: return kOtherId;
  }
  return kOtherId;
}

gid_t gidOf(Who who) { return uidOf(who); }

Step dir(std::string path, mode_t mode, Who owner) {
  return {Step::Kind::kDir, std::move(path), mode, owner, ""};
}
Step file(std::string path, mode_t mode, Who owner, std::string data) {
  return {Step::Kind::kFile, std::move(path), mode, owner, std::move(data)};
}
Step symlink(std::string path, std::string target, Who owner) {
  return {Step::Kind::kSymlink, std::move(path), 0777, owner, std::move(target)};
}
Step fifo(std::string path, mode_t mode, Who owner) {
  return {Step::Kind::kFifo, std::move(path), mode, owner, ""};
}
Step socket(std::string path, mode_t mode, Who owner) {
  return {Step::Kind::kSocket, std::move(path), mode, owner, ""};
}
Step group(std::string path, gid_t gid) {
  return {Step::Kind::kGroup, std::move(path), 0, Who::kRoot, std::to_string(gid)};
}
Step hardlink(std::string path, std::string existing) {
  return {Step::Kind::kHardlink, std::move(path), 0, Who::kRoot, std::move(existing)};
}
Step xattr(std::string path, std::string name, std::string value) {
  return {Step::Kind::kXattr, std::move(path), 0, Who::kRoot, name + "=" + value};
}
Step acl(std::string path, std::string text) {
  return {Step::Kind::kAcl, std::move(path), 0, Who::kRoot, std::move(text)};
}
Step defaultAcl(std::string path, std::string text) {
  return {Step::Kind::kDefaultAcl, std::move(path), 0, Who::kRoot, std::move(text)};
}

std::string aclXattrValue(const std::string& text) {
  // struct posix_acl_xattr_header { le32 version = 2 } then entries { le16 tag, le16 perm,
  // le32 id }, in the order the kernel requires (owner, users, group, groups, mask, other).
  auto le = [](std::string& out, uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  };
  std::string out;
  le(out, 2, 4);
  std::istringstream entries(text);
  std::string entry;
  while (std::getline(entries, entry, ',')) {
    auto first = entry.find(':'), second = entry.rfind(':');
    std::string tag = entry.substr(0, first);
    std::string qualifier = entry.substr(first + 1, second - first - 1);
    std::string perms = entry.substr(second + 1);
    uint32_t perm = (perms[0] == 'r' ? 4 : 0) | (perms[1] == 'w' ? 2 : 0) |
                    (perms[2] == 'x' ? 1 : 0);
    uint32_t id = qualifier.empty() ? 0xffffffffu : static_cast<uint32_t>(std::stoul(qualifier));
    uint32_t code = tag == "u" ? (qualifier.empty() ? 0x01 : 0x02)
                  : tag == "g" ? (qualifier.empty() ? 0x04 : 0x08)
                  : tag == "m" ? 0x10
                               : 0x20;
    le(out, code, 2);
    le(out, perm, 2);
    le(out, id, 4);
  }
  return out;
}

Outcome play(const Case& c, const std::string& dir, const std::string& op_dir) {
  if (::mkdir(dir.c_str(), 0755) != 0 || ::chmod(dir.c_str(), 0755) != 0) {
    return {-1, "cannot make " + dir + ": " + std::strerror(errno)};
  }
  std::vector<std::string> watched;
  auto watch = [&](const std::string& path) {
    for (const auto& seen : watched) {
      if (seen == path) return;
    }
    watched.push_back(path);
  };
  try {
    for (const Step& step : c.setup) {
      Step in_dir = step;
      in_dir.path = dir + "/" + step.path;
      if (step.kind == Step::Kind::kHardlink) in_dir.data = dir + "/" + step.data;
      make(in_dir);
      watch(step.path);
    }
  } catch (const std::exception& e) {
    return {-1, e.what()};
  }
  for (const auto& path : c.also_watch) watch(path);
  const std::string& here = op_dir.empty() ? dir : op_dir;
  std::vector<std::optional<struct stat>> before;
  for (const auto& path : watched) before.push_back(statOf(here + "/" + path));
  // Past the coarse clock's tick (ext4 stamps times from it): a change is a different time.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  pid_t child = ::fork();
  if (child == 0) {
    std::vector<gid_t> groups = groupsOf(c.who);
    if (::chdir(here.c_str()) != 0 || ::setgroups(groups.size(), groups.data()) != 0 ||
        ::setresgid(gidOf(c.who), gidOf(c.who), gidOf(c.who)) != 0 ||
        ::setresuid(uidOf(c.who), uidOf(c.who), uidOf(c.who)) != 0) {
      ::_exit(255);
    }
    ::umask(022);
    ::_exit(c.op());
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  Outcome outcome;
  outcome.error = WIFEXITED(status) ? WEXITSTATUS(status) : 254;
  for (size_t i = 0; i < watched.size(); ++i) {
    std::string changes = changesOf(before[i], statOf(here + "/" + watched[i]));
    if (changes.empty()) continue;
    if (!outcome.changes.empty()) outcome.changes += "; ";
    outcome.changes += watched[i] + ": " + changes;
  }
  return outcome;
}

int errnoOf(long rc) { return rc < 0 ? errno : 0; }

int openErrno(const char* path, int flags, mode_t mode) {
  int fd = ::open(path, flags, mode);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

int writeErrno(const char* path, const std::string& data, int flags) {
  int fd = ::open(path, flags);
  if (fd < 0) return errno;
  ssize_t written = ::write(fd, data.data(), data.size());
  int error = written < 0 ? errno : 0;
  if (::close(fd) != 0 && error == 0) error = errno;
  return error;
}

int onDescriptor(const char* path, int flags, const std::function<int(int fd)>& body) {
  int fd = ::open(path, flags);
  if (fd < 0) return errno;
  int error = body(fd);
  ::close(fd);
  return error;
}

int readErrno(const char* path) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) return errno;
  char buffer[256];
  ssize_t got = ::read(fd, buffer, sizeof buffer);
  int error = got < 0 ? errno : 0;
  ::close(fd);
  return error;
}

}  // namespace dfs::posix
