// Where chunk replicas live: the chunkserver registry (liveness from heartbeats, capacity),
// the replica set of every chunk, write leases, placement of new replicas and the queues of
// replicas to delete. None of this is persistent: registrations and block reports rebuild it.
// Not thread-safe: owned by the master's state thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/base/status.h"
#include "proto/common.pb.h"
#include "proto/master.pb.h"
#include "server/master/namespace.h"

namespace dfs::master {

struct ChunkserverInfo {
  uint32_t id = 0;
  std::string address;
  std::string data_dir_id;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t chunks = 0;
  int64_t last_heartbeat_ms = 0;
  bool alive = false;
  uint64_t replica_count = 0;  // replicas the master counts on this chunkserver
  uint64_t scrubbed_bytes = 0;
  std::vector<uint64_t> pending_deletes;
  uint64_t freeBytes() const { return capacity_bytes > used_bytes ? capacity_bytes - used_bytes : 0; }
  // Replicas per chunk of capacity: what placement, trimming and rebalancing even out. (Not the
  // disk's used bytes: chunkservers sharing a disk all see the same.)
  double load() const;
};

struct WriteLease {
  uint64_t session_id = 0;
  int64_t expiry_ms = 0;
};

class ChunkManager {
 public:
  // Replicas of released chunks are deleted deleted_grace_ms after the release.
  explicit ChunkManager(int64_t dead_after_ms, int64_t deleted_grace_ms = 0)
      : dead_after_ms_(dead_after_ms), deleted_grace_ms_(deleted_grace_ms) {}

  // Chunk ids a session holds reserved (sessions.h): not in the namespace yet, and perhaps
  // written already, so a block report's replica of one is linked, not a leftover.
  void setReservedCheck(std::function<bool(uint64_t)> is_reserved) {
    is_reserved_ = std::move(is_reserved);
  }

  // A chunkserver (re)joins with its block report; replicas at the version the namespace knows
  // count, older ones are queued for deletion.
  uint32_t registerChunkserver(const proto::RegisterChunkserverRequest& request,
                               const Namespace& ns, int64_t now_ms);
  // Returns the deletions queued for it, or kNotFound when it must register again.
  Result<std::vector<uint64_t>> heartbeat(const proto::ChunkserverHeartbeatRequest& request,
                                          int64_t now_ms);
  // Marks chunkservers silent for too long as dead; returns how many changed.
  int expireDead(int64_t now_ms);
  // Replicas that block reports showed but no file references: once unreferenced for grace_ms,
  // they are queued for deletion. Returns how many were.
  size_t collectUnreferenced(const Namespace& ns, int64_t now_ms, int64_t grace_ms);
  // A chunk id some chunkserver holds a leftover replica of: never allocate it.
  bool isLeftover(uint64_t chunk_id) const { return unreferenced_.contains(chunk_id); }

  // Distinct live chunkservers with room for a chunk, least loaded first.
  std::vector<uint32_t> place(uint32_t count, const std::vector<uint32_t>& exclude) const;

  // Chunks reserved ahead for a session's small files (sessions.h): placed now, written by the
  // client before any commit names them. Their placements are not replicas yet (they weigh on
  // no load) until bindReserved; a released one is deleted where it was placed.
  // Places count chunks of `goal` replicas each, spread over the chunkservers (fewer replicas
  // each when fewer can take one).
  std::vector<std::vector<uint32_t>> placeReserved(uint32_t goal, const std::vector<uint64_t>& ids);
  const std::vector<uint32_t>& reservedPlacement(uint64_t chunk_id) const;
  // A commit named it: where it was placed (and block reports found it), and where the writer
  // says it wrote it, are its replicas.
  void bindReserved(uint64_t chunk_id, const std::vector<uint32_t>& written_to);

