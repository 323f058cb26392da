// Ordinary programs and syscalls on real mount.dfs mounts of a real cluster.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <vector>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override { a_ = cluster_.mount("a"); }
  ShellResult run(const std::string& command) {
    auto result = sh(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
    return result;
  }
  std::string sha256(const std::string& path) {
    return run("sha256sum < '" + path + "' | cut -d' ' -f1").output;
  }

  Cluster cluster_;
  std::string a_;
};

TEST_F(MountTest, LargeFileCopiedInReadsBackIdenticallyOnBothMounts) {
  std::string source = cluster_.dir() + "/random.bin";
  run("head -c 209715200 /dev/urandom > " + source);  // 200 MiB: four chunks
  run("cp " + source + " " + a_ + "/big");
  EXPECT_EQ(fs::file_size(a_ + "/big"), 209715200u);
  dropCaches();
  std::string expected = sha256(source);
  EXPECT_EQ(sha256(a_ + "/big"), expected);
  std::string b = cluster_.mount("b");
  EXPECT_EQ(sha256(b + "/big"), expected);
}

// The kernel reads ahead as far as the mount offers (1 MiB), not its 128 KiB default.
TEST_F(MountTest, TheKernelReadsAheadAsFarAsTheMountOffers) {
  struct stat st {};
  ASSERT_EQ(::stat(a_.c_str(), &st), 0);
  std::string setting = "/sys/class/bdi/" + std::to_string(major(st.st_dev)) + ":" +
                        std::to_string(minor(st.st_dev)) + "/read_ahead_kb";
  EXPECT_EQ(readFile(setting), "1024\n");
}

