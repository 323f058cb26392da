// Carries out the replica deletions the master queues (garbage collection) on a thread of its
// own that runs only on CPU time nobody else wants. Deleting is never urgent, and a burst of it
// (an rm -rf of a large tree: tens of thousands of replicas) done where the master's list
// arrives held up a network thread, and every client connection it serves, for seconds.
//
// A replica is deleted only if it is still at the version it had when its deletion was queued:
// a newer copy of the chunk installed meanwhile (a repair) stays. Thread-safe.
#pragma once

#include <cstdint>

#include "lib/base/background_worker.h"
#include "server/chunkserver/chunk_store.h"

namespace dfs::chunkserver {

class ReplicaRemover {
 public:
  explicit ReplicaRemover(ChunkStore& store);
  ~ReplicaRemover() = default;  // drops what is still queued (the master asks again after its
                                // next report)
  ReplicaRemover(const ReplicaRemover&) = delete;
  ReplicaRemover& operator=(const ReplicaRemover&) = delete;

  // Queues the deletion of the replica of chunk_id as it is now; absent replicas are skipped.
  void add(uint64_t chunk_id);

 private:
  ChunkStore& store_;
  BackgroundWorker worker_;
};

}  // namespace dfs::chunkserver
