#include "lib/client/local_replicas.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/base/buffer.h"
#include "lib/base/chunk_layout.h"
#include "lib/checksum/crc32c.h"
#include "lib/checksum/replica_header.h"

namespace dfs::client {

namespace {

constexpr int kChannelTimeoutMs = 2000;

// Reads up to size bytes at offset; fewer only at the file's end.
Result<size_t> preadAll(int fd, char* into, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t got = ::pread(fd, into + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return makeError(Code::kIo, fmt::format("pread: {}", std::strerror(errno)));
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

// Large reads of a replica's data go around the page cache (O_DIRECT), as the chunkserver's
// large writes do: the client keeps what it reads in its own caches, and the kernel's copy from
// freshly read page-cache pages cost more than the disk itself on the test VM (a sequential
// read of 1 GiB spent over half of the mount's CPU in it).
constexpr size_t kDirectReadBytes = 256 << 10;
constexpr size_t kDirectAlignment = 4096;

// Like preadAll, through a descriptor opened with O_DIRECT into page-aligned memory (size and
// offset multiples of kDirectAlignment); what it cannot read that way (a short read before the
// end, a refusal) is read through the buffered descriptor.
Result<size_t> preadDirect(int direct, int buffered, char* into, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t got = ::pread(direct, into + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) return done;
    if (got < 0 || (done + static_cast<size_t>(got)) % kDirectAlignment != 0) {
      if (got > 0) done += static_cast<size_t>(got);
      DFS_TRY(size_t rest, preadAll(buffered, into + done, size - done, offset + done));
      return done + rest;
    }
    done += static_cast<size_t>(got);
  }
  return done;
}

// Whether the file still is the replica of chunk_id at version: a removed replica's file is
// reused for another chunk, and a version change rewrites the header in place.
Result<void> checkIdentity(int fd, uint64_t chunk_id, uint64_t version) {
  char header[kReplicaHeaderBytes];
  DFS_TRY(size_t got, preadAll(fd, header, sizeof header, 0));
  if (got != sizeof header) return makeError(Code::kStale, "replica file emptied");
  DFS_TRY(auto found, decodeReplicaHeader(header));
  if (found.chunk_id != chunk_id || found.version != version) {
    return makeError(Code::kStale, fmt::format("replica file now holds chunk {:#x} v{}",
                                               found.chunk_id, found.version));
  }
  return {};
}

}  // namespace

LocalReplicas::LocalReplicas(size_t threads)
    : workers_(BackgroundWorker::Options{.name = "local-reads", .threads = threads}) {}

void LocalReplicas::submit(std::move_only_function<void()> job) {
  // Refused only while the workers stop: run here, so that whoever waits hears back.
  if (!workers_.post(std::move(job))) job();
}

bool LocalReplicas::usable(const std::string& address) {
  std::lock_guard lock(mutex_);
  return connected_.contains(address);
}

bool LocalReplicas::shouldProbe(const std::string& address) {
  std::lock_guard lock(mutex_);
  if (connected_.contains(address)) return false;
  auto now = std::chrono::steady_clock::now();
  auto [it, added] = not_local_.try_emplace(address, std::chrono::steady_clock::time_point::max());
  if (added) return true;
  if (it->second > now) return false;
  it->second = std::chrono::steady_clock::time_point::max();
  return true;
}

void LocalReplicas::markRemote(const std::string& address) {
  std::lock_guard lock(mutex_);
  not_local_[address] = std::chrono::steady_clock::now() + kRecheckAfter;
}

void LocalReplicas::connect(std::string address, std::string socket_path, std::string token,
                            std::move_only_function<void(bool)> done) {
  submit([this, address = std::move(address), socket_path = std::move(socket_path),
          token = std::move(token), done = std::move(done)]() mutable {
    auto channel = rpc::connectLocalChannel(socket_path, token, kChannelTimeoutMs);
    if (!channel) {
      // Expected for every chunkserver on another machine.
      spdlog::debug("no short-circuit reads from {}: {}", address, channel.error().toString());
      markRemote(address);
      return done(false);
    }
    auto chunkserver = std::make_shared<Chunkserver>();
    chunkserver->channel = std::move(*channel);
    {
      std::lock_guard lock(mutex_);
      connected_[address] = std::move(chunkserver);
      not_local_.erase(address);
    }
    spdlog::info("reading replicas of {} directly through {}", address, socket_path);
    done(true);
  });
}

void LocalReplicas::forget(const ReplicaKey& key) {
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) {
    lru_.erase(it->second.lru);
    open_.erase(it);
  }
}

void LocalReplicas::lose(const std::string& address) {
  std::lock_guard lock(mutex_);
  connected_.erase(address);
  not_local_[address] = std::chrono::steady_clock::time_point::min();  // ask again at once
  for (auto it = open_.begin(); it != open_.end();) {
    if (std::get<0>(it->first) == address) {
      lru_.erase(it->second.lru);
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<std::shared_ptr<LocalReplicas::ReplicaFile>> LocalReplicas::replicaFile(
    const std::string& address, uint64_t chunk_id, uint64_t version) {
  ReplicaKey key{address, chunk_id, version};
  std::shared_ptr<Chunkserver> chunkserver;
  {
    std::lock_guard lock(mutex_);
    if (auto it = open_.find(key); it != open_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.file;
    }
    auto found = connected_.find(address);
    if (found == connected_.end()) return makeError(Code::kUnavailable, "not connected");
    chunkserver = found->second;
  }
  Result<OwnedFd> opened;
  {
    std::lock_guard channel_lock(chunkserver->channel_mutex);
    opened = rpc::openReplicaOverChannel(chunkserver->channel.get(), chunk_id, version);
  }
  if (!opened) {
    Code code = opened.error().code();
    if (code == Code::kUnavailable || code == Code::kProtocol || code == Code::kBusy) {
      lose(address);
    }
    return std::unexpected(opened.error());
  }
  auto file = std::make_shared<ReplicaFile>();
  file->buffered = std::move(*opened);
  std::lock_guard lock(mutex_);
  if (auto it = open_.find(key); it != open_.end()) return it->second.file;  // raced: keep one
  lru_.push_front(key);
  open_[key] = OpenReplica{file, lru_.begin()};
  while (open_.size() > kMaxOpenReplicas) {
    open_.erase(lru_.back());  // closed once the reads using it are done
    lru_.pop_back();
  }
  return file;
}

int LocalReplicas::ReplicaFile::directFd() {
  std::call_once(direct_opened, [this] {
    // The same file again (not the handed-out descriptor, whose reads of the header and
    // checksums stay buffered): its own open file description, with O_DIRECT.
    std::string reopen = fmt::format("/proc/self/fd/{}", buffered.get());
    direct = OwnedFd(::open(reopen.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC));
  });
  return direct.get();
}

Result<std::string> LocalReplicas::readNow(const std::string& address, uint64_t chunk_id,
                                           uint64_t version, uint64_t offset, uint32_t length) {
  if (length == 0) return std::string();
  if (offset >= kReplicaMaxDataSize || length > kReplicaMaxDataSize - offset) {
    return makeError(Code::kInvalid,
                     fmt::format("read of {} at {} past the chunk end", length, offset));
  }
  DFS_TRY(auto file, replicaFile(address, chunk_id, version));
  // Checked before and after the read: what was read in between came from that replica.
  auto checked = checkIdentity(file->buffered.get(), chunk_id, version);
  if (checked) {
    auto data = readBlocks(*file, chunk_id, version, offset, length);
    if (data) checked = checkIdentity(file->buffered.get(), chunk_id, version);
    if (checked) {
      if (data) bytes_read_ += length;
      return data;
    }
  }
  forget(ReplicaKey{address, chunk_id, version});
  return std::unexpected(checked.error());
}

Result<std::string> LocalReplicas::readBlocks(ReplicaFile& file, uint64_t chunk_id,
                                              uint64_t version, uint64_t offset, uint32_t length) {
  int fd = file.buffered.get();
  uint64_t first_block = offset / kChecksumBlockSize;
  uint64_t block_count = (offset + length - 1) / kChecksumBlockSize - first_block + 1;
  std::vector<uint32_t> crcs(block_count);
  size_t crc_bytes = block_count * sizeof(uint32_t);
  DFS_TRY(size_t got_crcs, preadAll(fd, reinterpret_cast<char*>(crcs.data()), crc_bytes,
                                    kReplicaCrcTableOffset + first_block * sizeof(uint32_t)));
  if (got_crcs != crc_bytes) return makeError(Code::kCorrupt, "short checksum table");
  std::string data = uninitializedBuffer(block_count * kChecksumBlockSize);
  uint64_t at = kReplicaDataOffset + first_block * kChecksumBlockSize;
  // (Page-aligned when the program allocates large blocks so, lib/base/page_aligned_new.cc.)
  int direct_fd = data.size() >= kDirectReadBytes &&
                          reinterpret_cast<uintptr_t>(data.data()) % kDirectAlignment == 0
                      ? file.directFd()
                      : -1;
  DFS_TRY(size_t got, direct_fd >= 0 ? preadDirect(direct_fd, fd, data.data(), data.size(), at)
                                     : preadAll(fd, data.data(), data.size(), at));
  std::memset(data.data() + got, 0, data.size() - got);  // past the file's end: zeros
  for (uint64_t i = 0; i < block_count; ++i) {
    if (crc32c(data.data() + i * kChecksumBlockSize, kChecksumBlockSize) != crcs[i]) {
      return makeError(Code::kCorrupt, fmt::format("chunk {:#x} v{} block {}: crc mismatch",
                                                   chunk_id, version, first_block + i));
    }
  }
  uint64_t skip = offset - first_block * kChecksumBlockSize;
  if (skip == 0) {
    data.resize(length);
  } else {
    data = data.substr(skip, length);
  }
  return data;
}

void LocalReplicas::read(std::string address, uint64_t chunk_id, uint64_t version, uint64_t offset,
                         uint32_t length, std::move_only_function<void(Result<std::string>)> done) {
  submit([this, address = std::move(address), chunk_id, version, offset, length,
          done = std::move(done)]() mutable {
    done(readNow(address, chunk_id, version, offset, length));
  });
}

}  // namespace dfs::client
