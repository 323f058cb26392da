// The promises ordinary programs rely on, kept on real mounts of a real cluster: synchronous
// writes that survive the writer's mount being killed, names that are any bytes, a chunkserver
// of another cluster refused.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
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
  EXPECT_EQ(started.exit_code, 1) << started.output;
  EXPECT_NE(started.output.find("refused this chunkserver"), std::string::npos) << started.output;
  EXPECT_NE(readFile(ours.dir() + "/master.log").find("refused chunkserver"), std::string::npos);
  auto status = sh(Cluster::binary("tools/dfs") + " --master " + ours.masterAddress() + " status");
  EXPECT_NE(status.output.find("chunkservers: 3 up of 3"), std::string::npos) << status.output;
  dropCaches();
  EXPECT_EQ(readFile(mount + "/ours"), data);

  // Its own cluster still takes it back.
  other.startChunkserver(0);
  std::string again = other.mount("again");
  EXPECT_EQ(readFile(again + "/theirs"), std::string(100000, 'T'));
}

}  // namespace
}  // namespace dfs::testing
