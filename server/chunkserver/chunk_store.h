// Chunk replicas on local disk, one file each, laid out as lib/base/chunk_layout.h says.
// Every block's CRC covers the full 64 KiB (zeros past what was written), so a never-written
// block checks out as the CRC of zeros. Reads verify every block they touch and answer a
// mismatch as kCorrupt, never as data.
//
// Thread-safe: operations on one replica are serialised by its mutex, different replicas
// proceed in parallel. The exception: large direct writes put their data on disk outside the
// mutex, each holding its range of blocks, so a stream of pieces into one chunk is written side
// by side; whatever touches those blocks (or the replica as a whole) waits for them.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lib/base/chunk_layout.h"
#include "lib/base/file_region.h"
#include "lib/base/status.h"
#include "lib/checksum/crc32c.h"
#include "server/chunkserver/spare_files.h"
#include "server/chunkserver/write_behind.h"

namespace dfs::chunkserver {

inline constexpr uint64_t kBlockSize = kChecksumBlockSize;
inline constexpr uint64_t kBlocksPerChunk = kChunkSize / kBlockSize;
inline constexpr uint64_t kHeaderSize = kReplicaHeaderSize;
inline constexpr uint64_t kCrcTableOffset = kReplicaCrcTableOffset;
inline constexpr uint64_t kDataOffset = kReplicaDataOffset;

struct ReplicaInfo {
  uint64_t chunk_id = 0;
  uint64_t version = 0;
};

class ChunkStore {
 public:
  // Opens (creating if needed) the store under dir and reads the header of every replica.
  // Replicas with a damaged header are moved aside and not reported.
  // spare_files: empty files kept ready for new replicas (SpareFiles).
  static Result<std::unique_ptr<ChunkStore>> open(const std::string& dir, size_t spare_files = 256);
  ~ChunkStore();

  // Writes data at offset of the replica at exactly this version; creates the replica at this
  // version when it is absent and create is set.
  Result<void> write(uint64_t chunk_id, uint64_t version, uint64_t offset, std::string_view data,
                     bool create, bool sync);
  // Reads length bytes at offset (zeros past the end), verifying every block's CRC. version 0
  // accepts any version.
  Result<std::string> read(uint64_t chunk_id, uint64_t version, uint64_t offset, uint32_t length);
  // What readRegion returns: whole checksum blocks from chunk_offset, to be sent straight from
  // the replica's file, with the CRC of each.
  struct BlockRegion {
    std::shared_ptr<const FileRegion> file;
    uint64_t chunk_offset = 0;
    uint64_t chunk_length = 0;  // bytes of data the replica holds
    std::vector<uint32_t> crcs;
  };
  // The blocks that hold [offset, offset + length), unread and unverified: for a reader that
  // checks the CRCs itself, so that the data never passes through this process.
  Result<BlockRegion> readRegion(uint64_t chunk_id, uint64_t version, uint64_t offset,
                                 uint32_t length);
  // A new read-only descriptor of the replica's file (at exactly version), for a client on this
  // machine that reads and verifies blocks itself (LocalReadServer).
  Result<int> openForReader(uint64_t chunk_id, uint64_t version);
  // Moves the replica from old_version to new_version (already there: done). An absent replica
  // is created empty when create_if_missing is set.
  Result<void> setVersion(uint64_t chunk_id, uint64_t old_version, uint64_t new_version,
                          bool create_if_missing = false);
  // Zeros everything at and past length.
  Result<void> truncate(uint64_t chunk_id, uint64_t version, uint64_t length);
  // Removes the replica; with version set, only if it is still at that version (a removal
  // decided earlier must not take a newer copy installed meanwhile).
  Result<void> remove(uint64_t chunk_id, uint64_t version = 0);
  // The replica's version, 0 when there is none.
  uint64_t versionOf(uint64_t chunk_id);
  // Installs a whole replica (a copy from a peer): written to a temporary file, synced and
  // renamed, so a copy cut short never looks like a replica. Replaces an older version, or with
  // replace_same_version a damaged replica of this version.
  Result<void> install(uint64_t chunk_id, uint64_t version, std::string_view data,
                       bool replace_same_version = false);
  // Re-reads block_count blocks from first_block and checks their CRCs (the scrubber).
  Result<void> verify(uint64_t chunk_id, uint64_t first_block, uint64_t block_count);
  // Chunks found damaged (a CRC mismatch on any read) since the last call, for the master. A
  // replica rebuilt meanwhile is not among them.
  std::vector<uint64_t> takeDamaged();
  // Bytes of data a replica holds.
  Result<uint64_t> length(uint64_t chunk_id);
  Result<void> sync(uint64_t chunk_id);

