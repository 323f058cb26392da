#include "server/chunkserver/scrubber.h"

#include <spdlog/spdlog.h>

namespace dfs::chunkserver {

namespace {
constexpr uint64_t kBlocksPerStep = 16;  // 1 MiB under the replica's lock at a time
}

Scrubber::Scrubber(ChunkStore& store, ScrubberOptions options)
    : store_(store), options_(options) {}

Scrubber::~Scrubber() { stop(); }

void Scrubber::start() {
  if (options_.bytes_per_second == 0) return;
  thread_ = std::thread([this] { run(); });
}

void Scrubber::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Scrubber::pace(uint64_t bytes) {
  auto now = std::chrono::steady_clock::now();
  if (next_slot_ < now) next_slot_ = now;
  next_slot_ += std::chrono::microseconds(bytes * 1000000 / options_.bytes_per_second);
  std::unique_lock lock(mutex_);
  wake_.wait_until(lock, next_slot_, [this] { return stopped_; });
  return !stopped_;
}

void Scrubber::scrubReplica(uint64_t chunk_id) {
  auto length = store_.length(chunk_id);
  if (!length) return;  // deleted meanwhile
  uint64_t blocks = (*length + kBlockSize - 1) / kBlockSize;
  for (uint64_t first = 0; first < blocks; first += kBlocksPerStep) {
    uint64_t count = std::min(kBlocksPerStep, blocks - first);
    if (!pace(count * kBlockSize)) return;
    auto checked = store_.verify(chunk_id, first, count);
    if (!checked) {
      if (checked.error().code() == Code::kCorrupt) {
        // The store noted it; the heartbeat reports it and the master rebuilds the replica.
        damaged_found_++;
        spdlog::error("scrubber: {}", checked.error().toString());
      }
      return;  // damaged (rebuilt whole), deleted or moved to a new version meanwhile
    }
    scrubbed_bytes_ += count * kBlockSize;
  }
}

void Scrubber::run() {
  spdlog::info("scrubber: verifying every replica at {} MiB/s", options_.bytes_per_second >> 20);
  while (true) {
    auto started = std::chrono::steady_clock::now();
    uint64_t before = damaged_found_;
    auto replicas = store_.list();
    for (const auto& replica : replicas) {
      {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
      }
      scrubReplica(replica.chunk_id);
    }
    passes_++;
    if (!replicas.empty()) spdlog::info("scrubber: pass {} verified {} replicas in {} s, {} damaged", passes_.load(),
                 replicas.size(),
                 std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - started).count(),
                 damaged_found_ - before);
    std::unique_lock lock(mutex_);
    // A store with nothing in it is looked at again soon, not after a whole interval.
    auto pause = replicas.empty() ? std::min(options_.pass_interval,
                                             std::chrono::milliseconds(10000))
                                  : options_.pass_interval;
    if (wake_.wait_for(lock, pause, [this] { return stopped_; })) return;
  }
}

}  // namespace dfs::chunkserver