  void setReplicas(uint64_t chunk_id, std::vector<uint32_t> servers);
  void addReplica(uint64_t chunk_id, uint32_t server);
  // Forgets one replica of the chunk and queues its deletion on that server.
  void dropReplica(uint64_t chunk_id, uint32_t server);
  // Forgets a replica the server never had (placed, never created): nothing to delete.
  void forgetReplica(uint64_t chunk_id, uint32_t server);
  void queueDelete(uint32_t server, uint64_t chunk_id);
  bool leaseHeld(uint64_t chunk_id, int64_t now_ms) const;
  // A read or the scrubber found the replica damaged: it is no longer served and is rebuilt in
  // place from a good replica. False when the server holds no counted replica of the chunk.
  bool markDamaged(uint64_t chunk_id, uint32_t server);
  // The damaged replica was rebuilt: it counts again.
  void repaired(uint64_t chunk_id, uint32_t server);
  // Forgets a damaged replica and deletes it (its chunk moved on while it was being rebuilt).
  void dropDamaged(uint64_t chunk_id, uint32_t server);
  size_t damagedCount() const;
  const std::vector<uint32_t>& replicas(uint64_t chunk_id) const;
  std::vector<uint32_t> liveReplicas(uint64_t chunk_id) const;
  // Forgets the chunk; its replicas are deleted once the grace period has passed.
  void release(uint64_t chunk_id, int64_t now_ms);
  // Moves deletions whose grace period has passed to their chunkservers' queues.
  void releaseDue(int64_t now_ms);

  void fillLocation(uint64_t chunk_id, uint64_t index, uint64_t version,
                    proto::ChunkLocation* location) const;
  const ChunkserverInfo* server(uint32_t id) const;
  const ChunkserverInfo* serverByAddress(const std::string& address) const;
  const std::map<uint32_t, ChunkserverInfo>& servers() const { return servers_; }

  // One writer per chunk: granted when free, expired or already held by the same session.
  bool acquireLease(uint64_t chunk_id, uint64_t session_id, int64_t now_ms, int64_t lease_ms);
  bool holdsLease(uint64_t chunk_id, uint64_t session_id, int64_t now_ms) const;
  void releaseLeases(uint64_t session_id, const std::vector<uint64_t>& chunk_ids);
  void releaseAllLeases(uint64_t session_id);

  uint64_t totalCapacity() const;
  uint64_t totalFree() const;
  // Replication work for one pass: damaged replicas to rebuild, chunks below goal (fewest live
  // replicas first, each with a source and a target chunkserver), replicas above goal to drop
  // (from the most loaded chunkservers) and, when nothing is endangered, one move from the most
  // to the least loaded chunkserver. Chunks being written or repaired wait for a later pass.
  struct Repair {
    uint64_t chunk_id;
    uint32_t source;
    uint32_t target;
    bool replace_damaged = false;  // rebuild target's damaged replica in place
    bool rebalance = false;        // a move to a less loaded chunkserver (trimmed afterwards)
  };
  struct RepairPlan {
    std::vector<Repair> copies;
    std::vector<std::pair<uint64_t, uint32_t>> extra;  // (chunk, server) to drop
  };
  RepairPlan planRepairs(const Namespace& ns, uint32_t default_goal, size_t max_copies,
                         const std::unordered_set<uint64_t>& busy, int64_t now_ms) const;
  // Chunks of the namespace with fewer than goal live replicas (none known counts too). A chunk
  // no committed byte of its file reaches (placed for a writer that never committed) is a hole
  // to be written, not damage: neither counted nor repaired.
  uint64_t underReplicated(const Namespace& ns, uint32_t default_goal) const;

 private:
  int64_t dead_after_ms_;
  int64_t deleted_grace_ms_;
  struct DelayedDelete {
    int64_t due_ms;
    uint32_t server;
    uint64_t chunk_id;
  };
  std::deque<DelayedDelete> delayed_deletes_;  // in due order
  void forgetDamaged(uint64_t chunk_id, uint32_t server);
  void linkReplica(std::vector<uint32_t>& servers, uint32_t server);
  void unlinkReplica(std::vector<uint32_t>& servers, uint32_t server);
  void planRebalance(const Namespace& ns, uint32_t default_goal,
                     const std::unordered_set<uint64_t>& busy, int64_t now_ms,
                     RepairPlan& plan) const;

  bool isReserved(uint64_t chunk_id) const { return is_reserved_ && is_reserved_(chunk_id); }

  std::function<bool(uint64_t)> is_reserved_;
  uint32_t next_id_ = 1;
  std::unordered_map<uint64_t, std::vector<uint32_t>> damaged_;  // chunk -> servers
  std::map<uint32_t, ChunkserverInfo> servers_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> replicas_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> reserved_;  // placements, not replicas
  std::unordered_map<uint64_t, WriteLease> leases_;
  struct Unreferenced {
    int64_t first_seen_ms = 0;
    std::vector<uint32_t> servers;
  };
  std::unordered_map<uint64_t, Unreferenced> unreferenced_;
};

}  // namespace dfs::master
