// POSIX as programs see it, case by case: every row of a table is played on a DFS mount and
// on the local disk, as root and as other users, and must give the errno the row names and
// change exactly the times, link counts, modes and owners it names (posix_case.h has the
// format). The local run is the reference: when it is ext4 it must agree with the table too, so
// a row that says what ext4 does not is caught as surely as a DFS that does not do it. Each row
// is played twice on DFS: all on one mount, and made on one mount then changed on another.
// Where Linux's local file systems disagree with each other we follow ext4; rows that rest on
// such a choice say so.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <gtest/gtest.h>

#include "tests/integration/cluster.h"
#include "tests/posix/posix_case.h"

namespace dfs::posix {
namespace {

using testing::Cluster;
using testing::ClusterOptions;
using W = Who;

class PosixTest : public ::testing::Test {
 protected:
  static ClusterOptions small() {
    ClusterOptions options;
    options.chunkservers = 1;
    options.goal = 1;
    return options;
  }

  void SetUp() override {
    mount_ = cluster_.mount("m");
    other_ = cluster_.mount("m2");
    ASSERT_EQ(::chmod(mount_.c_str(), 0755), 0);
    char reference[] = "/var/tmp/dfs-posix.XXXXXX";
    ASSERT_NE(::mkdtemp(reference), nullptr);
    reference_ = reference;
    ASSERT_EQ(::chmod(reference_.c_str(), 0755), 0);
    struct statfs st {};
    ASSERT_EQ(::statfs(reference_.c_str(), &st), 0);
    reference_is_ext4_ = st.f_type == EXT4_SUPER_MAGIC;
    if (!reference_is_ext4_) {
      std::printf("note: %s is not ext4; the table is checked against DFS only\n",
                  reference_.c_str());
    }
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(reference_, ignored);
  }

  void run(const std::vector<Case>& cases) {
    const std::string suite = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      const std::string name = suite + "-" + std::to_string(i);
      if (reference_is_ext4_) {
        Outcome local = play(c, reference_ + "/" + name);
        EXPECT_EQ(local.error, c.expected_errno)
            << c.name << ": the table's errno is not ext4's (" << std::strerror(local.error)
            << ")";
        EXPECT_EQ(local.changes, c.expected_changes) << c.name << ": the table is not ext4";
      }
      Outcome dfs = play(c, mount_ + "/" + name);
      EXPECT_EQ(dfs.error, c.expected_errno)
          << c.name << ": DFS gives " << std::strerror(dfs.error);
      EXPECT_EQ(dfs.changes, c.expected_changes) << c.name;
      // Made on one mount, changed and seen on another: the first mount's delegations are
      // recalled, and what the second sees is what the master keeps.
      Outcome across = play(c, mount_ + "/" + name + "-x", other_ + "/" + name + "-x");
      EXPECT_EQ(across.error, c.expected_errno)
          << c.name << ", on a second mount: DFS gives " << std::strerror(across.error);
      EXPECT_EQ(across.changes, c.expected_changes) << c.name << ", on a second mount";
    }
  }

