// The master's RPC handlers. Every handler runs on the master's single state thread; a handler
// that awaits a chunkserver re-validates what it read before the await. Every mutation is built
// as one MetaRecord and goes through commit(), which journals it and applies it to the durable
// state (MetaState::apply, the one place it changes).
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <string>
#include <unordered_map>

#include "lib/rpc/async_event.h"
#include "lib/rpc/client.h"
#include "lib/rpc/client_pool.h"
#include "lib/rpc/server.h"
#include "proto/chunk.pb.h"
#include "proto/master.pb.h"
#include "server/master/chunk_manager.h"
#include "server/master/closes_behind.h"
#include "server/master/journal.h"
#include "server/master/lock_service.h"
#include "server/master/meta_state.h"
#include "server/master/namespace.h"
#include "server/master/sessions.h"

namespace dfs::master {

struct MasterOptions {
  std::string data_dir;
  bool journal_sync_always = false;           // every reply waits for the journal's fdatasync
  int64_t journal_sync_delay_ms = 5;          // how long records gather when nobody waits
  uint64_t checkpoint_records = 200000;        // a checkpoint after this many records...
  int64_t checkpoint_interval_ms = 3600000;    // ...or this long, whichever comes first
  uint32_t goal = 3;
  uint32_t write_min_replicas = 2;
  int64_t chunkserver_dead_ms = 10000;
  int64_t session_lease_ms = 30000;
  int64_t write_lease_ms = 60000;
  int64_t unreferenced_chunk_grace_ms = 60000;
  int64_t deleted_chunk_grace_ms = 10000;  // before replicas of deleted data are removed
  size_t max_concurrent_repairs = 2;  // chunk copies at once, so client I/O keeps the bandwidth
  bool rebalance = true;              // move chunks onto less loaded (e.g. new) chunkservers
};

class MasterService {
 public:
  MasterService(boost::asio::io_context& io, MasterOptions options);
  ~MasterService();
  // Loads the newest checkpoint, replays the journal after it and opens a new journal
  // segment. Call before serving.
  Result<void> recover();
  // Writes a checkpoint and waits for it (clean shutdown).
  Result<void> checkpointNow();
  void registerRoutes(rpc::Server& server);
  // Starts the periodic work: dead chunkservers, expired sessions.
  void start();
  void stop();

 private:
  using Ctx = rpc::CallContext;
  template <class T>
  using Reply = boost::asio::awaitable<Result<T>>;

