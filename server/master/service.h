// The master's RPC handlers. Every handler runs on the master's single state thread; a handler
// that awaits a chunkserver re-validates what it read before the await. Every mutation is built
// as one MetaRecord and goes through commit(), the single place where state changes (and where
// the journal will hook in).
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <unordered_map>

#include "lib/rpc/client.h"
#include "lib/rpc/server.h"
#include "proto/chunk.pb.h"
#include "proto/master.pb.h"
#include "server/master/chunk_manager.h"
#include "server/master/namespace.h"
#include "server/master/sessions.h"

namespace dfs::master {

struct MasterOptions {
  uint32_t goal = 3;
  uint32_t write_min_replicas = 2;
  int64_t chunkserver_dead_ms = 10000;
  int64_t session_lease_ms = 30000;
  int64_t write_lease_ms = 60000;
};

class MasterService {
 public:
  MasterService(boost::asio::io_context& io, MasterOptions options);
  void registerRoutes(rpc::Server& server);
  // Starts the periodic work: dead chunkservers, expired sessions.
  void start();
  void stop();

 private:
  using Ctx = rpc::CallContext;
  template <class T>
  using Reply = boost::asio::awaitable<Result<T>>;

  Result<ApplyOutcome> commit(proto::MetaRecord record);
  // Releases what an applied record freed: chunk replicas, and orphans nobody has open.
  void settle(const ApplyOutcome& outcome);
  Result<proto::AttrReply> attrReply(uint64_t ino) const;
  Result<Session*> session(const Ctx& ctx);
  uint32_t minWriteReplicas() const;
  std::shared_ptr<rpc::Client> chunkserverClient(const std::string& address);
  // Moves the chunk to new_version on each of servers; returns the ones that acknowledged.
  boost::asio::awaitable<std::vector<uint32_t>> bumpVersion(uint64_t chunk_id, uint64_t version,
                                                            uint64_t new_version,
                                                            std::vector<uint32_t> servers);
  boost::asio::awaitable<void> tickLoop();

  Reply<proto::CreateSessionReply> createSession(Ctx&, proto::CreateSessionRequest&);
  Reply<proto::KeepAliveReply> keepAlive(Ctx&, proto::KeepAliveRequest&);
  Reply<proto::CloseSessionReply> closeSession(Ctx&, proto::CloseSessionRequest&);
  // Releases what an ended session held: leases, and files only it kept alive.
  void endSession(const Session& session);
  Reply<proto::AttrReply> lookup(Ctx&, proto::LookupRequest&);
  Reply<proto::AttrReply> getAttr(Ctx&, proto::GetAttrRequest&);
  Reply<proto::AttrReply> setAttr(Ctx&, proto::SetAttrRequest&);
  Reply<proto::AttrReply> mknod(Ctx&, proto::MknodRequest&);
  Reply<proto::AttrReply> mkdir(Ctx&, proto::MkdirRequest&);
  Reply<proto::UnlinkReply> unlink(Ctx&, proto::UnlinkRequest&);
  Reply<proto::UnlinkReply> rmdir(Ctx&, proto::UnlinkRequest&);
  Reply<proto::RenameReply> rename(Ctx&, proto::RenameRequest&);
  Reply<proto::AttrReply> link(Ctx&, proto::LinkRequest&);
  Reply<proto::AttrReply> symlink(Ctx&, proto::SymlinkRequest&);
  Reply<proto::ReadlinkReply> readlink(Ctx&, proto::ReadlinkRequest&);
  Reply<proto::ReadDirReply> readDir(Ctx&, proto::ReadDirRequest&);
  Reply<proto::StatFsReply> statFs(Ctx&, proto::StatFsRequest&);
  Reply<proto::AttrReply> open(Ctx&, proto::OpenRequest&);
  Reply<proto::ReleaseReply> release(Ctx&, proto::ReleaseRequest&);
  Reply<proto::GetChunksReply> getChunks(Ctx&, proto::GetChunksRequest&);
  Reply<proto::GetWriteChunkReply> getWriteChunk(Ctx&, proto::GetWriteChunkRequest&);
  Reply<proto::AttrReply> commitWrite(Ctx&, proto::CommitWriteRequest&);
  Reply<proto::GetWriteChunkReply> reportWriteFailure(Ctx&, proto::ReportWriteFailureRequest&);
  Reply<proto::ClusterStatusReply> clusterStatus(Ctx&, proto::ClusterStatusRequest&);
  Reply<proto::RegisterChunkserverReply> registerChunkserver(Ctx&,
                                                             proto::RegisterChunkserverRequest&);
  Reply<proto::ChunkserverHeartbeatReply> chunkserverHeartbeat(Ctx&,
                                                               proto::ChunkserverHeartbeatRequest&);

  boost::asio::io_context& io_;
  MasterOptions options_;
  Namespace ns_;
  ChunkManager chunks_;
  SessionTable sessions_;
  std::unordered_map<std::string, std::shared_ptr<rpc::Client>> chunkserver_clients_;
  boost::asio::steady_timer tick_;
  bool stopped_ = false;
};

}  // namespace dfs::master
