#include "server/chunkserver/chunk_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "lib/base/buffer.h"
#include "lib/checksum/crc32c.h"
#include "lib/checksum/replica_header.h"

namespace dfs::chunkserver {
namespace fs = std::filesystem;

namespace {

constexpr size_t kWriteBehindBytes = 256 << 10;
// Started at once, the write-back of a 256 MiB cp's first pieces slowed the rest of it by a
// fifth (pages next to the ones it wrote went under write-back); half a second later it still
// gets a large sequential write's data to disk well before its fsync.
constexpr std::chrono::milliseconds kWriteBehindDelay{500};

Status ioError(const std::string& what, uint64_t chunk_id) {
  return Status(Code::kIo,
                fmt::format("chunk {:#x}: {}: {}", chunk_id, what, std::strerror(errno)));
}

Result<void> preadFull(int fd, char* buffer, size_t size, uint64_t offset, size_t* read_bytes) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buffer + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return makeError(Code::kIo, std::strerror(errno));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *read_bytes = done;
  return {};
}

// Each buffered write system call is at most this long. The kernel gives a buffered write
// page-cache folios as large as the write, and a large folio needs a free block of high order,
// which on a virtual machine that hands free memory back to its host is often one the host must
// fault in again page by page. Measured on the test VM, 256 MiB into a new file in alternating
// runs: 1 MiB calls 0.73-0.93 s, 512 KiB 0.47 s, 256 KiB 0.06-0.07 s.
constexpr size_t kMaxWriteCallBytes = 256 << 10;

Result<void> pwriteFull(int fd, const char* buffer, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, buffer + done, std::min(size - done, kMaxWriteCallBytes),
                         static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return makeError(errno == ENOSPC ? Code::kNoSpace : Code::kIo, std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

// Large writes of whole blocks go around the page cache (O_DIRECT), as most storage servers'
// data writes do: a chunkserver seldom reads soon what it has just written (clients have caches
// of their own, and a cold read comes from the disk either way), and filling fresh page-cache
// pages costs a copy into memory the kernel must first find and zero, which on a virtual machine
// that hands free memory back to its host costs more than the disk itself (on the test VM:
// 280-350 MiB/s buffered into fresh memory, 1.3-1.9 GB/s direct). The page cache would also make
// a cp's time depend on what the machine did seconds before: cp of 256 MiB through the mount
// 0.47-1.88 s buffered, 0.52-0.75 s direct, in alternating runs.
constexpr size_t kDirectWriteBytes = 1 << 20;
constexpr size_t kDirectAlignment = 4096;
constexpr size_t kDirectSlice = 1 << 20;  // the aligned copy of a thread's write, at most

// Writes data at offset (both multiples of kDirectAlignment) through fd, opened with O_DIRECT,
// from an aligned copy a slice at a time. Returns the bytes written, a multiple of
// kDirectAlignment: fewer than asked when the file system refused (EINVAL) or wrote short of a
// block boundary, and the rest is the caller's to write the buffered way.
Result<size_t> pwriteDirect(int fd, std::string_view data, uint64_t offset) {
  struct AlignedBuffer {
    char* bytes = nullptr;
    ~AlignedBuffer() { std::free(bytes); }
  };
  thread_local AlignedBuffer slice;
  if (!slice.bytes) {
    void* bytes = nullptr;
    if (::posix_memalign(&bytes, kDirectAlignment, kDirectSlice) != 0) return 0;
    slice.bytes = static_cast<char*>(bytes);
  }
  // Data that starts on a page boundary (payloads received into the chunkserver's large
  // blocks, page_aligned_new.cc) is written as it is; anything else through the aligned slice.
  bool in_place = reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment == 0;
  size_t done = 0;
  while (done < data.size()) {
    size_t length = in_place ? data.size() - done : std::min(kDirectSlice, data.size() - done);
    const char* from = data.data() + done;
    if (!in_place) from = static_cast<const char*>(std::memcpy(slice.bytes, from, length));
    size_t written = 0;
    while (written < length) {
      ssize_t n = ::pwrite(fd, from + written, length - written,
                           static_cast<off_t>(offset + done + written));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EINVAL) {
        return makeError(errno == ENOSPC ? Code::kNoSpace : Code::kIo, std::strerror(errno));
      }
      if (n <= 0) return done + written;
      written += static_cast<size_t>(n);
      if (written % kDirectAlignment != 0) {
        return done + written / kDirectAlignment * kDirectAlignment;  // the rest: buffered
      }
    }
    done += written;
  }
  return done;
}

// pwritev until every part is written.
Result<void> pwritevFull(int fd, std::vector<iovec> parts, uint64_t offset) {
  size_t index = 0;
  while (index < parts.size()) {
    if (parts[index].iov_len == 0) {
      index++;
      continue;
    }
    // This call's share: the parts from index on, cut at kMaxWriteCallBytes.
    std::vector<iovec> call;
    for (size_t at = index, bytes = 0; at < parts.size() && bytes < kMaxWriteCallBytes; ++at) {
      iovec part = parts[at];
      part.iov_len = std::min(part.iov_len, kMaxWriteCallBytes - bytes);
      bytes += part.iov_len;
      call.push_back(part);
    }
    ssize_t n =
        ::pwritev(fd, call.data(), static_cast<int>(call.size()), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return makeError(errno == ENOSPC ? Code::kNoSpace : Code::kIo, std::strerror(errno));
    }
    offset += static_cast<uint64_t>(n);
    for (auto left = static_cast<size_t>(n); left > 0; index++) {
      if (left < parts[index].iov_len) {
        parts[index].iov_base = static_cast<char*>(parts[index].iov_base) + left;
        parts[index].iov_len -= left;
        break;
      }
      left -= parts[index].iov_len;
    }
  }
  return {};
}

}  // namespace

uint32_t zeroBlockCrc() {
  static const uint32_t crc = [] {
    std::string zeros(kBlockSize, '\0');
    return crc32c(zeros);
  }();
  return crc;
}

Result<std::unique_ptr<ChunkStore>> ChunkStore::open(const std::string& dir, size_t spare_files) {
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "chunks", ec);
  if (ec) return makeError(Code::kIo, "create " + dir + "/chunks: " + ec.message());
  std::unique_ptr<ChunkStore> store(new ChunkStore(dir));
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(dir) / "chunks", ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".copy") {
      std::error_code ignored;
      fs::remove(entry.path(), ignored);  // a copy cut short by a crash
      continue;
    }
    if (!entry.is_regular_file() || entry.path().extension() != ".chunk") continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    char header[kReplicaHeaderBytes];
    size_t got = 0;
    auto read = fd >= 0 ? preadFull(fd, header, sizeof header, 0, &got) : makeError(Code::kIo, "");
    if (fd >= 0) ::close(fd);
    auto info = (read && got == sizeof header) ? decodeReplicaHeader(header)
                                               : makeError(Code::kCorrupt, "short header");
    if (!info || store->pathOf(info->chunk_id) != entry.path().string()) {
      spdlog::error("replica file {} is damaged ({}); moved aside", entry.path().string(),
                    info ? "name does not match header" : info.error().toString());
      fs::rename(entry.path(), entry.path().string() + ".damaged", ec);
      continue;
    }
    auto replica = std::make_shared<Replica>();
    replica->chunk_id = info->chunk_id;
    replica->version = info->version;
    store->replicas_.emplace(info->chunk_id, std::move(replica));
  }
  if (ec) return makeError(Code::kIo, "scan " + dir + ": " + ec.message());
  store->spares_ = std::make_unique<SpareFiles>(dir + "/spare", spare_files, 64 << 10);
  store->write_behind_ = std::make_unique<WriteBehind>(1024, kWriteBehindDelay);
  return store;
}

