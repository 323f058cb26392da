// Client sessions: one per mount (or CLI run), renewed by keep-alives, expired after the lease.
// A session tracks the inodes it has open, so an unlinked file stays readable until its last
// opener releases it or dies. Not thread-safe: owned by the master's state thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/status.h"

namespace dfs::master {

// Numbers [next, end) reserved to a session: inode numbers for the creates its client answers
// itself, chunk ids for its small files' first chunks.
struct IdRange {
  uint64_t next = 0;
  uint64_t end = 0;
};

struct Session {
  uint64_t id = 0;
  std::string host;
  uint32_t pid = 0;
  std::string mount_point;
  int64_t expiry_ms = 0;
  std::unordered_map<uint64_t, uint32_t> open_inodes;  // inode -> open count
  std::vector<IdRange> reserved_inodes;                // oldest first
  std::vector<IdRange> reserved_chunks;                // chunk ids, oldest first
};

// Every id of the ranges.
std::vector<uint64_t> idsOf(const std::vector<IdRange>& ranges);

class SessionTable {
 public:
  explicit SessionTable(int64_t lease_ms) : lease_ms_(lease_ms) {}

  // A fresh id; ids differ across masters that start from nothing.
  uint64_t allocateId();
  // Adds a session with a known id (live: from allocateId; replay: from the journal).
  void add(uint64_t id, std::string host, uint32_t pid, std::string mount_point, int64_t now_ms);
  uint64_t create(std::string host, uint32_t pid, std::string mount_point, int64_t now_ms) {
    uint64_t id = allocateId();
    add(id, std::move(host), pid, std::move(mount_point), now_ms);
    return id;
  }
  uint64_t nextId() const { return next_id_; }
  void restoreNextId(uint64_t next_id) { next_id_ = std::max(next_id_, next_id); }
  template <class Visit>
  void forEach(Visit visit) const {
    for (const auto& [id, session] : sessions_) visit(session);
  }
  Status renew(uint64_t id, int64_t now_ms);
  Session* find(uint64_t id);
  // The sessions whose lease ran out by now_ms. They stay until a CloseSession record is
  // applied (the master journals one for each): sessions leave the table only by close.
  std::vector<uint64_t> expired(int64_t now_ms) const;
  // Ends a session now, as if it had expired.
  std::optional<Session> close(uint64_t id);

  // [next, end) become the session's reserved inode numbers; it keeps its last few ranges.
  void reserveInodes(uint64_t id, uint64_t next, uint64_t end);
  // Whether ino is a reserved number of the session not used yet.
  bool mayUseReserved(uint64_t id, uint64_t ino) const;
  // ino, reserved to the session, is used: it and the lower numbers of its range are no longer
  // the session's (a client uses its numbers in order).
  void useReserved(uint64_t id, uint64_t ino);

  // [next, end) become the session's reserved chunk ids. Returns the ids of an old range it no
  // longer keeps (the session keeps its last few), to be released.
  std::vector<uint64_t> reserveChunks(uint64_t id, uint64_t next, uint64_t end);
  bool mayUseReservedChunk(uint64_t id, uint64_t chunk_id) const;
  // chunk_id, reserved to the session, is used. The client uses its ids in order: the lower ids
  // of the range were passed over (their write failed) and are returned, to be released.
  std::vector<uint64_t> useReservedChunk(uint64_t id, uint64_t chunk_id);
  // Whether some session holds chunk_id reserved (written, perhaps, and not committed yet).
  bool isReservedChunk(uint64_t chunk_id) const;

  void open(Session& session, uint64_t ino);
  // Returns true when this was the last open of ino in any session.
  bool release(Session& session, uint64_t ino);
  bool isOpen(uint64_t ino) const { return open_counts_.contains(ino); }
  size_t size() const { return sessions_.size(); }
  int64_t leaseMs() const { return lease_ms_; }

 private:
  bool dropOpen(uint64_t ino, uint32_t count);

  int64_t lease_ms_;
  uint64_t next_id_ = 0;  // 0: not chosen yet
  std::unordered_map<uint64_t, Session> sessions_;
  std::unordered_map<uint64_t, uint32_t> open_counts_;  // inode -> opens over all sessions
};

}  // namespace dfs::master