TEST_F(MountTest, ListingShowsSizesModesOwnersAndTimes) {
  run("printf 'hello' > " + a_ + "/f && chmod 640 " + a_ + "/f && chown 1234:5678 " + a_ + "/f");
  run("touch -d '2001-02-03 04:05:06' " + a_ + "/f");
  auto listing = run("ls -la --time-style=+%Y-%m-%dT%H:%M:%S " + a_ + " | tr -s ' '").output;
  EXPECT_NE(listing.find("-rw-r----- 1 1234 5678 5 2001-02-03T04:05:06 f"), std::string::npos)
      << listing;
  struct stat st {};
  ASSERT_EQ(::stat((a_ + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  run("mkdir " + a_ + "/d");
  ASSERT_EQ(::stat((a_ + "/d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_LE(std::abs(st.st_mtime - ::time(nullptr)), 5);
}

TEST_F(MountTest, MkdirParentsMoveAndRemoveTrees) {
  run("mkdir -p " + a_ + "/a/b/c && echo one > " + a_ + "/a/b/c/f && echo two > " + a_ + "/g");
  run("mkdir " + a_ + "/x && mv " + a_ + "/a/b " + a_ + "/x/");
  EXPECT_EQ(readFile(a_ + "/x/b/c/f"), "one\n");
  EXPECT_FALSE(fs::exists(a_ + "/a/b"));
  run("mv " + a_ + "/g " + a_ + "/x/b/c/f");  // over an existing file
  EXPECT_EQ(readFile(a_ + "/x/b/c/f"), "two\n");
  EXPECT_FALSE(fs::exists(a_ + "/g"));
  run("rm -r " + a_ + "/x " + a_ + "/a");
  EXPECT_TRUE(fs::is_empty(a_));
}

TEST_F(MountTest, HardLinksAndSymlinks) {
  run("echo data > " + a_ + "/f && ln " + a_ + "/f " + a_ + "/hard && ln -s f " + a_ + "/sym");
  struct stat st {};
  ASSERT_EQ(::stat((a_ + "/hard").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(fs::read_symlink(a_ + "/sym"), "f");
  EXPECT_EQ(readFile(a_ + "/sym"), "data\n");
  run("echo more >> " + a_ + "/hard");
  EXPECT_EQ(readFile(a_ + "/f"), "data\nmore\n");
  run("rm " + a_ + "/f");
  EXPECT_EQ(readFile(a_ + "/hard"), "data\nmore\n");
  EXPECT_FALSE(fs::exists(a_ + "/sym"));  // dangling now
  EXPECT_TRUE(fs::is_symlink(a_ + "/sym"));
}

TEST_F(MountTest, TruncateHolesAppendAndOverwriteInTheMiddle) {
  std::string f = a_ + "/f";
  run("printf 'abcdefghij' > " + f);
  run("truncate -s 4 " + f);
  EXPECT_EQ(readFile(f), "abcd");
  run("truncate -s 8 " + f);
  EXPECT_EQ(readFile(f), std::string("abcd\0\0\0\0", 8));  // no old bytes come back
  run("printf 'XY' | dd of=" + f + " bs=1 seek=2 conv=notrunc status=none");
  EXPECT_EQ(readFile(f), std::string("abXY\0\0\0\0", 8));
  run("printf 'end' >> " + f);
  EXPECT_EQ(readFile(f), std::string("abXY\0\0\0\0end", 11));

  // A hole spanning a whole chunk and part of the next reads as zeros.
  std::string sparse = a_ + "/sparse";
  run("printf 'tail' | dd of=" + sparse + " bs=1M seek=100 status=none");
  EXPECT_EQ(fs::file_size(sparse), 100u * 1048576 + 4);
  auto zeros = run("cmp -n 104857600 " + sparse + " /dev/zero && echo same").output;
  EXPECT_NE(zeros.find("same"), std::string::npos) << zeros;
  EXPECT_EQ(run("tail -c 4 " + sparse).output, "tail");

  // Truncate down across chunks, then up again: the cut data stays gone.
  run("head -c 150000000 /dev/urandom > " + f + " && truncate -s 70000000 " + f +
      " && truncate -s 140000000 " + f);
  EXPECT_EQ(run("cmp -n 70000000 -i 70000000 " + f + " /dev/zero && echo same").output, "same\n");
}

TEST_F(MountTest, UnlinkedFileStaysReadableWhileOpen) {
  std::string f = a_ + "/f";
  writeFile(f, std::string(3 << 20, 'q'));
  int fd = ::open(f.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(f.c_str()), 0);
  EXPECT_FALSE(fs::exists(f));
  std::string data(3 << 20, '\0');
  EXPECT_EQ(::pread(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  EXPECT_EQ(data, std::string(3 << 20, 'q'));
  ::close(fd);
}

TEST_F(MountTest, CloseToOpenBetweenMounts) {
  std::string b = cluster_.mount("b");
  writeFile(a_ + "/shared", "first version");
  EXPECT_EQ(readFile(b + "/shared"), "first version");
  writeFile(a_ + "/shared", "second, longer version");
  EXPECT_EQ(readFile(b + "/shared"), "second, longer version");
  writeFile(b + "/shared", "short");
  EXPECT_EQ(readFile(a_ + "/shared"), "short");
  run("mkdir " + b + "/dir_from_b");
  EXPECT_TRUE(fs::is_directory(a_ + "/dir_from_b"));
}

TEST_F(MountTest, ReadAheadNeverServesOldData) {
  // A sequential reader gets data read ahead of it; a write through the same descriptor, and
  // a new version written on another mount, must still be what it reads next.
  std::string b = cluster_.mount("b");
  run("head -c 20000000 /dev/urandom > " + a_ + "/big");
  int fd = ::open((b + "/big").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::string piece(1 << 20, '\0');
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(::read(fd, piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
  }
  std::string mark(4096, 'M');
  ASSERT_EQ(::pwrite(fd, mark.data(), mark.size(), 9 << 20), 4096);
  dropCaches();  // the next read reaches the client, not the kernel's page cache
  ASSERT_EQ(::pread(fd, piece.data(), 4096, 9 << 20), 4096);
  EXPECT_EQ(piece.substr(0, 4096), mark);
  ASSERT_EQ(::close(fd), 0);
  run("dd if=/dev/zero of=" + a_ + "/big bs=1M count=20 conv=notrunc status=none");
  dropCaches();
  EXPECT_EQ(readFile(b + "/big"), std::string(20 << 20, '\0'));  // dd made it 20 MiB
}

TEST_F(MountTest, WriteOnlyDescriptorsBypassThePageCacheAndReadersHereSeeTheirBytes) {
  // A write-only descriptor writes around the kernel's page cache (mount option direct_writes,
  // on by default): its bytes are not left cached, and the pages a reader of this mount has
  // cached are dropped where they were replaced.
  std::string path = a_ + "/f";
  writeFile(path, std::string(1 << 20, 'a'));
  int reader = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  std::string got(1 << 20, '\0');
  ASSERT_EQ(::pread(reader, got.data(), got.size(), 0), static_cast<ssize_t>(got.size()));
  constexpr size_t kMapped = 4 << 20;
  void* mapped = ::mmap(nullptr, kMapped, PROT_READ, MAP_SHARED, reader, 0);
  ASSERT_NE(mapped, MAP_FAILED);

  int writer = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(writer, 0);
  std::string middle(64 << 10, 'b');
  std::string tail(2 << 20, 'c');
  ASSERT_EQ(::pwrite(writer, middle.data(), middle.size(), 128 << 10),
            static_cast<ssize_t>(middle.size()));
  ASSERT_EQ(::pwrite(writer, tail.data(), tail.size(), 1 << 20), static_cast<ssize_t>(tail.size()));
  ASSERT_EQ(::close(writer), 0);

  std::vector<unsigned char> resident(kMapped / 4096);
  ASSERT_EQ(::mincore(mapped, kMapped, resident.data()), 0);
  EXPECT_EQ(std::count_if(resident.begin() + 256, resident.begin() + 768,
                          [](unsigned char page) { return page & 1; }),
            0);
  ASSERT_EQ(::pread(reader, got.data(), middle.size(), 128 << 10),
            static_cast<ssize_t>(middle.size()));
  EXPECT_EQ(got.substr(0, middle.size()), middle);
  ::munmap(mapped, kMapped);
  ::close(reader);
  std::string expected(1 << 20, 'a');
  expected.replace(128 << 10, middle.size(), middle);
  EXPECT_EQ(readFile(path), expected + tail);
}

TEST_F(MountTest, RandomReadsNeverServeOldData) {
  // A random 4 KiB read brings the rest of its 64 KiB block into the kernel's page cache.
  // Neither a write on this mount, nor a truncate, nor a new version from another mount may
  // leave old bytes there.
  std::string b = cluster_.mount("b");
  std::string source = cluster_.dir() + "/random.bin";
  run("head -c 8388608 /dev/urandom > " + source + " && cp " + source + " " + a_ + "/f");
  std::string expected = readFile(source);
  dropCaches();
  auto readAt = [](int fd, uint64_t offset, size_t size) {
    std::string data(size, '\0');
    ssize_t got = ::pread(fd, data.data(), size, static_cast<off_t>(offset));
    data.resize(got < 0 ? 0 : static_cast<size_t>(got));
    return data;
  };
  int reader = ::open((a_ + "/f").c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  ASSERT_EQ(::posix_fadvise(reader, 0, 0, POSIX_FADV_RANDOM), 0);
  for (uint64_t block = 0; block < 128; block += 3) {
    uint64_t at = block * 65536 + 8192;
    ASSERT_EQ(readAt(reader, at, 4096), expected.substr(at, 4096)) << at;
  }
  // Block 3 was read at 3*64K+8K: its first page is in the page cache now (or on its way).
  int writer = ::open((a_ + "/f").c_str(), O_WRONLY);
  ASSERT_GE(writer, 0);
  std::string mark(4096, 'M');
  ASSERT_EQ(::pwrite(writer, mark.data(), mark.size(), 3 * 65536), 4096);
  expected.replace(3 * 65536, 4096, mark);
  ASSERT_EQ(::close(writer), 0);
  for (uint64_t block = 0; block < 128; block += 3) {
    uint64_t at = block * 65536;
    ASSERT_EQ(readAt(reader, at, 65536), expected.substr(at, 65536)) << at;
  }
  // A truncate on this mount right after reads whose blocks are still being stored: the file
  // must not grow back, and what remains must be the old bytes.
  for (uint64_t block = 1; block < 128; block += 3) readAt(reader, block * 65536 + 100, 100);
  ASSERT_EQ(::truncate((a_ + "/f").c_str(), 100000), 0);
  for (uint64_t block = 0; block < 2; ++block) readAt(reader, block * 65536 + 100, 100);
  ASSERT_EQ(::close(reader), 0);
  expected.resize(100000);
  EXPECT_EQ(fs::file_size(a_ + "/f"), 100000u);
  EXPECT_EQ(readFile(a_ + "/f"), expected);
  // Another mount rewrites the file; a new open here sees the new bytes (close-to-open).
  std::string other(100000, 'o');
  writeFile(b + "/f", other);
  reader = ::open((a_ + "/f").c_str(), O_RDONLY);
  ASSERT_GE(reader, 0);
  ASSERT_EQ(::posix_fadvise(reader, 0, 0, POSIX_FADV_RANDOM), 0);
  EXPECT_EQ(readAt(reader, 70000, 4096), other.substr(70000, 4096));
  EXPECT_EQ(readAt(reader, 0, 100000), other);
  ASSERT_EQ(::close(reader), 0);
}

TEST_F(MountTest, DirectoryAttributesFollowEveryChange) {
  // After a create or remove the kernel asks for the directory's attributes again; the client
  // answers from what the master returned with the change. They must match what the master
  // says, and changes from another mount must still show within the attribute timeouts.
  std::string b = cluster_.mount("b");
  run("mkdir " + a_ + "/d");
  struct stat before {}, after {};
  ASSERT_EQ(::stat((a_ + "/d").c_str(), &before), 0);
  run("mkdir " + a_ + "/d/sub && touch " + a_ + "/d/file");
  ASSERT_EQ(::stat((a_ + "/d").c_str(), &after), 0);
  EXPECT_EQ(after.st_nlink, before.st_nlink + 1);  // the subdirectory's ".."
  struct stat seen_by_b {};
  ASSERT_EQ(::stat((b + "/d").c_str(), &seen_by_b), 0);
  EXPECT_EQ(seen_by_b.st_nlink, after.st_nlink);
  EXPECT_EQ(seen_by_b.st_mtim.tv_sec, after.st_mtim.tv_sec);
  EXPECT_EQ(seen_by_b.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  run("rmdir " + a_ + "/d/sub && chmod 700 " + a_ + "/d");
  ASSERT_EQ(::stat((a_ + "/d").c_str(), &after), 0);
  EXPECT_EQ(after.st_nlink, before.st_nlink);
  EXPECT_EQ(after.st_mode & 07777, 0700u);
  // A create on b changes d's mtime; a shows it once its cached attributes expire.
  struct timespec old_mtime = after.st_mtim;
  ::usleep(10000);
  run("touch " + b + "/d/from_b");
  EXPECT_TRUE(waitFor([&] {
    struct stat now {};
    return ::stat((a_ + "/d").c_str(), &now) == 0 &&
           (now.st_mtim.tv_sec != old_mtime.tv_sec || now.st_mtim.tv_nsec != old_mtime.tv_nsec);
  }, std::chrono::seconds(5)));
}

TEST_F(MountTest, AttributesSetWhileWritingReachOtherMountsByClose) {
  // tar sets the times, owner and mode of each file it writes before it closes it. Changes that
  // let nobody in earlier (added permissions, the same owner, times) travel with the commit at
  // close; one that takes a permission away reaches the master at once.
  std::string b = cluster_.mount("b");
  auto modeOn = [](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0xffffffffu;
  };
  int fd = ::open((a_ + "/tarred").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  std::string data(5000, 't');
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  struct timespec times[2] = {{0, UTIME_OMIT}, {1700000000, 123}};
  ASSERT_EQ(::futimens(fd, times), 0);
  ASSERT_EQ(::fchown(fd, ::getuid(), ::getgid()), 0);
  ASSERT_EQ(::fchmod(fd, 0644), 0);
  struct stat local {};
  ASSERT_EQ(::fstat(fd, &local), 0);
  EXPECT_EQ(local.st_mode & 07777, 0644u);
  EXPECT_EQ(local.st_size, 5000);
  EXPECT_EQ(local.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(local.st_mtim.tv_nsec, 123);
  ASSERT_EQ(::close(fd), 0);
  struct stat remote {};
  ASSERT_EQ(::stat((b + "/tarred").c_str(), &remote), 0);
  EXPECT_EQ(remote.st_mode & 07777, 0644u);
  EXPECT_EQ(remote.st_size, 5000);
  EXPECT_EQ(remote.st_uid, ::getuid());
  EXPECT_EQ(remote.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(remote.st_mtim.tv_nsec, 123);

  // Taking permissions away is not held back, and it wins over an earlier held-back change.
  fd = ::open((a_ + "/narrowed").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  ASSERT_EQ(::fchmod(fd, 0644), 0);  // held
  ASSERT_EQ(::fchmod(fd, 0640), 0);  // takes "other read" away: straight to the master
  EXPECT_EQ(modeOn(b + "/narrowed"), 0640u);  // b never looked it up: the master's answer
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(modeOn(a_ + "/narrowed"), 0640u);
  EXPECT_TRUE(waitFor([&] { return modeOn(b + "/narrowed") == 0640u; }, 5s));

  // Attributes this mount answers for a file it is writing still follow other mounts' changes.
  fd = ::open((a_ + "/watched").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  ASSERT_EQ(::chmod((b + "/watched").c_str(), 0600), 0);
  EXPECT_TRUE(waitFor([&] {
    struct stat st {};
    return ::fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_size == 5000;
  }, 5s));
  ASSERT_EQ(::close(fd), 0);

  // Links made and removed by this mount show in the attributes it answers for a file it is
  // writing (a same-owner chown makes the kernel ask for them).
  fd = ::open((a_ + "/linked").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  ASSERT_EQ(::link((a_ + "/linked").c_str(), (a_ + "/linked2").c_str()), 0);
  ASSERT_EQ(::fchown(fd, ::getuid(), ::getgid()), 0);
  ASSERT_EQ(::fstat(fd, &local), 0);
  EXPECT_EQ(local.st_nlink, 2u);
  ASSERT_EQ(::unlink((a_ + "/linked").c_str()), 0);
  ASSERT_EQ(::unlink((a_ + "/linked2").c_str()), 0);
  ASSERT_EQ(::fchown(fd, ::getuid(), ::getgid()), 0);
  ASSERT_EQ(::fstat(fd, &local), 0);
  EXPECT_EQ(local.st_nlink, 0u);
  EXPECT_EQ(local.st_size, 5000);
  ASSERT_EQ(::close(fd), 0);

  // A write after the times were set moves mtime on again.
  fd = ::open((a_ + "/touched").c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  ASSERT_EQ(::futimens(fd, times), 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), 5000);
  ASSERT_EQ(::close(fd), 0);
  ASSERT_EQ(::stat((b + "/touched").c_str(), &remote), 0);
  EXPECT_GT(remote.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(remote.st_size, 10000);
}

// A small file's close returns before its data reaches the chunkservers (close-behind); other
// mounts still see all of it from their next open or stat on, and an unmount finishes it.
// A small new file's close stores its data in a chunk the master placed ahead and makes no
// master call; its commit follows behind. Another mount sees the file whole, never before the
// commit has landed.
TEST_F(MountTest, AClosedFileIsSeenWholeElsewhereWhileItsCommitIsStillUnderWay) {
  std::string b = cluster_.mount("b");
  // Made by a, which holds them: creates in them make no master call either.
  run("mkdir " + a_ + "/d " + a_ + "/e");
  ASSERT_TRUE(cluster_.waitForLog("mount-a", "chunks reserved for small files", 20s));
  cluster_.pauseMaster();
  auto written = std::async(std::launch::async, [&] { writeFile(a_ + "/d/f", "closed early"); });
  bool closed = written.wait_for(5s) == std::future_status::ready;
  if (!closed) cluster_.resumeMaster();
  ASSERT_TRUE(closed) << "a small file's close waited for the master";
  written.get();
  auto seen = std::async(std::launch::async, [&] {
    return sh("stat -c %s " + b + "/d/f && cat " + b + "/d/f").output;
  });
  cluster_.resumeMaster();
  ASSERT_EQ(seen.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(seen.get(), "12\nclosed early");
  EXPECT_EQ(readFile(a_ + "/d/f"), "closed early");

  // An unmount right after such a close commits the file before the mount process ends.
  cluster_.pauseMaster();
  written = std::async(std::launch::async, [&] { writeFile(a_ + "/e/g", "unmounted early"); });
  closed = written.wait_for(5s) == std::future_status::ready;
  if (!closed) cluster_.resumeMaster();
  ASSERT_TRUE(closed);
  written.get();
  auto unmounted = std::async(std::launch::async, [&] { cluster_.unmount(a_); });
  bool waited = unmounted.wait_for(300ms) == std::future_status::timeout;
  cluster_.resumeMaster();
  EXPECT_TRUE(waited) << "the mount ended with a commit still to send";
  ASSERT_EQ(unmounted.wait_for(20s), std::future_status::ready);
  unmounted.get();
  EXPECT_EQ(readFile(b + "/e/g"), "unmounted early");
}

// Small new files closed in a stream each store their data at close; their commits go to the
// master together. One written again after its close, before its commit: both parts arrive.
TEST_F(MountTest, SmallFilesClosedInAStreamArriveWhole) {
  std::string b = cluster_.mount("b");
  run("mkdir " + a_ + "/many && ls " + b + "/many");
  auto content = [](int i) { return "file " + std::to_string(i) + std::string(i * 97, 'x'); };
  for (int i = 0; i < 40; ++i) writeFile(a_ + "/many/f" + std::to_string(i), content(i));
  writeFile(a_ + "/many/twice", "one");
  int fd = ::open((a_ + "/many/twice").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::write(fd, "two", 3), 3);
  EXPECT_EQ(::close(fd), 0);
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(readFile(b + "/many/f" + std::to_string(i)), content(i)) << i;
  }
  EXPECT_EQ(readFile(b + "/many/twice"), "onetwo");
  dropCaches();
  EXPECT_EQ(readFile(a_ + "/many/f39"), content(39));
  EXPECT_EQ(run("cat " + a_ + "/many/f* | wc -c").output,
            run("cat " + b + "/many/f* | wc -c").output);
}

// A directory a mount made is held by it (server/master/closes_behind.h): every name in it is
// one the mount added, so it answers "no such file" for any other name itself. Another mount
// that adds a name in any way recalls the hold first, and the name is then seen everywhere.
TEST_F(MountTest, ADirectoryThisMountMadeAnswersAbsentNamesItselfUntilAnotherMountAddsOne) {
  std::string b = cluster_.mount("b");
  const std::vector<std::pair<std::string, std::string>> additions = {
      {"create", "echo from-b > " + b + "/create/name"},
      {"mkdir", "mkdir " + b + "/mkdir/name"},
      {"symlink", "ln -s target " + b + "/symlink/name"},
      {"link", "echo x > " + b + "/linked && ln " + b + "/linked " + b + "/link/name"},
      {"rename", "echo y > " + b + "/moved && mv " + b + "/moved " + b + "/rename/name"},
  };
  for (const auto& [dir, command] : additions) {
    run("mkdir " + a_ + "/" + dir + " && echo mine > " + a_ + "/" + dir + "/own");
  }
  run("mkdir -p " + a_ + "/deep/er/est");

  // Absent names need no master (looked up from open directories: their own names would be
  // looked up again once the kernel's entries time out); present ones do.
  dropCaches();
  int create_dir = ::open((a_ + "/create").c_str(), O_RDONLY | O_DIRECTORY);
  int deep_dir = ::open((a_ + "/deep/er/est").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(create_dir, 0);
  ASSERT_GE(deep_dir, 0);
  cluster_.pauseMaster();
  auto absent = std::async(std::launch::async, [&] {
    struct stat st;
    int first = ::fstatat(create_dir, "name", &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    int second = ::fstatat(deep_dir, "name", &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    return std::make_pair(first, second);
  });
  bool answered = absent.wait_for(5s) == std::future_status::ready;
  cluster_.resumeMaster();
  ASSERT_TRUE(answered) << "a lookup of an absent name waited for the master";
  EXPECT_EQ(absent.get(), std::make_pair(ENOENT, ENOENT));
  ::close(create_dir);
  ::close(deep_dir);
  EXPECT_EQ(readFile(a_ + "/create/own"), "mine\n");

  for (const auto& [dir, command] : additions) {
    run("test ! -e " + a_ + "/" + dir + "/name");
    run(command);
    EXPECT_EQ(
        sh("test -e " + a_ + "/" + dir + "/name || test -L " + a_ + "/" + dir + "/name").exit_code,
        0)
        << dir << ": the mount that made the directory does not see a name another one added";
  }
  EXPECT_EQ(readFile(a_ + "/create/name"), "from-b\n");

  // A restarted master knows of no hold: the mount forgets its holds when it meets it.
  run("mkdir " + a_ + "/after_restart");
  cluster_.restartMaster();
  run("echo z > " + b + "/after_restart/name");
  EXPECT_TRUE(waitFor([&] { return fs::exists(a_ + "/after_restart/name"); }, 20s));
}

// Removals from such a directory are answered by the mount and reach the master behind, before
// anything else the mount asks of it and before another mount looks into the directory.
TEST_F(MountTest, RemovalsFromADirectoryThisMountMadeAreAnsweredByItAndSeenEverywhere) {
  std::string b = cluster_.mount("b");
  run("mkdir " + a_ + "/d && for i in 1 2 3 4 5 6; do echo $i > " + a_ + "/d/f$i; done");
  run("mkdir " + a_ + "/d/sub && echo s > " + a_ + "/d/sub/s");
  int dir = ::open((a_ + "/d").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  cluster_.pauseMaster();
  auto removed = std::async(std::launch::async, [&] {
    return ::unlinkat(dir, "f1", 0) == 0 && ::unlinkat(dir, "f2", 0) == 0;
  });
  bool answered = removed.wait_for(5s) == std::future_status::ready;
  cluster_.resumeMaster();
  ASSERT_TRUE(answered) << "a removal from a held directory waited for the master";
  EXPECT_TRUE(removed.get());
  struct stat st;
  EXPECT_NE(::fstatat(dir, "f1", &st, 0), 0);
  ::close(dir);

  // The same name made again comes after its removal, whatever is still on its way.
  run("rm " + a_ + "/d/f3 && echo again > " + a_ + "/d/f3 && rm -r " + a_ + "/d/sub");
  EXPECT_EQ(readFile(a_ + "/d/f3"), "again\n");
  // Another mount's first look into the directory waits for the removals.
  run("rm " + a_ + "/d/f4");
  EXPECT_EQ(run("ls " + b + "/d | tr '\\n' ' '").output, "f3 f5 f6 ");

  // Removals answered here survive a master restart, and an fsync of the directory makes them
  // durable.
  run("mkdir " + a_ + "/e && touch " + a_ + "/e/x " + a_ + "/e/y " + a_ + "/e/z");
  run("rm " + a_ + "/e/x && python3 -c \"import os; d = os.open('" + a_ +
      "/e', os.O_RDONLY); os.fsync(d)\"");
  run("rm " + a_ + "/e/y");
  cluster_.killMaster();
  cluster_.restartMaster();
  EXPECT_TRUE(waitFor([&] { return sh("ls " + b + "/e").output == "z\n"; }, 20s))
      << sh("ls " + b + "/e").output;
}

// Creates in such a directory are answered by the mount too, with inode numbers the master
// reserved to its session, and reach the master behind: before anything else the mount asks
// about them, before another mount looks into the directory, and across a master restart.
TEST_F(MountTest, CreatesInADirectoryThisMountMadeAreAnsweredByItAndSeenEverywhere) {
  std::string b = cluster_.mount("b");
  run("mkdir " + a_ + "/c " + a_ + "/k " + a_ + "/m");
  int dir = ::open((a_ + "/c").c_str(), O_RDONLY | O_DIRECTORY);
  int kept = ::open((a_ + "/k").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  ASSERT_GE(kept, 0);
  auto createFile = [](int in, const std::string& name, const std::string& content) {
    int fd = ::openat(in, name.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0640);
    if (fd < 0) return false;
    bool written = ::write(fd, content.data(), content.size()) == ssize_t(content.size());
    return ::close(fd) == 0 && written;
  };
  // Creates with the master stopped: the first ones wait for it (they have the mount reserve
  // numbers), then they are answered by the mount.
  bool answered = false;
  int attempts = 0;
  while (!answered && attempts < 10) {
    std::string name = "f";
    name += std::to_string(attempts++);
    cluster_.pauseMaster();
    auto created = std::async(std::launch::async, [&] {
      bool all = createFile(dir, name, name + "\n");
      for (int i = 0; i < 5; ++i) {
        all = createFile(dir, name + "_" + std::to_string(i), std::to_string(i) + "\n") && all;
      }
      // Made, removed and made again: the changes reach the master in order.
      all = ::unlinkat(dir, (name + "_2").c_str(), 0) == 0 && all;
      all = createFile(dir, name + "_2", "again\n") && all;
      // Directories too, and an empty one removed.
      all = ::mkdirat(dir, (name + "_gone").c_str(), 0755) == 0 && all;
      all = createFile(dir, name + "_gone/inner", "x") && all;
      all = ::unlinkat(dir, (name + "_gone/inner").c_str(), 0) == 0 && all;
      all = ::unlinkat(dir, (name + "_gone").c_str(), AT_REMOVEDIR) == 0 && all;
      all = ::mkdirat(dir, (name + "_dir").c_str(), 0750) == 0 && all;
      all = createFile(dir, name + "_dir/inner", "inner\n") && all;
      // And what tar does to each directory last: its owner, mode and times.
      all = ::fchownat(dir, (name + "_dir").c_str(), 1000, 1000, 0) == 0 && all;
      all = ::fchmodat(dir, (name + "_dir").c_str(), 0710, 0) == 0 && all;
      struct timespec times[2] = {{1234567890, 0}, {1234567890, 0}};
      return ::utimensat(dir, (name + "_dir").c_str(), times, 0) == 0 && all;
    });
    answered = created.wait_for(3s) == std::future_status::ready;
    cluster_.resumeMaster();
    EXPECT_TRUE(created.get());
  }
  ASSERT_TRUE(answered) << "creates in a held directory kept waiting for the master";
  std::string last = "f";
  last += std::to_string(attempts - 1);

  // What this mount asks about them next comes after them.
  EXPECT_EQ(run("stat -c '%a %s' " + a_ + "/c/" + last + "_2").output, "640 6\n");
  run("echo r > " + a_ + "/c/r1 && mv " + a_ + "/c/r1 " + a_ + "/c/r2");
  // Another mount's first look waits for them, and sees the same files under the same numbers.
  EXPECT_EQ(sh("ls " + b + "/c | wc -l").output, std::to_string(7 * attempts + 1) + "\n");
  EXPECT_FALSE(fs::exists(b + "/c/" + last + "_gone"));
  EXPECT_EQ(readFile(b + "/c/" + last + "_dir/inner"), "inner\n");
  EXPECT_EQ(run("stat -c '%a %h %u %g %Y' " + a_ + "/c/" + last + "_dir").output,
            "710 2 1000 1000 1234567890\n");
  EXPECT_EQ(run("stat -c '%a %h %u %g %Y' " + b + "/c/" + last + "_dir").output,
            "710 2 1000 1000 1234567890\n");
  EXPECT_EQ(run("stat -c '%h' " + b + "/c").output, std::to_string(attempts + 2) + "\n");
  EXPECT_EQ(run("stat -c '%h' " + a_ + "/c").output, std::to_string(attempts + 2) + "\n");
  EXPECT_EQ(readFile(b + "/c/" + last), last + "\n");
  EXPECT_EQ(readFile(b + "/c/" + last + "_2"), "again\n");
  EXPECT_EQ(readFile(b + "/c/" + last + "_4"), "4\n");
  EXPECT_EQ(readFile(b + "/c/r2"), "r\n");
  EXPECT_FALSE(fs::exists(b + "/c/r1"));
  EXPECT_EQ(run("stat -c '%i %a %U' " + b + "/c/" + last + "_3").output,
            run("stat -c '%i %a %U' " + a_ + "/c/" + last + "_3").output);
  // The mount answers for the attributes of a directory it holds, until another changes them.
  int held = ::open((a_ + "/m").c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(held, 0);
  run("chmod 700 " + b + "/m");
  EXPECT_TRUE(waitFor(
      [&] {
        struct stat st;
        return ::fstat(held, &st) == 0 && (st.st_mode & 07777) == 0700;
      },
      10s));
  ::close(held);

  // Creates still on their way when the master dies are made by the restarted one: the
  // numbers were reserved in its journal.
  cluster_.pauseMaster();
  auto created = std::async(std::launch::async, [&] {
    return createFile(kept, "k1", "one\n") && createFile(kept, "k2", "two\n");
  });
  answered = created.wait_for(5s) == std::future_status::ready;
  cluster_.killMaster();
  cluster_.restartMaster();
  ASSERT_TRUE(answered) << "creates in a held directory waited for the master";
  EXPECT_TRUE(created.get());
  ::close(dir);
  ::close(kept);
  EXPECT_TRUE(waitFor([&] { return sh("ls " + b + "/k | tr '\\n' ' '").output == "k1 k2 "; }, 20s))
      << sh("ls " + b + "/k").output;
  EXPECT_EQ(readFile(b + "/k/k1"), "one\n");
  EXPECT_EQ(readFile(b + "/k/k2"), "two\n");
}

// Releases ride with their files' close-behind commits; the kernel must not hold later ones
// back meanwhile (a background request past max_background waits for earlier ones).
TEST_F(MountTest, TheKernelKeepsManyReleasesInFlight) {
  struct stat st {};
  ASSERT_EQ(::stat(a_.c_str(), &st), 0);
  const std::string connections = "/sys/fs/fuse/connections";
  std::string limit = connections + "/" + std::to_string(st.st_dev) + "/max_background";
  bool mounted_here =
      !fs::exists(limit) && sh("mount -t fusectl fusectl " + connections).exit_code == 0;
  if (!fs::exists(limit)) GTEST_SKIP() << "no fusectl at " << connections;
  EXPECT_EQ(readFile(limit), "256\n");
  if (mounted_here) sh("umount " + connections);
}

TEST_F(MountTest, AFileStillOpenForWritingElsewhereIsSeenWithoutWaitingForItsClose) {
  // Mount a holds the file back (it may close it behind), so b's stats recall it from a; with no
  // close under way a answers at once, and b sees what a committed so far.
  std::string b = cluster_.mount("b");
  int fd = ::open((a_ + "/log").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  ASSERT_EQ(::write(fd, "first\n", 6), 6);
  ASSERT_EQ(::fsync(fd), 0);
  for (int i = 0; i < 3; ++i) {
    auto seen =
        std::async(std::launch::async, [&] { return sh("stat -c %s " + b + "/log").output; });
    // The master gives up on a holder after 5 s; an answered recall comes long before.
    ASSERT_EQ(seen.wait_for(4s), std::future_status::ready)
        << "b waited for a close that never came";
    EXPECT_EQ(seen.get(), "6\n");
    dropCaches();
  }
  ASSERT_EQ(::write(fd, "second\n", 7), 7);
  ASSERT_EQ(::close(std::exchange(closer.fd, -1)), 0);
  EXPECT_EQ(readFile(b + "/log"), "first\nsecond\n");
  EXPECT_EQ(cluster_.log("master").find("did not answer a recall"),
            std::string::npos);
}

TEST_F(MountTest, ConcurrentWritersOfDifferentFiles) {
  run("for i in $(seq 1 8); do (head -c 3000000 /dev/urandom > " + cluster_.dir() +
      "/in$i && cp " + cluster_.dir() + "/in$i " + a_ + "/out$i) & done; wait");
  for (int i = 1; i <= 8; ++i) {
    std::string n = std::to_string(i);
    EXPECT_EQ(run("cmp " + cluster_.dir() + "/in" + n + " " + a_ + "/out" + n).exit_code, 0);
  }
}

TEST_F(MountTest, FsyncAndStatfsWork) {
  run("dd if=/dev/urandom of=" + a_ + "/f bs=1M count=3 conv=fsync status=none");
  auto df = run("df -B1 --output=size,avail " + a_).output;
  EXPECT_NE(df.find("Avail"), std::string::npos);
  EXPECT_EQ(run("sync " + a_ + "/f").exit_code, 0);
}

TEST_F(MountTest, MountHelperDaemonizesAndUnmounts) {
  std::string point = cluster_.dir() + "/helper";
  fs::create_directories(point);
  auto mounted = run(Cluster::binary("fuse/mount.dfs") + " " + cluster_.masterAddress() + " " +
                     point + " -o log_file=" + cluster_.dir() + "/helper.log");
  ASSERT_TRUE(isMounted(point));
  writeFile(point + "/x", "via helper");
  EXPECT_EQ(readFile(a_ + "/x"), "via helper");
  run("fusermount3 -u " + point);
  EXPECT_TRUE(waitFor([&] { return !isMounted(point); }, 5s));
  auto refused = sh(Cluster::binary("fuse/mount.dfs") + " 127.0.0.1:1 " + point);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("cannot reach master"), std::string::npos) << refused.output;
}

// As on NFS, a reader with the file open sees other mounts' closed writes within the attribute
// timeout: tail -f on one mount follows appends made on another.
TEST_F(MountTest, AnOpenReaderSeesAnotherMountsAppendWithinTheAttributeTimeout) {
  std::string b = cluster_.mount("b");
  run("printf 'line 1\\n' > " + a_ + "/log");
  int fd = ::open((b + "/log").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[64];
  ASSERT_EQ(::pread(fd, buf, sizeof buf, 0), 7);
  run("echo 'line 2' >> " + a_ + "/log");  // closed on a: committed
  std::string got;
  EXPECT_TRUE(waitFor(
      [&] {
        struct stat st {};
        ::fstat(fd, &st);  // what tail -f does between reads
        ssize_t n = ::pread(fd, buf, sizeof buf, 7);
        got.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
        return got == "line 2\n";
      },
      3s))
      << "read past the old end gave '" << got << "'";
  ::close(fd);
  // tail -f itself, polling.
  std::string out = cluster_.dir() + "/tail.out";
  auto tail = std::async(std::launch::async, [&] {
    return sh("timeout 60 tail -n +1 -f ---disable-inotify -s 0.2 " + b + "/log > " + out);
  });
  ASSERT_TRUE(waitFor([&] { return readFile(out) == "line 1\nline 2\n"; }, 10s)) << readFile(out);
  run("echo 'line 3' >> " + a_ + "/log");
  EXPECT_TRUE(waitFor([&] { return readFile(out) == "line 1\nline 2\nline 3\n"; }, 10s))
      << readFile(out);
  sh("pkill -f 'tail -n [+]1 -f ---disable-inotify -s 0.2 " + b + "/log'");
  tail.wait();
}

// An append that crosses into a chunk the reader's mount knew as a hole, read by a sequential
// reader whose read-ahead ended at the old end: the new bytes, not zeros.
TEST_F(MountTest, AnOpenSequentialReaderGetsAnotherMountsAppendedBytesNotZeros) {
  std::string b = cluster_.mount("b");
  run("head -c 67108000 /dev/zero | tr '\\0' A > " + a_ + "/big");  // 864 bytes short of chunk 1
  int fd = ::open((b + "/big").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string piece(1 << 20, '\0');
  while (::read(fd, piece.data(), piece.size()) > 0) {
  }
  run("head -c 200000 /dev/zero | tr '\\0' Z >> " + a_ + "/big");
  std::string got(200000, '\0');
  EXPECT_TRUE(waitFor(
      [&] {
        struct stat st {};
        ::fstat(fd, &st);
        return ::pread(fd, got.data(), got.size(), 67108000) == 200000 &&
               got == std::string(200000, 'Z');
      },
      3s));
  ::close(fd);
}

// A truncate on one mount reaches a descriptor open on another within the attribute timeout.
TEST_F(MountTest, AnOpenReaderSeesAnotherMountsTruncateWithinTheAttributeTimeout) {
  std::string b = cluster_.mount("b");
  run("head -c 300000 /dev/urandom > " + a_ + "/t");
  int fd = ::open((b + "/t").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string data(300000, '\0');
  ASSERT_EQ(::pread(fd, data.data(), data.size(), 0), 300000);
  ASSERT_EQ(::truncate((a_ + "/t").c_str(), 1000), 0);
  ssize_t n = -1;
  EXPECT_TRUE(waitFor(
      [&] {
        n = ::pread(fd, data.data(), data.size(), 0);
        return n == 1000;
      },
      5s))  // the attribute timeout is 1 s; the rest is for a slow machine
      << "still read " << n;
  ::close(fd);
}

}  // namespace
}  // namespace dfs::testing
