// The promises ordinary programs rely on, kept on real mounts of a real cluster: synchronous
// writes that survive the writer's mount being killed, names that are any bytes, a chunkserver
// of another cluster refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string pattern(size_t bytes, char seed) {
  std::string data(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(seed + i * 7 % 251);
  return data;
}

// Every write on an O_DSYNC or O_SYNC descriptor, and every RWF_DSYNC write, is durable when it
// returns: a kill -9 of the writer's mount right after loses none of them. Write-only opens go
// around the page cache, where the kernel sends the mount no fsync of its own.
TEST(RealProgramsTest, SynchronousWritesSurviveAKilledMount) {
  ClusterOptions options;
  options.master_flags = {"--session-lease-ms", "3000"};
  Cluster cluster(options);
  std::string reader = cluster.mount("reader");
  struct Case {
    const char* name;
    int flags;
    bool rwf_dsync;
  };
  const Case cases[] = {{"wronly_dsync", O_WRONLY | O_DSYNC, false},
                        {"wronly_sync", O_WRONLY | O_SYNC, false},
                        {"rdwr_dsync", O_RDWR | O_DSYNC, false},
                        {"wronly_rwf_dsync", O_WRONLY, true}};
  const std::string data = pattern(32768, 'a');
  for (const Case& c : cases) {
    std::string writer = cluster.mount(std::string("w_") + c.name);
    std::string path = writer + "/" + c.name;
    int fd = ::open(path.c_str(), c.flags | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << c.name;
    for (size_t at = 0; at < data.size(); at += 4096) {
      iovec piece{const_cast<char*>(data.data() + at), 4096};
      ssize_t written = c.rwf_dsync ? ::pwritev2(fd, &piece, 1, static_cast<off_t>(at), RWF_DSYNC)
                                    : ::pwrite(fd, data.data() + at, 4096, static_cast<off_t>(at));
      ASSERT_EQ(written, 4096) << c.name << " at " << at;
    }
    cluster.killMount(writer);  // the descriptor is still open: nothing was closed or synced
    ::close(fd);
    std::string seen;
    // The dead mount's session (3 s lease) held the file; once it is gone the file is as the
    // acknowledged writes left it.
    EXPECT_TRUE(waitFor(
        [&] {
          seen = readFile(reader + "/" + c.name);
          return seen == data;
        },
        20s))
        << c.name << ": " << seen.size() << " of " << data.size() << " bytes survived";
  }
  // dd's synchronous output, as the issue saw it lost.
  std::string source = cluster.dir() + "/source";
  writeFile(source, data);
  std::string writer = cluster.mount("w_dd");
  auto dd = sh("dd if=" + source + " of=" + writer + "/dd bs=4k oflag=dsync status=none");
  ASSERT_EQ(dd.exit_code, 0) << dd.output;
  cluster.killMount(writer);
  EXPECT_TRUE(waitFor([&] { return readFile(reader + "/dd") == data; }, 20s));
}

// Linux names are bytes: any but '/' and NUL, up to 255 of them; symlink targets too.
TEST(RealProgramsTest, NamesThatAreNotUtf8WorkOnEveryMount) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  const std::string latin1 = "caf\xe9";
  const std::string dir = "d\xff";
  writeFile(a + "/" + latin1, "bytes\n");
  ASSERT_EQ(::mkdir((a + "/" + dir).c_str(), 0755), 0) << ::strerror(errno);
  ASSERT_EQ(::symlink(("../" + latin1 + "\x80").c_str(), (a + "/" + dir + "/link\xfe").c_str()), 0)
      << ::strerror(errno);
  ASSERT_EQ(::rename((a + "/" + latin1).c_str(), (a + "/" + dir + "/" + latin1).c_str()), 0)
      << ::strerror(errno);

  EXPECT_EQ(readFile(b + "/" + dir + "/" + latin1), "bytes\n");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(b + "/" + dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{latin1, "link\xfe"}));
  char target[256] = {};
  ASSERT_GT(::readlink((b + "/" + dir + "/link\xfe").c_str(), target, sizeof target - 1), 0);
  EXPECT_EQ(std::string(target), "../" + latin1 + "\x80");

  std::string longest(255, '\xe9');
  writeFile(a + "/" + longest, "x");
  EXPECT_EQ(readFile(b + "/" + longest), "x");
  int fd = ::open((a + "/" + longest + "\xe9").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  auto removed = sh("rm -r '" + a + "/" + dir + "' && ls -A '" + b + "/' | wc -l");
  EXPECT_EQ(removed.output, "1\n") << removed.output;
}

