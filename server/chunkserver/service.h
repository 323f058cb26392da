// The chunkserver's RPC handlers: chunk reads and writes from clients and peers (a write is
// forwarded down its chain while it is written locally), version changes and deletions from the
// master. Handlers run on threads of their own (not the network threads that read connections)
// and do their disk I/O in place; a small buffered write is served on the network thread that
// read it (rpc::Server::serveInline).
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lib/rpc/client.h"
#include "lib/rpc/client_pool.h"
#include "lib/rpc/server.h"
#include "proto/chunk.pb.h"
#include "server/chunkserver/chunk_store.h"

namespace dfs::chunkserver {

class ChunkService {
 public:
  // Copies from peers (repair, rebalancing) share replication_bytes_per_second (0: unlimited)
  // so client I/O keeps most of the disk and network.
  ChunkService(boost::asio::io_context& io, ChunkStore& store,
               uint64_t replication_bytes_per_second = 0)
      : store_(store),
        peers_(io.get_executor()),
        replication_bytes_per_second_(replication_bytes_per_second) {}
  void registerRoutes(rpc::Server& server);
  // The address clients reach this chunkserver at, used to name it in write errors.
  void setAddress(std::string address) { address_ = std::move(address); }
  // Where clients on this machine ask for replica files (LocalReadServer); unset: nowhere.
  void setLocalReads(std::string socket_path, std::string token) {
    local_reads_path_ = std::move(socket_path);
    local_reads_token_ = std::move(token);
  }
  void stop();

 private:
  using Ctx = rpc::CallContext;
  template <class T>
  using Reply = boost::asio::awaitable<Result<T>>;

  boost::asio::awaitable<Result<void>> forward(proto::WriteChunkRequest request,
                                               rpc::SharedPayload payload,
                                               std::chrono::milliseconds timeout);

  boost::asio::awaitable<Result<void>> writeLocal(const proto::WriteChunkRequest& request,
                                                  rpc::SharedPayload payload);
  // Waits for the replication bandwidth to carry bytes more.
  boost::asio::awaitable<void> paceReplication(uint64_t bytes);
  Reply<proto::ReadChunkReply> readChunk(Ctx&, proto::ReadChunkRequest&);
  Reply<proto::WriteChunkReply> writeChunk(Ctx&, proto::WriteChunkRequest&);
  Reply<proto::WriteChunkReply> writeChunkHere(Ctx&, proto::WriteChunkRequest&);
  Reply<proto::SetChunkVersionReply> setChunkVersion(Ctx&, proto::SetChunkVersionRequest&);
  Reply<proto::TruncateChunkReply> truncateChunk(Ctx&, proto::TruncateChunkRequest&);
  Reply<proto::DeleteChunkReply> deleteChunk(Ctx&, proto::DeleteChunkRequest&);
  Reply<proto::SyncChunkReply> syncChunk(Ctx&, proto::SyncChunkRequest&);
  Reply<proto::ReplicateChunkReply> replicateChunk(Ctx&, proto::ReplicateChunkRequest&);
  Reply<proto::LocalReadsReply> localReads(Ctx&, proto::LocalReadsRequest&);

  ChunkStore& store_;
  rpc::ClientPool peers_;
  std::string address_;
  std::string local_reads_path_;
  std::string local_reads_token_;
  uint64_t replication_bytes_per_second_;
  std::mutex pace_mutex_;
  std::chrono::steady_clock::time_point next_replication_slot_;
};

}  // namespace dfs::chunkserver
