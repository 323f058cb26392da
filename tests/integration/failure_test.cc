// Losing a chunkserver loses no data: every file reads back whole, and writes go on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

std::string sha256(const std::string& path) {
  return sh("sha256sum < '" + path + "' | cut -d' ' -f1").output;
}

TEST(FailureTest, EveryFileReadsBackAfterAnyOneChunkserverIsKilled) {
  for (int victim = 0; victim < 3; ++victim) {
    Cluster cluster;
    std::string m = cluster.mount("m");
    std::vector<std::string> sources;
    for (int i = 0; i < 4; ++i) {
      std::string source = cluster.dir() + "/src" + std::to_string(i);
      // A multi-chunk file and small ones.
      std::string size = i == 0 ? "140000000" : std::to_string(1000 + i * 100000);
      ASSERT_EQ(sh("head -c " + size + " /dev/urandom > " + source).exit_code, 0);
      ASSERT_EQ(sh("cp " + source + " " + m + "/f" + std::to_string(i)).exit_code, 0);
      sources.push_back(source);
    }
    cluster.killChunkserver(victim);
    dropCaches();
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(sha256(m + "/f" + std::to_string(i)), sha256(sources[i]))
          << "file " << i << " with chunkserver " << victim << " dead";
    }
    // Writes go on before the master has noticed the death: the dead replica is dropped.
    // (A write this size goes through a replica chain, a small one to the replicas side by
    // side: both ways.)
    std::string small = cluster.dir() + "/small";
    ASSERT_EQ(sh("head -c 3000 /dev/urandom > " + small).exit_code, 0);
    ASSERT_EQ(sh("cp " + sources[1] + " " + m + "/during").exit_code, 0);
    ASSERT_EQ(sh("cp " + small + " " + m + "/during_small").exit_code, 0);
    dropCaches();
    EXPECT_EQ(sha256(m + "/during"), sha256(sources[1]));
    EXPECT_EQ(sha256(m + "/during_small"), sha256(small));
  }
}

TEST(FailureTest, RestartedChunkserverServesItsReplicasAgain) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  std::string source = cluster.dir() + "/src";
  ASSERT_EQ(sh("head -c 5000000 /dev/urandom > " + source + " && cp " + source + " " + m + "/f")
                .exit_code, 0);
  cluster.killChunkserver(0);
  cluster.startChunkserver(0);
  // With the other two gone, only the restarted one can serve the file.
  cluster.killChunkserver(1);
  cluster.killChunkserver(2);
  dropCaches();
  EXPECT_TRUE(waitFor([&] { return sha256(m + "/f") == sha256(source); }, 20s));
}

TEST(FailureTest, WriteFailsWithEioWhenTooFewReplicasRemain) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  cluster.killChunkserver(0);
  cluster.killChunkserver(1);
  // Goal 3 needs at least 2 replicas for a write; one is left.
  auto written = sh("dd if=/dev/zero of=" + m + "/f bs=1M count=2 conv=fsync status=none");
  EXPECT_NE(written.exit_code, 0);
  EXPECT_NE(written.output.find("Input/output error"), std::string::npos) << written.output;
}

// A small file's close returns before its write-out (close-behind). When the write-out fails
// after that, the mount logs it, and other mounts are not held up waiting for its commit.
TEST(FailureTest, AMountKilledWithACloseBehindHoldsNoReaderUpForLong) {
  // Mount c closes a small file behind while the chunkservers are stopped, then is killed -9:
  // its close never lands and it answers no recall. Another mount's stat is released when c's
  // session ends, and sees the file as the master has it.
  ClusterOptions options;
  options.master_flags = {"--session-lease-ms", "3000"};
  Cluster cluster(options);
  std::string b = cluster.mount("b");
  std::string c = cluster.mount("c", "commit_linger_ms=60000");  // its commit waits
  int fd = ::open((c + "/f").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "lost", 4), 4);
  EXPECT_EQ(::close(fd), 0);
  cluster.killMount(c);
  auto seen = std::async(std::launch::async, [&] { return sh("stat -c %s " + b + "/f").output; });
  // Released by the end of c's session (3 s lease), before the master's limit (twice the lease);
  // not by b's own call timing out (10 s) and trying again.
  ASSERT_EQ(seen.wait_for(8s), std::future_status::ready) << "a dead holder held b's stat up";
  EXPECT_EQ(seen.get(), "0\n");
}