  Cluster cluster_{small()};
  std::string mount_;
  std::string other_;  // a second mount of the same cluster
  std::string reference_;
  bool reference_is_ext4_ = false;
};

int setUserXattr(const char* path, const char* name, const std::string& value, int flags = 0) {
  return errnoOf(::lsetxattr(path, name, value.data(), value.size(), flags));
}

// Succeeds (0) when path carries the named attribute.
int hasXattr(const char* path, const char* name) {
  return errnoOf(::lgetxattr(path, name, nullptr, 0));
}

TEST_F(PosixTest, Open) {
  run({
      {"the owner reads a 0600 file", {file("f", 0600)}, W::kOwner,
       [] { return openErrno("f", O_RDONLY); }, 0, ""},
      {"another user cannot read a 0600 file", {file("f", 0600)}, W::kOther,
       [] { return openErrno("f", O_RDONLY); }, EACCES, ""},
      {"a group member reads a 0640 file", {file("f", 0640)}, W::kMember,
       [] { return openErrno("f", O_RDONLY); }, 0, ""},
      {"a group member cannot write a 0640 file", {file("f", 0640)}, W::kMember,
       [] { return openErrno("f", O_WRONLY); }, EACCES, ""},
      {"the owner's bits alone count for the owner", {file("f", 0077)}, W::kOwner,
       [] { return openErrno("f", O_RDONLY); }, EACCES, ""},
      {"the group's bits alone count for a member", {file("f", 0607)}, W::kMember,
       [] { return openErrno("f", O_RDONLY); }, EACCES, ""},
      {"root reads a 0000 file", {file("f", 0000)}, W::kRoot,
       [] { return openErrno("f", O_RDONLY); }, 0, ""},
      {"the owner cannot write a 0444 file", {file("f", 0444)}, W::kOwner,
       [] { return openErrno("f", O_WRONLY); }, EACCES, ""},
      {"root writes a 0444 file", {file("f", 0444)}, W::kRoot,
       [] { return openErrno("f", O_WRONLY); }, 0, ""},
      {"a directory without search permission hides its files",
       {dir("d", 0744), file("d/f", 0644)}, W::kOther,
       [] { return openErrno("d/f", O_RDONLY); }, EACCES, ""},
      {"a search-only directory opens a named file", {dir("d", 0711), file("d/f", 0644)},
       W::kOther, [] { return openErrno("d/f", O_RDONLY); }, 0, ""},
      {"O_CREAT makes a file with the mode less the umask", {dir("d", 0755)}, W::kOwner,
       [] { return openErrno("d/new", O_CREAT | O_WRONLY, 0666); }, 0,
       "d: m c; d/new: new f0644 1000:1000 n1", {"d/new"}},
      {"O_CREAT in a directory the caller cannot write", {dir("d", 0555)}, W::kOwner,
       [] { return openErrno("d/new", O_CREAT | O_WRONLY); }, EACCES, "", {"d/new"}},
      {"O_CREAT in another user's 0755 directory", {dir("d", 0755)}, W::kOther,
       [] { return openErrno("d/new", O_CREAT | O_WRONLY); }, EACCES, "", {"d/new"}},
      {"O_CREAT|O_EXCL on an existing file", {file("f", 0644)}, W::kOwner,
       [] { return openErrno("f", O_CREAT | O_EXCL | O_WRONLY); }, EEXIST, ""},
      {"O_CREAT on an existing file changes nothing", {file("f", 0644, W::kOwner, "abc")},
       W::kOwner, [] { return openErrno("f", O_CREAT | O_WRONLY); }, 0, ""},
      {"O_TRUNC empties a file", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return openErrno("f", O_TRUNC | O_WRONLY); }, 0, "f: m c size0"},
      {"O_TRUNC of a file the caller cannot write", {file("f", 0444, W::kOwner, "abc")},
       W::kOwner, [] { return openErrno("f", O_TRUNC | O_WRONLY); }, EACCES, ""},
      {"O_DIRECTORY on a file", {file("f", 0644)}, W::kOwner,
       [] { return openErrno("f", O_RDONLY | O_DIRECTORY); }, ENOTDIR, ""},
      {"O_NOFOLLOW on a symlink", {file("f", 0644), symlink("s", "f")}, W::kOwner,
       [] { return openErrno("s", O_RDONLY | O_NOFOLLOW); }, ELOOP, ""},
      {"a directory opened for writing", {dir("d", 0777)}, W::kOwner,
       [] { return openErrno("d", O_WRONLY); }, EISDIR, ""},
      {"a file used as a directory", {file("f", 0644)}, W::kOwner,
       [] { return openErrno("f/x", O_RDONLY); }, ENOTDIR, ""},
      {"a name that is not there", {dir("d", 0755)}, W::kOwner,
       [] { return openErrno("d/missing", O_RDONLY); }, ENOENT, ""},
      {"a dangling symlink", {symlink("s", "nowhere")}, W::kOwner,
       [] { return openErrno("s", O_RDONLY); }, ENOENT, ""},
      {"O_CREAT through a dangling symlink makes its target",
       {dir("d", 0755), symlink("d/s", "t")}, W::kOwner,
       [] { return openErrno("d/s", O_CREAT | O_WRONLY, 0600); }, 0,
       "d: m c; d/t: new f0600 1000:1000 n1", {"d/t"}},
      {"a new file in a setgid directory takes the directory's group",
       {dir("d", 02777)}, W::kMember, [] { return openErrno("d/new", O_CREAT | O_WRONLY); }, 0,
       "d: m c; d/new: new f0644 1001:1000 n1", {"d/new"}},
      {"a writer that is not the owner clears setuid", {file("f", 04777)}, W::kOther,
       [] { return writeErrno("f", "x"); }, 0, "f: m c mode0777 size1"},
      {"a write keeps setuid for root", {file("f", 04777)}, W::kRoot,
       [] { return writeErrno("f", "x"); }, 0, "f: m c size1"},
      {"O_APPEND writes at the end", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return writeErrno("f", "de", O_WRONLY | O_APPEND); }, 0, "f: m c size5"},
      {"O_CREAT|O_EXCL through a dangling symlink", {symlink("s", "t")}, W::kOwner,
       [] { return openErrno("s", O_CREAT | O_EXCL | O_WRONLY); }, EEXIST, "", {"t"}},
      {"a write on a descriptor opened for reading", {file("f", 0644)}, W::kOwner,
       [] { return onDescriptor("f", O_RDONLY, [](int fd) { return errnoOf(::write(fd, "x", 1)); }); },
       EBADF, ""},
      {"ftruncate of a descriptor opened for reading", {file("f", 0644, W::kOwner, "abc")},
       W::kOwner,
       [] { return onDescriptor("f", O_RDONLY, [](int fd) { return errnoOf(::ftruncate(fd, 1)); }); },
       EINVAL, ""},
      {"fallocate past the end", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return onDescriptor("f", O_WRONLY, [](int fd) { return errnoOf(::fallocate(fd, 0, 0, 8192)); }); },
       0, "f: m c size8192"},
      {"fallocate with FALLOC_FL_KEEP_SIZE", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return onDescriptor("f", O_WRONLY, [](int fd) { return errnoOf(::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192)); }); },
       0, "f: m c"},
      {"fallocate within the file", {file("f", 0644, W::kOwner, "abcdef")}, W::kOwner,
       [] { return onDescriptor("f", O_WRONLY, [](int fd) { return errnoOf(::fallocate(fd, 0, 0, 4)); }); },
       0, "f: m c"},
      {"fallocate by a writer not the owner clears setuid", {file("f", 04766, W::kOwner, "ab")},
       W::kOther,
       [] { return onDescriptor("f", O_WRONLY, [](int fd) { return errnoOf(::fallocate(fd, 0, 0, 4096)); }); },
       0, "f: m c mode0766 size4096"},
      {"chmod through a symlink changes its target", {file("f", 0644), symlink("s", "f")},
       W::kOwner, [] { return errnoOf(::chmod("s", 0600)); }, 0, "f: c mode0600"},
      {"a symlink reads back as written", {symlink("s", "some/where/../else")}, W::kOther,
       [] {
         char target[64];
         ssize_t bytes = ::readlink("s", target, sizeof target);
         if (bytes < 0) return errno;
         return std::string(target, bytes) == "some/where/../else" ? 0 : EBADMSG;
       },
       0, ""},
      {"a FIFO of root's, 0600, for another user", {fifo("p", 0600, W::kRoot)}, W::kOther,
       [] { return openErrno("p", O_RDWR); }, EACCES, ""},
      {"a FIFO another user may open", {fifo("p", 0666, W::kRoot)}, W::kOther,
       [] { return openErrno("p", O_RDWR); }, 0, ""},
  });
}