  std::vector<ReplicaInfo> list();
  size_t count();
  const std::string& dir() const { return dir_; }
  std::string pathOf(uint64_t chunk_id) const;

 private:
  // Blocks [first, end) of a replica.
  struct BlockRange {
    uint64_t first = 0;
    uint64_t end = 0;
    bool overlaps(const BlockRange& other) const { return first < other.end && other.first < end; }
  };
  static constexpr BlockRange kAllBlocks{0, kBlocksPerChunk};

  struct Replica {
    std::mutex mutex;  // guards everything below and the file's contents outside `writing`
    uint64_t chunk_id = 0;
    uint64_t version = 0;
    int fd = -1;
    int direct_fd = -1;  // opened with O_DIRECT, for writes outside the mutex
    int users = 0;       // operations under way (OpenForOperation)
    bool crcs_loaded = false;
    bool removed = false;
    // Blocks whose data is being written outside the mutex: their CRCs are not yet in `crcs`.
    std::vector<BlockRange> writing;
    std::condition_variable written;  // notified whenever a range leaves `writing`
    std::array<uint32_t, kBlocksPerChunk> crcs{};
  };

  // Holds a replica's file open while operations use it, and no longer: a chunkserver keeps far
  // more replicas than it may have files open, and their CRC tables would not all fit in memory
  // either. Made and destroyed with the replica's mutex held.
  class OpenForOperation {
   public:
    explicit OpenForOperation(Replica& replica) : replica_(replica) { replica_.users++; }
    ~OpenForOperation();
    OpenForOperation(const OpenForOperation&) = delete;
    OpenForOperation& operator=(const OpenForOperation&) = delete;

   private:
    Replica& replica_;
  };

  explicit ChunkStore(std::string dir) : dir_(std::move(dir)) {}
  std::shared_ptr<Replica> find(uint64_t chunk_id);
  // The blocks that hold [offset, offset + length).
  static BlockRange blocksOf(uint64_t offset, uint64_t length);
  // Waits (the lock released meanwhile) until no write outside the mutex touches blocks.
  static void waitForWrites(std::unique_lock<std::mutex>& lock, Replica& replica,
                            BlockRange blocks = kAllBlocks);
  // Writes whole blocks with O_DIRECT outside the mutex (held by lock on entry and on return).
  // The bytes written that way, from the start of data: 0 when the file system takes no direct
  // writes; the rest is the caller's to write.
  Result<size_t> writeDirect(std::unique_lock<std::mutex>& lock, Replica& replica,
                             BlockRange blocks, std::string_view data, uint64_t offset);
  // Runs op(replica) with the replica locked, no write to blocks under way outside the lock,
  // its file open and its CRC table loaded, after checking it exists at version (0: any).
  template <class Op>
  auto withReplica(uint64_t chunk_id, uint64_t version, BlockRange blocks, Op op)
      -> decltype(op(std::declval<Replica&>()));
  template <class Op>
  auto withReplica(uint64_t chunk_id, uint64_t version, Op op) {
    return withReplica(chunk_id, version, kAllBlocks, std::move(op));
  }
  // The replica, created in the map (not yet on disk: version 0) when absent and create is set.
  Result<std::shared_ptr<Replica>> findOrAdd(uint64_t chunk_id, bool create);
  // Creates the file of a replica added by findOrAdd; called with its mutex held.
  // Opens a new replica's file; write_metadata false leaves header and checksum table to the
  // caller's writeNewReplica.
  Result<void> createFile(Replica& replica, uint64_t version, bool write_metadata = true);
  Result<void> writeNewReplica(Replica& replica, std::string_view data, uint64_t offset);
  // Opens the file and loads the CRC table on first use; called with the replica's mutex held.
  Result<void> load(Replica& replica);
  Result<void> writeHeader(Replica& replica);
  Result<std::string> readBlocks(Replica& replica, uint64_t first_block, uint64_t block_count);
  Result<void> writeCrcs(Replica& replica, uint64_t first_block, uint64_t block_count);
  Status checkVersion(const Replica& replica, uint64_t version) const;

  void noteDamaged(uint64_t chunk_id);

  std::string dir_;
  std::unique_ptr<SpareFiles> spares_;  // empty files new replicas are renamed from
  std::unique_ptr<WriteBehind> write_behind_;
  std::mutex damaged_mutex_;
  std::vector<uint64_t> damaged_;
  std::mutex map_mutex_;  // guards replicas_ (never held while a replica's mutex is taken)
  std::array<std::atomic<bool>, 256> made_dirs_{};  // chunks/XX directories known to exist
  std::unordered_map<uint64_t, std::shared_ptr<Replica>> replicas_;
};

// CRC32C of a block of zeros, the checksum of every block never written.
uint32_t zeroBlockCrc();

}  // namespace dfs::chunkserver
