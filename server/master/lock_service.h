// The cluster's lock service: flock and POSIX/OFD locks of every mount, kept in the master's
// memory (a LockTable) and served on its state thread. A blocking request is a call that is
// answered when the lock is granted; it holds no thread, only a suspended coroutine, and is
// withdrawn when the program is interrupted (CANCEL_LOCK) or its session ends.
//
// Locks are not journaled: after a master restart the clients claim what they held during a
// grace period, in which no new lock is granted, so nobody gets a lock that someone held.
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "lib/locks/lock_table.h"
#include "lib/rpc/async_event.h"
#include "lib/rpc/server.h"
#include "proto/master.pb.h"
#include "server/master/namespace.h"
#include "server/master/sessions.h"

namespace dfs::master {

class LockService {
 public:
  LockService(boost::asio::any_io_executor executor, SessionTable& sessions, const Namespace& ns);
  void registerRoutes(rpc::Server& server);
  // After a restart: until each of these sessions said it has claimed its locks, or grace_ms
  // has passed, only claims are granted.
  void startGrace(std::set<uint64_t> sessions, int64_t now_ms, int64_t grace_ms);
  void tick(int64_t now_ms);
  // The session ended (closed or expired): its locks go, its waits end, waiters behind wake.
  void endSession(uint64_t session_id);

 private:
  using Ctx = rpc::CallContext;
  template <class T>
  using Reply = boost::asio::awaitable<Result<T>>;

  struct Waiter {
    uint64_t session_id = 0;
    uint64_t wait_id = 0;
    std::unique_ptr<rpc::AsyncEvent> done;
    std::optional<Status> outcome;  // set when granted (ok), cancelled or the session ended
  };
  using WaiterPtr = std::shared_ptr<Waiter>;

  Reply<proto::LockReply> lock(Ctx&, proto::LockRequest&);
  Reply<proto::GetLockReply> getLock(Ctx&, proto::GetLockRequest&);
  Reply<proto::CancelLockReply> cancelLock(Ctx&, proto::CancelLockRequest&);
  Reply<proto::ListLocksReply> listLocks(Ctx&, proto::ListLocksRequest&);
  Reply<proto::LocksReclaimedReply> locksReclaimed(Ctx&, proto::LocksReclaimedRequest&);

  Result<uint64_t> sessionOf(const Ctx& ctx);
  // Checks kind, type and range and builds the table's request.
  Result<locks::Request> toRequest(uint64_t session_id, uint64_t ino, proto::LockKind kind,
                                   proto::LockType type, uint64_t start, uint64_t end,
                                   uint64_t owner, uint32_t pid) const;
  bool inGrace() const;
  void endGrace();
  // Completes waits with outcome and forgets them.
  void finish(const std::vector<uint64_t>& waiter_ids, const Status& outcome);
  std::optional<uint64_t> findWaiter(uint64_t session_id, uint64_t wait_id) const;
  // Several calls may wait on one request: a client that lost its connection asks again.
  static boost::asio::awaitable<Status> await(WaiterPtr waiter);

  boost::asio::any_io_executor executor_;
  SessionTable& sessions_;
  const Namespace& ns_;
  locks::LockTable table_;
  std::unordered_map<uint64_t, WaiterPtr> waiters_;  // by the table's waiter id
  uint64_t next_waiter_id_ = 1;
  std::set<uint64_t> reclaiming_;  // sessions that have not yet claimed their locks
  int64_t grace_until_ms_ = 0;
  rpc::AsyncEvent grace_over_;
};

}  // namespace dfs::master
