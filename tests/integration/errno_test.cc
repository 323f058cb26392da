// Every error the namespace can answer arrives at programs as the errno POSIX names.
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

class ErrnoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = cluster_.mount("m");
    ASSERT_EQ(::mkdir(path("dir").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir(path("dir/sub").c_str(), 0755), 0);
    writeFile(path("file"), "x");
    writeFile(path("dir/sub/inner"), "y");
  }
  std::string path(const std::string& name) { return m_ + "/" + name; }
  // errno of a failed call, 0 when it succeeded.
  static int errnoOf(int rc) { return rc == 0 ? 0 : errno; }
  int renameat2(const std::string& from, const std::string& to, unsigned flags) {
    return errnoOf(static_cast<int>(
        ::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags)));
  }

  Cluster cluster_;
  std::string m_;
};

TEST_F(ErrnoTest, MissingEntriesAreENOENT) {
  struct stat st {};
  EXPECT_EQ(errnoOf(::stat(path("nope").c_str(), &st)), ENOENT);
  EXPECT_EQ(errnoOf(::unlink(path("nope").c_str())), ENOENT);
  EXPECT_EQ(errnoOf(::rename(path("nope").c_str(), path("x").c_str())), ENOENT);
  EXPECT_EQ(errnoOf(::mkdir(path("nope/x").c_str(), 0755)), ENOENT);
}

TEST_F(ErrnoTest, ExistingNamesAreEEXIST) {
  EXPECT_EQ(errnoOf(::mkdir(path("dir").c_str(), 0755)), EEXIST);
  EXPECT_EQ(errnoOf(::link(path("file").c_str(), path("dir/sub/inner").c_str())), EEXIST);
  EXPECT_EQ(errnoOf(::symlink("t", path("file").c_str())), EEXIST);
  int fd = ::open(path("file").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EEXIST);
}

TEST_F(ErrnoTest, TypeMismatches) {
  EXPECT_EQ(errnoOf(::mkdir(path("file/x").c_str(), 0755)), ENOTDIR);
  EXPECT_EQ(errnoOf(::rmdir(path("file").c_str())), ENOTDIR);
  EXPECT_EQ(errnoOf(::unlink(path("dir").c_str())), EISDIR);
  EXPECT_EQ(errnoOf(::rename(path("file").c_str(), path("dir").c_str())), EISDIR);
  EXPECT_EQ(errnoOf(::rename(path("dir").c_str(), path("file").c_str())), ENOTDIR);
  EXPECT_EQ(errnoOf(::link(path("dir").c_str(), path("dirlink").c_str())), EPERM);
}

TEST_F(ErrnoTest, NonEmptyDirectories) {
  EXPECT_EQ(errnoOf(::rmdir(path("dir").c_str())), ENOTEMPTY);
  ASSERT_EQ(::mkdir(path("empty").c_str(), 0755), 0);
  EXPECT_EQ(errnoOf(::rename(path("empty").c_str(), path("dir").c_str())), ENOTEMPTY);
}

TEST_F(ErrnoTest, NamesOver255BytesAreENAMETOOLONG) {
  std::string long_name(256, 'n');
  int fd = ::open(path(long_name).c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  EXPECT_EQ(errnoOf(::mkdir(path(long_name).c_str(), 0755)), ENAMETOOLONG);
  writeFile(path(std::string(255, 'n')), "fits");
  EXPECT_EQ(readFile(path(std::string(255, 'n'))), "fits");
}

TEST_F(ErrnoTest, DirectoryMovedIntoItselfIsEINVAL) {
  EXPECT_EQ(errnoOf(::rename(path("dir").c_str(), path("dir/sub/moved").c_str())), EINVAL);
}

TEST_F(ErrnoTest, RenameAcrossFileSystemsIsEXDEV) {
  std::string outside = cluster_.dir() + "/outside";
  EXPECT_EQ(errnoOf(::rename(path("file").c_str(), outside.c_str())), EXDEV);
}

TEST_F(ErrnoTest, RenameNoReplaceAndExchange) {
  writeFile(path("other"), "z");
  EXPECT_EQ(renameat2(path("file"), path("other"), RENAME_NOREPLACE), EEXIST);
  EXPECT_EQ(renameat2(path("file"), path("fresh"), RENAME_NOREPLACE), 0);
  EXPECT_EQ(renameat2(path("fresh"), path("other"), RENAME_EXCHANGE), 0);
  EXPECT_EQ(readFile(path("fresh")), "z");
  EXPECT_EQ(readFile(path("other")), "x");
  EXPECT_EQ(renameat2(path("fresh"), path("absent"), RENAME_EXCHANGE), ENOENT);
  // Exchanging a file with a directory works and keeps both.
  EXPECT_EQ(renameat2(path("other"), path("dir"), RENAME_EXCHANGE), 0);
  EXPECT_TRUE(std::filesystem::is_directory(path("other/sub")));
  EXPECT_EQ(readFile(path("dir")), "x");
}

TEST_F(ErrnoTest, PermissionsAreEnforcedForOtherUsers) {
  ASSERT_EQ(::chmod(path("file").c_str(), 0600), 0);
  auto denied = sh("setpriv --reuid=65534 --regid=65534 --clear-groups cat " + path("file"));
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.output.find("Permission denied"), std::string::npos) << denied.output;
  ASSERT_EQ(::chmod(path("file").c_str(), 0644), 0);
  auto allowed = sh("setpriv --reuid=65534 --regid=65534 --clear-groups cat " + path("file"));
  EXPECT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_EQ(allowed.output, "x");
}

}  // namespace
}  // namespace dfs::testing
