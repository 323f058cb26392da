#include "server/chunkserver/replica_remover.h"

#include <spdlog/spdlog.h>

#include "lib/base/priority.h"

namespace dfs::chunkserver {

ReplicaRemover::ReplicaRemover(ChunkStore& store) : store_(store), thread_([this] { run(); }) {}

ReplicaRemover::~ReplicaRemover() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ReplicaRemover::add(uint64_t chunk_id) {
  uint64_t version = store_.versionOf(chunk_id);
  if (version == 0) return;
  std::lock_guard lock(mutex_);
  queue_.emplace_back(chunk_id, version);
  wake_.notify_one();
}

void ReplicaRemover::run() {
  runOnlyWhenIdle();
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    auto [chunk_id, version] = queue_.front();
    queue_.pop_front();
    lock.unlock();
    auto removed = store_.remove(chunk_id, version);
    if (!removed) spdlog::warn("delete chunk {:#x}: {}", chunk_id, removed.error().toString());
    lock.lock();
  }
}

}  // namespace dfs::chunkserver
