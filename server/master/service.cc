#include "server/master/service.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lib/base/clock.h"
#include "lib/base/files.h"
#include "server/master/checkpoint.h"
#include "server/master/recovery.h"
#include "server/master/xattrs.h"

namespace dfs::master {

namespace asio = boost::asio;
using asio::awaitable;

MasterService::MasterService(asio::io_context& io, MasterOptions options)
    : io_(io),
      options_(options),
      state_(options.session_lease_ms),
      chunks_(options.chunkserver_dead_ms, options.deleted_chunk_grace_ms),
      locks_(io.get_executor(), sessions_, ns_),
      closes_landed_(io.get_executor()),
      recalls_posted_(io.get_executor()),
      chunkservers_(io.get_executor()),
      tick_(io),
      started_ms_(monoNowMs()),
      instance_((uint64_t{std::random_device{}()} << 32) | std::random_device{}()) {
  chunks_.setReservedCheck([this](uint64_t id) { return sessions_.isReservedChunk(id); });
}

void MasterService::registerRoutes(rpc::Server& server) {
  locks_.registerRoutes(server);
  DFS_ROUTE(CREATE_SESSION, CreateSessionRequest, CreateSessionReply, createSession);
  DFS_ROUTE(KEEP_ALIVE, KeepAliveRequest, KeepAliveReply, keepAlive);
  DFS_ROUTE(CLOSE_SESSION, CloseSessionRequest, CloseSessionReply, closeSession);
  DFS_ROUTE(LOOKUP, LookupRequest, AttrReply, lookup);
  DFS_ROUTE(GET_ATTR, GetAttrRequest, AttrReply, getAttr);
  DFS_ROUTE(SET_ATTR, SetAttrRequest, AttrReply, setAttr);
  DFS_ROUTE(MKNOD, MknodRequest, AttrReply, mknod);
  DFS_ROUTE(MKDIR, MkdirRequest, AttrReply, mkdir);
  DFS_ROUTE(UNLINK, UnlinkRequest, UnlinkReply, unlink);
  DFS_ROUTE(RMDIR, UnlinkRequest, UnlinkReply, rmdir);
  DFS_ROUTE(CHANGES_BEHIND, ChangesBehindRequest, ChangesBehindReply, changesBehind);
  DFS_ROUTE(RESERVE_INODES, ReserveInodesRequest, ReserveInodesReply, reserveInodes);
  DFS_ROUTE(RESERVE_CHUNKS, ReserveChunksRequest, ReserveChunksReply, reserveChunks);
  DFS_ROUTE(RENAME, RenameRequest, RenameReply, rename);
  DFS_ROUTE(LINK, LinkRequest, AttrReply, link);
  DFS_ROUTE(SYMLINK, SymlinkRequest, AttrReply, symlink);
  DFS_ROUTE(READLINK, ReadlinkRequest, ReadlinkReply, readlink);
  DFS_ROUTE(READ_DIR, ReadDirRequest, ReadDirReply, readDir);
  DFS_ROUTE(STAT_FS, StatFsRequest, StatFsReply, statFs);
  DFS_ROUTE(OPEN, OpenRequest, AttrReply, open);
  DFS_ROUTE(RELEASE, ReleaseRequest, ReleaseReply, release);
  DFS_ROUTE(WATCH_RECALLS, WatchRecallsRequest, WatchRecallsReply, watchRecalls);
  DFS_ROUTE(RECALL_ANSWERED, RecallAnsweredRequest, RecallAnsweredReply, recallAnswered);
  DFS_ROUTE(GET_XATTR, GetXattrRequest, GetXattrReply, getXattr);
  DFS_ROUTE(SET_XATTR, SetXattrRequest, AttrReply, setXattr);
  DFS_ROUTE(LIST_XATTRS, ListXattrsRequest, ListXattrsReply, listXattrs);
  DFS_ROUTE(REMOVE_XATTR, RemoveXattrRequest, AttrReply, removeXattr);
  DFS_ROUTE(GET_CHUNKS, GetChunksRequest, GetChunksReply, getChunks);
  DFS_ROUTE(GET_WRITE_CHUNK, GetWriteChunkRequest, GetWriteChunkReply, getWriteChunk);
  DFS_ROUTE(COMMIT_WRITE, CommitWriteRequest, AttrReply, commitWrite);
  DFS_ROUTE(COMMIT_WRITES, CommitWritesRequest, CommitWritesReply, commitWrites);
  DFS_ROUTE(REPORT_WRITE_FAILURE, ReportWriteFailureRequest, GetWriteChunkReply,
            reportWriteFailure);
  DFS_ROUTE(CLUSTER_STATUS, ClusterStatusRequest, ClusterStatusReply, clusterStatus);
  DFS_ROUTE(SYNC_METADATA, SyncMetadataRequest, SyncMetadataReply, syncMetadata);
  DFS_ROUTE(SET_GOAL, SetGoalRequest, AttrReply, setGoal);
  DFS_ROUTE(REPORT_BAD_REPLICA, ReportBadReplicaRequest, ReportBadReplicaReply, reportBadReplica);
  DFS_ROUTE(REGISTER_CHUNKSERVER, RegisterChunkserverRequest, RegisterChunkserverReply,
            registerChunkserver);
  DFS_ROUTE(CHUNKSERVER_HEARTBEAT, ChunkserverHeartbeatRequest, ChunkserverHeartbeatReply,
            chunkserverHeartbeat);
}

void MasterService::start() { asio::co_spawn(io_, tickLoop(), asio::detached); }

void MasterService::stop() {
  stopped_ = true;
  tick_.cancel();
  closes_landed_.notifyAll();
  recalls_posted_.notifyAll();
  chunkservers_.closeAll();
}

awaitable<void> MasterService::tickLoop() {
  while (!stopped_) {
    tick_.expires_after(std::chrono::seconds(1));
    co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopped_) co_return;
    int64_t now = monoNowMs();
    chunks_.expireDead(now);
    chunks_.releaseDue(now);
    locks_.tick(now);
    if (close_waiters_ > 0) closes_landed_.notifyAll();
    if (recall_watchers_ > 0) recalls_posted_.notifyAll();
    chunks_.collectUnreferenced(ns_, now, options_.unreferenced_chunk_grace_ms);
    if (!inStartupGrace()) scheduleRepairs();
    if (!orphans_checked_ && now - started_ms_ > options_.session_lease_ms) {
      orphans_checked_ = true;
      purgeUnopenedOrphans();
    }
    if (!reported_under_goal_ && !inStartupGrace()) {
      reported_under_goal_ = true;
      if (uint64_t under = chunks_.underReplicated(ns_, options_.goal)) {
        spdlog::warn("{} chunks have fewer than {} live replicas", under, options_.goal);
      }
    }
    for (uint64_t id : sessions_.expired(now)) {
      Session expired = *sessions_.find(id);
      spdlog::info("session {} of {} (pid {}) expired", expired.id, expired.host, expired.pid);
      proto::MetaRecord record;
      record.mutable_close_session()->set_session_id(expired.id);
      (void)commitNow(std::move(record));
      endSession(expired);
    }
    if (journal_ && records_since_checkpoint_ > 0 &&
        (records_since_checkpoint_ >= options_.checkpoint_records ||
         now - last_checkpoint_ms_ >= options_.checkpoint_interval_ms)) {
      startCheckpoint();
    }
  }
}

void MasterService::scheduleRepairs() {
  if (repairing_.size() >= options_.max_concurrent_repairs) return;
  auto plan = chunks_.planRepairs(ns_, options_.goal,
                                  options_.max_concurrent_repairs - repairing_.size(), repairing_,
                                  monoNowMs());
  for (const auto& [chunk_id, server] : plan.extra) {
    spdlog::info("chunk {:#x} is above goal {}: dropping its replica on chunkserver {}", chunk_id,
                 options_.goal, server);
    chunks_.dropReplica(chunk_id, server);
  }
  for (const auto& copy : plan.copies) {
    if (copy.rebalance && !options_.rebalance) continue;
    repairing_.insert(copy.chunk_id);
    asio::co_spawn(io_, repair(copy, ns_.chunk(copy.chunk_id)->version), asio::detached);
  }
}

