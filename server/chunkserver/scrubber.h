// Background verification of every replica: re-reads each block and checks its CRC32C, at a
// bounded rate so client I/O keeps the disk. A damaged replica is noted in the chunk store,
// which the heartbeat reports to the master for rebuilding. Runs on its own thread because
// its reads block.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "server/chunkserver/chunk_store.h"

namespace dfs::chunkserver {

struct ScrubberOptions {
  uint64_t bytes_per_second = 16ull << 20;  // 0: no scrubbing
  // Pause between two passes over all replicas.
  std::chrono::milliseconds pass_interval{std::chrono::hours(24)};
};

class Scrubber {
 public:
  Scrubber(ChunkStore& store, ScrubberOptions options);
  ~Scrubber();  // stops and joins
  void start();
  void stop();
  uint64_t scrubbedBytes() const { return scrubbed_bytes_.load(); }
  uint64_t damagedFound() const { return damaged_found_.load(); }
  uint64_t passes() const { return passes_.load(); }

 private:
  void run();
  void scrubReplica(uint64_t chunk_id);
  // Sleeps so that the bytes verified so far in this pass keep to the rate; false when stopped.
  bool pace(uint64_t bytes);

  ChunkStore& store_;
  ScrubberOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point next_slot_;
  std::atomic<uint64_t> scrubbed_bytes_{0};
  std::atomic<uint64_t> damaged_found_{0};
  std::atomic<uint64_t> passes_{0};
  std::thread thread_;
};

}  // namespace dfs::chunkserver
