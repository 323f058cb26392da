// Integration-test fixture: a real DFS cluster (dfs-master and dfs-chunkserver processes on
// ephemeral 127.0.0.1 ports, state in a fresh temp dir) and real mount.dfs mounts. The
// destructor unmounts and kills everything it started, also when a test fails; children die
// with the test process even if it crashes (PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lib/base/chunk_layout.h"

namespace dfs::testing {

struct ClusterOptions {
  int chunkservers = 3;
  int goal = 3;
  int chunkserver_dead_ms = 10000;
  std::vector<std::string> master_flags;
  std::vector<std::string> chunkserver_flags;  // for every chunkserver
  // Chunkservers (by index) whose data dir is a tmpfs of this many MiB: a disk that fills up.
  std::map<int, int> chunkserver_tmpfs_mib;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& masterAddress() const { return master_address_; }
  std::string chunkserverAddress(int index) const;
  std::string chunkserverDir(int index) const;

  // Mounts the cluster at dir()/NAME with a foreground mount.dfs (and -o options, if any);
  // returns the mount point once the mount is live.
  std::string mount(const std::string& name, const std::string& options = "");
  void unmount(const std::string& mount_point);
  void killMount(const std::string& mount_point);
  // SIGSTOP / SIGCONT of one mount.dfs: a client that is alive but slow. The destructor lets it
  // go on first.
  void pauseMount(const std::string& mount_point);
  void resumeMount(const std::string& mount_point);

  // kill -9 of the master, and a start on the same address and metadata directory.
  void killMaster();
  void restartMaster();
  // SIGTERM to the master; returns once it has exited (false if it did not within the deadline
  // or did not exit with status 0).
  bool terminateMaster();
  std::string masterDir() const { return dir_ + "/master"; }

  void killChunkserver(int index);
  // SIGSTOP / SIGCONT of every chunkserver: a data path that does not answer for a while. The
  // destructor lets them go on first.
  void pauseChunkservers();
  void resumeChunkservers();
  // SIGSTOP / SIGCONT of the master: what a mount answers without it. The destructor lets it go
  // on first.
  void pauseMaster();
  void resumeMaster();
  void startChunkserver(int index);
  // Starts one more chunkserver; returns its index.
  int addChunkserver();

  static std::string binary(const std::string& relative_path);

  // What a process of this cluster has logged so far: "master", "cs<index>" or
  // "mount-<name>" (the name given to mount()).
  std::string log(const std::string& process) const;
  // Waits until that log holds text; false at the deadline, the log then printed.
  bool waitForLog(const std::string& process, const std::string& text,
                  std::chrono::milliseconds deadline = std::chrono::seconds(20)) const;

  pid_t masterPid() const { return master_pid_; }
  pid_t chunkserverPid(int index) const { return chunkserver_pids_.at(index); }
  pid_t mountPid(const std::string& mount_point) const { return mounts_.at(mount_point); }

 private:
  pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path);
  void startMaster();
  void stop(pid_t pid);
  void dumpLogs();

  ClusterOptions options_;
  std::string dir_;
  std::string master_address_;
  pid_t master_pid_ = -1;
  std::vector<pid_t> chunkserver_pids_;
  std::map<std::string, pid_t> mounts_;
};

// Polls condition every 20 ms until it holds or the deadline passes.
bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline);

struct ShellResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
ShellResult sh(const std::string& command);

std::string readFile(const std::string& path);
void writeFile(const std::string& path, const std::string& data);
bool isMounted(const std::string& mount_point);
// Each chunk of a file on a mount with its live replicas (as `dfs info` shows them).
struct ChunkReplicas {
  uint64_t chunk_id = 0;
  std::vector<std::string> replicas;  // chunkserver addresses
};
std::vector<ChunkReplicas> chunksOf(const std::string& path);

// Inverts every bit of the byte at offset of the file (damage that is always a change).
void flipByte(const std::string& path, uint64_t offset);
// The file holding a chunkserver's replica of chunk_id (its layout: lib/base/chunk_layout.h).
std::string replicaPath(const std::string& chunkserver_dir, uint64_t chunk_id);
// How many replica files a chunkserver's data dir holds.
size_t replicaFileCount(const std::string& chunkserver_dir);
void dropCaches();

}  // namespace dfs::testing