awaitable<void> MasterService::repair(ChunkManager::Repair copy, uint64_t version) {
  const ChunkserverInfo* source = chunks_.server(copy.source);
  const ChunkserverInfo* target = chunks_.server(copy.target);
  auto client = target ? chunkservers_.get(target->address) : nullptr;
  Result<proto::ReplicateChunkReply> copied = makeError(Code::kUnavailable, "no target");
  if (source && client) {
    proto::ReplicateChunkRequest request;
    request.set_chunk_id(copy.chunk_id);
    request.set_version(version);
    request.set_source(source->address);
    request.set_replace_damaged(copy.replace_damaged);
    rpc::CallOptions options;
    options.timeout = std::chrono::milliseconds(120000);
    copied = co_await client->call<proto::ReplicateChunkReply>(proto::REPLICATE_CHUNK, request,
                                                               options);
  }
  repairing_.erase(copy.chunk_id);
  if (!copied) {
    spdlog::warn("copy of chunk {:#x} v{} to chunkserver {} failed: {}", copy.chunk_id, version,
                 copy.target, copied.error().toString());
    co_return;
  }
  const ChunkMeta* meta = ns_.chunk(copy.chunk_id);
  if (copied->source_missing()) {
    // Listed when the chunk was placed, never created there (its writer died first): not a
    // replica, so not a source either. A writer creating it now holds a lease.
    if (meta && meta->version == version && !chunks_.leaseHeld(copy.chunk_id, monoNowMs())) {
      chunks_.forgetReplica(copy.chunk_id, copy.source);
      spdlog::warn("chunk {:#x} v{}: chunkserver {} does not hold it; no longer listed there",
                   copy.chunk_id, version, copy.source);
    }
    co_return;
  }
  if (!meta || meta->version != version) {
    // Deleted or written meanwhile: the copy is of an old version.
    if (copy.replace_damaged) {
      chunks_.dropDamaged(copy.chunk_id, copy.target);
    } else {
      chunks_.queueDelete(copy.target, copy.chunk_id);
    }
    co_return;
  }
  const char* what = copy.replace_damaged ? "damaged replica rebuilt on"
                     : copy.rebalance     ? "moved to"
                                          : "copied to";
  if (copy.replace_damaged) {
    chunks_.repaired(copy.chunk_id, copy.target);
  } else {
    chunks_.addReplica(copy.chunk_id, copy.target);
  }
  spdlog::info("chunk {:#x} v{} {} chunkserver {}: {} live replicas", copy.chunk_id, version,
               what, copy.target, chunks_.liveReplicas(copy.chunk_id).size());
}

void MasterService::purgeUnopenedOrphans() {
  std::vector<uint64_t> orphans;
  ns_.forEachInode([&](const Inode& inode) {
    if (inode.nlink == 0 && !sessions_.isOpen(inode.ino)) orphans.push_back(inode.ino);
  });
  for (uint64_t ino : orphans) {
    proto::MetaRecord record;
    record.mutable_purge_inode()->set_ino(ino);
    (void)commitNow(std::move(record));
  }
  spdlog::info("after restart: purged {} unlinked files nobody has open", orphans.size());
}

Result<void> MasterService::recover() {
  int64_t started = monoNowMs();
  DFS_TRY(RecoveredMetadata recovered, recoverMetadata(options_.data_dir, RecoveryMode::kRepair));
  for (const auto& warning : recovered.warnings) spdlog::warn("{}", warning);
  // Sessions come back with a fresh lease: their clients get that long to reconnect.
  state_.restore(std::move(recovered.checkpoint), monoNowMs());
  for (const auto& record : recovered.records) {
    auto applied = state_.apply(record);
    if (!applied) {
      return makeError(Code::kCorrupt, fmt::format("journal record {} does not apply: {}",
                                                   record.seq(), applied.error().toString()));
    }
  }
  DFS_RETURN_IF_ERROR(toResult(ns_.checkConsistency()));
  DFS_TRY(journal_, Journal::open(options_.data_dir, recovered.last_seq + 1, io_.get_executor(),
                                  std::chrono::milliseconds(options_.journal_sync_delay_ms)));
  records_since_checkpoint_ = recovered.records.size();
  if (ns_.clusterId().empty()) {
    // A new cluster (or one made before clusters had identities): its identity is its first
    // record, journaled like every change and kept in every checkpoint after.
    std::random_device random;
    proto::MetaRecord record;
    record.set_time_ns(wallNowNs());
    record.mutable_init_cluster()->set_cluster_id(
        fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}", random(), random() & 0xffff,
                    random() & 0xffff, random() & 0xffff, random() & 0xffff, random()));
    DFS_TRY(ApplyOutcome applied, commitNow(std::move(record)));
    (void)applied;
    // Durable before anything is served: chunkservers keep it (fsynced) from their first
    // registration, and a master that forgot it would refuse them all.
    DFS_RETURN_IF_ERROR(journal_->rotate());
    spdlog::info("new cluster {}", ns_.clusterId());
  }
  // Only a master that restarted can hold unlinked files whose openers it has forgotten.
  orphans_checked_ = recovered.records.empty() && recovered.checkpoint_path.empty();
  last_checkpoint_ms_ = monoNowMs();
  // Locks live in memory only: resumed sessions may have held some and claim them first.
  std::set<uint64_t> resumed;
  sessions_.forEach([&](const Session& session) { resumed.insert(session.id); });
  locks_.startGrace(std::move(resumed), monoNowMs(), options_.session_lease_ms);
  spdlog::info("metadata recovered in {} ms: {} ({} files, {} directories, {} chunks), {} journal "
               "records replayed from {} segments, {} sessions resumed",
               monoNowMs() - started,
               recovered.checkpoint_path.empty() ? "no checkpoint" : recovered.checkpoint_path,
               ns_.fileCount(), ns_.directoryCount(), ns_.chunkCount(), recovered.records.size(),
               recovered.segments, sessions_.size());
  return {};
}

bool MasterService::startCheckpoint() {
  if (checkpoint_running_ || !journal_) return false;
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  checkpoint_running_ = true;
  int64_t started = monoNowMs();
  uint64_t seq = journal_->lastSeq();
  // The state is serialized here, between two records; the journal moves to a new segment so
  // that everything after seq lands in segments the checkpoint does not replace.
  auto bytes = std::make_shared<std::string>(state_.encodeCheckpoint(seq));
  if (auto rotated = journal_->rotate(); !rotated) {
    spdlog::error("checkpoint: {}", rotated.error().toString());
    checkpoint_running_ = false;
    return false;
  }
  records_since_checkpoint_ = 0;
  last_checkpoint_ms_ = started;
  std::string path = checkpointPath(options_.data_dir, seq);
  checkpoint_thread_ = std::thread([this, bytes, path, seq, started] {
    auto written = writeFileAtomically(path, *bytes, /*sync=*/true);
    asio::post(io_, [this, seq, written, started] { finishCheckpoint(seq, written, started); });
  });
  return true;
}

void MasterService::finishCheckpoint(uint64_t seq, Result<void> written, int64_t started_ms) {
  checkpoint_running_ = false;
  if (!written) {
    spdlog::error("checkpoint at record {} failed: {}", seq, written.error().toString());
    return;
  }
  // The checkpoint is durable: the journal before it and older checkpoints are not needed.
  journal_->removeSegmentsBefore(seq + 1);
  for (const auto& [old_seq, path] : listCheckpoints(options_.data_dir)) {
    if (old_seq < seq) std::filesystem::remove(path);
  }
  spdlog::info("checkpoint at record {} written in {} ms ({} inodes)", seq,
               monoNowMs() - started_ms, ns_.fileCount() + ns_.directoryCount());
}

Result<void> MasterService::checkpointNow() {
  if (!journal_) return {};
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  checkpoint_running_ = false;
  if (journal_->lastSeq() == 0 && listCheckpoints(options_.data_dir).empty()) return {};
  uint64_t seq = journal_->lastSeq();
  int64_t started = monoNowMs();
  auto bytes = state_.encodeCheckpoint(seq);
  DFS_RETURN_IF_ERROR(journal_->rotate());
  auto written = writeFileAtomically(checkpointPath(options_.data_dir, seq), bytes, true);
  finishCheckpoint(seq, written, started);
  return written;
}

