// The master is killed -9 and restarted under a working client: nothing acknowledged is lost
// and the mount carries on without a remount.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Applies a deterministic stream of file operations to a mount, and keeps a model of what the
// file system must hold: only operations that returned success change the model.
class Worker {
 public:
  explicit Worker(std::string root) : root_(std::move(root)) {}

  void step(int i) {
    std::string name = "f" + std::to_string(i % 37);
    std::string path = root_ + "/" + name;
    bool exists = model_.contains(name);
    switch (i % 5) {
      case 0: {  // create or overwrite
        std::string content = "content of step " + std::to_string(i) + "\n" +
                              std::string(static_cast<size_t>(i % 7) * 100000, 'x');
        if (writeWhole(path, content, O_CREAT | O_TRUNC)) model_[name] = content;
        break;
      }
      case 1: {  // append
        if (!exists) break;
        std::string more = "appended at " + std::to_string(i) + "\n";
        if (writeWhole(path, more, O_APPEND)) model_[name] += more;
        break;
      }
      case 2: {  // rename
        if (!exists) break;
        std::string target = "r" + std::to_string(i % 11);
        if (record(::rename(path.c_str(), (root_ + "/" + target).c_str()), "rename")) {
          model_[target] = model_[name];
          model_.erase(name);
        }
        break;
      }
      case 3: {  // truncate
        if (!exists) break;
        size_t size = model_[name].size() / 2;
        if (record(::truncate(path.c_str(), static_cast<off_t>(size)), "truncate")) {
          model_[name].resize(size);
        }
        break;
      }
      case 4:  // delete
        if (!exists) break;
        if (record(::unlink(path.c_str()), "unlink")) model_.erase(name);
        break;
    }
  }

  const std::map<std::string, std::string>& model() const { return model_; }
  int failures() const { return failures_; }
  const std::string& lastFailure() const { return last_failure_; }

 private:
  bool record(int rc, const std::string& what) {
    if (rc == 0) return true;
    failures_++;
    last_failure_ = what + ": " + std::strerror(errno);
    return false;
  }

  bool writeWhole(const std::string& path, const std::string& data, int flags) {
    int fd = ::open(path.c_str(), O_WRONLY | flags, 0644);
    if (fd < 0) return record(-1, "open " + path);
    ssize_t written = ::write(fd, data.data(), data.size());
    int closed = ::close(fd);  // close reports the flush of buffered data
    if (written != static_cast<ssize_t>(data.size())) return record(-1, "write " + path);
    return record(closed, "close " + path);
  }

  std::string root_;
  std::map<std::string, std::string> model_;
  int failures_ = 0;
  std::string last_failure_;
};

