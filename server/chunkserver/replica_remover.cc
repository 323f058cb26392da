#include "server/chunkserver/replica_remover.h"

#include <spdlog/spdlog.h>

namespace dfs::chunkserver {

ReplicaRemover::ReplicaRemover(ChunkStore& store)
    : store_(store),
      worker_(BackgroundWorker::Options{.name = "replica-remover",
                                        .at_stop = BackgroundWorker::AtStop::kDropQueued,
                                        .only_when_idle = true}) {}

void ReplicaRemover::add(uint64_t chunk_id) {
  uint64_t version = store_.versionOf(chunk_id);
  if (version == 0) return;
  worker_.post([this, chunk_id, version] {
    auto removed = store_.remove(chunk_id, version);
    if (!removed) spdlog::warn("delete chunk {:#x}: {}", chunk_id, removed.error().toString());
  });
}

}  // namespace dfs::chunkserver
