#include "tests/integration/cluster.h"

#include <signal.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

namespace dfs::testing {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

namespace {

// Whether every thread of pid is stopped (state T in /proc).
bool allThreadsStopped(pid_t pid) {
  std::error_code error;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", error)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) continue;  // gone meanwhile
    if (line[close + 2] != 'T' && line[close + 2] != 't') return false;
  }
  return !error;
}

// SIGSTOP takes effect after kill returns: a test that pauses a process and then acts must not
// race with its last steps.
void stopAndWait(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGSTOP);
  EXPECT_TRUE(waitFor([pid] { return allThreadsStopped(pid); }, 10s)) << "pid " << pid;
}

}  // namespace

ShellResult sh(const std::string& command) {
  ShellResult result;
  std::FILE* pipe = ::popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::vector<ChunkReplicas> chunksOf(const std::string& path) {
  auto info = sh(Cluster::binary("tools/dfs") + " info " + path).output;
  std::vector<ChunkReplicas> chunks;
  std::istringstream lines(info);
  std::string line;
  while (std::getline(lines, line)) {
    // "  chunk N: id 0xID version V replicas K: ADDRESS..."
    auto id = line.find(": id ");
    auto replicas = line.find(" replicas ");
    if (line.rfind("  chunk ", 0) != 0 || id == std::string::npos || replicas == std::string::npos) {
      continue;
    }
    ChunkReplicas chunk;
    chunk.chunk_id = std::stoull(line.substr(id + 5), nullptr, 16);
    std::istringstream addresses(line.substr(line.find(": ", replicas) + 2));
    for (std::string address; addresses >> address;) {
      if (address != "(none)") chunk.replicas.push_back(address);
    }
    chunks.push_back(chunk);
  }
  return chunks;
}

void flipByte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!file) throw std::runtime_error("cannot open " + path);
  file.seekg(static_cast<std::streamoff>(offset));
  char byte = 0;
  file.read(&byte, 1);
  byte = static_cast<char>(~byte);
  file.seekp(static_cast<std::streamoff>(offset));
  file.write(&byte, 1);
  if (!file) throw std::runtime_error("cannot damage " + path);
}

std::string replicaPath(const std::string& chunkserver_dir, uint64_t chunk_id) {
  char name[64];
  std::snprintf(name, sizeof name, "/chunks/%02llx/%016llx.chunk",
                static_cast<unsigned long long>(chunk_id & 0xff),
                static_cast<unsigned long long>(chunk_id));
  return chunkserver_dir + name;
}

size_t replicaFileCount(const std::string& chunkserver_dir) {
  size_t count = 0;
  std::error_code ec;
  for (const auto& entry :
       fs::recursive_directory_iterator(chunkserver_dir + "/chunks", ec)) {
    if (entry.path().extension() == ".chunk") count++;
  }
  return count;
}

bool isMounted(const std::string& mount_point) {
  std::ifstream mounts("/proc/self/mounts");
  std::string source, target, type, rest;
  while (mounts >> source >> target >> type && std::getline(mounts, rest)) {
    if (target == mount_point && type == "fuse.dfs") return true;
  }
  return false;
}

void dropCaches() {
  ::sync();
  std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
}

std::string Cluster::binary(const std::string& relative_path) {
  return std::string(DFS_BUILD_DIR) + "/" + relative_path;
}

Cluster::Cluster(ClusterOptions options) : options_(options) {
  char pattern[] = "/tmp/dfs-test.XXXXXX";
  if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
  dir_ = pattern;
  // Mounts live inside: other users (permission tests) must be able to reach them.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                            fs::perms::others_read | fs::perms::others_exec);
  startMaster();
  chunkserver_pids_.assign(options_.chunkservers, -1);
  for (int i = 0; i < options_.chunkservers; ++i) startChunkserver(i);
  // Ready when every chunkserver has registered.
  std::string ready = "chunkservers: " + std::to_string(options_.chunkservers) + " up of";
  bool registered = waitFor([&] {
    auto status = sh(binary("tools/dfs") + " --master " + master_address_ + " status");
    return status.output.find(ready) != std::string::npos;
  }, 20s);
  if (!registered) {
    dumpLogs();
    throw std::runtime_error("chunkservers did not register");
  }
}