ChunkStore::OpenForOperation::~OpenForOperation() {
  if (--replica_.users > 0) return;
  if (replica_.fd >= 0) ::close(replica_.fd);
  if (replica_.direct_fd >= 0) ::close(replica_.direct_fd);
  replica_.fd = -1;
  replica_.direct_fd = -1;
  replica_.crcs_loaded = false;
}

ChunkStore::~ChunkStore() {
  for (auto& [id, replica] : replicas_) {
    if (replica->fd >= 0) ::close(replica->fd);
  }
}

std::string ChunkStore::pathOf(uint64_t chunk_id) const {
  return fmt::format("{}/chunks/{:02x}/{:016x}.chunk", dir_, chunk_id & 0xff, chunk_id);
}

std::shared_ptr<ChunkStore::Replica> ChunkStore::find(uint64_t chunk_id) {
  std::lock_guard lock(map_mutex_);
  auto it = replicas_.find(chunk_id);
  return it == replicas_.end() ? nullptr : it->second;
}

template <class Op>
auto ChunkStore::withReplica(uint64_t chunk_id, uint64_t version, BlockRange blocks, Op op)
    -> decltype(op(std::declval<Replica&>())) {
  auto replica = find(chunk_id);
  if (!replica) return makeError(Code::kNotFound, fmt::format("chunk {:#x}", chunk_id));
  std::unique_lock lock(replica->mutex);
  waitForWrites(lock, *replica, blocks);
  OpenForOperation open_file(*replica);
  DFS_RETURN_IF_ERROR(toResult(checkVersion(*replica, version)));
  DFS_RETURN_IF_ERROR(load(*replica));
  return op(*replica);
}

