// Short-circuit reads: replicas held by chunkservers on this machine are read straight from
// their files, through read-only descriptors the chunkservers hand out over a Unix socket
// (server/chunkserver/local_reads.h, lib/rpc/local_channel.h). The client checks every block's
// CRC32C itself, as it does for blocks that come over TCP; anything that goes wrong (no such
// socket, a chunkserver restarted, a replica moved on to another version, a mismatch) makes the
// caller read over TCP instead, where the chunkserver decides and reports damage.
//
// The reading runs on worker threads of its own: besides skipping the chunkserver and the
// network stack, the copy and the checksums leave the client's (FUSE) thread. Thread-safe;
// callbacks run on a worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "lib/base/status.h"
#include "lib/base/background_worker.h"
#include "lib/rpc/local_channel.h"

namespace dfs::client {

class LocalReplicas {
 public:
  static constexpr size_t kMaxOpenReplicas = 128;
  // How long a chunkserver found not to be on this machine (or gone) stays so before it is
  // asked again.
  static constexpr std::chrono::seconds kRecheckAfter{10};

  explicit LocalReplicas(size_t threads = 2);
  ~LocalReplicas() = default;  // runs what is queued, then joins
  LocalReplicas(const LocalReplicas&) = delete;
  LocalReplicas& operator=(const LocalReplicas&) = delete;

  // Whether reads of address's replicas may go through its socket.
  bool usable(const std::string& address);
  // True once for an address not known yet (or whose recheck time has come): the caller then
  // asks the chunkserver for its socket and calls connect or markRemote.
  bool shouldProbe(const std::string& address);
  void markRemote(const std::string& address);
  // Connects to the chunkserver's socket on a worker thread; done(usable).
  void connect(std::string address, std::string socket_path, std::string token,
               std::move_only_function<void(bool)> done);

  // Reads [offset, offset + length) of the replica of chunk_id at version that address holds,
  // checked against its CRCs; done runs on a worker thread.
  void read(std::string address, uint64_t chunk_id, uint64_t version, uint64_t offset,
            uint32_t length, std::move_only_function<void(Result<std::string>)> done);

  uint64_t bytesRead() const { return bytes_read_.load(); }

 private:
  struct Chunkserver {
    std::mutex channel_mutex;  // one open request at a time on the channel
    OwnedFd channel;
  };
  using ReplicaKey = std::tuple<std::string, uint64_t, uint64_t>;  // address, chunk, version
  // A replica's file as the chunkserver handed it, and the same file opened again with
  // O_DIRECT on its first large read (absent where the file system takes none).
  struct ReplicaFile {
    OwnedFd buffered;
    std::once_flag direct_opened;
    OwnedFd direct;
    int directFd();
  };
  struct OpenReplica {
    std::shared_ptr<ReplicaFile> file;
    std::list<ReplicaKey>::iterator lru;
  };

  void submit(std::move_only_function<void()> job);
  Result<std::string> readNow(const std::string& address, uint64_t chunk_id, uint64_t version,
                              uint64_t offset, uint32_t length);
  Result<std::shared_ptr<ReplicaFile>> replicaFile(const std::string& address, uint64_t chunk_id,
                                                   uint64_t version);
  // Reads and checks the blocks of [offset, offset + length) from a replica's file.
  Result<std::string> readBlocks(ReplicaFile& file, uint64_t chunk_id, uint64_t version,
                                 uint64_t offset, uint32_t length);
  // Closes a replica's file once the reads using it are done.
  void forget(const ReplicaKey& key);
  // The channel broke (the chunkserver stopped or restarted): forget it and its descriptors.
  void lose(const std::string& address);

  std::mutex mutex_;  // guards what follows, up to workers_
  std::unordered_map<std::string, std::shared_ptr<Chunkserver>> connected_;
  // Addresses being probed (time_point max) or found remote (when to ask again).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> not_local_;
  std::map<ReplicaKey, OpenReplica> open_;
  std::list<ReplicaKey> lru_;  // most recently used first
  std::atomic<uint64_t> bytes_read_{0};
  BackgroundWorker workers_;  // last: stopped before the rest goes
};

}  // namespace dfs::client