Cluster::~Cluster() {
  if (::testing::Test::HasFailure()) dumpLogs();
  resumeChunkservers();  // a test that stopped them and failed before it let them go on
  resumeMaster();
  for (auto& [mount_point, pid] : mounts_) {
    ::kill(pid, SIGCONT);
    sh("fusermount3 -u -z " + mount_point);
    stop(pid);
  }
  for (pid_t pid : chunkserver_pids_) stop(pid);
  stop(master_pid_);
  for (const auto& [index, mib] : options_.chunkserver_tmpfs_mib) {
    sh("umount -l " + chunkserverDir(index) + " 2>/dev/null");
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

pid_t Cluster::spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(log, 1);
    ::dup2(log, 2);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    // Descriptors of the test (files open on a mount, say) must not live on in the servers.
    ::close_range(3, ~0u, 0);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

void Cluster::stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

void Cluster::startMaster() {
  std::string data = masterDir();
  fs::create_directories(data);
  std::vector<std::string> argv = {
      binary("server/master/dfs-master"), "--listen",
      master_address_.empty() ? "127.0.0.1:0" : master_address_, "--data-dir", data, "--goal",
      std::to_string(options_.goal), "--chunkserver-dead-ms",
      std::to_string(options_.chunkserver_dead_ms)};
  argv.insert(argv.end(), options_.master_flags.begin(), options_.master_flags.end());
  fs::remove(data + "/master.addr");
  master_pid_ = spawn(argv, dir_ + "/master.log");
  if (!waitFor([&] { return fs::exists(data + "/master.addr"); }, 10s)) {
    throw std::runtime_error("master did not start");
  }
  master_address_ = readFile(data + "/master.addr");
  while (!master_address_.empty() && master_address_.back() == '\n') master_address_.pop_back();
}

void Cluster::killMaster() {
  stop(master_pid_);
  master_pid_ = -1;
}

bool Cluster::terminateMaster() {
  if (master_pid_ <= 0) return false;
  ::kill(master_pid_, SIGTERM);
  int status = 0;
  bool exited =
      waitFor([&] { return ::waitpid(master_pid_, &status, WNOHANG) == master_pid_; }, 20s);
  if (!exited) {
    killMaster();
    return false;
  }
  master_pid_ = -1;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void Cluster::restartMaster() {
  if (master_pid_ > 0) killMaster();
  startMaster();
}

std::string Cluster::chunkserverDir(int index) const {
  return dir_ + "/cs" + std::to_string(index);
}

std::string Cluster::chunkserverAddress(int index) const {
  std::string address = readFile(chunkserverDir(index) + "/chunkserver.addr");
  while (!address.empty() && address.back() == '\n') address.pop_back();
  return address;
}

void Cluster::startChunkserver(int index) {
  std::string data = chunkserverDir(index);
  fs::create_directories(data);
  if (auto tmpfs = options_.chunkserver_tmpfs_mib.find(index);
      tmpfs != options_.chunkserver_tmpfs_mib.end() && sh("mountpoint -q " + data).exit_code != 0) {
    auto mounted = sh("mount -t tmpfs -o size=" + std::to_string(tmpfs->second) + "m tmpfs " + data);
    if (mounted.exit_code != 0) throw std::runtime_error("tmpfs mount: " + mounted.output);
  }
  // A small spare pool: tests start many clusters, and their files are small and few.
  std::vector<std::string> argv = {binary("server/chunkserver/dfs-chunkserver"),
                                   "--listen",
                                   "",
                                   "--data-dir",
                                   data,
                                   "--master",
                                   master_address_,
                                   "--spare-files",
                                   "256"};
  // A restart keeps its port, as a real machine would keep its address.
  std::string listen = "127.0.0.1:0";
  if (fs::exists(data + "/chunkserver.addr")) listen = chunkserverAddress(index);
  fs::remove(data + "/chunkserver.addr");
  argv[2] = listen;
  argv.insert(argv.end(), options_.chunkserver_flags.begin(), options_.chunkserver_flags.end());
  chunkserver_pids_[index] = spawn(argv, dir_ + "/cs" + std::to_string(index) + ".log");
  if (!waitFor([&] { return fs::exists(data + "/chunkserver.addr"); }, 10s)) {
    throw std::runtime_error("chunkserver did not start");
  }
}

int Cluster::addChunkserver() {
  chunkserver_pids_.push_back(-1);
  int index = static_cast<int>(chunkserver_pids_.size()) - 1;
  startChunkserver(index);
  return index;
}

void Cluster::pauseChunkservers() {
  for (pid_t pid : chunkserver_pids_) stopAndWait(pid);
}

void Cluster::pauseMaster() { stopAndWait(master_pid_); }

void Cluster::resumeMaster() {
  if (master_pid_ > 0) ::kill(master_pid_, SIGCONT);
}

void Cluster::resumeChunkservers() {
  for (pid_t pid : chunkserver_pids_) {
    if (pid > 0) ::kill(pid, SIGCONT);
  }
}

void Cluster::killChunkserver(int index) {
  stop(chunkserver_pids_[index]);
  chunkserver_pids_[index] = -1;
}

std::string Cluster::log(const std::string& process) const {
  return readFile(dir_ + "/" + process + ".log");
}

bool Cluster::waitForLog(const std::string& process, const std::string& text,
                         std::chrono::milliseconds deadline) const {
  if (waitFor([&] { return log(process).find(text) != std::string::npos; }, deadline)) {
    return true;
  }
  std::fprintf(stderr, "---- %s.log has no \"%s\":\n%s\n", process.c_str(), text.c_str(),
               log(process).c_str());
  return false;
}

std::string Cluster::mount(const std::string& name, const std::string& options) {
  std::string mount_point = dir_ + "/" + name;
  fs::create_directories(mount_point);
  std::vector<std::string> argv = {binary("fuse/mount.dfs"), master_address_, mount_point, "-f"};
  if (!options.empty()) argv.insert(argv.end(), {"-o", options});
  pid_t pid = spawn(argv, dir_ + "/mount-" + name + ".log");
  mounts_[mount_point] = pid;
  if (!waitFor([&] { return isMounted(mount_point); }, 15s)) {
    throw std::runtime_error("mount at " + mount_point + " did not come up");
  }
  return mount_point;
}

void Cluster::unmount(const std::string& mount_point) {
  sh("fusermount3 -u " + mount_point);
  auto it = mounts_.find(mount_point);
  if (it != mounts_.end()) {
    waitFor([&] {
      return ::waitpid(it->second, nullptr, WNOHANG) == it->second;
    }, 10s);
    stop(it->second);
    mounts_.erase(it);
  }
}

void Cluster::killMount(const std::string& mount_point) {
  auto it = mounts_.find(mount_point);
  if (it == mounts_.end()) return;
  stop(it->second);
  sh("fusermount3 -u -z " + mount_point);
  mounts_.erase(it);
}

void Cluster::pauseMount(const std::string& mount_point) {
  if (auto it = mounts_.find(mount_point); it != mounts_.end()) stopAndWait(it->second);
}

void Cluster::resumeMount(const std::string& mount_point) {
  if (auto it = mounts_.find(mount_point); it != mounts_.end()) ::kill(it->second, SIGCONT);
}

void Cluster::dumpLogs() {
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() != ".log") continue;
    std::fprintf(stderr, "---- %s (last lines)\n%s\n", entry.path().c_str(),
                 sh("tail -n 25 " + entry.path().string()).output.c_str());
  }
}

}  // namespace dfs::testing