TEST_F(PosixTest, CreateAndRemove) {
  run({
      {"mkdir", {dir("d", 0755)}, W::kOwner, [] { return errnoOf(::mkdir("d/e", 0777)); }, 0,
       "d: m c n3; d/e: new d0755 1000:1000 n2", {"d/e"}},
      {"mkdir of an existing name", {dir("d", 0755), file("d/e", 0644)}, W::kOwner,
       [] { return errnoOf(::mkdir("d/e", 0777)); }, EEXIST, ""},
      {"mkdir in a directory the caller cannot write", {dir("d", 0555)}, W::kOwner,
       [] { return errnoOf(::mkdir("d/e", 0777)); }, EACCES, "", {"d/e"}},
      {"mkdir under a file", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::mkdir("f/e", 0777)); }, ENOTDIR, ""},
      {"mkdir in a setgid directory passes setgid on", {dir("d", 02777)}, W::kMember,
       [] { return errnoOf(::mkdir("d/e", 0777)); }, 0,
       "d: m c n3; d/e: new d2755 1001:1000 n2", {"d/e"}},
      {"rmdir", {dir("d", 0755), dir("d/e", 0755)}, W::kOwner,
       [] { return errnoOf(::rmdir("d/e")); }, 0, "d: m c n2; d/e: gone"},
      {"rmdir of a directory that is not empty",
       {dir("d", 0755), dir("d/e", 0755), file("d/e/f", 0644)}, W::kOwner,
       [] { return errnoOf(::rmdir("d/e")); }, ENOTEMPTY, ""},
      {"rmdir of a file", {dir("d", 0755), file("d/f", 0644)}, W::kOwner,
       [] { return errnoOf(::rmdir("d/f")); }, ENOTDIR, ""},
      {"rmdir of dot", {dir("d", 0755)}, W::kOwner, [] { return errnoOf(::rmdir("d/.")); },
       EINVAL, ""},
      {"rmdir in another user's directory", {dir("d", 0755), dir("d/e", 0777, W::kOther)},
       W::kOther, [] { return errnoOf(::rmdir("d/e")); }, EACCES, ""},
      {"rmdir in a sticky directory of another's directory",
       {dir("t", 01777), dir("t/e", 0777, W::kMember)}, W::kOther,
       [] { return errnoOf(::rmdir("t/e")); }, EPERM, ""},
      {"rmdir in a sticky directory by the directory's owner",
       {dir("t", 01777), dir("t/e", 0777, W::kMember)}, W::kMember,
       [] { return errnoOf(::rmdir("t/e")); }, 0, "t: m c n2; t/e: gone"},
      {"unlink", {dir("d", 0755), file("d/f", 0644)}, W::kOwner,
       [] { return errnoOf(::unlink("d/f")); }, 0, "d: m c; d/f: gone"},
      {"unlink of one of two links", {dir("d", 0755), file("d/f", 0644), hardlink("d/g", "d/f")},
       W::kOwner, [] { return errnoOf(::unlink("d/g")); }, 0, "d: m c; d/f: c n1; d/g: gone"},
      {"unlink of a directory", {dir("d", 0755), dir("d/e", 0755)}, W::kOwner,
       [] { return errnoOf(::unlink("d/e")); }, EISDIR, ""},
      {"unlink of a name that is not there", {dir("d", 0755)}, W::kOwner,
       [] { return errnoOf(::unlink("d/f")); }, ENOENT, ""},
      {"unlink in another user's 0755 directory", {dir("d", 0755), file("d/f", 0666, W::kOther)},
       W::kOther, [] { return errnoOf(::unlink("d/f")); }, EACCES, ""},
      {"unlink in a directory without search permission", {dir("d", 0666), file("d/f", 0644)},
       W::kOwner, [] { return errnoOf(::unlink("d/f")); }, EACCES, ""},
      {"unlink in a sticky directory of another's file",
       {dir("t", 01777), file("t/f", 0666, W::kMember)}, W::kOther,
       [] { return errnoOf(::unlink("t/f")); }, EPERM, ""},
      {"unlink in a sticky directory by the file's owner",
       {dir("t", 01777), file("t/f", 0644, W::kOther)}, W::kOther,
       [] { return errnoOf(::unlink("t/f")); }, 0, "t: m c; t/f: gone"},
      {"unlink in a sticky directory by the directory's owner",
       {dir("t", 01777), file("t/f", 0644, W::kOther)}, W::kOwner,
       [] { return errnoOf(::unlink("t/f")); }, 0, "t: m c; t/f: gone"},
      {"symlink", {dir("d", 0755)}, W::kOwner,
       [] { return errnoOf(::symlink("anything", "d/s")); }, 0,
       "d: m c; d/s: new l0777 1000:1000 n1", {"d/s"}},
      {"symlink over an existing name", {dir("d", 0755), file("d/s", 0644)}, W::kOwner,
       [] { return errnoOf(::symlink("anything", "d/s")); }, EEXIST, ""},
      {"readlink of a file", {file("f", 0644)}, W::kOwner,
       [] {
         char target[64];
         return errnoOf(::readlink("f", target, sizeof target));
       },
       EINVAL, ""},
      {"mkfifo", {dir("d", 0755)}, W::kOwner, [] { return errnoOf(::mkfifo("d/p", 0666)); }, 0,
       "d: m c; d/p: new p0644 1000:1000 n1", {"d/p"}},
      {"link", {dir("d", 0755), file("d/f", 0644)}, W::kOwner,
       [] { return errnoOf(::link("d/f", "d/g")); }, 0, "d: m c; d/f: c n2; d/g: new f0644 1000:1000 n2",
       {"d/g"}},
      {"link into another directory", {dir("a", 0755), dir("b", 0755), file("a/f", 0644)},
       W::kOwner, [] { return errnoOf(::link("a/f", "b/f")); }, 0,
       "b: m c; a/f: c n2; b/f: new f0644 1000:1000 n2", {"b/f"}},
      {"link of a directory", {dir("d", 0755), dir("d/e", 0755)}, W::kOwner,
       [] { return errnoOf(::link("d/e", "d/f")); }, EPERM, "", {"d/f"}},
      {"link onto an existing name", {file("f", 0644), file("g", 0644)}, W::kOwner,
       [] { return errnoOf(::link("f", "g")); }, EEXIST, ""},
      {"link into a directory the caller cannot write", {dir("d", 0555), file("f", 0644)},
       W::kOwner, [] { return errnoOf(::link("f", "d/g")); }, EACCES, "", {"d/g"}},
  });
}