MasterService::~MasterService() {
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

void MasterService::endSession(const Session& session) {
  chunks_.releaseAllLeases(session.id);
  // Its reserved chunks no commit named: whatever was written to them goes.
  for (uint64_t id : idsOf(session.reserved_chunks)) chunks_.release(id, monoNowMs());
  locks_.endSession(session.id);
  if (closes_behind_.dropSession(session.id)) closesLanded();
  recalls_posted_.notifyAll();  // its watch, if any, ends
  for (const auto& [ino, count] : session.open_inodes) {
    const Inode* inode = ns_.find(ino);
    if (inode && inode->nlink == 0 && !sessions_.isOpen(ino)) {
      proto::MetaRecord record;
      record.mutable_purge_inode()->set_ino(ino);
      (void)commitNow(std::move(record));
    }
  }
}

Status MasterService::checkChosenIno(const Ctx& ctx, uint64_t ino) const {
  // A retry of the call that used the number is answered as the first time (commit).
  if (sessions_.mayUseReserved(ctx.header->session_id(), ino) || answered(ctx)) {
    return Status::ok();
  }
  return Status(Code::kInvalid,
                fmt::format("inode number {} is not reserved to this session", ino));
}

bool MasterService::answered(const Ctx& ctx) const {
  return state_.answerTo(ctx.header->session_id(), ctx.header->request_id()).has_value();
}

int64_t MasterService::changeTime(int64_t chosen_ns) {
  // Never back: a clock stepped back is waited out, not written into inodes.
  int64_t now = last_stamp_ns_ = std::max({wallNowNs(), last_stamp_ns_, state_.lastTimeNs()});
  if (chosen_ns == 0) return now;
  // A client's time is its answer's: kept when it lies within a minute before now (the change
  // waited in the client's queue) and not ahead (no client moves the cluster's clock).
  constexpr int64_t kMaxBehindNs = 60'000'000'000;
  return std::clamp(chosen_ns, now - kMaxBehindNs, now);
}

Result<ApplyOutcome> MasterService::commitNow(proto::MetaRecord record, const Ctx* ctx) {
  if (ctx && ctx->header->session_id() != 0 && ctx->header->request_id() != 0) {
    auto answer = state_.answerTo(ctx->header->session_id(), ctx->header->request_id());
    if (answer) return ApplyOutcome{.ino = *answer};
    record.set_session_id(ctx->header->session_id());
    record.set_request_id(ctx->header->request_id());
  }
  if (record.time_ns() == 0) record.set_time_ns(changeTime(ctx ? ctx->chosen_time_ns : 0));
  DFS_TRY(ApplyOutcome outcome, state_.apply(record));
  if (journal_) {
    auto appended = journal_->append(record);
    if (!appended) {
      // Memory is ahead of the journal: serving it could acknowledge what a restart forgets.
      spdlog::critical("cannot journal record: {}; stopping", appended.error().toString());
      std::abort();
    }
    records_since_checkpoint_++;
  }
  settle(outcome);
  return outcome;
}

awaitable<Result<ApplyOutcome>> MasterService::commit(proto::MetaRecord record, const Ctx* ctx) {
  DFS_CO_TRY(ApplyOutcome outcome, commitNow(std::move(record), ctx));
  if (journal_ && options_.journal_sync_always) {
    DFS_CO_RETURN_IF_ERROR(co_await journal_->durable(journal_->lastSeq()));
  }
  co_return outcome;
}

void MasterService::settle(const ApplyOutcome& outcome) {
  for (uint64_t chunk_id : outcome.freed_chunks) chunks_.release(chunk_id, monoNowMs());
  for (uint64_t ino : outcome.unlinked) {
    if (sessions_.isOpen(ino)) continue;  // purged by the last release
    proto::MetaRecord purge;
    purge.mutable_purge_inode()->set_ino(ino);
    (void)commitNow(std::move(purge));
  }
}

Result<proto::AttrReply> MasterService::attrReply(uint64_t ino) const {
  DFS_TRY(const Inode* inode, ns_.get(ino));
  proto::AttrReply reply;
  ns_.fillAttr(*inode, reply.mutable_attr());
  reply.mutable_attr()->set_goal(ns_.goalOf(*inode, options_.goal));
  return reply;
}

Result<proto::AttrReply> MasterService::attrReplyWithParent(uint64_t ino, uint64_t parent) const {
  DFS_TRY(auto reply, attrReply(ino));
  fillParentAttr(parent, reply.mutable_parent());
  return reply;
}

void MasterService::fillParentAttr(uint64_t parent, proto::Attr* out) const {
  const Inode* dir = ns_.find(parent);
  if (!dir) return;
  ns_.fillAttr(*dir, out);
  out->set_goal(ns_.goalOf(*dir, options_.goal));
}

Result<Session*> MasterService::session(const Ctx& ctx) {
  Session* session = sessions_.find(ctx.header->session_id());
  if (!session) return makeError(Code::kSessionExpired, "session expired or unknown");
  return session;
}

bool MasterService::inStartupGrace() const {
  return monoNowMs() - started_ms_ < options_.chunkserver_dead_ms;
}

uint32_t MasterService::minWriteReplicas(uint32_t goal) const {
  return std::min(goal, options_.write_min_replicas);
}

uint32_t MasterService::inheritedGoal(uint64_t parent) const {
  const Inode* dir = ns_.find(parent);
  return dir ? dir->goal : 0;
}

awaitable<std::vector<uint32_t>> MasterService::bumpVersion(uint64_t chunk_id, uint64_t version,
                                                            uint64_t new_version,
                                                            std::vector<uint32_t> servers) {
  std::vector<uint32_t> acknowledged;
  for (uint32_t id : servers) {
    const ChunkserverInfo* info = chunks_.server(id);
    if (!info) continue;
    auto client = chunkservers_.get(info->address);
    if (!client) continue;
    proto::SetChunkVersionRequest request;
    request.set_chunk_id(chunk_id);
    request.set_old_version(version);
    request.set_new_version(new_version);
    request.set_create_if_missing(version == 1);
    rpc::CallOptions options;
    options.timeout = std::chrono::milliseconds(3000);
    auto reply = co_await client->call<proto::SetChunkVersionReply>(proto::SET_CHUNK_VERSION,
                                                                    request, options);
    if (reply) {
      acknowledged.push_back(id);
    } else {
      spdlog::warn("chunk {:#x} v{} -> v{} on {}: {}", chunk_id, version, new_version,
                   client->target().toString(), reply.error().toString());
    }
  }
  co_return acknowledged;
}

// ---------------------------------------------------------------- sessions

awaitable<Result<proto::CreateSessionReply>> MasterService::createSession(
    Ctx& ctx, proto::CreateSessionRequest& request) {
  uint64_t id = sessions_.allocateId();
  proto::MetaRecord record;
  auto* op = record.mutable_open_session();
  op->set_session_id(id);
  op->set_host(request.host());
  op->set_pid(request.pid());
  op->set_mount_point(request.mount_point());
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record)));
  spdlog::info("session {} opened by {} pid {} ({})", id, request.host(), request.pid(),
               request.mount_point());
  proto::CreateSessionReply reply;
  reply.set_session_id(id);
  reply.set_lease_ms(static_cast<uint32_t>(sessions_.leaseMs()));
  reply.set_master_instance(instance_);
  reply.set_cluster_id(ns_.clusterId());
  co_return reply;
}

awaitable<Result<proto::KeepAliveReply>> MasterService::keepAlive(Ctx& ctx,
                                                                  proto::KeepAliveRequest& request) {
  if (!request.cluster_id().empty() && request.cluster_id() != ns_.clusterId()) {
    co_return makeError(Code::kWrongCluster, fmt::format("this master serves cluster {}, not {}",
                                                         ns_.clusterId(), request.cluster_id()));
  }
  DFS_CO_RETURN_IF_ERROR(toResult(sessions_.renew(request.session_id(), monoNowMs())));
  proto::KeepAliveReply reply;
  reply.set_master_instance(instance_);
  co_return reply;
}

awaitable<Result<proto::CloseSessionReply>> MasterService::closeSession(
    Ctx& ctx, proto::CloseSessionRequest& request) {
  Session* session = sessions_.find(request.session_id());
  if (!session) co_return proto::CloseSessionReply{};
  Session closing = *session;
  proto::MetaRecord record;
  record.mutable_close_session()->set_session_id(request.session_id());
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record)));
  spdlog::info("session {} of {} closed", closing.id, closing.host);
  endSession(closing);
  co_return proto::CloseSessionReply{};
}

// ---------------------------------------------------------------- namespace

awaitable<Result<proto::AttrReply>> MasterService::lookup(Ctx& ctx, proto::LookupRequest& request) {
  co_await awaitDirectoryHolds(request.parent(), ctx);  // its holder may have removed the name
  DFS_CO_TRY(const Inode* inode, ns_.lookup(request.parent(), request.name()));
  uint64_t ino = inode->ino;
  if (closes_behind_.heldByOthers(ino, ctx.header->session_id())) {
    co_await awaitClosesBehind(ino, ctx);
  }
  co_return attrReply(ino);
}

awaitable<Result<proto::AttrReply>> MasterService::getAttr(Ctx& ctx,
                                                           proto::GetAttrRequest& request) {
  if (closes_behind_.heldByOthers(request.ino(), ctx.header->session_id())) {
    co_await awaitClosesBehind(request.ino(), ctx);
  }
  co_return attrReply(request.ino());
}

