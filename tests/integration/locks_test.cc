// Cluster-wide locks through real mounts: flock and fcntl (POSIX, OFD) enforced across mounts,
// FIFO waits, EINTR, release when a mount dies, SQLite, and locks that outlive a master restart.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <future>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/integration/cluster.h"

namespace dfs::testing {
namespace {

using namespace std::chrono_literals;

std::string dfsCommand(const std::string& args) { return Cluster::binary("tools/dfs") + " " + args; }

// Lines of `dfs locks PATH` in the given state ("held" or "waiting").
int lockLines(const std::string& path, const std::string& state) {
  std::istringstream lines(sh(dfsCommand("locks " + path)).output);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("held or waited for") != std::string::npos) continue;  // the summary
    if (line.find(" " + state + " ") != std::string::npos) count++;
  }
  return count;
}

std::future<ShellResult> shAsync(const std::string& command) {
  return std::async(std::launch::async, [command] { return sh(command); });
}

struct flock byteRange(short type, off_t start, off_t length) {
  struct flock range {};
  range.l_type = type;
  range.l_whence = SEEK_SET;
  range.l_start = start;
  range.l_len = length;
  return range;
}

bool ready(std::future<ShellResult>& result) { return result.wait_for(0s) == std::future_status::ready; }

class LocksTest : public ::testing::Test {
 protected:
  LocksTest() : cluster_(options()) {
    a_ = cluster_.mount("a");
    b_ = cluster_.mount("b");
    writeFile(a_ + "/f", "data");
  }
  static ClusterOptions options() {
    ClusterOptions options;
    options.master_flags = {"--session-lease-ms", "3000"};
    return options;
  }
  Cluster cluster_;
  std::string a_, b_;
};

TEST_F(LocksTest, FlockExcludesAcrossMountsAndAWaiterGetsItOnRelease) {
  int fd = ::open((a_ + "/f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  EXPECT_EQ(sh("flock -n -x " + b_ + "/f true").exit_code, 1);
  EXPECT_EQ(sh("flock -n -s " + b_ + "/f true").exit_code, 1);
  auto waiter = shAsync("flock -x " + b_ + "/f echo got");
  ASSERT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "waiting") == 1; }, 10s));
  EXPECT_FALSE(ready(waiter));
  EXPECT_NE(sh(dfsCommand("locks " + a_ + "/f")).output.find("exclusive"), std::string::npos);
  ASSERT_EQ(::flock(fd, LOCK_UN), 0);
  ASSERT_EQ(waiter.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(waiter.get().output, "got\n");
  // Shared locks coexist.
  ASSERT_EQ(::flock(fd, LOCK_SH), 0);
  EXPECT_EQ(sh("flock -n -s " + b_ + "/f true").exit_code, 0);
  ::close(fd);  // the last close drops the flock lock (the kernel sends it a moment later)
  EXPECT_TRUE(waitFor([&] { return sh("flock -n -x " + b_ + "/f true").exit_code == 0; }, 5s));
  EXPECT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "held") == 0; }, 5s))
      << sh(dfsCommand("locks " + a_ + "/f")).output;
}

TEST_F(LocksTest, WaitersAreServedFirstComeFirstServedAndWritersDoNotStarve) {
  std::string c = cluster_.mount("c");
  int fd = ::open((a_ + "/f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_SH), 0);
  std::string order = cluster_.dir() + "/order";
  std::vector<std::future<ShellResult>> waiters;
  std::vector<std::string> mounts = {b_, c, b_, c};
  for (size_t i = 0; i < mounts.size(); ++i) {
    // The first waiter wants it exclusively; shared requests behind it wait their turn.
    std::string mode = i == 0 ? "-x" : "-s";
    waiters.push_back(shAsync("flock " + mode + " " + mounts[i] + "/f -c 'echo w" +
                              std::to_string(i) + " >> " + order + "; sleep 0.2'"));
    ASSERT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "waiting") == int(i) + 1; }, 10s));
  }
  // Shared with the holder, but an exclusive request is waiting: no cutting in.
  EXPECT_EQ(sh("flock -n -s " + c + "/f true").exit_code, 1);
  ASSERT_EQ(::flock(fd, LOCK_UN), 0);
  for (auto& waiter : waiters) ASSERT_EQ(waiter.wait_for(20s), std::future_status::ready);
  std::string got = readFile(order);
  EXPECT_EQ(got.substr(0, 3), "w0\n") << got;  // the writer first, then the readers together
  EXPECT_EQ(got.size(), 12u) << got;
  ::close(fd);
}

