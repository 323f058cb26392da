// The kernel checks permissions (default_permissions, always set by mount.dfs): programs of other
// users get EACCES and EPERM where a local file system gives them, also for names the kernel has
// cached and in directories the mount answers for itself (held ones).
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <functional>
#include <vector>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

constexpr uid_t kUser = 1000;
constexpr gid_t kUserGroup = 1000;
constexpr gid_t kSharedGroup = 2000;

class PermissionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = cluster_.mount("m");
    ASSERT_EQ(::chmod(m_.c_str(), 0755), 0);
  }
  std::string path(const std::string& name) { return m_ + "/" + name; }

  // errno of what body did as another user (0: it succeeded), run in a child process that
  // starts in the mount (the test's temporary directories above it are root's alone).
  int asUser(const std::function<int()>& body, std::vector<gid_t> groups = {}) {
    pid_t child = ::fork();
    if (child == 0) {
      if (::chdir(m_.c_str()) != 0 || ::setgroups(groups.size(), groups.data()) != 0 ||
          ::setgid(kUserGroup) != 0 || ::setuid(kUser) != 0) {
        ::_exit(255);
      }
      ::_exit(body());
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 254;
  }
  static int errnoOf(int rc) { return rc >= 0 ? 0 : errno; }
  static int openErrno(const char* name, int flags) {
    int fd = ::open(name, flags, 0644);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
  }

  Cluster cluster_;
  std::string m_;
};

TEST_F(PermissionsTest, FilesAreReadAndWrittenAsTheirModeSays) {
  writeFile(path("mine"), "root's");
  ASSERT_EQ(::chmod(path("mine").c_str(), 0644), 0);
  writeFile(path("secret"), "root's");
  ASSERT_EQ(::chmod(path("secret").c_str(), 0600), 0);

  EXPECT_EQ(asUser([] { return openErrno("mine", O_RDONLY); }), 0);
  EXPECT_EQ(asUser([] { return openErrno("mine", O_WRONLY); }), EACCES);
  EXPECT_EQ(asUser([] { return openErrno("mine", O_RDONLY | O_TRUNC); }), EACCES);
  EXPECT_EQ(asUser([] { return openErrno("secret", O_RDONLY); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::truncate("mine", 0)); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::access("mine", R_OK)); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::access("mine", W_OK)); }), EACCES);
  EXPECT_EQ(readFile(path("mine")), "root's");

  // Running a program needs only its execute bit.
  std::filesystem::copy_file("/bin/true", path("tool"));
  ASSERT_EQ(::chmod(path("tool").c_str(), 0711), 0);
  EXPECT_EQ(asUser([] {
              ::execl("./tool", "tool", nullptr);
              return errno;
            }),
            0);
  EXPECT_EQ(asUser([] { return openErrno("tool", O_RDONLY); }), EACCES);

  // A file opened for writing stays writable through its descriptor, whatever its mode becomes.
  ASSERT_EQ(::chown(path("mine").c_str(), kUser, kUserGroup), 0);
  EXPECT_EQ(asUser([] {
              int fd = ::open("mine", O_WRONLY);
              if (fd < 0) return errno;
              int rc = ::fchmod(fd, 0444);
              if (rc == 0) rc = ::ftruncate(fd, 2);
              int error = errnoOf(rc);
              ::close(fd);
              return error;
            }),
            0);
  EXPECT_EQ(readFile(path("mine")), "ro");
}

TEST_F(PermissionsTest, DirectoriesGuardTheirNamesEvenWhenTheKernelHasThemCached) {
  ASSERT_EQ(::mkdir(path("private").c_str(), 0700), 0);
  writeFile(path("private/f"), "x");
  ASSERT_EQ(::mkdir(path("open").c_str(), 0777), 0);
  ASSERT_EQ(::chmod(path("open").c_str(), 0777), 0);  // past the umask
  ASSERT_EQ(::mkdir(path("shut").c_str(), 0755), 0);

  // Root has just looked the name up: the kernel keeps it, the mount must still refuse.
  EXPECT_EQ(readFile(path("private/f")), "x");
  EXPECT_EQ(asUser([] { return openErrno("private/f", O_RDONLY); }), EACCES);
  EXPECT_EQ(asUser([] {
              struct stat st {};
              return errnoOf(::stat("private/f", &st));
            }),
            EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::access("private", X_OK)); }), EACCES);

  EXPECT_EQ(asUser([] { return openErrno("shut/new", O_CREAT | O_WRONLY); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::mkdir("shut/d", 0755)); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::symlink("t", "shut/l")); }), EACCES);
  EXPECT_EQ(asUser([] { return openErrno("open/new", O_CREAT | O_WRONLY); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::rename("open/new", "shut/new")); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::link("open/new", "shut/new")); }), EACCES);
  writeFile(path("shut/roots"), "r");
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("shut/roots")); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("open/new")); }), 0);

  // A group the user is in only through its supplementary groups.
  ASSERT_EQ(::chown(path("private").c_str(), 0, kSharedGroup), 0);
  ASSERT_EQ(::chmod(path("private").c_str(), 0750), 0);
  EXPECT_EQ(asUser([] { return openErrno("private/f", O_RDONLY); }, {kSharedGroup}), 0);
  EXPECT_EQ(asUser([] { return openErrno("private/f", O_RDONLY); }), EACCES);
}