awaitable<Result<proto::AttrReply>> MasterService::setAttr(Ctx& ctx,
                                                           proto::SetAttrRequest& request) {
  // The holder of a directory answers for its attributes (a getattr recalls it as well).
  co_await awaitDirectoryHolds(request.ino(), ctx);
  proto::MetaRecord record;
  *record.mutable_set_attr()->mutable_attr() = request;
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  co_return attrReply(outcome.ino);
}

// ---------------------------------------------------------------- extended attributes

awaitable<Result<proto::GetXattrReply>> MasterService::getXattr(Ctx& ctx,
                                                                proto::GetXattrRequest& request) {
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  DFS_CO_RETURN_IF_ERROR(toResult(checkXattrName(request.name())));
  auto it = inode->xattrs.find(request.name());
  if (it == inode->xattrs.end()) co_return makeError(Code::kNoData, request.name());
  proto::GetXattrReply reply;
  reply.set_value(it->second);
  co_return reply;
}

awaitable<Result<proto::ListXattrsReply>> MasterService::listXattrs(
    Ctx& ctx, proto::ListXattrsRequest& request) {
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  proto::ListXattrsReply reply;
  for (const auto& [name, value] : inode->xattrs) reply.add_names(name);
  co_return reply;
}

awaitable<Result<proto::AttrReply>> MasterService::setXattr(Ctx& ctx,
                                                            proto::SetXattrRequest& request) {
  proto::SetXattrOp op;
  op.set_ino(request.ino());
  op.set_name(request.name());
  op.set_value(request.value());
  op.set_flags(request.flags());
  co_return co_await changeXattr(ctx, std::move(op));
}

awaitable<Result<proto::AttrReply>> MasterService::changeXattr(Ctx& ctx, proto::SetXattrOp op) {
  co_await awaitDirectoryHolds(op.ino(), ctx);  // its holder answers for its attributes
  proto::MetaRecord record;
  *record.mutable_set_xattr() = std::move(op);
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  co_return attrReply(outcome.ino);
}

awaitable<Result<proto::AttrReply>> MasterService::removeXattr(
    Ctx& ctx, proto::RemoveXattrRequest& request) {
  proto::SetXattrOp op;
  op.set_ino(request.ino());
  op.set_name(request.name());
  op.set_remove(true);
  co_return co_await changeXattr(ctx, std::move(op));
}

awaitable<Result<proto::AttrReply>> MasterService::mknod(Ctx& ctx, proto::MknodRequest& request) {
  switch (request.mode() & S_IFMT) {
    case S_IFREG: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK: break;
    default: co_return makeError(Code::kInvalid, "mknod of an unsupported file type");
  }
  Session* opener = nullptr;
  if (request.open() || request.ino() != 0) {
    DFS_CO_TRY(opener, session(ctx));
  }
  if (request.ino() != 0) DFS_CO_RETURN_IF_ERROR(toResult(checkChosenIno(ctx, request.ino())));
  co_await awaitDirectoryHolds(request.parent(), ctx);
  proto::MetaRecord record;
  auto* op = record.mutable_create_inode();
  op->set_parent(request.parent());
  op->set_name(request.name());
  op->set_ino(request.ino() != 0 ? request.ino() : ns_.nextIno());
  op->set_reserved(request.ino() != 0);
  op->set_mode(request.mode());
  op->set_uid(request.uid());
  op->set_gid(request.gid());
  op->set_rdev(request.rdev());
  op->set_umask(request.umask());
  op->set_goal(inheritedGoal(request.parent()));
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  if (opener) {
    sessions_.open(*opener, outcome.ino);
    if (request.close_behind() && S_ISREG(request.mode()))
      closes_behind_.hold(outcome.ino, opener->id);
  }
  co_return attrReplyWithParent(outcome.ino, request.parent());
}

awaitable<Result<proto::AttrReply>> MasterService::mkdir(Ctx& ctx, proto::MkdirRequest& request) {
  Session* holder = nullptr;
  if (request.hold()) {
    DFS_CO_TRY(holder, session(ctx));
  }
  if (request.ino() != 0) DFS_CO_RETURN_IF_ERROR(toResult(checkChosenIno(ctx, request.ino())));
  co_await awaitDirectoryHolds(request.parent(), ctx);
  proto::MetaRecord record;
  auto* op = record.mutable_create_inode();
  op->set_parent(request.parent());
  op->set_name(request.name());
  op->set_ino(request.ino() != 0 ? request.ino() : ns_.nextIno());
  op->set_reserved(request.ino() != 0);
  op->set_mode(S_IFDIR | (request.mode() & 07777));
  op->set_uid(request.uid());
  op->set_gid(request.gid());
  op->set_umask(request.umask());
  op->set_goal(inheritedGoal(request.parent()));
  // Held from the moment it exists: no other session may add a name unseen by the holder.
  uint64_t ino = op->ino();
  if (holder) closes_behind_.hold(ino, holder->id);
  auto committed = co_await commit(std::move(record), &ctx);
  if (!committed) {
    if (holder) closes_behind_.dropFile(ino, holder->id);
    co_return std::unexpected(committed.error());
  }
  co_return attrReplyWithParent(committed->ino, request.parent());
}

awaitable<Result<proto::UnlinkReply>> MasterService::unlink(Ctx& ctx,
                                                            proto::UnlinkRequest& request) {
  co_await awaitDirectoryHolds(request.parent(), ctx);
  proto::MetaRecord record;
  record.mutable_unlink()->set_parent(request.parent());
  record.mutable_unlink()->set_name(request.name());
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), &ctx));
  proto::UnlinkReply reply;
  fillParentAttr(request.parent(), reply.mutable_parent());
  co_return reply;
}

awaitable<Result<proto::UnlinkReply>> MasterService::rmdir(Ctx& ctx,
                                                           proto::UnlinkRequest& request) {
  proto::MetaRecord record;
  record.mutable_unlink()->set_parent(request.parent());
  record.mutable_unlink()->set_name(request.name());
  record.mutable_unlink()->set_directory(true);
  co_await awaitDirectoryHolds(request.parent(), ctx);
  auto removed = ns_.lookup(request.parent(), request.name());
  uint64_t removed_ino = removed ? (*removed)->ino : 0;
  // Its holder may have emptied it without telling the master yet.
  if (removed_ino != 0) co_await awaitDirectoryHolds(removed_ino, ctx);
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), &ctx));
  if (removed_ino != 0 && closes_behind_.dropInode(removed_ino)) closesLanded();
  proto::UnlinkReply reply;
  fillParentAttr(request.parent(), reply.mutable_parent());
  reply.set_ino(removed_ino);
  co_return reply;
}

awaitable<Result<proto::RenameReply>> MasterService::rename(Ctx& ctx,
                                                            proto::RenameRequest& request) {
  co_await awaitDirectoryHolds(request.parent(), ctx);
  co_await awaitDirectoryHolds(request.new_parent(), ctx);
  if (auto moved = ns_.lookup(request.parent(), request.name()); moved && (*moved)->isDir()) {
    // Its ctime moves: a session holding it answers for its attributes, and lets go.
    co_await awaitDirectoryHolds((*moved)->ino, ctx);
  }
  proto::MetaRecord record;
  auto* op = record.mutable_rename();
  op->set_parent(request.parent());
  op->set_name(request.name());
  op->set_new_parent(request.new_parent());
  op->set_new_name(request.new_name());
  op->set_flags(request.flags());
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), &ctx));
  proto::RenameReply reply;
  if (auto moved = ns_.lookup(request.new_parent(), request.new_name())) {
    ns_.fillAttr(**moved, reply.mutable_attr());
  }
  co_return reply;
}

awaitable<Result<proto::AttrReply>> MasterService::link(Ctx& ctx, proto::LinkRequest& request) {
  co_await awaitDirectoryHolds(request.new_parent(), ctx);
  proto::MetaRecord record;
  record.mutable_link()->set_ino(request.ino());
  record.mutable_link()->set_new_parent(request.new_parent());
  record.mutable_link()->set_new_name(request.new_name());
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  co_return attrReplyWithParent(outcome.ino, request.new_parent());
}

awaitable<Result<proto::AttrReply>> MasterService::symlink(Ctx& ctx,
                                                           proto::SymlinkRequest& request) {
  if (request.target().empty() || request.target().size() > 4095) {
    co_return makeError(Code::kNameTooLong, "symlink target length");
  }
  co_await awaitDirectoryHolds(request.parent(), ctx);
  proto::MetaRecord record;
  auto* op = record.mutable_create_inode();
  op->set_parent(request.parent());
  op->set_name(request.name());
  op->set_ino(ns_.nextIno());
  op->set_mode(S_IFLNK | 0777);
  op->set_uid(request.uid());
  op->set_gid(request.gid());
  op->set_symlink_target(request.target());
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  co_return attrReplyWithParent(outcome.ino, request.parent());
}