TEST_F(LocksTest, AppendsUnderFlockFromTwoMountsLoseNothing) {
  writeFile(a_ + "/log", "");
  auto loop = [&](const std::string& mount, const std::string& tag) {
    return shAsync("for i in $(seq 1000); do flock " + mount + "/log sh -c 'echo " + tag +
                   "$0 >> " + mount + "/log' $i || exit 1; done");
  };
  auto first = loop(a_, "A");
  auto second = loop(b_, "B");
  EXPECT_EQ(first.get().exit_code, 0);
  EXPECT_EQ(second.get().exit_code, 0);
  dropCaches();
  std::istringstream lines(readFile(a_ + "/log"));
  int a = 0, b = 0, other = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > 1 && line[0] == 'A') {
      a++;
    } else if (line.size() > 1 && line[0] == 'B') {
      b++;
    } else {
      other++;
    }
  }
  EXPECT_EQ(a, 1000);
  EXPECT_EQ(b, 1000);
  EXPECT_EQ(other, 0);
  if (a != 1000 || b != 1000 || other != 0) {
    // Which line is missing, and what took its place, tells a lost write from a stale size.
    std::string log = readFile(a_ + "/log");
    ADD_FAILURE() << "the log (" << log.size() << " bytes):\n" << log;
  }
}

TEST_F(LocksTest, ADeadMountsLocksAreReleasedAfterItsLease) {
  std::string c = cluster_.mount("c");
  auto holder = shAsync("timeout 60 flock -x " + c + "/f sleep 50");
  ASSERT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "held") == 1; }, 10s))
      << sh(dfsCommand("locks " + a_ + "/f")).output;
  auto waiter = shAsync("flock -x " + b_ + "/f echo got");
  ASSERT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "waiting") == 1; }, 10s));
  cluster_.killMount(c);  // kill -9 of mount.dfs: its session ends after the 3 s lease
  ASSERT_EQ(waiter.wait_for(15s), std::future_status::ready);
  EXPECT_EQ(waiter.get().output, "got\n");
  sh("pkill -f 'flock -x " + c + "/f' ; pkill -f 'sleep 50'");
}