TEST(MasterRestartTest, NothingAcknowledgedIsLostAcrossKillNine) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  fs::create_directories(m + "/work");
  Worker worker(m + "/work");
  std::atomic<bool> done{false};
  std::atomic<int> steps{0};
  std::thread client([&] {
    for (int i = 0; !done; ++i) {
      worker.step(i);
      steps = i + 1;
    }
  });
  for (int restart = 0; restart < 4; ++restart) {
    int before = steps;
    ASSERT_TRUE(waitFor([&] { return steps >= before + 40; }, 60s)) << "client stalled";
    cluster.killMaster();
    std::this_thread::sleep_for(300ms);  // the client notices and retries meanwhile
    cluster.restartMaster();
  }
  int before = steps;
  EXPECT_TRUE(waitFor([&] { return steps >= before + 40; }, 60s)) << "client stalled";
  done = true;
  client.join();

  EXPECT_EQ(worker.failures(), 0) << worker.lastFailure();
  EXPECT_TRUE(isMounted(m));
  dropCaches();
  std::set<std::string> present;
  for (const auto& entry : fs::directory_iterator(m + "/work")) {
    present.insert(entry.path().filename().string());
  }
  for (const auto& [name, content] : worker.model()) {
    EXPECT_TRUE(present.contains(name)) << name << " is missing";
    EXPECT_EQ(readFile(m + "/work/" + name), content) << name;
  }
  EXPECT_EQ(present.size(), worker.model().size());
  std::printf("%d operations across 4 master restarts\n", steps.load());

  // And the metadata the master left on disk checks out.
  cluster.killMaster();
  auto check = sh(Cluster::binary("server/master/dfs-master") + " --check-metadata " +
                  cluster.masterDir());
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(MasterRestartTest, UnlinkedOpenFileSurvivesARestartAndGoesAfterClose) {
  ClusterOptions options;
  options.master_flags = {"--session-lease-ms", "2000"};
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  writeFile(m + "/f", std::string(100000, 'z'));
  int fd = ::open((m + "/f").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink((m + "/f").c_str()), 0);
  cluster.killMaster();
  cluster.restartMaster();
  // Past the point where the master purges unlinked files nobody re-registered as open.
  EXPECT_TRUE(cluster.waitForLog("master", "after restart: purged 0", 20s));
  std::string data(100000, '\0');
  EXPECT_EQ(::pread(fd, data.data(), data.size(), 0), 100000);
  EXPECT_EQ(data, std::string(100000, 'z'));
  ::close(fd);
  auto status = [&] {
    return sh(Cluster::binary("tools/dfs") + " --master " + cluster.masterAddress() + " status")
        .output;
  };
  EXPECT_TRUE(waitFor([&] { return status().find("files: 0,") != std::string::npos; }, 10s))
      << status();
}

TEST(MasterRestartTest, AFileHeldBackBeforeARestartIsStillRecalledAfterIt) {
  // Mount a holds f (open for writing, so it may close it behind); the restarted master learns
  // that again from a's watch, and a close-behind made afterwards on the old descriptor still
  // holds another mount's stat until it lands. (a's commits linger: without the recall, b would
  // see the size before the close.)
  Cluster cluster;
  std::string a = cluster.mount("a", "commit_linger_ms=5000");
  std::string b = cluster.mount("b");
  int fd = ::open((a + "/f").c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "one", 3), 3);
  ASSERT_EQ(::fsync(fd), 0);
  cluster.killMaster();
  cluster.restartMaster();
  ASSERT_TRUE(cluster.waitForLog(
      "mount-a", "open files and locks registered with the restarted master", 20s));

  ASSERT_EQ(::write(fd, "two", 3), 3);
  ASSERT_EQ(::close(fd), 0);
  EXPECT_EQ(sh("stat -c %s " + b + "/f && cat " + b + "/f").output, "6\nonetwo");
}

TEST(MasterRestartTest, CleanShutdownWritesACheckpointThatRestartLoads) {
  Cluster cluster;
  std::string m = cluster.mount("m");
  for (int i = 0; i < 20; ++i) writeFile(m + "/f" + std::to_string(i), std::to_string(i));
  // The master writes its checkpoint before it exits.
  ASSERT_TRUE(cluster.terminateMaster());
  int checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(cluster.masterDir())) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("checkpoint.") && !name.ends_with(".tmp")) checkpoints++;
  }
  EXPECT_EQ(checkpoints, 1);
  cluster.restartMaster();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(readFile(m + "/f" + std::to_string(i)), std::to_string(i));
  EXPECT_NE(cluster.log("master").find("checkpoint."), std::string::npos);
}

TEST(MasterRestartTest, FsyncWaitsForTheJournalWithSyncAlwaysToo) {
  ClusterOptions options;
  options.master_flags = {"--journal-sync", "always"};
  Cluster cluster(options);
  std::string m = cluster.mount("m");
  ASSERT_EQ(sh("dd if=/dev/urandom of=" + m + "/f bs=1M count=2 conv=fsync status=none && "
               "mkdir " + m + "/d && sync " + m + "/d").exit_code, 0);
  cluster.killMaster();
  cluster.restartMaster();
  EXPECT_EQ(fs::file_size(m + "/f"), 2u << 20);
  EXPECT_TRUE(fs::is_directory(m + "/d"));
}

}  // namespace
}  // namespace dfs::testing