awaitable<Result<proto::ReadlinkReply>> MasterService::readlink(Ctx& ctx,
                                                                proto::ReadlinkRequest& request) {
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  if (!S_ISLNK(inode->mode)) co_return makeError(Code::kInvalid, "not a symlink");
  proto::ReadlinkReply reply;
  reply.set_target(inode->symlink_target);
  co_return reply;
}

awaitable<Result<proto::ReadDirReply>> MasterService::readDir(Ctx& ctx,
                                                              proto::ReadDirRequest& request) {
  co_await awaitDirectoryHolds(request.ino(), ctx);
  DFS_CO_TRY(const Inode* dir, ns_.get(request.ino()));
  if (!dir->isDir()) co_return makeError(Code::kNotDir, fmt::format("inode {}", request.ino()));
  uint32_t limit = std::clamp<uint32_t>(request.max_entries(), 1, 4096);
  if (!closes_behind_.empty()) {
    // Sizes in the listing are as fresh as a stat's (ls -l right after another mount's close).
    std::vector<uint64_t> pending;
    auto it =
        request.after().empty() ? dir->entries.begin() : dir->entries.upper_bound(request.after());
    for (uint32_t n = 0; it != dir->entries.end() && n < limit; ++it, ++n) {
      if (closes_behind_.heldByOthers(it->second, ctx.header->session_id())) {
        pending.push_back(it->second);
      }
    }
    // Recalled all at once, then waited for: the holders answer in parallel.
    RecallWaits waits;
    for (uint64_t ino : pending) {
      for (const auto& wait : closes_behind_.recall(ino, ctx.header->session_id())) {
        waits.emplace_back(ino, wait);
      }
    }
    co_await awaitRecalls(std::move(waits));
    DFS_CO_TRY(dir, ns_.get(request.ino()));
    if (!dir->isDir()) co_return makeError(Code::kNotDir, fmt::format("inode {}", request.ino()));
  }
  proto::ReadDirReply reply;
  ns_.fillAttr(*dir, reply.mutable_dir());
  auto it = request.after().empty() ? dir->entries.begin() : dir->entries.upper_bound(request.after());
  for (; it != dir->entries.end() && static_cast<uint32_t>(reply.entries_size()) < limit; ++it) {
    auto* entry = reply.add_entries();
    entry->set_name(it->first);
    if (const Inode* child = ns_.find(it->second)) {
      ns_.fillAttr(*child, entry->mutable_attr());
      entry->mutable_attr()->set_goal(ns_.goalOf(*child, options_.goal));
    }
  }
  reply.set_end(it == dir->entries.end());
  co_return reply;
}

awaitable<Result<proto::StatFsReply>> MasterService::statFs(Ctx& ctx, proto::StatFsRequest&) {
  proto::StatFsReply reply;
  // Space as a user sees it: every byte written is stored goal times.
  uint32_t goal = std::max<uint32_t>(options_.goal, 1);
  reply.set_total_bytes(chunks_.totalCapacity() / goal);
  reply.set_free_bytes(chunks_.totalFree() / goal);
  reply.set_files(ns_.fileCount() + ns_.directoryCount());
  co_return reply;
}

awaitable<Result<proto::AttrReply>> MasterService::open(Ctx& ctx, proto::OpenRequest& request) {
  // Close-to-open: what another mount's close wrote is committed before this open answers.
  if (closes_behind_.heldByOthers(request.ino(), ctx.header->session_id())) {
    co_await awaitClosesBehind(request.ino(), ctx);
  }
  DFS_CO_TRY(Session * opener, session(ctx));
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  if (inode->isDir() && (request.flags() & O_ACCMODE) != O_RDONLY) {
    co_return makeError(Code::kIsDir, fmt::format("inode {}", request.ino()));
  }
  sessions_.open(*opener, inode->ino);
  if (request.close_behind() && inode->isRegular()) closes_behind_.hold(inode->ino, opener->id);
  spdlog::debug("session {} opened inode {}", opener->id, inode->ino);
  co_return attrReply(inode->ino);
}

awaitable<Result<proto::ReleaseReply>> MasterService::release(Ctx& ctx,
                                                              proto::ReleaseRequest& request) {
  DFS_CO_TRY(Session * opener, session(ctx));
  if (request.leases_only()) {
    if (const Inode* inode = ns_.find(request.ino())) {
      chunks_.releaseLeases(opener->id, inode->chunks);
    }
    co_return proto::ReleaseReply{};
  }
  DFS_CO_RETURN_IF_ERROR(co_await releaseOpen(*opener, request.ino(), &ctx));
  co_return proto::ReleaseReply{};
}

awaitable<Result<void>> MasterService::releaseOpen(Session& opener, uint64_t ino, const Ctx* ctx) {
  bool last_anywhere = sessions_.release(opener, ino);
  spdlog::debug("session {} released inode {} (last open anywhere: {})", opener.id, ino,
                last_anywhere);
  if (!opener.open_inodes.contains(ino)) {
    // This client closed the file: its write leases on the file end with it.
    if (const Inode* inode = ns_.find(ino)) chunks_.releaseLeases(opener.id, inode->chunks);
    if (closes_behind_.dropFile(ino, opener.id)) closesLanded();
  }
  if (last_anywhere) {
    const Inode* inode = ns_.find(ino);
    if (inode && inode->nlink == 0) {
      proto::MetaRecord record;
      record.mutable_purge_inode()->set_ino(ino);
      DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), ctx));
    }
  }
  co_return Result<void>{};
}

awaitable<Result<proto::WatchRecallsReply>> MasterService::watchRecalls(
    Ctx& ctx, proto::WatchRecallsRequest& request) {
  DFS_CO_TRY(Session * watcher, session(ctx));
  uint64_t session_id = watcher->id;
  // Answered a little before the caller gives up, so that it simply asks again.
  int64_t give_up = monoNowMs() + std::clamp<int64_t>(ctx.deadline().count() - 1000, 0, 20000);
  recall_watchers_++;
  while (request.master_instance() == instance_ && !closes_behind_.hasRecalls(session_id) &&
         monoNowMs() < give_up && !stopped_ && sessions_.find(session_id)) {
    co_await recalls_posted_.wait();
  }
  recall_watchers_--;
  proto::WatchRecallsReply reply;
  reply.set_master_instance(instance_);
  for (const auto& recall : closes_behind_.takeRecalls(session_id)) {
    auto* out = reply.add_recalls();
    out->set_ino(recall.ino);
    out->set_number(recall.number);
  }
  co_return reply;
}

awaitable<Result<proto::RecallAnsweredReply>> MasterService::recallAnswered(
    Ctx& ctx, proto::RecallAnsweredRequest& request) {
  DFS_CO_TRY(Session * holder, session(ctx));
  bool landed = closes_behind_.answer(request.ino(), holder->id, request.number());
  // A directory's holder answers by letting go of it: another session has changed it, so the
  // holder no longer knows every name in it.
  const Inode* inode = ns_.find(request.ino());
  if (inode && inode->isDir())
    landed = closes_behind_.dropFile(request.ino(), holder->id) || landed;
  if (landed) closesLanded();
  co_return proto::RecallAnsweredReply{};
}

awaitable<void> MasterService::awaitClosesBehind(uint64_t ino, const Ctx& reader) {
  RecallWaits waits;
  for (const auto& wait : closes_behind_.recall(ino, reader.header->session_id())) {
    waits.emplace_back(ino, wait);
  }
  co_await awaitRecalls(std::move(waits));
}

awaitable<void> MasterService::awaitDirectoryHolds(uint64_t dir, const Ctx& ctx) {
  // (A file named where a directory belongs keeps its close-behind holds: not this wait's.)
  const Inode* inode = ns_.find(dir);
  if (!inode || !inode->isDir()) co_return;
  if (closes_behind_.heldByOthers(dir, ctx.header->session_id())) {
    co_await awaitClosesBehind(dir, ctx);
    // Past the wait, a holder that did not answer loses the directory all the same.
    if (closes_behind_.dropOthers(dir, ctx.header->session_id())) closesLanded();
  }
}

awaitable<void> MasterService::awaitRecalls(RecallWaits waits) {
  if (waits.empty()) co_return;
  recalls_posted_.notifyAll();
  auto satisfied = [&] {
    return std::all_of(waits.begin(), waits.end(), [&](const auto& wait) {
      return closes_behind_.satisfied(wait.first, wait.second);
    });
  };
  int64_t give_up = monoNowMs() + closeBehindWaitMs();
  close_waiters_++;
  while (!satisfied() && monoNowMs() < give_up && !stopped_) co_await closes_landed_.wait();
  close_waiters_--;
  for (const auto& [ino, wait] : waits) {
    if (closes_behind_.satisfied(ino, wait)) continue;
    spdlog::warn(
        "inode {}: session {} did not answer a recall within {} ms; answering without "
        "its close-behind",
        ino, wait.session_id, closeBehindWaitMs());
  }
}