TEST_F(LocksTest, FcntlRangesSplitMergeAndReportTheHolder) {
  int fa = ::open((a_ + "/f").c_str(), O_RDWR);
  int fb = ::open((b_ + "/f").c_str(), O_RDWR);
  ASSERT_GE(fa, 0);
  ASSERT_GE(fb, 0);
  auto lock = [](int fd, int cmd, short type, off_t start, off_t length) {
    struct flock request = byteRange(type, start, length);
    return ::fcntl(fd, cmd, &request) == 0 ? 0 : errno;
  };
  ASSERT_EQ(lock(fa, F_SETLK, F_WRLCK, 0, 100), 0);
  EXPECT_EQ(lock(fb, F_SETLK, F_WRLCK, 100, 100), 0);      // no overlap
  EXPECT_EQ(lock(fb, F_SETLK, F_RDLCK, 50, 10), EAGAIN);   // overlap
  struct flock query = byteRange(F_WRLCK, 0, 10);
  ASSERT_EQ(::fcntl(fb, F_GETLK, &query), 0);
  EXPECT_EQ(query.l_type, F_WRLCK);
  EXPECT_EQ(query.l_start, 0);
  EXPECT_EQ(query.l_len, 100);
  EXPECT_EQ(query.l_pid, ::getpid());
  // Unlocking the middle splits the lock; the hole is free, the rest still held.
  ASSERT_EQ(lock(fa, F_SETLK, F_UNLCK, 40, 20), 0);
  EXPECT_EQ(lock(fb, F_SETLK, F_WRLCK, 45, 10), 0);
  EXPECT_EQ(lock(fb, F_SETLK, F_WRLCK, 30, 5), EAGAIN);
  EXPECT_EQ(lock(fb, F_SETLK, F_WRLCK, 70, 5), EAGAIN);
  ASSERT_EQ(lock(fb, F_SETLK, F_UNLCK, 0, 0), 0);

  // An interrupted F_SETLKW fails with EINTR and its request is withdrawn.
  struct sigaction action {};
  action.sa_handler = [](int) {};
  ::sigaction(SIGALRM, &action, nullptr);  // no SA_RESTART
  ::alarm(1);
  EXPECT_EQ(lock(fb, F_SETLKW, F_WRLCK, 0, 1), EINTR);
  EXPECT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "waiting") == 0; }, 5s));

  // OFD locks belong to the open file, not the process: two of them conflict.
  int fa2 = ::open((a_ + "/f").c_str(), O_RDWR);
  struct flock ofd = byteRange(F_WRLCK, 500, 10);
  EXPECT_EQ(::fcntl(fa2, F_OFD_SETLK, &ofd), 0);
  EXPECT_EQ(::fcntl(fa, F_OFD_SETLK, &ofd), -1);
  EXPECT_EQ(errno, EAGAIN);
  ::close(fa2);  // its last close drops the OFD lock
  EXPECT_TRUE(waitFor([&] { return ::fcntl(fa, F_OFD_SETLK, &ofd) == 0; }, 5s));

  // Any close by the process drops its POSIX locks on the file (here: via mount A).
  int fa3 = ::open((a_ + "/f").c_str(), O_RDONLY);
  ::close(fa3);
  EXPECT_EQ(lock(fb, F_SETLK, F_WRLCK, 0, 40), 0);
  ::close(fa);
  ::close(fb);
}

TEST_F(LocksTest, SqliteFromTwoMountsKeepsEveryRow) {
  ASSERT_EQ(sh("sqlite3 " + a_ + "/db 'CREATE TABLE t(who TEXT, n INTEGER);'").exit_code, 0);
  auto script = [&](const std::string& who) {
    std::string path = cluster_.dir() + "/" + who + ".sql";
    std::string sql = ".timeout 60000\n";
    for (int i = 0; i < 200; ++i) {
      sql += "INSERT INTO t VALUES('" + who + "'," + std::to_string(i) + ");\n";
    }
    writeFile(path, sql);
    return path;
  };
  auto first = shAsync("sqlite3 " + a_ + "/db < " + script("A"));
  auto second = shAsync("sqlite3 " + b_ + "/db < " + script("B"));
  auto one = first.get(), two = second.get();
  EXPECT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(two.exit_code, 0) << two.output;
  auto check = sh("sqlite3 " + b_ +
                  "/db 'SELECT who, count(DISTINCT n) FROM t GROUP BY who; PRAGMA integrity_check;'");
  EXPECT_EQ(check.output, "A|200\nB|200\nok\n");
}

TEST_F(LocksTest, HeldLocksSurviveAMasterRestart) {
  int fd = ::open((a_ + "/f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  cluster_.killMaster();
  cluster_.restartMaster();
  // Mount A claims its lock again; B never gets it meanwhile.
  ASSERT_TRUE(waitFor([&] { return lockLines(a_ + "/f", "held") == 1; }, 15s));
  EXPECT_EQ(sh("flock -n -x " + b_ + "/f true").exit_code, 1);
  ASSERT_EQ(::flock(fd, LOCK_UN), 0);
  EXPECT_EQ(sh("flock -n -x " + b_ + "/f true").exit_code, 0);
  ::close(fd);
}

}  // namespace
}  // namespace dfs::testing