ChunkStore::BlockRange ChunkStore::blocksOf(uint64_t offset, uint64_t length) {
  if (length == 0) return {offset / kBlockSize, offset / kBlockSize};
  return {offset / kBlockSize, (offset + length - 1) / kBlockSize + 1};
}

void ChunkStore::waitForWrites(std::unique_lock<std::mutex>& lock, Replica& replica,
                               BlockRange blocks) {
  replica.written.wait(lock, [&] {
    return std::none_of(replica.writing.begin(), replica.writing.end(),
                        [&](const BlockRange& range) { return range.overlaps(blocks); });
  });
}

Result<std::shared_ptr<ChunkStore::Replica>> ChunkStore::findOrAdd(uint64_t chunk_id, bool create) {
  std::lock_guard lock(map_mutex_);
  auto it = replicas_.find(chunk_id);
  if (it != replicas_.end()) return it->second;
  if (!create) return makeError(Code::kNotFound, fmt::format("chunk {:#x}", chunk_id));
  auto replica = std::make_shared<Replica>();
  replica->chunk_id = chunk_id;
  replicas_.emplace(chunk_id, replica);
  return replica;
}

Result<void> ChunkStore::createFile(Replica& replica, uint64_t version, bool write_metadata) {
  uint64_t chunk_id = replica.chunk_id;
  std::string path = pathOf(chunk_id);
  if (!made_dirs_[chunk_id & 0xff].load()) {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    if (!ec) made_dirs_[chunk_id & 0xff] = true;
  }
  if (auto spare = spares_->take(); spare && ::rename(spare->c_str(), path.c_str()) == 0) {
    replica.fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  } else {
    replica.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (replica.fd < 0 && errno == ENOENT) {
    // Its directory went away after it was made (an operator's cleanup): make it again.
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    replica.fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  if (replica.fd < 0) {
    auto error = ioError("create", chunk_id);
    replica.removed = true;
    std::lock_guard map_lock(map_mutex_);
    replicas_.erase(chunk_id);
    return std::unexpected(error);
  }
  replica.version = version;
  replica.crcs.fill(zeroBlockCrc());
  replica.crcs_loaded = true;
  if (!write_metadata) return {};
  DFS_RETURN_IF_ERROR(writeHeader(replica));
  return writeCrcs(replica, 0, kBlocksPerChunk);
}

Result<void> ChunkStore::writeNewReplica(Replica& replica, std::string_view data, uint64_t offset) {
  // Header, checksum table and (when it starts the chunk) the data in one system call: a small
  // file's chunk costs one write instead of four.
  std::array<char, kCrcTableOffset> header_block{};
  encodeReplicaHeader(replica.chunk_id, replica.version, header_block.data());
  std::vector<iovec> parts = {
      {header_block.data(), header_block.size()},
      {replica.crcs.data(), sizeof replica.crcs},
  };
  if (offset == 0) parts.push_back({const_cast<char*>(data.data()), data.size()});
  DFS_RETURN_IF_ERROR(pwritevFull(replica.fd, std::move(parts), 0));
  if (offset == 0) return {};
  return pwriteFull(replica.fd, data.data(), data.size(), kDataOffset + offset);
}

Status ChunkStore::checkVersion(const Replica& replica, uint64_t version) const {
  if (replica.removed) return Status(Code::kNotFound, fmt::format("chunk {:#x}", replica.chunk_id));
  if (version != 0 && replica.version != version) {
    return Status(Code::kStale, fmt::format("chunk {:#x} is at v{}, v{} asked", replica.chunk_id,
                                            replica.version, version));
  }
  return Status::ok();
}

Result<void> ChunkStore::load(Replica& replica) {
  if (replica.fd < 0) {
    replica.fd = ::open(pathOf(replica.chunk_id).c_str(), O_RDWR | O_CLOEXEC);
    if (replica.fd < 0) return std::unexpected(ioError("open", replica.chunk_id));
  }
  if (!replica.crcs_loaded) {
    size_t got = 0;
    DFS_RETURN_IF_ERROR(preadFull(replica.fd, reinterpret_cast<char*>(replica.crcs.data()),
                                  sizeof replica.crcs, kCrcTableOffset, &got));
    if (got != sizeof replica.crcs) {
      return makeError(Code::kCorrupt,
                       fmt::format("chunk {:#x}: short crc table", replica.chunk_id));
    }
    replica.crcs_loaded = true;
  }
  return {};
}

Result<void> ChunkStore::writeHeader(Replica& replica) {
  char header[kReplicaHeaderBytes];
  encodeReplicaHeader(replica.chunk_id, replica.version, header);
  return pwriteFull(replica.fd, header, sizeof header, 0);
}

Result<void> ChunkStore::writeCrcs(Replica& replica, uint64_t first_block, uint64_t block_count) {
  return pwriteFull(replica.fd, reinterpret_cast<const char*>(replica.crcs.data() + first_block),
                    block_count * sizeof(uint32_t),
                    kCrcTableOffset + first_block * sizeof(uint32_t));
}

Result<std::string> ChunkStore::readBlocks(Replica& replica, uint64_t first_block,
                                           uint64_t block_count) {
  std::string data = uninitializedBuffer(block_count * kBlockSize);
  size_t got = 0;
  DFS_RETURN_IF_ERROR(preadFull(replica.fd, data.data(), data.size(),
                                kDataOffset + first_block * kBlockSize, &got));
  // Past the end of the file the data is zeros.
  std::memset(data.data() + got, 0, data.size() - got);
  for (uint64_t i = 0; i < block_count; ++i) {
    uint32_t crc = crc32c(data.data() + i * kBlockSize, kBlockSize);
    if (crc != replica.crcs[first_block + i]) {
      noteDamaged(replica.chunk_id);
      return makeError(Code::kCorrupt,
                       fmt::format("chunk {:#x} v{}: crc mismatch in block {}", replica.chunk_id,
                                   replica.version, first_block + i));
    }
  }
  return data;
}

Result<void> ChunkStore::write(uint64_t chunk_id, uint64_t version, uint64_t offset,
                               std::string_view data, bool create, bool sync) {
  if (offset > kChunkSize || data.size() > kChunkSize - offset) {
    return makeError(Code::kInvalid,
                     fmt::format("write of {} at {} past the chunk end", data.size(), offset));
  }
  uint64_t first_block = offset / kBlockSize;
  uint64_t end = offset + data.size();
  uint64_t block_count = data.empty() ? 0 : (end - 1) / kBlockSize - first_block + 1;
  uint64_t last_block = first_block + block_count - 1;
  bool aligned = offset % kBlockSize == 0 && end % kBlockSize == 0;
  // Whole blocks' checksums need nothing of the replica: they are computed before its lock is
  // taken, so that writes to one replica wait only for each other's disk writes.
  std::vector<uint32_t> crcs(block_count);
  if (aligned) {
    for (uint64_t i = 0; i < block_count; ++i) {
      crcs[i] = crc32c(data.data() + i * kBlockSize, kBlockSize);
    }
  }

  DFS_TRY(auto replica, findOrAdd(chunk_id, create));
  BlockRange blocks{first_block, first_block + block_count};
  std::unique_lock lock(replica->mutex);
  waitForWrites(lock, *replica, blocks);
  OpenForOperation open_file(*replica);
  bool fresh = replica->version == 0 && !replica->removed;
  if (fresh) DFS_RETURN_IF_ERROR(createFile(*replica, version, /*write_metadata=*/false));
  DFS_RETURN_IF_ERROR(toResult(checkVersion(*replica, version)));
  DFS_RETURN_IF_ERROR(load(*replica));
  if (data.empty()) {
    return fresh ? writeNewReplica(*replica, data, 0) : Result<void>{};
  }

  std::string merged;
  if (!aligned) {
    // Partial blocks keep their other bytes: read (and verify) them, then merge.
    merged.assign(block_count * kBlockSize, '\0');
    // (A new replica's blocks hold zeros: nothing to read.)
    if (offset % kBlockSize != 0 && !fresh) {
      DFS_TRY(auto head, readBlocks(*replica, first_block, 1));
      std::memcpy(merged.data(), head.data(), kBlockSize);
    }
    if (end % kBlockSize != 0 && (last_block != first_block || offset % kBlockSize == 0) &&
        !fresh) {
      DFS_TRY(auto tail, readBlocks(*replica, last_block, 1));
      std::memcpy(merged.data() + (block_count - 1) * kBlockSize, tail.data(), kBlockSize);
    }
    std::memcpy(merged.data() + offset % kBlockSize, data.data(), data.size());
    for (uint64_t i = 0; i < block_count; ++i) {
      crcs[i] = crc32c(merged.data() + i * kBlockSize, kBlockSize);
    }
  }
  // Data before checksums: a crash between the two leaves a mismatch that reads detect, never
  // a checksum that vouches for data that is not there. Only the new bytes are written: the
  // rest of their blocks is on disk already, or past the file's end where reads see zeros
  // (a 4 KiB file costs 4 KiB of page cache and disk, not a 64 KiB block).
  Result<void> written;
  bool direct = false;
  if (aligned && data.size() >= kDirectWriteBytes) {
    // A new replica's header and checksum table go first, for the data's CRCs to land in.
    if (fresh) written = writeNewReplica(*replica, {}, 0);
    size_t direct_bytes = 0;
    if (written) {
      auto went = writeDirect(lock, *replica, blocks, data, offset);
      if (went) direct_bytes = *went;
      if (!went) written = std::unexpected(went.error());
    }
    direct = direct_bytes == data.size();
    if (written && !direct) {
      written = pwriteFull(replica->fd, data.data() + direct_bytes, data.size() - direct_bytes,
                           kDataOffset + offset + direct_bytes);
    }
    if (written) {
      std::copy(crcs.begin(), crcs.end(), replica->crcs.begin() + first_block);
      written = writeCrcs(*replica, first_block, block_count);
    }
  } else {
    std::copy(crcs.begin(), crcs.end(), replica->crcs.begin() + first_block);
    if (fresh) {
      written = writeNewReplica(*replica, data, offset);
    } else {
      written = pwriteFull(replica->fd, data.data(), data.size(), kDataOffset + offset);
      if (written) written = writeCrcs(*replica, first_block, block_count);
    }
  }
  if (!written) {
    replica->crcs_loaded = false;  // reload from disk: memory may be ahead of the file
    return makeError(written.error().withContext(fmt::format("chunk {:#x}", chunk_id)));
  }
  if (sync && ::fdatasync(replica->fd) != 0) return std::unexpected(ioError("fdatasync", chunk_id));
  if (!sync && !direct && data.size() >= kWriteBehindBytes) {
    // A large file's data goes to disk while the rest arrives, when the CPU allows.
    int own = ::fcntl(replica->fd, F_DUPFD_CLOEXEC, 0);
    if (own >= 0) write_behind_->add(own, kDataOffset + offset, data.size());
  }
  return {};
}

Result<size_t> ChunkStore::writeDirect(std::unique_lock<std::mutex>& lock, Replica& replica,
                                       BlockRange blocks, std::string_view data, uint64_t offset) {
  if (replica.direct_fd < 0) {
    replica.direct_fd = ::open(pathOf(replica.chunk_id).c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    // A file system without direct writes (EINVAL): the caller writes the buffered way.
    if (replica.direct_fd < 0) return 0;
  }
  // The descriptor stays open meanwhile: this operation is one of the replica's users.
  int fd = replica.direct_fd;
  replica.writing.push_back(blocks);
  lock.unlock();
  auto written = pwriteDirect(fd, data, kDataOffset + offset);
  lock.lock();
  auto mine = std::find_if(replica.writing.begin(), replica.writing.end(), [&](const auto& range) {
    return range.first == blocks.first && range.end == blocks.end;
  });
  replica.writing.erase(mine);
  replica.written.notify_all();
  // Another operation may have taken the buffered descriptor meanwhile (readRegion).
  DFS_RETURN_IF_ERROR(load(replica));
  return written;
}

Result<std::string> ChunkStore::read(uint64_t chunk_id, uint64_t version, uint64_t offset,
                                     uint32_t length) {
  if (offset >= kChunkSize) return std::string();
  length = static_cast<uint32_t>(std::min<uint64_t>(length, kChunkSize - offset));
  auto touched = blocksOf(offset, length);
  return withReplica(chunk_id, version, touched, [&](Replica& replica) -> Result<std::string> {
    if (length == 0) return std::string();
    uint64_t first_block = offset / kBlockSize;
    uint64_t last_block = (offset + length - 1) / kBlockSize;
    DFS_TRY(std::string blocks, readBlocks(replica, first_block, last_block - first_block + 1));
    uint64_t skip = offset - first_block * kBlockSize;
    if (skip == 0 && blocks.size() == length) return blocks;
    return blocks.substr(skip, length);
  });
}

Result<ChunkStore::BlockRegion> ChunkStore::readRegion(uint64_t chunk_id, uint64_t version,
                                                       uint64_t offset, uint32_t length) {
  offset = std::min(offset, kChunkSize);
  length = static_cast<uint32_t>(std::min<uint64_t>(length, kChunkSize - offset));
  auto touched = blocksOf(offset, length);
  return withReplica(chunk_id, version, touched, [&](Replica& replica) -> Result<BlockRegion> {
    struct stat st {};
    if (::fstat(replica.fd, &st) != 0) return std::unexpected(ioError("fstat", chunk_id));
    BlockRegion region;
    region.chunk_length =
        st.st_size > static_cast<off_t>(kDataOffset) ? st.st_size - kDataOffset : 0;
    uint64_t first_block = offset / kBlockSize;
    uint64_t block_count = length == 0 ? 0 : (offset + length - 1) / kBlockSize - first_block + 1;
    region.chunk_offset = first_block * kBlockSize;
    uint64_t bytes = block_count * kBlockSize;
    uint64_t in_file = region.chunk_length > region.chunk_offset
                           ? std::min(bytes, region.chunk_length - region.chunk_offset)
                           : 0;
    region.crcs.assign(replica.crcs.begin() + first_block,
                       replica.crcs.begin() + first_block + block_count);
    // The reply takes the descriptor over: it is closed once the bytes are sent.
    region.file = std::make_shared<const FileRegion>(
        std::exchange(replica.fd, -1), kDataOffset + region.chunk_offset, in_file, bytes - in_file);
    return region;
  });
}

Result<int> ChunkStore::openForReader(uint64_t chunk_id, uint64_t version) {
  return withReplica(chunk_id, version, [&](Replica&) -> Result<int> {
    int fd = ::open(pathOf(chunk_id).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(ioError("open", chunk_id));
    return fd;
  });
}

Result<void> ChunkStore::setVersion(uint64_t chunk_id, uint64_t old_version, uint64_t new_version,
                                    bool create_if_missing) {
  DFS_TRY(auto replica, findOrAdd(chunk_id, create_if_missing));
  std::unique_lock lock(replica->mutex);
  waitForWrites(lock, *replica);
  OpenForOperation open_file(*replica);
  if (replica->removed) return makeError(Code::kNotFound, fmt::format("chunk {:#x}", chunk_id));
  if (replica->version == 0) {
    DFS_RETURN_IF_ERROR(createFile(*replica, new_version));
    if (::fdatasync(replica->fd) != 0) return std::unexpected(ioError("fdatasync", chunk_id));
    return {};
  }
  if (replica->version == new_version) return {};  // a retried request
  DFS_RETURN_IF_ERROR(toResult(checkVersion(*replica, old_version)));
  DFS_RETURN_IF_ERROR(load(*replica));
  replica->version = new_version;
  auto written = writeHeader(*replica);
  if (written && ::fdatasync(replica->fd) != 0) {
    written = std::unexpected(ioError("fdatasync", chunk_id));
  }
  return written;
}

Result<void> ChunkStore::truncate(uint64_t chunk_id, uint64_t version, uint64_t length) {
  if (length > kChunkSize) return makeError(Code::kInvalid, "truncate past the chunk end");
  return withReplica(chunk_id, version, [&](Replica& replica) -> Result<void> {
    uint64_t block = length / kBlockSize;
    uint64_t keep = length % kBlockSize;
    std::string partial;
    if (keep != 0) {
      DFS_TRY(partial, readBlocks(replica, block, 1));
      std::memset(partial.data() + keep, 0, kBlockSize - keep);
    }
    if (::ftruncate(replica.fd, static_cast<off_t>(kDataOffset + length)) != 0) {
      return std::unexpected(ioError("ftruncate", chunk_id));
    }
    for (uint64_t i = block; i < kBlocksPerChunk; ++i) replica.crcs[i] = zeroBlockCrc();
    if (keep != 0) replica.crcs[block] = crc32c(partial);
    return writeCrcs(replica, block, kBlocksPerChunk - block);
  });
}

Result<void> ChunkStore::remove(uint64_t chunk_id, uint64_t version) {
  std::shared_ptr<Replica> replica = find(chunk_id);
  if (!replica) return {};
  std::unique_lock lock(replica->mutex);
  waitForWrites(lock, *replica);
  if (replica->removed || (version != 0 && replica->version != version)) return {};
  {
    std::lock_guard map_lock(map_mutex_);
    auto it = replicas_.find(chunk_id);
    if (it != replicas_.end() && it->second == replica) replicas_.erase(it);
  }
  replica->removed = true;
  if (replica->fd >= 0) ::close(replica->fd);
  replica->fd = -1;
  if (spares_->recycle(pathOf(chunk_id))) return {};
  if (::unlink(pathOf(chunk_id).c_str()) != 0 && errno != ENOENT) {
    return std::unexpected(ioError("unlink", chunk_id));
  }
  return {};
}

uint64_t ChunkStore::versionOf(uint64_t chunk_id) {
  auto replica = find(chunk_id);
  if (!replica) return 0;
  std::lock_guard lock(replica->mutex);
  return replica->removed ? 0 : replica->version;
}

void ChunkStore::noteDamaged(uint64_t chunk_id) {
  std::lock_guard lock(damaged_mutex_);
  if (std::find(damaged_.begin(), damaged_.end(), chunk_id) == damaged_.end()) {
    damaged_.push_back(chunk_id);
  }
}

std::vector<uint64_t> ChunkStore::takeDamaged() {
  std::lock_guard lock(damaged_mutex_);
  return std::exchange(damaged_, {});
}

Result<void> ChunkStore::verify(uint64_t chunk_id, uint64_t first_block, uint64_t block_count) {
  if (first_block >= kBlocksPerChunk || block_count > kBlocksPerChunk - first_block) {
    return makeError(Code::kInvalid, "verify past the chunk end");
  }
  BlockRange blocks{first_block, first_block + block_count};
  return withReplica(chunk_id, /*version=*/0, blocks, [&](Replica& replica) -> Result<void> {
    DFS_TRY(auto data, readBlocks(replica, first_block, block_count));
    return {};
  });
}

Result<void> ChunkStore::install(uint64_t chunk_id, uint64_t version, std::string_view data,
                                 bool replace_same_version) {
  if (data.size() > kChunkSize || version == 0) return makeError(Code::kInvalid, "bad replica");
  std::string path = pathOf(chunk_id);
  std::string temporary = path + ".copy";
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(ioError("create copy", chunk_id));
  Replica staged;
  staged.chunk_id = chunk_id;
  staged.version = version;
  staged.fd = fd;
  staged.crcs.fill(zeroBlockCrc());
  for (uint64_t block = 0; block * kBlockSize < data.size(); ++block) {
    std::string piece(data.substr(block * kBlockSize, kBlockSize));
    piece.resize(kBlockSize, '\0');
    staged.crcs[block] = crc32c(piece);
  }
  auto written = writeHeader(staged);
  if (written) written = writeCrcs(staged, 0, kBlocksPerChunk);
  if (written) written = pwriteFull(fd, data.data(), data.size(), kDataOffset);
  if (written && ::fsync(fd) != 0) written = std::unexpected(ioError("fsync copy", chunk_id));
  staged.fd = -1;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    return written;
  }
  auto existing = find(chunk_id);
  std::unique_lock<std::mutex> existing_lock;
  if (existing) {
    existing_lock = std::unique_lock(existing->mutex);
    waitForWrites(existing_lock, *existing);
  }
  if (existing && !existing->removed &&
      (existing->version > version || (existing->version == version && !replace_same_version))) {
    ::unlink(temporary.c_str());
    return makeError(Code::kExists,
                     fmt::format("chunk {:#x} is already at v{}", chunk_id, existing->version));
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return std::unexpected(ioError("rename copy", chunk_id));
  }
  auto replica = std::make_shared<Replica>();
  replica->chunk_id = chunk_id;
  replica->version = version;
  if (existing) {
    existing->removed = true;  // its file was replaced by the rename
    if (existing->fd >= 0) ::close(existing->fd);
    existing->fd = -1;
  }
  {
    std::lock_guard map_lock(map_mutex_);
    replicas_[chunk_id] = std::move(replica);
  }
  std::lock_guard damaged_lock(damaged_mutex_);
  std::erase(damaged_, chunk_id);
  return {};
}

Result<uint64_t> ChunkStore::length(uint64_t chunk_id) {
  struct stat st {};
  if (::stat(pathOf(chunk_id).c_str(), &st) != 0) {
    return makeError(Code::kNotFound, fmt::format("chunk {:#x}", chunk_id));
  }
  return st.st_size > static_cast<off_t>(kDataOffset) ? st.st_size - kDataOffset : 0;
}

Result<void> ChunkStore::sync(uint64_t chunk_id) {
  return withReplica(chunk_id, /*version=*/0, [&](Replica& replica) -> Result<void> {
    if (::fdatasync(replica.fd) != 0) return std::unexpected(ioError("fdatasync", chunk_id));
    return {};
  });
}

std::vector<ReplicaInfo> ChunkStore::list() {
  std::vector<std::shared_ptr<Replica>> all;
  {
    std::lock_guard lock(map_mutex_);
    for (auto& [id, replica] : replicas_) all.push_back(replica);
  }
  std::vector<ReplicaInfo> out;
  for (auto& replica : all) {
    std::lock_guard lock(replica->mutex);
    if (!replica->removed && replica->version != 0) {
      out.push_back({replica->chunk_id, replica->version});
    }
  }
  return out;
}

size_t ChunkStore::count() {
  std::lock_guard lock(map_mutex_);
  return replicas_.size();
}

}  // namespace dfs::chunkserver