TEST_F(PosixTest, Rename) {
  auto rename = [](const char* from, const char* to) { return errnoOf(::rename(from, to)); };
  run({
      {"a file within a directory", {dir("d", 0755), file("d/a", 0644), hardlink("d/keep", "d/a")},
       W::kOwner, [=] { return rename("d/a", "d/b"); }, 0,
       "d: m c; d/a: gone; d/keep: c; d/b: new f0644 1000:1000 n2", {"d/b"}},
      {"a file over another", {dir("d", 0755), file("d/a", 0600), file("d/b", 0644)}, W::kOwner,
       [=] { return rename("d/a", "d/b"); }, 0,
       "d: m c; d/a: gone; d/b: replaced f0600 1000:1000 n1"},
      {"a file into another directory", {dir("d1", 0755), dir("d2", 0755), file("d1/a", 0644)},
       W::kOwner, [=] { return rename("d1/a", "d2/a"); }, 0,
       "d1: m c; d2: m c; d1/a: gone; d2/a: new f0644 1000:1000 n1", {"d2/a"}},
      {"a directory into another directory",
       {dir("d1", 0755), dir("d2", 0755), dir("d1/e", 0755)}, W::kOwner,
       [=] { return rename("d1/e", "d2/e"); }, 0,
       "d1: m c n2; d2: m c n3; d1/e: gone; d2/e: new d0755 1000:1000 n2", {"d2/e"}},
      {"a directory over an empty one", {dir("d", 0755), dir("d/e1", 0700), dir("d/e2", 0755)},
       W::kOwner, [=] { return rename("d/e1", "d/e2"); }, 0,
       "d: m c n3; d/e1: gone; d/e2: replaced d0700 1000:1000 n2"},
      {"a directory over one that is not empty",
       {dir("d", 0755), dir("d/e1", 0755), dir("d/e2", 0755), file("d/e2/f", 0644)}, W::kOwner,
       [=] { return rename("d/e1", "d/e2"); }, ENOTEMPTY, ""},  // ext4's choice; POSIX allows EEXIST
      {"a file over a directory", {dir("d", 0755), file("d/a", 0644), dir("d/e", 0755)},
       W::kOwner, [=] { return rename("d/a", "d/e"); }, EISDIR, ""},
      {"a directory over a file", {dir("d", 0755), dir("d/e", 0755), file("d/a", 0644)},
       W::kOwner, [=] { return rename("d/e", "d/a"); }, ENOTDIR, ""},
      {"a directory into itself", {dir("d", 0755), dir("d/e", 0755)}, W::kOwner,
       [=] { return rename("d", "d/e/d"); }, EINVAL, "", {"d/e/d"}},
      {"a name onto itself", {file("a", 0644)}, W::kOwner, [=] { return rename("a", "a"); }, 0,
       ""},
      {"one link onto another of the same file", {file("a", 0644), hardlink("b", "a")},
       W::kOwner, [=] { return rename("a", "b"); }, 0, ""},
      {"a name that is not there", {dir("d", 0755)}, W::kOwner,
       [=] { return rename("d/a", "d/b"); }, ENOENT, "", {"d/b"}},
      {"out of a directory the caller cannot write",
       {dir("d1", 0555), dir("d2", 0777), file("d1/a", 0644)}, W::kOwner,
       [=] { return rename("d1/a", "d2/a"); }, EACCES, "", {"d2/a"}},
      {"a directory the caller cannot write, to another parent",
       {dir("d1", 0777), dir("d2", 0777), dir("d1/e", 0755)}, W::kOther,
       [=] { return rename("d1/e", "d2/e"); }, EACCES, "", {"d2/e"}},
      {"another's file out of a sticky directory",
       {dir("t", 01777), file("t/a", 0666, W::kMember)}, W::kOther,
       [=] { return rename("t/a", "t/b"); }, EPERM, "", {"t/b"}},
      {"over another's file in a sticky directory",
       {dir("t", 01777), file("t/a", 0666, W::kOther), file("t/b", 0666, W::kMember)},
       W::kOther, [=] { return rename("t/a", "t/b"); }, EPERM, ""},
      {"a file over one that has another link",
       {dir("d", 0755), file("d/a", 0600), file("d/b", 0644), hardlink("d/keep", "d/b")},
       W::kOwner, [=] { return rename("d/a", "d/b"); }, 0,
       "d: m c; d/a: gone; d/b: replaced f0600 1000:1000 n1; d/keep: c n1"},
      {"RENAME_NOREPLACE onto an existing name", {file("a", 0644), file("b", 0644)}, W::kOwner,
       [] { return errnoOf(::renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE)); },
       EEXIST, ""},
      {"RENAME_EXCHANGE of a file and a directory",
       {dir("d", 0755), file("d/a", 0644), dir("d/e", 0700)}, W::kOwner,
       [] { return errnoOf(::renameat2(AT_FDCWD, "d/a", AT_FDCWD, "d/e", RENAME_EXCHANGE)); }, 0,
       "d: m c; d/a: replaced d0700 1000:1000 n2; d/e: replaced f0644 1000:1000 n1"},
      {"RENAME_EXCHANGE with a name that is not there", {file("a", 0644)}, W::kOwner,
       [] { return errnoOf(::renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_EXCHANGE)); },
       ENOENT, "", {"b"}},
  });
}