  // Applies, journals and settles a record (or answers a retried call from the de-duplication
  // table); a journal that cannot be written stops the master.
  Result<ApplyOutcome> commitNow(proto::MetaRecord record, const Ctx* ctx = nullptr);
  // The time a record is stamped with: the master's clock, never going back, or a time the
  // call chose (bounded to the minute before now).
  int64_t changeTime(int64_t chosen_ns);
  // Whether this call (its session and request id) was applied already: a retry.
  bool answered(const Ctx& ctx) const;
  // An inode number a client chose for its create must be one reserved to its session, unused.
  Status checkChosenIno(const Ctx& ctx, uint64_t ino) const;
  // commitNow, then, with --journal-sync=always, waits until the record is durable.
  boost::asio::awaitable<Result<ApplyOutcome>> commit(proto::MetaRecord record,
                                                      const Ctx* ctx = nullptr);
  // Serializes the state and starts writing it in the background; false when one is running.
  bool startCheckpoint();
  void finishCheckpoint(uint64_t seq, Result<void> written, int64_t started_ms);
  // Releases what an applied record freed: chunk replicas, and orphans nobody has open.
  void settle(const ApplyOutcome& outcome);
  Result<proto::AttrReply> attrReply(uint64_t ino) const;
  // attrReply, with the directory the entry is in (the kernel asks for it next).
  Result<proto::AttrReply> attrReplyWithParent(uint64_t ino, uint64_t parent) const;
  void fillParentAttr(uint64_t parent, proto::Attr* out) const;
  Result<Session*> session(const Ctx& ctx);
  uint32_t minWriteReplicas(uint32_t goal) const;
  // The goal a new entry of this directory starts with.
  uint32_t inheritedGoal(uint64_t parent) const;
  // Right after start-up, chunkservers are still registering: missing replicas may come back.
  bool inStartupGrace() const;
  // Moves the chunk to new_version on each of servers; returns the ones that acknowledged.
  boost::asio::awaitable<std::vector<uint32_t>> bumpVersion(uint64_t chunk_id, uint64_t version,
                                                            uint64_t new_version,
                                                            std::vector<uint32_t> servers);
  boost::asio::awaitable<void> tickLoop();
  // After a restart, clients re-register their open files within a keep-alive; unlinked files
  // none of them holds open are then purged.
  void purgeUnopenedOrphans();
  // Starts copies of chunks below goal and drops replicas above it.
  void scheduleRepairs();
  boost::asio::awaitable<void> repair(ChunkManager::Repair repair, uint64_t version);

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
  // Ends one open of ino by opener: its write leases and closes-behind with its last one, and
  // the file itself with the last open anywhere of an unlinked file.
  boost::asio::awaitable<Result<void>> releaseOpen(Session& opener, uint64_t ino, const Ctx* ctx);
  Reply<proto::WatchRecallsReply> watchRecalls(Ctx&, proto::WatchRecallsRequest&);
  Reply<proto::RecallAnsweredReply> recallAnswered(Ctx&, proto::RecallAnsweredRequest&);
  // Recalls ino from the sessions that hold it back (closes_behind.h) and waits for their
  // answers, or for their sessions to end (a dead client's lease runs out). A client that is
  // merely slow is waited for: answering without it would show a reader (or the next lock
  // holder) the file as it was before that client's close. Only one that keeps its session
  // alive and still does not answer for twice the lease is given up on.
  boost::asio::awaitable<void> awaitClosesBehind(uint64_t ino, const Ctx& reader);
  // Before a name is added to dir: recalls it from the sessions that hold it (MKDIR with hold),
  // which let go of it.
  boost::asio::awaitable<void> awaitDirectoryHolds(uint64_t dir, const Ctx& ctx);
  using RecallWaits = std::vector<std::pair<uint64_t, ClosesBehind::Wait>>;  // (ino, wait)
  boost::asio::awaitable<void> awaitRecalls(RecallWaits waits);
  int64_t closeBehindWaitMs() const { return 2 * options_.session_lease_ms; }
  void closesLanded() { closes_landed_.notifyAll(); }
  Reply<proto::GetXattrReply> getXattr(Ctx&, proto::GetXattrRequest&);
  Reply<proto::ListXattrsReply> listXattrs(Ctx&, proto::ListXattrsRequest&);
  Reply<proto::AttrReply> setXattr(Ctx&, proto::SetXattrRequest&);
  Reply<proto::AttrReply> removeXattr(Ctx&, proto::RemoveXattrRequest&);
  // Both: one SetXattrOp, after the directory's holders (if it is one) have answered.
  Reply<proto::AttrReply> changeXattr(Ctx&, proto::SetXattrOp op);
  Reply<proto::GetChunksReply> getChunks(Ctx&, proto::GetChunksRequest&);
  Reply<proto::GetWriteChunkReply> getWriteChunk(Ctx&, proto::GetWriteChunkRequest&);
  Reply<proto::AttrReply> commitWrite(Ctx&, proto::CommitWriteRequest&);
  Reply<proto::CommitWritesReply> commitWrites(Ctx&, proto::CommitWritesRequest&);
  Reply<proto::ChangesBehindReply> changesBehind(Ctx&, proto::ChangesBehindRequest&);
  Reply<proto::AttrReply> changeBehind(Ctx&, proto::ChangeBehind&);
  Reply<proto::ReserveInodesReply> reserveInodes(Ctx&, proto::ReserveInodesRequest&);
  Reply<proto::ReserveChunksReply> reserveChunks(Ctx&, proto::ReserveChunksRequest&);
  // A batch whose entries each run as a call of their own (with the entry's request id) and
  // are answered one by one.
  template <class BatchReply, class Entry, class EntryReply>
  Reply<BatchReply> eachEntry(Ctx& ctx, google::protobuf::RepeatedPtrField<Entry>& entries,
                              Reply<EntryReply> (MasterService::*call)(Ctx&, Entry&));
  Reply<proto::GetWriteChunkReply> reportWriteFailure(Ctx&, proto::ReportWriteFailureRequest&);
  // The replicas in moved reached version (a bump); the others are stale now. Recorded however
  // few moved (also too few to go on writing): readers and repairs then ask for the version
  // those replicas have. Nothing when none moved.
  boost::asio::awaitable<Result<void>> recordVersionMove(Ctx& ctx, uint64_t chunk_id,
                                                         uint64_t version,
                                                         std::vector<uint32_t> moved);
  Reply<proto::ClusterStatusReply> clusterStatus(Ctx&, proto::ClusterStatusRequest&);
  Reply<proto::ReportBadReplicaReply> reportBadReplica(Ctx&, proto::ReportBadReplicaRequest&);
  // Stops serving a damaged replica and queues its rebuild; the only live replica is kept (its
  // other blocks are still good).
  void replicaDamaged(uint64_t chunk_id, uint32_t server, const char* found_by);
  Reply<proto::SyncMetadataReply> syncMetadata(Ctx&, proto::SyncMetadataRequest&);
  Reply<proto::AttrReply> setGoal(Ctx&, proto::SetGoalRequest&);
  Reply<proto::RegisterChunkserverReply> registerChunkserver(Ctx&,
                                                             proto::RegisterChunkserverRequest&);
  Reply<proto::ChunkserverHeartbeatReply> chunkserverHeartbeat(Ctx&,
                                                               proto::ChunkserverHeartbeatRequest&);

  boost::asio::io_context& io_;
  MasterOptions options_;
  // Durable state, changed only by state_.apply (in commitNow and recover).
  MetaState state_;
  const Namespace& ns_ = state_.ns();
  SessionTable& sessions_ = state_.sessions();
  ChunkManager chunks_;
  LockService locks_;
  ClosesBehind closes_behind_;
  rpc::AsyncEvent closes_landed_;  // also rung by the tick, so waits can give up
  uint32_t close_waiters_ = 0;
  rpc::AsyncEvent recalls_posted_;  // also rung by the tick, so watches can end
  uint32_t recall_watchers_ = 0;
  rpc::ClientPool chunkservers_;
  boost::asio::steady_timer tick_;
  bool stopped_ = false;
  std::unique_ptr<Journal> journal_;
  uint64_t records_since_checkpoint_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  bool checkpoint_running_ = false;
  std::thread checkpoint_thread_;
  int64_t started_ms_;
  int64_t last_stamp_ns_ = 0;  // the latest time changeTime gave: never going back
  uint64_t instance_;               // random per start, so clients notice a restart
  bool orphans_checked_ = false;    // unlinked files left open before a restart, purged once
  bool reported_under_goal_ = false;
  std::unordered_set<uint64_t> repairing_;
};

}  // namespace dfs::master
