// Advisory file locks as the kernel defines them, for a whole cluster: flock locks (whole file)
// and POSIX/OFD byte-range locks, each kind in its own space. A lock belongs to an owner (mount
// session, lock owner the kernel names: an open file for flock and OFD locks, a process's file
// table for POSIX locks). Setting a lock over a range replaces what the owner held there, and
// an owner's adjacent or overlapping locks of one type merge, so unlocking the middle of a range
// splits it, as on a local file system.
//
// Fairness: a request that cannot be granted now waits in FIFO order, and a new request is not
// granted past an earlier waiter it conflicts with, so shared lockers cannot starve a writer.
//
// Pure logic, no I/O or clocks: the master's lock service owns one and wakes the waiters it
// returns; the client keeps one of its own locks to claim them again after a master restart.
// Not thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace dfs::locks {

inline constexpr uint64_t kToEnd = UINT64_MAX;  // a range through the end of the file

enum class Kind : uint8_t { kFlock = 1, kPosix = 2 };

struct Owner {
  uint64_t session = 0;
  uint64_t id = 0;
  auto operator<=>(const Owner&) const = default;
};

struct Range {
  uint64_t start = 0;
  uint64_t end = kToEnd;  // inclusive
  bool overlaps(const Range& other) const { return start <= other.end && other.start <= end; }
  auto operator<=>(const Range&) const = default;
};

struct Lock {
  Owner owner;
  bool exclusive = false;
  Range range;
  uint32_t pid = 0;
  int64_t since_ms = 0;
  bool conflictsWith(const Lock& other) const {
    return owner != other.owner && (exclusive || other.exclusive) && range.overlaps(other.range);
  }
};

struct Request {
  uint64_t ino = 0;
  Kind kind = Kind::kPosix;
  Lock lock;
};

class LockTable {
 public:
  // Grants the request when nothing of another owner conflicts: no held lock and no earlier
  // waiter. Returns the conflicting lock otherwise (for F_GETLK and error messages).
  std::optional<Lock> tryLock(const Request& request);
  // Grants without looking at conflicts: a lock claimed again after a master restart.
  void forceLock(const Request& request);
  // Queues a request tryLock refused; waiter_id names it in what later calls return.
  void enqueue(const Request& request, uint64_t waiter_id);
  // The held lock of another owner that conflicts with the request (F_GETLK), if any.
  std::optional<Lock> conflicting(const Request& request) const;

  // Each of these returns the waiters granted as a consequence, in grant order.
  std::vector<uint64_t> unlock(uint64_t ino, Kind kind, const Owner& owner, const Range& range);
  std::vector<uint64_t> releaseOwner(uint64_t ino, Kind kind, const Owner& owner);
  // Withdraws a waiter (interrupted); found is false when it was not waiting.
  std::vector<uint64_t> cancel(uint64_t waiter_id, bool* found = nullptr);
  struct SessionEnd {
    std::vector<uint64_t> granted;  // waiters of other sessions that now hold their lock
    std::vector<uint64_t> dropped;  // waiters of the ended session
  };
  SessionEnd releaseSession(uint64_t session);

  struct Entry {
    uint64_t ino;
    Kind kind;
    Lock lock;
    bool waiting;
    uint64_t waiter_id;  // 0 for held locks
  };
  // Held locks then waiters of one file (ino 0: every file), in file order.
  std::vector<Entry> list(uint64_t ino = 0) const;
  // The locks one owner holds (for the client's claim after a master restart).
  std::vector<Request> heldBy(uint64_t session) const;
  bool empty() const { return files_.empty(); }

 private:
  struct Waiter {
    uint64_t id;
    Lock lock;
  };
  struct FileLocks {
    std::vector<Lock> held;
    std::deque<Waiter> waiting;
  };
  using Key = std::pair<uint64_t, Kind>;

  static void clearRange(std::vector<Lock>& held, const Owner& owner, const Range& range);
  static void setRange(std::vector<Lock>& held, const Lock& lock);
  // Grants waiters that no longer conflict, front to back.
  static std::vector<uint64_t> grantWaiters(FileLocks& file);
  void dropIfEmpty(const Key& key);

  std::map<Key, FileLocks> files_;
};

}  // namespace dfs::locks