TEST_F(PosixTest, Attributes) {
  auto times = [](const char* path, bool explicit_times, int flags = 0) {
    timespec when[2] = {{1000000000, 0}, {1000000000, 0}};
    return errnoOf(::utimensat(AT_FDCWD, path, explicit_times ? when : nullptr, flags));
  };
  run({
      {"chmod by the owner", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::chmod("f", 0600)); }, 0, "f: c mode0600"},
      {"chmod by another user", {file("f", 0666)}, W::kOther,
       [] { return errnoOf(::chmod("f", 0600)); }, EPERM, ""},
      {"chmod by root", {file("f", 0644)}, W::kRoot, [] { return errnoOf(::chmod("f", 0600)); },
       0, "f: c mode0600"},
      {"chmod to the same mode still changes ctime", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::chmod("f", 0644)); }, 0, "f: c"},
      {"setgid is dropped for an owner outside the file's group",
       {file("f", 0644), group("f", 2000)}, W::kOwner,
       [] { return errnoOf(::chmod("f", 02755)); }, 0, "f: c mode0755"},
      {"the sticky bit on a directory", {dir("d", 0777)}, W::kOwner,
       [] { return errnoOf(::chmod("d", 01777)); }, 0, "d: c mode1777"},
      {"chown to another user by the owner", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::chown("f", 65534, -1)); }, EPERM, ""},
      {"chgrp by the owner to a group of theirs", {file("f", 0644, W::kMember)}, W::kMember,
       [] { return errnoOf(::chown("f", -1, 1000)); }, 0, "f: c own1001:1000"},
      {"chgrp by the owner to a group not theirs", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::chown("f", -1, 2000)); }, EPERM, ""},
      {"chown by another user", {file("f", 0666)}, W::kOther,
       [] { return errnoOf(::chown("f", -1, 65534)); }, EPERM, ""},
      {"chown by root clears setuid and setgid", {file("f", 06755)}, W::kRoot,
       [] { return errnoOf(::chown("f", 65534, -1)); }, 0, "f: c mode0755 own65534:1000"},
      {"chown of a directory by root keeps setgid", {dir("d", 02755)}, W::kRoot,
       [] { return errnoOf(::chown("d", 65534, -1)); }, 0, "d: c own65534:1000"},
      {"chown with nothing to change still changes ctime", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::chown("f", -1, -1)); }, 0, "f: c"},
      {"lchown of a symlink", {file("f", 0644), symlink("s", "f")}, W::kRoot,
       [] { return errnoOf(::lchown("s", 65534, 65534)); }, 0, "s: c own65534:65534"},
      {"truncate shorter", {file("f", 0644, W::kOwner, "abcdef")}, W::kOwner,
       [] { return errnoOf(::truncate("f", 2)); }, 0, "f: m c size2"},
      {"truncate longer", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return errnoOf(::truncate("f", 100000)); }, 0, "f: m c size100000"},
      {"truncate to the same size still changes mtime and ctime",
       {file("f", 0644, W::kOwner, "abc")}, W::kOwner, [] { return errnoOf(::truncate("f", 3)); },
       0, "f: m c"},
      {"truncate by a user who cannot write", {file("f", 0644, W::kOwner, "abc")}, W::kOther,
       [] { return errnoOf(::truncate("f", 0)); }, EACCES, ""},
      {"truncate of a directory", {dir("d", 0777)}, W::kOwner,
       [] { return errnoOf(::truncate("d", 0)); }, EISDIR, ""},
      {"truncate to a negative length", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::truncate("f", -1)); }, EINVAL, ""},
      {"ftruncate clears setuid for a writer not the owner", {file("f", 04777, W::kOwner, "ab")},
       W::kOther,
       [] { return onDescriptor("f", O_WRONLY, [](int fd) { return errnoOf(::ftruncate(fd, 1)); }); },
       0, "f: m c mode0777 size1"},
      {"utimensat now by another user who may write", {file("f", 0666)}, W::kOther,
       [=] { return times("f", false); }, 0, "f: m c"},
      {"utimensat now by another user who may not write", {file("f", 0644)}, W::kOther,
       [=] { return times("f", false); }, EACCES, ""},
      {"explicit times by another user who may write", {file("f", 0666)}, W::kOther,
       [=] { return times("f", true); }, EPERM, ""},
      {"explicit times by the owner", {file("f", 0444)}, W::kOwner,
       [=] { return times("f", true); }, 0, "f: m c"},
      {"UTIME_OMIT for both changes nothing", {file("f", 0644)}, W::kOwner,
       [] {
         timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
         return errnoOf(::utimensat(AT_FDCWD, "f", omit, 0));
       },
       0, ""},
      {"explicit times on a symlink itself", {file("f", 0644), symlink("s", "f")}, W::kOwner,
       [=] { return times("s", true, AT_SYMLINK_NOFOLLOW); }, 0, "s: m c"},
      {"access R_OK by the owner", {file("f", 0400)}, W::kOwner,
       [] { return errnoOf(::access("f", R_OK)); }, 0, ""},
      {"access W_OK by the owner of a 0400 file", {file("f", 0400)}, W::kOwner,
       [] { return errnoOf(::access("f", W_OK)); }, EACCES, ""},
      {"access X_OK by root of a file without any x bit", {file("f", 0644)}, W::kRoot,
       [] { return errnoOf(::access("f", X_OK)); }, EACCES, ""},
      {"access X_OK by root of a file with one x bit", {file("f", 0601)}, W::kRoot,
       [] { return errnoOf(::access("f", X_OK)); }, 0, ""},
      {"access X_OK by root of a 0000 directory", {dir("d", 0000)}, W::kRoot,
       [] { return errnoOf(::access("d", X_OK)); }, 0, ""},
      {"read of a directory", {dir("d", 0755)}, W::kOwner,
       [] {
         return onDescriptor("d", O_RDONLY | O_DIRECTORY, [](int fd) {
           char buffer[16];
           return errnoOf(::read(fd, buffer, sizeof buffer));
         });
       },
       EISDIR, ""},
      {"a write changes mtime and ctime", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return writeErrno("f", "x"); }, 0, "f: m c"},
      {"a read changes neither", {file("f", 0644, W::kOwner, "abc")}, W::kOwner,
       [] { return readErrno("f"); }, 0, ""},
  });
}

