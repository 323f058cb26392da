// The lock half of DfsClient: flock and POSIX/OFD locks through the master's lock service,
// the coherence that comes with them, and claiming them again after a master restart.
#include <spdlog/spdlog.h>

#include "lib/client/internal.h"

namespace dfs::client {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

locks::Request toTableRequest(const DfsClient::LockSpec& spec) {
  locks::Request request;
  request.ino = spec.ino;
  request.kind = spec.kind == proto::LOCK_FLOCK ? locks::Kind::kFlock : locks::Kind::kPosix;
  request.lock.owner = {0, spec.owner};
  request.lock.exclusive = spec.type == proto::LOCK_EXCLUSIVE;
  request.lock.range = spec.kind == proto::LOCK_FLOCK ? locks::Range{}
                                                      : locks::Range{spec.start, spec.end};
  request.lock.pid = spec.pid;
  return request;
}

// LockRequest and GetLockRequest name a lock alike.
template <class Message>
Message toProto(const DfsClient::LockSpec& spec) {
  Message request;
  request.set_ino(spec.ino);
  request.set_kind(spec.kind);
  request.set_type(spec.type);
  request.set_start(spec.start);
  request.set_end(spec.end);
  request.set_owner(spec.owner);
  if constexpr (requires { request.set_pid(spec.pid); }) request.set_pid(spec.pid);
  return request;
}

}  // namespace

