#include "server/master/lock_service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lib/base/clock.h"

namespace dfs::master {

namespace asio = boost::asio;
using asio::awaitable;

LockService::LockService(asio::any_io_executor executor, SessionTable& sessions,
                         const Namespace& ns)
    : executor_(executor), sessions_(sessions), ns_(ns), grace_over_(executor) {}

void LockService::registerRoutes(rpc::Server& server) {
  DFS_ROUTE(LOCK, LockRequest, LockReply, lock);
  DFS_ROUTE(GET_LOCK, GetLockRequest, GetLockReply, getLock);
  DFS_ROUTE(CANCEL_LOCK, CancelLockRequest, CancelLockReply, cancelLock);
  DFS_ROUTE(LIST_LOCKS, ListLocksRequest, ListLocksReply, listLocks);
  DFS_ROUTE(LOCKS_RECLAIMED, LocksReclaimedRequest, LocksReclaimedReply, locksReclaimed);
}

void LockService::startGrace(std::set<uint64_t> sessions, int64_t now_ms, int64_t grace_ms) {
  if (sessions.empty()) return;
  reclaiming_ = std::move(sessions);
  grace_until_ms_ = now_ms + grace_ms;
  spdlog::info("locks: {} sessions have up to {} ms to claim the locks they held",
               reclaiming_.size(), grace_ms);
}

bool LockService::inGrace() const { return grace_until_ms_ != 0; }

void LockService::endGrace() {
  if (!inGrace()) return;
  grace_until_ms_ = 0;
  if (!reclaiming_.empty()) {
    spdlog::info("locks: grace period over, {} sessions did not claim their locks",
                 reclaiming_.size());
  }
  reclaiming_.clear();
  grace_over_.notifyAll();
}

void LockService::tick(int64_t now_ms) {
  if (inGrace() && now_ms >= grace_until_ms_) endGrace();
}

Result<uint64_t> LockService::sessionOf(const Ctx& ctx) {
  Session* session = sessions_.find(ctx.header->session_id());
  if (!session) return makeError(Code::kSessionExpired, "session expired or unknown");
  return session->id;
}

Result<locks::Request> LockService::toRequest(uint64_t session_id, uint64_t ino,
                                              proto::LockKind kind, proto::LockType type,
                                              uint64_t start, uint64_t end, uint64_t owner,
                                              uint32_t pid) const {
  if (kind != proto::LOCK_FLOCK && kind != proto::LOCK_POSIX) {
    return makeError(Code::kInvalid, "unknown lock kind");
  }
  if (type != proto::LOCK_SHARED && type != proto::LOCK_EXCLUSIVE && type != proto::LOCK_UNLOCK) {
    return makeError(Code::kInvalid, "unknown lock type");
  }
  if (start > end) return makeError(Code::kInvalid, "lock range ends before it starts");
  const Inode* inode = ns_.find(ino);
  if (!inode) return makeError(Code::kNotFound, fmt::format("inode {}", ino));
  locks::Request request;
  request.ino = ino;
  request.kind = kind == proto::LOCK_FLOCK ? locks::Kind::kFlock : locks::Kind::kPosix;
  request.lock.owner = {session_id, owner};
  request.lock.exclusive = type == proto::LOCK_EXCLUSIVE;
  request.lock.range = kind == proto::LOCK_FLOCK ? locks::Range{} : locks::Range{start, end};
  request.lock.pid = pid;
  request.lock.since_ms = monoNowMs();
  return request;
}

std::optional<uint64_t> LockService::findWaiter(uint64_t session_id, uint64_t wait_id) const {
  if (wait_id == 0) return std::nullopt;
  for (const auto& [id, waiter] : waiters_) {
    if (waiter->session_id == session_id && waiter->wait_id == wait_id) return id;
  }
  return std::nullopt;
}

void LockService::finish(const std::vector<uint64_t>& waiter_ids, const Status& outcome) {
  for (uint64_t id : waiter_ids) {
    auto it = waiters_.find(id);
    if (it == waiters_.end()) continue;
    it->second->outcome = outcome;
    it->second->done->notifyAll();
    waiters_.erase(it);
  }
}

awaitable<Status> LockService::await(WaiterPtr waiter) {
  while (!waiter->outcome) co_await waiter->done->wait();
  co_return *waiter->outcome;
}

awaitable<Result<proto::LockReply>> LockService::lock(Ctx& ctx, proto::LockRequest& request) {
  DFS_CO_TRY(uint64_t session_id, sessionOf(ctx));
  DFS_CO_TRY(auto wanted, toRequest(session_id, request.ino(), request.kind(), request.type(),
                                    request.start(), request.end(), request.owner(),
                                    request.pid()));
  if (request.type() == proto::LOCK_UNLOCK) {
    finish(table_.unlock(wanted.ino, wanted.kind, wanted.lock.owner, wanted.lock.range), Status());
    co_return proto::LockReply{};
  }
  if (request.reclaim()) {
    if (auto conflict = table_.conflicting(wanted)) {
      // Only possible if two clients claim one lock: the first one keeps it.
      co_return makeError(Code::kLocked, "claimed lock is held by another session");
    }
    table_.forceLock(wanted);
    co_return proto::LockReply{};
  }
  if (auto existing = findWaiter(session_id, request.wait_id())) {
    Status outcome = co_await await(waiters_.at(*existing));
    if (!outcome.isOk()) co_return std::unexpected(outcome);
    co_return proto::LockReply{};
  }
  while (inGrace()) co_await grace_over_.wait();
  if (!sessions_.find(session_id)) co_return makeError(Code::kStale, "session ended");
  if (wanted.kind == locks::Kind::kFlock) {
    // Converting a flock lock gives up the old one first, as Linux does: two shared holders
    // that both upgrade must not wait for each other forever.
    finish(table_.releaseOwner(wanted.ino, wanted.kind, wanted.lock.owner), Status());
  }
  auto conflict = table_.tryLock(wanted);
  if (!conflict) co_return proto::LockReply{};
  if (!request.wait()) {
    co_return makeError(Code::kLocked, fmt::format("held by session {} pid {}",
                                                   conflict->owner.session, conflict->pid));
  }
  uint64_t id = next_waiter_id_++;
  auto waiter = std::make_shared<Waiter>();
  waiter->session_id = session_id;
  waiter->wait_id = request.wait_id();
  waiter->done = std::make_unique<rpc::AsyncEvent>(executor_);
  waiters_[id] = waiter;
  table_.enqueue(wanted, id);
  Status outcome = co_await await(waiter);
  if (!outcome.isOk()) co_return std::unexpected(outcome);
  co_return proto::LockReply{};
}

awaitable<Result<proto::GetLockReply>> LockService::getLock(Ctx& ctx,
                                                            proto::GetLockRequest& request) {
  DFS_CO_TRY(uint64_t session_id, sessionOf(ctx));
  DFS_CO_TRY(auto wanted, toRequest(session_id, request.ino(), request.kind(), request.type(),
                                    request.start(), request.end(), request.owner(), 0));
  proto::GetLockReply reply;
  if (auto conflict = table_.conflicting(wanted)) {
    reply.set_conflict(true);
    reply.set_type(conflict->exclusive ? proto::LOCK_EXCLUSIVE : proto::LOCK_SHARED);
    reply.set_start(conflict->range.start);
    reply.set_end(conflict->range.end);
    reply.set_pid(conflict->pid);
    reply.set_session_id(conflict->owner.session);
  }
  co_return reply;
}

awaitable<Result<proto::CancelLockReply>> LockService::cancelLock(
    Ctx& ctx, proto::CancelLockRequest& request) {
  DFS_CO_TRY(uint64_t session_id, sessionOf(ctx));
  proto::CancelLockReply reply;
  if (auto id = findWaiter(session_id, request.wait_id())) {
    bool found = false;
    auto granted = table_.cancel(*id, &found);
    if (found) {
      finish({*id}, Status(Code::kCancelled, "interrupted"));
      reply.set_cancelled(true);
    }
    finish(granted, Status());
  }
  co_return reply;
}

awaitable<Result<proto::ListLocksReply>> LockService::listLocks(Ctx& ctx,
                                                                proto::ListLocksRequest& request) {
  DFS_CO_TRY(uint64_t session_id, sessionOf(ctx));
  (void)session_id;
  proto::ListLocksReply reply;
  int64_t now = monoNowMs();
  for (const auto& entry : table_.list(request.ino())) {
    auto* out = reply.add_locks();
    out->set_ino(entry.ino);
    out->set_kind(entry.kind == locks::Kind::kFlock ? proto::LOCK_FLOCK : proto::LOCK_POSIX);
    out->set_type(entry.lock.exclusive ? proto::LOCK_EXCLUSIVE : proto::LOCK_SHARED);
    out->set_start(entry.lock.range.start);
    out->set_end(entry.lock.range.end);
    out->set_session_id(entry.lock.owner.session);
    out->set_owner(entry.lock.owner.id);
    out->set_pid(entry.lock.pid);
    out->set_age_ms(now - entry.lock.since_ms);
    out->set_waiting(entry.waiting);
    if (const Session* session = sessions_.find(entry.lock.owner.session)) {
      out->set_host(session->host);
    }
  }
  co_return reply;
}

awaitable<Result<proto::LocksReclaimedReply>> LockService::locksReclaimed(
    Ctx& ctx, proto::LocksReclaimedRequest&) {
  DFS_CO_TRY(uint64_t session_id, sessionOf(ctx));
  if (reclaiming_.erase(session_id) && reclaiming_.empty()) {
    spdlog::info("locks: every session claimed its locks, grace period over");
    endGrace();
  }
  co_return proto::LocksReclaimedReply{};
}

void LockService::endSession(uint64_t session_id) {
  auto end = table_.releaseSession(session_id);
  finish(end.dropped, Status(Code::kStale, "session ended"));
  finish(end.granted, Status());
  // Waits not yet in the table (none today) and claims it will never make.
  if (reclaiming_.erase(session_id) && reclaiming_.empty()) endGrace();
}

}  // namespace dfs::master