// ---------------------------------------------------------------- chunks

awaitable<Result<proto::GetChunksReply>> MasterService::getChunks(
    Ctx& ctx, proto::GetChunksRequest& request) {
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  if (!inode->isRegular()) co_return makeError(Code::kInvalid, "chunks of a non-regular file");
  proto::GetChunksReply reply;
  reply.set_size(inode->size);
  uint64_t end = std::min<uint64_t>(inode->chunks.size(),
                                    request.first_index() + std::min<uint32_t>(request.count(), 1024));
  for (uint64_t index = request.first_index(); index < end; ++index) {
    uint64_t id = inode->chunks[index];
    if (id == 0) continue;
    chunks_.fillLocation(id, index, ns_.chunk(id)->version, reply.add_chunks());
  }
  co_return reply;
}

awaitable<Result<proto::GetWriteChunkReply>> MasterService::getWriteChunk(
    Ctx& ctx, proto::GetWriteChunkRequest& request) {
  DFS_CO_TRY(Session * writer, session(ctx));
  uint64_t session_id = writer->id;
  DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
  if (!inode->isRegular()) co_return makeError(Code::kInvalid, "write to a non-regular file");
  if (request.chunk_index() >= (1ull << 20)) co_return makeError(Code::kFileTooBig, "chunk index");
  uint32_t goal = ns_.goalOf(*inode, options_.goal);
  int64_t now = monoNowMs();
  uint64_t chunk_id =
      request.chunk_index() < inode->chunks.size() ? inode->chunks[request.chunk_index()] : 0;
  proto::GetWriteChunkReply reply;

  if (chunk_id == 0) {
    auto servers = chunks_.place(goal, {});
    if ((servers.size() < minWriteReplicas(goal) || servers.empty()) && inStartupGrace()) {
      co_return makeError(Code::kUnavailable, "waiting for chunkservers to register");
    }
    if (servers.size() < minWriteReplicas(goal) || servers.empty()) {
      co_return makeError(Code::kNoSpace, fmt::format("{} chunkservers can take a new chunk, {} needed",
                                                      servers.size(), minWriteReplicas(goal)));
    }
    chunk_id = ns_.nextChunkId();
    while (chunks_.isLeftover(chunk_id)) chunk_id++;
    proto::MetaRecord record;
    auto* op = record.mutable_alloc_chunk();
    op->set_ino(request.ino());
    op->set_chunk_index(request.chunk_index());
    op->set_chunk_id(chunk_id);
    DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), &ctx));
    chunks_.setReplicas(chunk_id, servers);
    chunks_.acquireLease(chunk_id, session_id, now, options_.write_lease_ms);
    chunks_.fillLocation(chunk_id, request.chunk_index(), 1, reply.mutable_chunk());
    reply.set_created(true);
    co_return reply;
  }

  const ChunkMeta* meta = ns_.chunk(chunk_id);
  bool held = chunks_.holdsLease(chunk_id, session_id, now);
  if (!chunks_.acquireLease(chunk_id, session_id, now, options_.write_lease_ms)) {  // or extend
    co_return makeError(Code::kBusy, fmt::format("chunk {:#x} is being written by another client",
                                                 chunk_id));
  }
  uint64_t version = meta->version;
  size_t live_count = chunks_.liveReplicas(chunk_id).size();
  if (live_count < minWriteReplicas(goal) && !ns_.holdsCommittedData(chunk_id) &&
      !inStartupGrace()) {
    // No committed byte lies in it (a first write that never arrived, or failed on too many
    // replicas), and too few replicas are left to write it: placed anew, at its version.
    auto servers = chunks_.place(goal, {});
    if (servers.size() < minWriteReplicas(goal) || servers.empty()) {
      chunks_.releaseLeases(session_id, {chunk_id});
      co_return makeError(Code::kNoSpace, fmt::format("{} chunkservers can take a new chunk, {} needed",
                                                      servers.size(), minWriteReplicas(goal)));
    }
    chunks_.setReplicas(chunk_id, servers);
    chunks_.fillLocation(chunk_id, request.chunk_index(), version, reply.mutable_chunk());
    reply.set_created(true);
    co_return reply;
  }
  if (held && live_count >= minWriteReplicas(goal)) {
    chunks_.fillLocation(chunk_id, request.chunk_index(), version, reply.mutable_chunk());
    reply.set_created(version == 1);
    co_return reply;
  }
  if (live_count < minWriteReplicas(goal)) {
    // No version is spent on a write that cannot go ahead.
    chunks_.releaseLeases(session_id, {chunk_id});
    if (inStartupGrace()) {
      co_return makeError(Code::kUnavailable, "waiting for chunkservers to report chunks");
    }
    co_return makeError(Code::kIo, fmt::format("chunk {:#x}: {} live replicas, {} needed", chunk_id,
                                               chunks_.liveReplicas(chunk_id).size(),
                                               minWriteReplicas(goal)));
  }
  // A new lease moves the chunk to a new version on every replica reached, so a replica that
  // misses this writer's data is recognisably stale.
  auto live = co_await bumpVersion(chunk_id, version, version + 1, chunks_.liveReplicas(chunk_id));
  meta = ns_.chunk(chunk_id);
  if (!meta || meta->version != version) {
    co_return makeError(Code::kBusy, "chunk changed while its version moved; try again");
  }
  DFS_CO_RETURN_IF_ERROR(co_await recordVersionMove(ctx, chunk_id, version + 1, live));
  if (live.size() < minWriteReplicas(goal) || live.empty()) {
    chunks_.releaseLeases(session_id, {chunk_id});
    if (inStartupGrace()) {
      co_return makeError(Code::kUnavailable, "waiting for chunkservers to report chunks");
    }
    co_return makeError(Code::kIo, fmt::format("chunk {:#x}: {} replicas reachable, {} needed",
                                               chunk_id, live.size(), minWriteReplicas(goal)));
  }
  chunks_.fillLocation(chunk_id, request.chunk_index(), version + 1, reply.mutable_chunk());
  co_return reply;
}

awaitable<Result<void>> MasterService::recordVersionMove(Ctx& ctx, uint64_t chunk_id,
                                                        uint64_t version,
                                                        std::vector<uint32_t> moved) {
  if (moved.empty()) co_return Result<void>{};
  proto::MetaRecord record;
  record.mutable_set_chunk_version()->set_chunk_id(chunk_id);
  record.mutable_set_chunk_version()->set_version(version);
  DFS_CO_RETURN_IF_ERROR(co_await commit(std::move(record), &ctx));
  chunks_.setReplicas(chunk_id, std::move(moved));
  co_return Result<void>{};
}

awaitable<Result<proto::AttrReply>> MasterService::commitWrite(Ctx& ctx,
                                                               proto::CommitWriteRequest& request) {
  proto::MetaRecord record;
  if (uint64_t id = request.reserved_chunk_id(); id != 0 && !answered(ctx)) {
    if (!sessions_.mayUseReservedChunk(ctx.header->session_id(), id)) {
      co_return makeError(Code::kInvalid,
                          fmt::format("chunk id {} is not reserved to this session", id));
    }
    DFS_CO_TRY(const Inode* inode, ns_.get(request.ino()));
    if (!inode->isRegular()) co_return makeError(Code::kInvalid, "write to a non-regular file");
    if (!inode->chunks.empty() && inode->chunks[0] != 0) {
      co_return makeError(Code::kExists, fmt::format("inode {} has a chunk 0", request.ino()));
    }
    record.mutable_commit_write()->set_reserved_chunk_id(id);
  }
  record.mutable_commit_write()->set_ino(request.ino());
  record.mutable_commit_write()->set_min_size(request.min_size());
  record.mutable_commit_write()->set_mtime_ns(request.mtime_ns());
  if (request.ctime_ns() != 0) {
    record.mutable_commit_write()->set_ctime_ns(changeTime(request.ctime_ns()));
  }
  if (request.has_attrs()) {
    // Held-back attribute changes go into the same record: one change, answered once.
    uint32_t valid = request.attrs().valid();
    if ((valid & ~(proto::SET_MODE | proto::SET_ATIME)) != 0) {
      co_return makeError(Code::kInvalid, "a commit carries only mode and atime changes");
    }
    auto* op = record.mutable_commit_write();
    if (valid & proto::SET_MODE) {
      op->set_has_mode(true);
      op->set_mode(request.attrs().mode());
    }
    if (valid & proto::SET_ATIME) {
      op->set_has_atime(true);
      op->set_atime_ns(request.attrs().atime_ns());
    }
  }
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  // Taken before a release below can purge an unlinked file: the commit itself succeeded.
  auto reply = attrReply(outcome.ino);
  if (request.reserved_chunk_id() != 0 && !outcome.repeated) {
    // Placed by this master at the reservation, or by one before a restart: also where the
    // writer says it wrote it, of the chunkservers registered (a replica that is not there is
    // found missing and forgotten by the first copy from it).
    std::vector<uint32_t> written_to;
    for (const auto& address : request.reserved_chunk_replicas()) {
      if (const ChunkserverInfo* server = chunks_.serverByAddress(address)) {
        written_to.push_back(server->id);
      }
    }
    chunks_.bindReserved(request.reserved_chunk_id(), written_to);
  }
  if (request.reserved_chunk_id() != 0 && !request.release_leases()) {
    // The writer may go on writing the chunk at version 1, as after GET_WRITE_CHUNK: it holds
    // the lease, so no repair copies the chunk under it.
    chunks_.acquireLease(request.reserved_chunk_id(), ctx.header->session_id(), monoNowMs(),
                         options_.write_lease_ms);
  }
  if (request.release_leases()) {
    if (const Inode* inode = ns_.find(request.ino())) {
      chunks_.releaseLeases(ctx.header->session_id(), inode->chunks);
    }
  }
  if (request.release() && !outcome.repeated) {
    // The commit of a close-behind that the file's release caught up with: one call for both.
    // Its purge, if any, is a record of its own (the call's id already names the commit).
    if (Session* opener = sessions_.find(ctx.header->session_id())) {
      DFS_CO_RETURN_IF_ERROR(co_await releaseOpen(*opener, request.ino(), nullptr));
    }
  }
  co_return reply;
}

