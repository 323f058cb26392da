// The servers and the mount run at the CPU priority they are given (lib/base/priority), every
// thread of them: servers at kServerNiceLevel unless told otherwise, mounts at 0.
#include "lib/base/priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

// The nice level of every thread of a process (field 19 of /proc/PID/task/TID/stat).
std::vector<int> threadNiceLevels(pid_t pid) {
  std::vector<int> levels;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string stat = readFile(task.path().string() + "/stat");
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // the name may hold spaces
    std::string field;
    for (int number = 3; number <= 19 && fields >> field; ++number) {
    }
    levels.push_back(std::stoi(field));
  }
  return levels;
}

TEST(ProcessPriorityTest, ServersAndMountsRunEveryThreadAtTheLevelTheyAreGiven) {
  if (::geteuid() != 0) GTEST_SKIP() << "raising a priority needs root";
  ClusterOptions options;
  options.chunkservers = 2;
  options.goal = 2;
  options.chunkserver_flags = {"--nice", "5"};
  Cluster cluster(options);
  std::string mount_point = cluster.mount("a");
  writeFile(mount_point + "/file", "data");  // every thread of the mount has started by now

  auto master = threadNiceLevels(cluster.masterPid());
  ASSERT_FALSE(master.empty());
  for (int level : master) EXPECT_EQ(level, kServerNiceLevel) << "master";
  for (int index : {0, 1}) {
    auto chunkserver = threadNiceLevels(cluster.chunkserverPid(index));
    EXPECT_GT(chunkserver.size(), 1u);
    for (int level : chunkserver) EXPECT_EQ(level, 5) << "chunkserver " << index;
  }
  auto mount = threadNiceLevels(cluster.mountPid(mount_point));
  EXPECT_GT(mount.size(), 1u);
  int own = ::getpriority(PRIO_PROCESS, 0);
  for (int level : mount) EXPECT_EQ(level, own) << "mount (as started)";
  std::string niced = cluster.mount("b", "nice=-5");
  writeFile(niced + "/other", "data");
  auto niced_levels = threadNiceLevels(cluster.mountPid(niced));
  EXPECT_GT(niced_levels.size(), 1u);
  for (int level : niced_levels) EXPECT_EQ(level, -5) << "mount -o nice=-5";
}

TEST(ProcessPriorityTest, ALevelOutsideTheRangeIsRefusedAtStart) {
  auto result =
      sh(Cluster::binary("server/master/dfs-master") + " --nice 40 --data-dir /nonexistent 2>&1");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--nice"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace dfs::testing
