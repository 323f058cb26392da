// Client sessions: one per mount (or CLI run), renewed by keep-alives, expired after the lease.
// A session tracks the inodes it has open, so an unlinked file stays readable until its last
// opener releases it or dies. Not thread-safe: owned by the master's state thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/status.h"

namespace dfs::master {

struct Session {
  uint64_t id = 0;
  std::string host;
  uint32_t pid = 0;
  std::string mount_point;
  int64_t expiry_ms = 0;
  std::unordered_map<uint64_t, uint32_t> open_inodes;  // inode -> open count
};

class SessionTable {
 public:
  explicit SessionTable(int64_t lease_ms) : lease_ms_(lease_ms) {}

  uint64_t create(std::string host, uint32_t pid, std::string mount_point, int64_t now_ms);
  Status renew(uint64_t id, int64_t now_ms);
  Session* find(uint64_t id);
  // Removes expired sessions and returns them (their opens still listed) for cleanup.
  std::vector<Session> expire(int64_t now_ms);
  // Ends a session now, as if it had expired.
  std::optional<Session> close(uint64_t id);

  void open(Session& session, uint64_t ino);
  // Returns true when this was the last open of ino in any session.
  bool release(Session& session, uint64_t ino);
  bool isOpen(uint64_t ino) const { return open_counts_.contains(ino); }
  size_t size() const { return sessions_.size(); }
  int64_t leaseMs() const { return lease_ms_; }

 private:
  bool dropOpen(uint64_t ino, uint32_t count);

  int64_t lease_ms_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Session> sessions_;
  std::unordered_map<uint64_t, uint32_t> open_counts_;  // inode -> opens over all sessions
};

}  // namespace dfs::master