TEST_F(PermissionsTest, OwnersStickyDirectoriesAndAttributeChanges) {
  ASSERT_EQ(::mkdir(path("tmp").c_str(), 01777), 0);
  ASSERT_EQ(::chmod(path("tmp").c_str(), 01777), 0);
  writeFile(path("tmp/roots"), "r");
  EXPECT_EQ(asUser([] { return openErrno("tmp/users", O_CREAT | O_WRONLY); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("tmp/roots")); }), EPERM);
  EXPECT_EQ(asUser([] { return errnoOf(::rename("tmp/roots", "tmp/taken")); }), EPERM);
  EXPECT_EQ(asUser([] { return errnoOf(::rename("tmp/users", "tmp/users2")); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("tmp/users2")); }), 0);

  writeFile(path("f"), "x");
  ASSERT_EQ(::chmod(path("f").c_str(), 0666), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::chmod("f", 0777)); }), EPERM);
  EXPECT_EQ(asUser([] { return errnoOf(::chown("f", kUser, kUserGroup)); }), EPERM);
  const struct timespec explicit_times[2] = {{1, 0}, {1, 0}};
  EXPECT_EQ(asUser([&] { return errnoOf(::utimensat(AT_FDCWD, "f", explicit_times, 0)); }), EPERM);
  // Touching to now needs only write permission.
  EXPECT_EQ(asUser([] { return errnoOf(::utimensat(AT_FDCWD, "f", nullptr, 0)); }), 0);

  // A write by anyone drops set-user-ID (the kernel asks the mount to).
  writeFile(path("setuid"), "x");
  ASSERT_EQ(::chmod(path("setuid").c_str(), 04777), 0);
  EXPECT_EQ(asUser([] {
              int fd = ::open("setuid", O_WRONLY | O_APPEND);
              if (fd < 0) return errno;
              int error = ::write(fd, "y", 1) == 1 ? 0 : errno;
              ::close(fd);
              return error;
            }),
            0);
  struct stat privileged {};
  ASSERT_EQ(::stat(path("setuid").c_str(), &privileged), 0);
  EXPECT_EQ(privileged.st_mode & 07777, 0777u);

  ASSERT_EQ(::chown(path("f").c_str(), kUser, kUserGroup), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::chmod("f", 0600)); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::chown("f", kUser, kSharedGroup)); }), EPERM);
  EXPECT_EQ(asUser([] { return errnoOf(::chown("f", kUser, kSharedGroup)); }, {kSharedGroup}), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, kSharedGroup);
}

TEST_F(PermissionsTest, DirectoriesThisMountHoldsAreCheckedToo) {
  // Made by this mount: creates and removals in it are answered by the mount itself.
  ASSERT_EQ(::mkdir(path("held").c_str(), 0755), 0);
  writeFile(path("held/roots"), "r");
  EXPECT_EQ(asUser([] { return openErrno("held/new", O_CREAT | O_WRONLY); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("held/roots")); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::mkdir("held/d", 0755)); }), EACCES);
  EXPECT_EQ(asUser([] { return errnoOf(::chmod("held", 0777)); }), EPERM);
  ASSERT_EQ(::chmod(path("held").c_str(), 0777), 0);
  EXPECT_EQ(asUser([] { return openErrno("held/new", O_CREAT | O_WRONLY); }), 0);
  EXPECT_EQ(asUser([] { return errnoOf(::unlink("held/roots")); }), 0);
  struct stat st {};
  ASSERT_EQ(::stat(path("held/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, kUser);
}

}  // namespace
}  // namespace dfs::testing