TEST_F(PosixTest, ExtendedAttributes) {
  run({
      {"set a user attribute", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", "user.a", "1"); }, 0, "f: c"},
      {"set a user attribute without write permission", {file("f", 0644)}, W::kOther,
       [] { return setUserXattr("f", "user.a", "1"); }, EACCES, ""},
      {"set a user attribute with write permission", {file("f", 0666)}, W::kOther,
       [] { return setUserXattr("f", "user.a", "1"); }, 0, "f: c"},
      {"get one that is not there", {file("f", 0644)}, W::kOwner,
       [] { return hasXattr("f", "user.a"); }, ENODATA, ""},
      {"get one into a buffer too small", {file("f", 0644), xattr("f", "user.a", "12345")},
       W::kOwner,
       [] {
         char value[2];
         return errnoOf(::getxattr("f", "user.a", value, sizeof value));
       },
       ERANGE, ""},
      {"get without read permission", {file("f", 0600), xattr("f", "user.a", "1")}, W::kOther,
       [] { return hasXattr("f", "user.a"); }, EACCES, ""},
      {"XATTR_CREATE of one that is there", {file("f", 0644), xattr("f", "user.a", "1")},
       W::kOwner, [] { return setUserXattr("f", "user.a", "2", XATTR_CREATE); }, EEXIST, ""},
      {"XATTR_REPLACE of one that is not there", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", "user.a", "2", XATTR_REPLACE); }, ENODATA, ""},
      {"XATTR_REPLACE of one that is there", {file("f", 0644), xattr("f", "user.a", "1")},
       W::kOwner, [] { return setUserXattr("f", "user.a", "2", XATTR_REPLACE); }, 0, "f: c"},
      {"remove one", {file("f", 0644), xattr("f", "user.a", "1")}, W::kOwner,
       [] { return errnoOf(::removexattr("f", "user.a")); }, 0, "f: c"},
      {"remove one that is not there", {file("f", 0644)}, W::kOwner,
       [] { return errnoOf(::removexattr("f", "user.a")); }, ENODATA, ""},
      {"user attributes on a symlink", {file("f", 0644), symlink("s", "f")}, W::kOwner,
       [] { return setUserXattr("s", "user.a", "1"); }, EPERM, ""},
      {"user attributes on a FIFO", {fifo("p", 0666)}, W::kOwner,
       [] { return setUserXattr("p", "user.a", "1"); }, EPERM, ""},
      {"user attributes on a directory", {dir("d", 0755)}, W::kOwner,
       [] { return setUserXattr("d", "user.a", "1"); }, 0, "d: c"},
      {"a trusted attribute set by a user", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", "trusted.a", "1"); }, EPERM, ""},
      {"a trusted attribute set by root", {file("f", 0644)}, W::kRoot,
       [] { return setUserXattr("f", "trusted.a", "1"); }, 0, "f: c"},
      {"a trusted attribute is invisible to users", {file("f", 0644), xattr("f", "trusted.a", "1")},
       W::kOwner, [] { return hasXattr("f", "trusted.a"); }, ENODATA, ""},
      {"a listing shows users no trusted names",
       {file("f", 0644), xattr("f", "trusted.a", "1"), xattr("f", "user.b", "2")}, W::kOwner,
       [] {
         char names[256];
         ssize_t bytes = ::listxattr("f", names, sizeof names);
         if (bytes < 0) return errno;
         return std::string(names, bytes) == std::string("user.b\0", 7) ? 0 : EBADMSG;
       },
       0, ""},
      {"a listing into a buffer too small", {file("f", 0644), xattr("f", "user.abc", "1")},
       W::kOwner,
       [] {
         char names[4];
         return errnoOf(::listxattr("f", names, sizeof names));
       },
       ERANGE, ""},
      {"a value over 64 KiB", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", "user.a", std::string(65537, 'v')); }, E2BIG, ""},
      {"a name over 255 bytes", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", ("user." + std::string(251, 'n')).c_str(), "1"); }, ERANGE,
       ""},
      {"a namespace that does not exist", {file("f", 0644)}, W::kOwner,
       [] { return setUserXattr("f", "nonsense.a", "1"); }, EOPNOTSUPP, ""},
      {"an empty value", {file("f", 0644)}, W::kOwner,
       [] {
         if (int error = setUserXattr("f", "user.a", "")) return error;
         return errnoOf(::getxattr("f", "user.a", nullptr, 0));
       },
       0, "f: c"},
  });
}

TEST_F(PosixTest, Acls) {
  auto setAcl = [](const char* path, const char* name, const char* text) {
    std::string value = aclXattrValue(text);
    return errnoOf(::setxattr(path, name, value.data(), value.size(), 0));
  };
  run({
      {"a named user reads", {file("f", 0600), acl("f", "u::rw-,u:1001:r--,g::---,m::r--,o::---")},
       W::kMember, [] { return openErrno("f", O_RDONLY); }, 0, ""},
      {"a named user may only what the entry says",
       {file("f", 0600), acl("f", "u::rw-,u:1001:r--,g::---,m::r--,o::---")}, W::kMember,
       [] { return openErrno("f", O_WRONLY); }, EACCES, ""},
      {"the mask limits a named user",
       {file("f", 0600), acl("f", "u::rw-,u:1001:rw-,g::---,m::r--,o::---")}, W::kMember,
       [] { return openErrno("f", O_WRONLY); }, EACCES, ""},
      {"a named group reads",
       {file("f", 0600), acl("f", "u::rw-,g::---,g:65534:r--,m::r--,o::---")}, W::kOther,
       [] { return openErrno("f", O_RDONLY); }, 0, ""},
      {"a user the ACL does not name",
       {file("f", 0600), acl("f", "u::rw-,u:1001:r--,g::---,m::r--,o::---")}, W::kOther,
       [] { return openErrno("f", O_RDONLY); }, EACCES, ""},
      {"setting an ACL sets the mode's group bits from the mask", {file("f", 0644)}, W::kOwner,
       [=] {
         return setAcl("f", "system.posix_acl_access", "u::rw-,u:1001:rwx,g::r--,m::rwx,o::---");
       },
       0, "f: c mode0670"},
      {"chmod sets the mask", {file("f", 0600), acl("f", "u::rw-,u:1001:rw-,g::---,m::rw-,o::---")},
       W::kRoot,
       [] {
         if (::chmod("f", 0640) != 0) return errno;
         char value[128];
         ssize_t bytes = ::getxattr("f", "system.posix_acl_access", value, sizeof value);
         if (bytes < 0) return errno;
         std::string expected = aclXattrValue("u::rw-,u:1001:rw-,g::---,m::r--,o::---");
         return std::string(value, bytes) == expected ? 0 : EBADMSG;
       },
       0, "f: c mode0640"},
      {"only the owner sets an ACL", {file("f", 0666)}, W::kOther,
       [=] { return setAcl("f", "system.posix_acl_access", "u::rw-,g::r--,o::r--"); }, EPERM,
       ""},
      {"an ACL that is only the mode is none", {file("f", 0644)}, W::kOwner,
       [=] {
         if (int error = setAcl("f", "system.posix_acl_access", "u::rw-,g::---,o::---")) {
           return error;
         }
         return hasXattr("f", "system.posix_acl_access");
       },
       ENODATA, "f: c mode0600"},
      {"a new file takes the directory's default ACL instead of the umask",
       {dir("d", 0755), defaultAcl("d", "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---")}, W::kOwner,
       [] {
         if (int error = openErrno("d/new", O_CREAT | O_WRONLY, 0666)) return error;
         return hasXattr("d/new", "system.posix_acl_access");
       },
       0, "d: m c; d/new: new f0660 1000:1000 n1", {"d/new"}},
      {"a new directory takes the default ACL as its own and passes it on",
       {dir("d", 0755), defaultAcl("d", "u::rwx,u:1001:rwx,g::r-x,m::rwx,o::---")}, W::kOwner,
       [] {
         if (int error = errnoOf(::mkdir("d/e", 0777))) return error;
         return hasXattr("d/e", "system.posix_acl_default");
       },
       0, "d: m c n3; d/e: new d0770 1000:1000 n2", {"d/e"}},
      {"the create mode limits the inherited mask", {dir("d", 0777), defaultAcl("d", "u::rwx,u:1001:rw-,g::r-x,m::rwx,o::---")},
       W::kOwner,
       [] {
         if (int error = openErrno("d/new", O_CREAT | O_WRONLY, 0600)) return error;
         char value[128];
         ssize_t bytes = ::getxattr("d/new", "system.posix_acl_access", value, sizeof value);
         if (bytes < 0) return errno;
         std::string expected = aclXattrValue("u::rw-,u:1001:rw-,g::r-x,m::---,o::---");
         return std::string(value, bytes) == expected ? 0 : EBADMSG;
       },
       0, "d: m c; d/new: new f0600 1000:1000 n1", {"d/new"}},
      {"remove an ACL", {file("f", 0640), acl("f", "u::rw-,u:1001:r--,g::r--,m::r--,o::---")},
       W::kOwner, [] { return errnoOf(::removexattr("f", "system.posix_acl_access")); }, 0,
       "f: c"},
  });
}

TEST_F(PosixTest, SocketsAndFifos) {
  auto connectTo = [](const char* path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) return errno;
    int error = errnoOf(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address));
    ::close(fd);
    return error;
  };
  run({
      {"connect to root's 0600 socket", {socket("s", 0600, W::kRoot)}, W::kOther,
       [=] { return connectTo("s"); }, EACCES, ""},
      {"connect to a socket another user may write (no one listens)",
       {socket("s", 0666, W::kRoot)}, W::kOther, [=] { return connectTo("s"); }, ECONNREFUSED,
       ""},
      {"connect through a directory without search permission",
       {dir("d", 0700, W::kRoot), socket("d/s", 0666, W::kRoot)}, W::kOther,
       [=] { return connectTo("d/s"); }, EACCES, ""},
      {"a FIFO opened for writing without permission", {fifo("p", 0644, W::kRoot)}, W::kOther,
       [] { return openErrno("p", O_WRONLY | O_NONBLOCK); }, EACCES, ""},
      {"a FIFO opened for writing with no reader", {fifo("p", 0666, W::kRoot)}, W::kOther,
       [] { return openErrno("p", O_WRONLY | O_NONBLOCK); }, ENXIO, ""},
      {"chmod of a FIFO", {fifo("p", 0644)}, W::kOwner,
       [] { return errnoOf(::chmod("p", 0600)); }, 0, "p: c mode0600"},
  });
}

}  // namespace
}  // namespace dfs::posix