Task<proto::LockReply> DfsClient::lockCall(const proto::LockRequest& request) {
  std::chrono::milliseconds backoff(20);
  auto give_up = std::chrono::steady_clock::now() + options_.retry_window;
  for (;;) {
    rpc::CallOptions call_options;
    call_options.timeout = std::chrono::hours(24);
    call_options.session_id = session_id_;
    call_options.request_id = next_request_id_++;
    auto reply = co_await master_->call<proto::LockReply>(proto::LOCK, request, call_options);
    if (reply || !isRetriable(reply.error().code()) || stopping_) co_return reply;
    // The connection was lost while waiting (a master restart): ask again; the master finds
    // the waiting request by its wait id, or a restarted one queues it anew after its grace.
    auto now = std::chrono::steady_clock::now();
    if (now > give_up) co_return reply;
    asio::steady_timer timer(io_, backoff);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

Task<void> DfsClient::setLock(LockSpec spec, bool wait, uint64_t wait_id) {
  if (spec.type == proto::LOCK_UNLOCK) {
    // What was written under the lock reaches the cluster before anyone else can take it, and
    // the next holder can write the chunks this client was writing.
    auto flushed = co_await flushAndYieldLeases(spec.ino);
    auto request = toTableRequest(spec);
    held_locks_.unlock(request.ino, request.kind, request.lock.owner, request.lock.range);
    DFS_CO_RETURN_IF_ERROR(
        co_await masterCall<proto::LockReply>(proto::LOCK, toProto<proto::LockRequest>(spec)));
    co_return flushed;
  }
  while (owners_unlocking_.contains(spec.owner)) co_await owners_unlocked_.wait();
  proto::LockRequest request = toProto<proto::LockRequest>(spec);
  request.set_wait(wait);
  request.set_wait_id(wait_id);
  if (wait) {
    DFS_CO_RETURN_IF_ERROR(co_await lockCall(request));
  } else {
    DFS_CO_RETURN_IF_ERROR(co_await masterCall<proto::LockReply>(proto::LOCK, request));
  }
  held_locks_.forceLock(toTableRequest(spec));
  // Whatever this client cached of the file may predate the previous holder's writes.
  auto it = files_.find(spec.ino);
  if (it != files_.end() && !it->second->hasUnsentData() && !it->second->dirty) {
    it->second->size_known = false;
    forgetCachedData(*it->second);
  }
  co_return Result<void>{};
}

Task<void> DfsClient::releaseAndUnlock(uint64_t ino,
                                       std::vector<std::pair<proto::LockKind, uint64_t>> owners) {
  // Marked before the first wait: requests are handled in the order the kernel sent them, so a
  // lock call that came after this release sees the mark.
  for (const auto& owner : owners) owners_unlocking_.insert(owner.second);
  auto released = co_await release(ino);
  for (const auto& [kind, owner] : owners) (void)co_await releaseLocks(ino, kind, owner);
  for (const auto& owner : owners) owners_unlocking_.erase(owners_unlocking_.find(owner.second));
  owners_unlocked_.notifyAll();
  co_return released;
}

Task<void> DfsClient::flushAndYieldLeases(uint64_t ino) {
  auto it = files_.find(ino);
  if (it == files_.end()) co_return Result<void>{};
  auto state = it->second;
  co_await awaitClosesBehind(*state);
  DFS_CO_RETURN_IF_ERROR(co_await drain(*state));
  // Written under the lock: the commit gives the leases up too, in the same round trip.
  if (state->dirty) co_return co_await commit(*state, /*release_leases=*/true);
  if (state->write_chunks.empty()) co_return Result<void>{};
  state->write_chunks.clear();
  proto::ReleaseRequest request;
  request.set_ino(ino);
  request.set_leases_only(true);
  DFS_CO_RETURN_IF_ERROR(co_await masterCall<proto::ReleaseReply>(proto::RELEASE, request));
  co_return Result<void>{};
}

Task<void> DfsClient::cancelLockWait(uint64_t wait_id) {
  proto::CancelLockRequest request;
  request.set_wait_id(wait_id);
  DFS_CO_RETURN_IF_ERROR(co_await masterCall<proto::CancelLockReply>(proto::CANCEL_LOCK, request));
  co_return Result<void>{};
}

Task<proto::GetLockReply> DfsClient::getLock(LockSpec spec) {
  co_return co_await masterCall<proto::GetLockReply>(proto::GET_LOCK,
                                                     toProto<proto::GetLockRequest>(spec));
}

Task<void> DfsClient::releaseLocks(uint64_t ino, proto::LockKind kind, uint64_t owner) {
  LockSpec spec;
  spec.ino = ino;
  spec.kind = kind;
  spec.owner = owner;
  auto request = toTableRequest(spec);
  bool holds = false;
  for (const auto& entry : held_locks_.list(ino)) {
    holds = holds || (entry.kind == request.kind && entry.lock.owner == request.lock.owner);
  }
  if (!holds) co_return Result<void>{};
  spec.type = proto::LOCK_UNLOCK;
  co_return co_await setLock(spec, false, 0);
}

Task<proto::ListLocksReply> DfsClient::listLocks(uint64_t ino) {
  proto::ListLocksRequest request;
  request.set_ino(ino);
  co_return co_await masterCall<proto::ListLocksReply>(proto::LIST_LOCKS, request);
}

awaitable<void> DfsClient::reclaimLocks() {
  auto held = held_locks_.heldBy(0);
  size_t lost = 0;
  for (const auto& lock : held) {
    proto::LockRequest request;
    request.set_ino(lock.ino);
    request.set_kind(lock.kind == locks::Kind::kFlock ? proto::LOCK_FLOCK : proto::LOCK_POSIX);
    request.set_type(lock.lock.exclusive ? proto::LOCK_EXCLUSIVE : proto::LOCK_SHARED);
    request.set_start(lock.lock.range.start);
    request.set_end(lock.lock.range.end);
    request.set_owner(lock.lock.owner.id);
    request.set_pid(lock.lock.pid);
    request.set_reclaim(true);
    auto claimed = co_await masterCall<proto::LockReply>(proto::LOCK, request);
    if (!claimed) {
      lost++;
      spdlog::error("lock on inode {} could not be claimed after the master restart: {}",
                    lock.ino, claimed.error().toString());
    }
  }
  auto done = co_await masterCall<proto::LocksReclaimedReply>(proto::LOCKS_RECLAIMED,
                                                              proto::LocksReclaimedRequest{});
  if (!done) spdlog::warn("locks reclaimed: {}", done.error().toString());
  if (!held.empty()) {
    spdlog::info("claimed {} locks from the restarted master, {} lost", held.size() - lost, lost);
  }
}

}  // namespace dfs::client