namespace {

// One entry of a batch runs as a call of its own would: the batch's session, the entry's own
// request id (0: none, for an entry that is safe to repeat).
struct EntryCall {
  EntryCall(const rpc::CallContext& batch, uint64_t request_id) : header(*batch.header) {
    header.set_request_id(request_id);
    context.header = &header;
    context.peer = batch.peer;
  }
  proto::RpcHeader header;
  rpc::CallContext context;
};

// A client sends a few dozen files' write-outs at once at most.
Status checkBatchSize(int entries) {
  constexpr int kMaxBatchedWrites = 256;
  if (entries <= kMaxBatchedWrites) return Status::ok();
  return Status(Code::kInvalid, fmt::format("{} entries in one batch", entries));
}

// An entry's answer: its reply, or its error.
template <class Answer, class Reply>
void answerEntry(Answer* answer, Result<Reply> got) {
  if (got) {
    *answer->mutable_reply() = std::move(*got);
    return;
  }
  answer->set_status(static_cast<int>(got.error().code()));
  answer->set_message(got.error().message());
}

}  // namespace

template <class BatchReply, class Entry, class EntryReply>
awaitable<Result<BatchReply>> MasterService::eachEntry(
    Ctx& ctx, google::protobuf::RepeatedPtrField<Entry>& entries,
    awaitable<Result<EntryReply>> (MasterService::*call)(Ctx&, Entry&)) {
  DFS_CO_RETURN_IF_ERROR(toResult(checkBatchSize(entries.size())));
  BatchReply reply;
  for (auto& one : entries) {
    EntryCall entry(ctx, one.request_id());
    answerEntry(reply.add_results(), co_await (this->*call)(entry.context, one));
  }
  co_return reply;
}

awaitable<Result<proto::ChangesBehindReply>> MasterService::changesBehind(
    Ctx& ctx, proto::ChangesBehindRequest& request) {
  co_return co_await eachEntry<proto::ChangesBehindReply>(ctx, *request.mutable_changes(),
                                                          &MasterService::changeBehind);
}

awaitable<Result<proto::AttrReply>> MasterService::changeBehind(Ctx& ctx,
                                                                proto::ChangeBehind& change) {
  ctx.chosen_time_ns = change.time_ns();  // ctx is this entry's own
  switch (change.change_case()) {
    case proto::ChangeBehind::kCreate: {
      auto& create = *change.mutable_create();
      if (!S_ISREG(create.mode()) || create.ino() == 0) {
        co_return makeError(Code::kInvalid,
                            "a create behind makes a regular file of a reserved number");
      }
      co_return co_await mknod(ctx, create);
    }
    case proto::ChangeBehind::kMkdir: {
      auto& mkdir_request = *change.mutable_mkdir();
      if (!mkdir_request.hold() || mkdir_request.ino() == 0) {
        co_return makeError(Code::kInvalid,
                            "a mkdir behind makes a held directory of a reserved number");
      }
      co_return co_await mkdir(ctx, mkdir_request);
    }
    case proto::ChangeBehind::kUnlink:
    case proto::ChangeBehind::kRmdir: {
      Result<proto::UnlinkReply> removed;
      if (change.has_rmdir()) {
        removed = co_await rmdir(ctx, *change.mutable_rmdir());
      } else {
        removed = co_await unlink(ctx, *change.mutable_unlink());
      }
      DFS_CO_RETURN_IF_ERROR(removed);
      proto::AttrReply reply;
      *reply.mutable_parent() = std::move(*removed->mutable_parent());
      co_return reply;
    }
    case proto::ChangeBehind::kSetAttr: {
      auto& set_attr = *change.mutable_set_attr();
      if (set_attr.valid() & proto::SET_SIZE) {
        co_return makeError(Code::kInvalid, "a setattr behind changes no size");
      }
      co_return co_await setAttr(ctx, set_attr);
    }
    default:
      co_return makeError(Code::kInvalid, "an empty change");
  }
}

awaitable<Result<proto::ReserveInodesReply>> MasterService::reserveInodes(
    Ctx& ctx, proto::ReserveInodesRequest& request) {
  constexpr uint32_t kMaxReserved = 4096;
  if (request.count() == 0 || request.count() > kMaxReserved) {
    co_return makeError(Code::kInvalid, fmt::format("{} inode numbers asked, 1 to {} allowed",
                                                    request.count(), kMaxReserved));
  }
  DFS_CO_TRY(Session * holder, session(ctx));
  proto::MetaRecord record;
  auto* op = record.mutable_reserve_inodes();
  op->set_session_id(holder->id);
  op->set_first(ns_.nextIno());
  op->set_count(request.count());
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  proto::ReserveInodesReply reply;
  reply.set_first(outcome.ino);  // a retried call gets the first call's numbers
  reply.set_count(request.count());
  co_return reply;
}

awaitable<Result<proto::ReserveChunksReply>> MasterService::reserveChunks(
    Ctx& ctx, proto::ReserveChunksRequest& request) {
  constexpr uint32_t kMaxReserved = 1024;
  if (request.count() == 0 || request.count() > kMaxReserved) {
    co_return makeError(Code::kInvalid, fmt::format("{} chunk ids asked, 1 to {} allowed",
                                                    request.count(), kMaxReserved));
  }
  DFS_CO_TRY(Session * holder, session(ctx));
  uint64_t session_id = holder->id;
  uint32_t goal = options_.goal;
  if (!answered(ctx)) {
    // Placed now (and again by a retry that finds its placements forgotten), so that a close
    // only writes; the placements are soft state, as every replica list is.
    auto servers = chunks_.place(goal, {});
    if (servers.size() < minWriteReplicas(goal) || servers.empty()) {
      co_return makeError(inStartupGrace() ? Code::kUnavailable : Code::kNoSpace,
                          fmt::format("{} chunkservers can take a new chunk, {} needed",
                                      servers.size(), minWriteReplicas(goal)));
    }
  }
  uint64_t first = ns_.nextChunkId();
  for (uint64_t id = first; id < first + request.count(); ++id) {
    if (chunks_.isLeftover(id)) first = id + 1;  // never reuse an id some chunkserver holds
  }
  proto::MetaRecord record;
  auto* op = record.mutable_reserve_chunks();
  op->set_session_id(session_id);
  op->set_first(first);
  op->set_count(request.count());
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  first = outcome.ino;  // a retried call gets the first call's ids
  std::vector<uint64_t> unplaced;
  for (uint64_t id = first; id < first + request.count(); ++id) {
    // Not used or passed over meanwhile, and not placed already (by the call a retry repeats).
    if (sessions_.mayUseReservedChunk(session_id, id) && chunks_.reservedPlacement(id).empty()) {
      unplaced.push_back(id);
    }
  }
  (void)chunks_.placeReserved(goal, unplaced);
  proto::ReserveChunksReply reply;
  reply.set_goal(goal);
  for (uint64_t id = first; id < first + request.count(); ++id) {
    const auto& placed = chunks_.reservedPlacement(id);
    if (!sessions_.mayUseReservedChunk(session_id, id) || placed.size() < minWriteReplicas(goal)) {
      continue;
    }
    auto* chunk = reply.add_chunks();
    chunk->set_chunk_id(id);
    chunk->set_version(1);
    for (uint32_t server : placed) {
      if (const ChunkserverInfo* info = chunks_.server(server)) chunk->add_replicas(info->address);
    }
  }
  co_return reply;
}