// A chunkserver whose data dir belongs to another cluster is refused at registration, says so
// and stops; the cluster counts and serves none of its replicas (whose chunk ids are ours too).
TEST(RealProgramsTest, AChunkserverOfAnotherClusterIsRefused) {
  ClusterOptions one_replica;
  one_replica.chunkservers = 1;
  one_replica.goal = 1;
  Cluster other(one_replica);
  std::string other_mount = other.mount("m");
  writeFile(other_mount + "/theirs", std::string(100000, 'T'));
  other.unmount(other_mount);
  other.killChunkserver(0);

  Cluster ours;
  std::string mount = ours.mount("m");
  const std::string data = pattern(100000, 'o');
  writeFile(mount + "/ours", data);
  auto started = sh("timeout 30 " + Cluster::binary("server/chunkserver/dfs-chunkserver") +
                    " --listen 127.0.0.1:0 --spare-files 0 --data-dir " + other.chunkserverDir(0) +
                    " --master " + ours.masterAddress());
  EXPECT_NE(started.exit_code, 0) << started.output;
  EXPECT_NE(started.exit_code, 124) << "it went on serving: " << started.output;
  EXPECT_NE(started.output.find("refused this chunkserver"), std::string::npos) << started.output;
  EXPECT_NE(ours.log("master").find("refused chunkserver"), std::string::npos);
  auto status = sh(Cluster::binary("tools/dfs") + " --master " + ours.masterAddress() + " status");
  EXPECT_NE(status.output.find("chunkservers: 3 up of 3"), std::string::npos) << status.output;
  dropCaches();
  EXPECT_EQ(readFile(mount + "/ours"), data);

  // Its own cluster still takes it back.
  other.startChunkserver(0);
  std::string again = other.mount("again");
  EXPECT_EQ(readFile(again + "/theirs"), std::string(100000, 'T'));
}