TEST(FailureTest, ASlowHolderIsWaitedForAsLongAsItsSessionLives) {
  // Mount a closes a file behind and then stops answering (SIGSTOP) with its session alive.
  // Another mount's read must wait for a's close rather than read what the master had before
  // it (the master once gave up after 5 s): close-to-open, and appends under a lock, rely on it.
  Cluster cluster;
  std::string a = cluster.mount("a", "commit_linger_ms=60000");  // its commits wait for a recall
  std::string b = cluster.mount("b");
  writeFile(a + "/f", "old");
  EXPECT_EQ(readFile(b + "/f"), "old");
  writeFile(a + "/f", "new, longer");
  cluster.pauseMount(a);
  auto seen = std::async(std::launch::async, [&] { return readFile(b + "/f"); });
  bool waited = seen.wait_for(8s) == std::future_status::timeout;
  cluster.resumeMount(a);
  if (!waited) {
    ADD_FAILURE() << "b read before a, alive but slow, answered: " << seen.get();
    return;
  }
  ASSERT_EQ(seen.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(seen.get(), "new, longer");
}

TEST(FailureTest, ACloseWhoseDataCannotBeStoredFailsAndPublishesNoSize) {
  Cluster cluster;  // goal 3: a write needs 2 of the 3 replicas
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  ASSERT_EQ(sh("mkdir " + a + "/d && echo first > " + a + "/d/first").exit_code, 0);
  // The chunks the mount reserved ahead were placed on all three.
  ASSERT_TRUE(cluster.waitForLog("mount-a", "chunks reserved for small files", 20s));
  // Kept open, so that no release ends what the close left pending: only its landing does.
  int kept = ::open((a + "/d/f").c_str(), O_RDONLY | O_CREAT, 0644);
  ASSERT_GE(kept, 0);
  cluster.killChunkserver(0);
  cluster.killChunkserver(1);
  // cp checks close, as most programs that write files do: a close whose data could not be
  // stored fails, for a new file and for one another descriptor keeps open.
  auto copied = sh("cp /etc/services " + a + "/d/svc 2>&1");
  EXPECT_NE(copied.exit_code, 0) << copied.output;
  auto rewritten = sh("cp /etc/services " + a + "/d/f 2>&1");
  EXPECT_NE(rewritten.exit_code, 0) << rewritten.output;
  int fd = ::open((a + "/d/small").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "hello\n", 6), 6);
  errno = 0;
  EXPECT_EQ(::close(fd), -1);
  EXPECT_EQ(errno, EIO);
  // No mount shows a size whose bytes were not stored.
  for (const auto& mount : {a, b}) {
    EXPECT_EQ(sh("stat -c %s " + mount + "/d/svc " + mount + "/d/f " + mount + "/d/small").output,
              "0\n0\n0\n")
        << mount;
  }
  EXPECT_EQ(cluster.log("master").find("did not answer a recall"),
            std::string::npos);
  cluster.startChunkserver(0);
  cluster.startChunkserver(1);
  ASSERT_TRUE(waitFor(
      [&] {
        return sh(Cluster::binary("tools/dfs") + " --master " + cluster.masterAddress() + " status")
                   .output.find("chunkservers: 3 up") != std::string::npos;
      },
      20s));
  ASSERT_EQ(sh("echo again >> " + a + "/d/f").exit_code, 0);
  EXPECT_EQ(readFile(b + "/d/f"), "again\n");
  ASSERT_EQ(sh("cp /etc/services " + a + "/d/svc").exit_code, 0);
  EXPECT_EQ(sh("cmp /etc/services " + b + "/d/svc").exit_code, 0);
  EXPECT_EQ(readFile(b + "/d/first"), "first\n");
  ::close(kept);
}

TEST(FailureTest, SmallFilesGoTheUsualWayWhenTheirReservedChunkLostAReplica) {
  Cluster cluster;  // goal 3: a write needs 2 of the 3 replicas
  std::string a = cluster.mount("a");
  std::string b = cluster.mount("b");
  ASSERT_EQ(sh("mkdir " + a + "/d && ls " + b + "/d").exit_code, 0);
  ASSERT_TRUE(cluster.waitForLog("mount-a", "chunks reserved for small files", 20s));
  // Placed on all three; the master does not know yet that one is gone.
  cluster.killChunkserver(2);
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(sh("echo small " + std::to_string(i) + " > " + a + "/d/f" + std::to_string(i))
                  .exit_code,
              0)
        << i;
  }
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(readFile(b + "/d/f" + std::to_string(i)), "small " + std::to_string(i) + "\n") << i;
  }
  std::string log = cluster.log("mount-a");
  EXPECT_NE(log.find("asking the master"), std::string::npos) << log;
  EXPECT_EQ(log.find("committing after close failed"), std::string::npos) << log;
}

// A mount stopped past its session lease finds its session ended (SESSION_EXPIRED, a code of
// its own, not a message to read): it opens a new one and the program's next calls succeed.
TEST(FailureTest, AMountWhoseSessionExpiredOpensANewOneAndGoesOn) {
  ClusterOptions options;
  options.master_flags = {"--session-lease-ms", "2000"};
  Cluster cluster(options);
  std::string a = cluster.mount("a");
  writeFile(a + "/before", "before");
  cluster.pauseMount(a);
  bool expired = cluster.waitForLog("master", "expired");
  cluster.resumeMount(a);
  ASSERT_TRUE(expired);
  writeFile(a + "/after", "after");
  EXPECT_EQ(readFile(a + "/before"), "before");
  EXPECT_EQ(readFile(a + "/after"), "after");
  EXPECT_TRUE(cluster.waitForLog("mount-a", "was lost; now session", 10s));
}

}  // namespace
}  // namespace dfs::testing