awaitable<Result<proto::CommitWritesReply>> MasterService::commitWrites(
    Ctx& ctx, proto::CommitWritesRequest& request) {
  co_return co_await eachEntry<proto::CommitWritesReply>(ctx, *request.mutable_commits(),
                                                         &MasterService::commitWrite);
}

awaitable<Result<proto::GetWriteChunkReply>> MasterService::reportWriteFailure(
    Ctx& ctx, proto::ReportWriteFailureRequest& request) {
  DFS_CO_TRY(Session * writer, session(ctx));
  uint64_t session_id = writer->id;
  const ChunkMeta* meta = ns_.chunk(request.chunk_id());
  if (!meta || meta->ino != request.ino() || meta->index != request.chunk_index()) {
    co_return makeError(Code::kNotFound, fmt::format("chunk {:#x}", request.chunk_id()));
  }
  if (!chunks_.holdsLease(request.chunk_id(), session_id, monoNowMs())) {
    co_return makeError(Code::kBusy, "write lease lost");
  }
  if (meta->version != request.version()) {
    co_return makeError(Code::kStale, "chunk version moved on");
  }
  std::vector<uint32_t> remaining;
  for (uint32_t id : chunks_.liveReplicas(request.chunk_id())) {
    const auto& failed = request.failed();
    if (std::find(failed.begin(), failed.end(), chunks_.server(id)->address) == failed.end()) {
      remaining.push_back(id);
    }
  }
  spdlog::warn("chunk {:#x} v{}: write failed on {} replica(s), {} remain", request.chunk_id(),
               request.version(), request.failed_size(), remaining.size());
  uint64_t version = meta->version;
  uint32_t goal = ns_.chunkGoal(request.chunk_id(), options_.goal);
  auto live = co_await bumpVersion(request.chunk_id(), version, version + 1, remaining);
  meta = ns_.chunk(request.chunk_id());
  if (!meta || meta->version != version) co_return makeError(Code::kBusy, "chunk changed");
  DFS_CO_RETURN_IF_ERROR(co_await recordVersionMove(ctx, request.chunk_id(), version + 1, live));
  if (live.size() < minWriteReplicas(goal) || live.empty()) {
    co_return makeError(Code::kIo, fmt::format("chunk {:#x}: {} replicas left, {} needed",
                                               request.chunk_id(), live.size(), minWriteReplicas(goal)));
  }
  proto::GetWriteChunkReply reply;
  chunks_.fillLocation(request.chunk_id(), request.chunk_index(), version + 1,
                       reply.mutable_chunk());
  co_return reply;
}

awaitable<Result<proto::AttrReply>> MasterService::setGoal(Ctx& ctx, proto::SetGoalRequest& request) {
  if (request.goal() > 16) co_return makeError(Code::kInvalid, "goal must be 0 to 16");
  proto::MetaRecord record;
  record.mutable_set_goal()->set_ino(request.ino());
  record.mutable_set_goal()->set_goal(request.goal());
  record.mutable_set_goal()->set_recursive(request.recursive());
  DFS_CO_TRY(ApplyOutcome outcome, co_await commit(std::move(record), &ctx));
  // The repair pass copies or trims toward the new goal in the background.
  co_return attrReply(outcome.ino);
}

awaitable<Result<proto::SyncMetadataReply>> MasterService::syncMetadata(
    Ctx& ctx, proto::SyncMetadataRequest&) {
  if (journal_) DFS_CO_RETURN_IF_ERROR(co_await journal_->durable(journal_->lastSeq()));
  co_return proto::SyncMetadataReply{};
}

awaitable<Result<proto::ClusterStatusReply>> MasterService::clusterStatus(
    Ctx& ctx, proto::ClusterStatusRequest&) {
  proto::ClusterStatusReply reply;
  int64_t now = monoNowMs();
  for (const auto& [id, info] : chunks_.servers()) {
    auto* server = reply.add_chunkservers();
    server->set_id(id);
    server->set_address(info.address);
    server->set_alive(info.alive);
    server->set_capacity_bytes(info.capacity_bytes);
    server->set_used_bytes(info.used_bytes);
    server->set_chunks(info.chunks);
    server->set_last_heartbeat_ms_ago(now - info.last_heartbeat_ms);
    server->set_scrubbed_bytes(info.scrubbed_bytes);
  }
  reply.set_damaged_replicas(chunks_.damagedCount());
  reply.set_files(ns_.fileCount());
  reply.set_directories(ns_.directoryCount());
  reply.set_chunks(ns_.chunkCount());
  reply.set_under_replicated_chunks(chunks_.underReplicated(ns_, options_.goal));
  reply.set_sessions(sessions_.size());
  reply.set_goal(options_.goal);
  co_return reply;
}

// ---------------------------------------------------------------- chunkservers

awaitable<Result<proto::RegisterChunkserverReply>> MasterService::registerChunkserver(
    Ctx& ctx, proto::RegisterChunkserverRequest& request) {
  DFS_CO_TRY(HostPort address, parseHostPort(request.address()));
  (void)address;
  if (!request.cluster_id().empty() && request.cluster_id() != ns_.clusterId()) {
    // Its replicas are another cluster's chunks that happen to have ids of ours: never counted,
    // served or deleted here.
    spdlog::error("refused chunkserver {} (data dir {}): its data belongs to cluster {}, this is "
                  "cluster {}",
                  request.address(), request.data_dir_id(), request.cluster_id(), ns_.clusterId());
    co_return makeError(Code::kWrongCluster,
                        fmt::format("the data dir belongs to cluster {}, this master serves "
                                    "cluster {}",
                                    request.cluster_id(), ns_.clusterId()));
  }
  proto::RegisterChunkserverReply reply;
  reply.set_cluster_id(ns_.clusterId());
  reply.set_chunkserver_id(chunks_.registerChunkserver(request, ns_, monoNowMs()));
  co_return reply;
}

awaitable<Result<proto::ChunkserverHeartbeatReply>> MasterService::chunkserverHeartbeat(
    Ctx& ctx, proto::ChunkserverHeartbeatRequest& request) {
  if (!request.cluster_id().empty() && request.cluster_id() != ns_.clusterId()) {
    co_return makeError(Code::kWrongCluster, fmt::format("this master serves cluster {}, not {}",
                                                         ns_.clusterId(), request.cluster_id()));
  }
  proto::ChunkserverHeartbeatReply reply;
  auto deletes = chunks_.heartbeat(request, monoNowMs());
  if (!deletes) {
    reply.set_reregister(true);
    co_return reply;
  }
  for (uint64_t id : *deletes) reply.add_delete_chunks(id);
  for (uint64_t chunk_id : request.corrupt_chunks()) {
    replicaDamaged(chunk_id, request.chunkserver_id(), "its chunkserver");
  }
  co_return reply;
}

void MasterService::replicaDamaged(uint64_t chunk_id, uint32_t server, const char* found_by) {
  if (!ns_.chunk(chunk_id)) return;  // deleted: goes with the chunk
  auto live = chunks_.liveReplicas(chunk_id);
  if (std::find(live.begin(), live.end(), server) == live.end()) return;  // already known
  if (live.size() == 1) {
    spdlog::error("chunk {:#x}: the only live replica, on chunkserver {}, is damaged ({}); kept "
                  "for its good blocks",
                  chunk_id, server, found_by);
    return;
  }
  if (chunks_.markDamaged(chunk_id, server)) {
    spdlog::error("chunk {:#x}: replica on chunkserver {} is damaged (found by {}); rebuilding it "
                  "from a good replica",
                  chunk_id, server, found_by);
  }
}

awaitable<Result<proto::ReportBadReplicaReply>> MasterService::reportBadReplica(
    Ctx& ctx, proto::ReportBadReplicaRequest& request) {
  DFS_CO_TRY(Session * reporter, session(ctx));
  (void)reporter;
  const ChunkMeta* meta = ns_.chunk(request.chunk_id());
  const ChunkserverInfo* server = chunks_.serverByAddress(request.address());
  // A report about an older version or an unknown server is stale: nothing to do.
  if (meta && server && meta->version == request.version()) {
    replicaDamaged(request.chunk_id(), server->id, "a client read");
  }
  co_return proto::ReportBadReplicaReply{};
}

}  // namespace dfs::master