// A master of another cluster where the mount's master was (a reinstalled machine, a moved
// address): the mount asks it nothing, and what it would have asked fails instead of acting on
// the other cluster's inodes of the same numbers.
TEST(RealProgramsTest, AMountAsksAMasterOfAnotherClusterNothing) {
  ClusterOptions options;
  options.master_flags = {"--session-lease-ms", "3000"};
  Cluster ours(options);
  std::string m = ours.mount("m");
  writeFile(m + "/f", "ours");
  std::string address = ours.masterAddress();
  ours.killMaster();
  std::string other_dir = ours.dir() + "/other-master";
  auto other = std::async(std::launch::async, [&] {
    return sh("timeout 60 " + Cluster::binary("server/master/dfs-master") + " --listen " + address +
              " --data-dir " + other_dir);
  });
  ASSERT_TRUE(waitFor([&] { return fs::exists(other_dir + "/master.addr"); }, 10s));
  EXPECT_TRUE(waitFor(
      [&] {
        std::string log = ours.log("mount-m");
        return log.find("asks it nothing more") != std::string::npos ||
               log.find("refused") != std::string::npos;
      },
      20s))
      << ours.log("mount-m");
  int fd = ::open((m + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(errno, EIO);
  sh("pkill -f 'dfs-master --listen " + address + " --data-dir " + other_dir + "'");
  other.wait();
}

// Extended attributes as ext4 has them: the namespaces, the errors, the limits; kept by the
// master (journal and checkpoint) and seen from every mount.
TEST(RealProgramsTest, ExtendedAttributesBehaveAsOnExt4) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  std::string f = a + "/f";
  writeFile(f, "data");
  ASSERT_EQ(::setxattr(f.c_str(), "user.color", "blue", 4, 0), 0) << ::strerror(errno);
  char value[16] = {};
  EXPECT_EQ(::getxattr((b + "/f").c_str(), "user.color", value, sizeof value), 4);
  EXPECT_EQ(std::string(value, 4), "blue");
  EXPECT_EQ(::getxattr(f.c_str(), "user.color", nullptr, 0), 4);  // the size only
  EXPECT_EQ(::getxattr(f.c_str(), "user.color", value, 2), -1);
  EXPECT_EQ(errno, ERANGE);
  EXPECT_EQ(::getxattr(f.c_str(), "user.none", value, sizeof value), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(::setxattr(f.c_str(), "user.color", "red", 3, XATTR_CREATE), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(::setxattr(f.c_str(), "user.size", "red", 3, XATTR_REPLACE), -1);
  EXPECT_EQ(errno, ENODATA);
  EXPECT_EQ(::setxattr(f.c_str(), "nonsense.name", "x", 1, 0), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  EXPECT_EQ(::setxattr(f.c_str(), "user.", "x", 1, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  // Removing an ACL a file does not have: nothing to do, as on ext4.
  EXPECT_EQ(::removexattr(f.c_str(), "system.posix_acl_access"), 0) << ::strerror(errno);
  std::string big(65537, 'v');
  EXPECT_EQ(::setxattr(f.c_str(), "user.big", big.data(), big.size(), 0), -1);
  EXPECT_EQ(errno, E2BIG);
  // ext4 keeps an inode's attributes in one block (ENOSPC past it); DFS allows 64 KiB in all.
  std::string half(40000, 'h');
  ASSERT_EQ(::setxattr(f.c_str(), "user.half1", half.data(), half.size(), 0), 0);
  EXPECT_EQ(::setxattr(f.c_str(), "user.half2", half.data(), half.size(), 0), -1);
  EXPECT_EQ(errno, ENOSPC);
  ASSERT_EQ(::setxattr(f.c_str(), "trusted.t", "1", 1, 0), 0);
  ASSERT_EQ(::setxattr(f.c_str(), "security.s", "2", 1, 0), 0);
  ASSERT_EQ(::setxattr(f.c_str(), "user.\xff\xfe", "\0\xff", 2, 0), 0);  // bytes, not text
  char list[256] = {};
  ssize_t listed = ::listxattr((b + "/f").c_str(), list, sizeof list);
  ASSERT_GT(listed, 0);
  std::vector<std::string> names;
  for (ssize_t at = 0; at < listed; at += static_cast<ssize_t>(std::strlen(list + at)) + 1) {
    names.emplace_back(list + at);
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"security.s", "trusted.t", "user.color", "user.half1",
                                             "user.\xff\xfe"}));
  // Another user may not write a root-owned 0644 file's user attributes, nor see trusted ones.
  auto other = sh("su -s /bin/sh nobody -c 'setfattr -n user.x -v 1 " + f + "'");
  EXPECT_NE(other.exit_code, 0) << other.output;
  EXPECT_EQ(sh("su -s /bin/sh nobody -c 'getfattr --absolute-names -d -m - " + f + "' | grep -c trusted").output,
            "0\n");
  ASSERT_EQ(::removexattr(f.c_str(), "user.half1"), 0);
  EXPECT_EQ(::removexattr(f.c_str(), "user.half1"), -1);
  EXPECT_EQ(errno, ENODATA);

  // Journaled, then in a checkpoint: both restarts bring them back.
  cluster.restartMaster();
  EXPECT_TRUE(waitFor([&] { return sh("getfattr --absolute-names --only-values -n user.color " + f).output == "blue"; },
                      20s));
  ASSERT_TRUE(cluster.terminateMaster());  // writes a checkpoint
  cluster.restartMaster();
  EXPECT_TRUE(waitFor(
      [&] {
        char bytes[4] = {};
        return ::getxattr((b + "/f").c_str(), "user.\xff\xfe", bytes, sizeof bytes) == 2 &&
               std::string(bytes, 2) == std::string("\0\xff", 2);
      },
      20s));
}

// POSIX ACLs, enforced by the kernel from the system.posix_acl_* attributes the master keeps:
// access ACLs grant and take away, default ACLs are inherited, the mode and the ACL are one, and
// rsync -aHAX and cp -a carry them (a second rsync finds nothing to do).
TEST(RealProgramsTest, AclsAreEnforcedInheritedAndCopied) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  auto run = [](const std::string& command) {
    auto result = sh(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output;
    return result.output;
  };
  auto as_nobody = [](const std::string& command) {
    return sh("su -s /bin/sh nobody -c '" + command + "'").exit_code;
  };
  run("mkdir " + a + "/private && echo secret > " + a + "/private/s && chmod 700 " + a +
      "/private");
  EXPECT_NE(as_nobody("cat " + b + "/private/s"), 0);
  run("setfacl -m u:nobody:rx " + a + "/private");
  EXPECT_EQ(as_nobody("cat " + a + "/private/s"), 0);
  EXPECT_TRUE(waitFor([&] { return as_nobody("cat " + b + "/private/s") == 0; }, 3s));
  run("setfacl -x u:nobody " + a + "/private");
  EXPECT_NE(as_nobody("cat " + a + "/private/s"), 0);  // at once on the mount that changed it
  EXPECT_TRUE(waitFor([&] { return as_nobody("cat " + b + "/private/s") != 0; }, 3s));
  EXPECT_EQ(run("stat -c %A " + a + "/private"), "drwx------\n");
  run("chmod 750 " + a + "/private");
  EXPECT_EQ(run("getfacl -cp " + a + "/private | grep -E '^(mask|group)'"), "group::---\nmask::r-x\n");

  run("mkdir " + a + "/shared && setfacl -d -m u:nobody:rwx " + a + "/shared");
  run("cd " + a + "/shared && umask 077 && touch f && mkdir d");
  // The default ACL decides, not the umask; directories inherit it as their own default too.
  EXPECT_EQ(run("getfacl -cp " + b + "/shared/f | grep nobody"), "user:nobody:rwx\t#effective:rw-\n");
  EXPECT_EQ(run("getfacl -cpd " + b + "/shared/d | grep -c nobody"), "1\n");
  EXPECT_EQ(as_nobody("echo mine > " + b + "/shared/f"), 0);
  run("cd " + a + " && umask 077 && touch plain");
  EXPECT_EQ(run("stat -c %a " + a + "/plain"), "600\n");

  std::string source = cluster.dir() + "/src";
  run("mkdir -p " + source + "/sub && echo x > " + source + "/sub/x && setfacl -m u:nobody:r " +
      source + "/sub/x && setfattr -n user.tag -v t " + source + "/sub/x && ln " + source +
      "/sub/x " + source + "/hard && ln -s sub/x " + source + "/link");
  run("rsync -aHAX " + source + "/ " + a + "/copy/");
  EXPECT_EQ(run("rsync -aHAXi " + source + "/ " + a + "/copy/"), "");
  EXPECT_EQ(run("getfacl -cp " + b + "/copy/sub/x | grep nobody"), "user:nobody:r--\n");
  EXPECT_EQ(run("getfattr --absolute-names --only-values -n user.tag " + b + "/copy/sub/x"), "t");
  EXPECT_EQ(run("stat -c %h " + b + "/copy/hard"), "2\n");
  run("cp -a " + source + " " + a + "/cpa");
  EXPECT_EQ(run("getfacl -cp " + b + "/cpa/sub/x | grep nobody"), "user:nobody:r--\n");
}

// Every operation is checked on every path: names the kernel keeps, FIFOs and sockets too.
TEST(RealProgramsTest, PermissionsHaveNoWindowAndCoverFifosAndSockets) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  auto as_nobody = [](const std::string& command) {
    return sh("su -s /bin/sh nobody -c '" + command + "'");
  };
  ASSERT_EQ(sh("mkdir " + a + "/d && echo x > " + a + "/d/f && chmod 666 " + a + "/d/f").exit_code,
            0);
  ASSERT_EQ(as_nobody("cat " + a + "/d/f").exit_code, 0);  // the kernel keeps the names now
  ASSERT_EQ(::chmod((a + "/d").c_str(), 0700), 0);
  EXPECT_NE(as_nobody("cat " + a + "/d/f").exit_code, 0);
  EXPECT_NE(as_nobody(": > " + a + "/d/f").exit_code, 0);
  EXPECT_NE(as_nobody("ln " + a + "/d/f " + a + "/d/g").exit_code, 0);

  ASSERT_EQ(::mkfifo((a + "/fifo").c_str(), 0600), 0);
  auto fifo = as_nobody("exec 3<>" + a + "/fifo");
  EXPECT_NE(fifo.exit_code, 0);
  EXPECT_NE(fifo.output.find("Permission denied"), std::string::npos) << fifo.output;
  // A 0600 socket of root's: another user's connect is refused.
  std::string socket_path = a + "/sock";
  std::string serve = cluster.dir() + "/serve.py", connect_to = cluster.dir() + "/connect.py";
  writeFile(serve,
            "import os, socket, sys\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "s.bind(sys.argv[1])\n"
            "os.chmod(sys.argv[1], 0o600)\n"
            "s.listen(1)\n"
            "s.settimeout(4)\n"
            "try:\n"
            "    s.accept()\n"
            "except socket.timeout:\n"
            "    pass\n");
  writeFile(connect_to, "import socket, sys\nsocket.socket(socket.AF_UNIX).connect(sys.argv[1])\n");
  auto server =
      std::async(std::launch::async, [&] { return sh("python3 " + serve + " " + socket_path); });
  ASSERT_TRUE(waitFor([&] { return sh("stat -c %a " + socket_path).output == "600\n"; }, 5s));
  auto connect = as_nobody("python3 " + connect_to + " " + socket_path);
  EXPECT_NE(connect.exit_code, 0);
  EXPECT_NE(connect.output.find("PermissionError"), std::string::npos) << connect.output;
  server.wait();
}

// Space as programs see it: fallocate grows a file (or only checks the space, KEEP_SIZE),
// st_blocks counts what is stored (a hole counts nothing), SEEK_DATA and SEEK_HOLE find holes.
TEST(RealProgramsTest, SpaceAsProgramsSeeIt) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  ASSERT_EQ(sh("fallocate -l 100M " + a + "/reserved").exit_code, 0);
  EXPECT_EQ(sh("stat -c %s " + b + "/reserved").output, "104857600\n");
  ASSERT_EQ(sh("touch " + a + "/kept && fallocate -n -l 200M " + a + "/kept").exit_code, 0);
  EXPECT_EQ(sh("stat -c %s " + a + "/kept").output, "0\n");
  EXPECT_NE(sh("fallocate -p -o 0 -l 4096 " + a + "/reserved").exit_code, 0);  // no punching

  ASSERT_EQ(sh("truncate -s 1G " + a + "/hole").exit_code, 0);
  EXPECT_EQ(sh("stat -c %b " + b + "/hole").output, "0\n");
  EXPECT_EQ(sh("du -k " + b + "/hole | cut -f1").output, "0\n");

  // Data in chunks 0 and 2, a hole of one chunk (64 MiB) between them.
  int fd = ::open((a + "/sparse").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  constexpr off_t kChunk = 64 << 20;
  ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
  ASSERT_EQ(::pwrite(fd, "tail", 4, 2 * kChunk), 4);
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), kChunk);
  EXPECT_EQ(::lseek(fd, kChunk + 5, SEEK_DATA), 2 * kChunk);
  EXPECT_EQ(::lseek(fd, 2 * kChunk, SEEK_HOLE), 2 * kChunk + 4);  // the end
  EXPECT_EQ(::lseek(fd, 2 * kChunk + 4, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  ::close(fd);
  struct stat st {};
  ASSERT_EQ(::stat((b + "/sparse").c_str(), &st), 0);
  EXPECT_LT(st.st_blocks * 512, 2 * kChunk);  // less than the file's size: the hole is not counted
  EXPECT_GT(st.st_blocks, 0);
}

// tar c right after tar x: every inode's times are one value whoever answers (the mount that made
// it, or the master), so tar sees nothing "changed as we read it"; the trees match.
TEST(RealProgramsTest, TarCreateRightAfterExtractExitsZero) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string source = cluster.dir() + "/src.tar";
  ASSERT_EQ(sh("tar -C /usr/include -cf " + source + " linux asm-generic").exit_code, 0);
  for (int round = 0; round < 2; ++round) {
    std::string into = a + "/x" + std::to_string(round);
    auto extracted = sh("mkdir " + into + " && tar -C " + into + " -xf " + source + " && tar -C " +
                        into + " -cf " + cluster.dir() + "/again.tar .");
    EXPECT_EQ(extracted.exit_code, 0) << extracted.output.substr(0, 2000);
    auto compared = sh("diff -r /usr/include/linux " + into + "/linux && diff -r " +
                       "/usr/include/asm-generic " + into + "/asm-generic");
    EXPECT_EQ(compared.exit_code, 0) << compared.output.substr(0, 2000);
  }
}

// A renamed directory's ctime moves (as ext4's), on the mount that renamed it and on others.
TEST(RealProgramsTest, RenamingADirectoryMovesItsCtime) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  ASSERT_EQ(::mkdir((a + "/d").c_str(), 0755), 0);
  struct stat before {};
  ASSERT_EQ(::stat((a + "/d").c_str(), &before), 0);
  std::this_thread::sleep_for(20ms);  // a clock tick apart
  ASSERT_EQ(::rename((a + "/d").c_str(), (a + "/e").c_str()), 0);
  struct stat after {};
  ASSERT_EQ(::stat((a + "/e").c_str(), &after), 0);
  auto ns = [](const struct stat& st) { return st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec; };
  EXPECT_GT(ns(after), ns(before));
  struct stat elsewhere {};
  ASSERT_EQ(::stat((b + "/e").c_str(), &elsewhere), 0);
  EXPECT_EQ(ns(elsewhere), ns(after));
}

// git and SQLite on two mounts: a repository made on one is checked, cloned and committed to on
// the other; a database written on one is read whole on the other.
TEST(RealProgramsTest, GitAndSqliteAcrossTwoMounts) {
  Cluster cluster;
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  auto run = [](const std::string& command) {
    auto result = sh(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << result.output.substr(0, 2000);
    return result.output;
  };
  std::string git = "git -c user.name=t -c user.email=t@t -c init.defaultBranch=main "
                    "-c safe.directory='*' ";
  run(git + "init -q " + a + "/repo && cp -r /usr/include/linux " + a + "/repo/src && cd " + a +
      "/repo && " + git + "add -A && " + git + "commit -qm first");
  run("cd " + b + "/repo && " + git + "fsck --strict && " + git + "status --porcelain | wc -l");
  run(git + "clone -q " + b + "/repo " + b + "/clone && cd " + b + "/clone && echo change >> " +
      "src/types.h && " + git + "commit -qam second && " + git + "gc -q");
  EXPECT_EQ(run("cd " + a + "/clone && " + git + "log --oneline | wc -l"), "2\n");
  EXPECT_EQ(run("diff -r /usr/include/linux " + a + "/repo/src && echo same"), "same\n");

  run("sqlite3 " + a + "/db 'CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT); "
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
      "INSERT INTO t SELECT i, hex(randomblob(20)) FROM n;'");
  EXPECT_EQ(run("sqlite3 " + b + "/db 'PRAGMA integrity_check; SELECT count(*) FROM t;'"),
            "ok\n20000\n");
  run("sqlite3 " + b + "/db 'DELETE FROM t WHERE k % 2 = 0; VACUUM;'");
  EXPECT_EQ(run("sqlite3 " + a + "/db 'PRAGMA integrity_check; SELECT count(*) FROM t;'"),
            "ok\n10000\n");
}

}  // namespace
}  // namespace dfs::testing
