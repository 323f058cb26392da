// The data half of DfsClient: write buffering, chunk writes through replica chains, reads with
// replica fallback, truncation and fsync.
#include <fcntl.h>
#include <linux/falloc.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lib/base/clock.h"
#include "lib/checksum/crc32c.h"
#include "lib/client/deferred_attrs.h"
#include "lib/client/dfs_client.h"
#include "lib/client/internal.h"
#include "lib/client/local_replicas.h"
#include "proto/chunk.pb.h"

namespace dfs::client {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// Writes up to this size go to every replica side by side rather than through a chain.
constexpr size_t kFanOutBytes = 64 << 10;

// Runs tasks concurrently on executor; returns the first error, after all have finished.
awaitable<Result<void>> runAll(asio::any_io_executor executor,
                               std::vector<awaitable<Result<void>>> tasks) {
  struct Join {
    explicit Join(asio::any_io_executor executor) : done(executor) {}
    size_t left = 0;
    Status first_error;
    rpc::AsyncEvent done;
  };
  auto join = std::make_shared<Join>(executor);
  join->left = tasks.size();
  for (auto& task : tasks) {
    asio::co_spawn(executor, std::move(task),
                   [join](std::exception_ptr error, Result<void> result) {
                     if (join->first_error.isOk()) {
                       if (error) join->first_error = Status(Code::kInternal, "write task threw");
                       else if (!result) join->first_error = result.error();
                     }
                     if (--join->left == 0) join->done.notifyAll();
                   });
  }
  while (join->left > 0) co_await join->done.wait();
  co_return toResult(join->first_error);
}

// The replica a write failed on: the error's origin (the chunkserver that answered it, or the
// one further down a chain it names); one that names none of the location's is the first
// replica's.
std::string failedReplica(const Status& error, const proto::ChunkLocation& location) {
  for (const auto& replica : location.replicas()) {
    if (replica == error.origin()) return replica;
  }
  return location.replicas(0);
}

// A read the reader verifies (ReadChunkRequest.reader_verifies): checks the reply covers
// [offset, offset + length) in whole blocks, each matching its CRC, and cuts data down to the
// bytes asked for (in place when they start the payload, as read-ahead pieces do).
Status checkReadBlocks(const proto::ReadChunkReply& reply, uint64_t offset, uint32_t length,
                       std::string& data) {
  uint64_t start = reply.data_offset();
  if (start % kChecksumBlockSize != 0 || start > offset ||
      data.size() != static_cast<uint64_t>(reply.block_crcs_size()) * kChecksumBlockSize ||
      offset - start + length > data.size()) {
    return Status(Code::kProtocol, "read reply does not cover the blocks asked for");
  }
  for (int i = 0; i < reply.block_crcs_size(); ++i) {
    uint64_t at = static_cast<uint64_t>(i) * kChecksumBlockSize;
    if (crc32c(data.data() + at, kChecksumBlockSize) != reply.block_crcs(i)) {
      return Status(Code::kCorrupt,
                    fmt::format("crc mismatch in block {}", (start + at) / kChecksumBlockSize));
    }
  }
  if (offset == start) {
    data.resize(length);
  } else {
    data = data.substr(offset - start, length);
  }
  return Status::ok();
}

}  // namespace

Task<proto::Attr> DfsClient::open(uint64_t ino, int flags) {
  proto::OpenRequest request;
  request.set_ino(ino);
  request.set_flags(static_cast<uint32_t>(flags));
  request.set_close_behind(mayCloseBehind(flags));
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::OPEN, request));
  FileState& state = file(ino);
  state.held = state.held || request.close_behind();
  state.opens++;
  if (!state.dirty && !state.hasUnsentData()) {
    // Close-to-open: what other clients committed before this open is visible now.
    noteLocalChange(state);
    state.size = state.master_size = reply.attr().size();
    state.size_known = true;
    state.learnAttr(reply.attr());
    forgetCachedData(state);
  }
  overlayLocalState(reply.mutable_attr());
  co_return reply.attr();
}

Task<void> DfsClient::release(uint64_t ino) {
  auto it = files_.find(ino);
  if (it != files_.end() && it->second->closes_behind == 1 && !it->second->release_with_commit) {
    // The kernel releases right after the close: the close-behind's commit, still on its way
    // out, can take the release with it and save the master a call.
    auto state = it->second;
    state->release_with_commit = true;
    co_await awaitClosesBehind(*state, /*hurry=*/false);
    state->release_with_commit = false;
    if (std::exchange(state->released_with_commit, false)) {
      if (state->opens > 0) state->opens--;
      if (state->opens == 0 && !state->hasUnsentData() && !state->dirty &&
          state->closes_behind == 0) {
        files_.erase(ino);
      }
      co_return Result<void>{};  // a failed commit was logged, and it failed no release
    }
    it = files_.find(ino);
  }
  Result<void> flushed;
  if (it != files_.end()) flushed = co_await flush(ino);
  proto::ReleaseRequest request;
  request.set_ino(ino);
  auto released = co_await masterCall<proto::ReleaseReply>(proto::RELEASE, request);
  it = files_.find(ino);
  if (it != files_.end()) {
    FileState& state = *it->second;
    if (state.opens > 0) state.opens--;
    if (state.opens == 0 && !state.hasUnsentData() && !state.dirty) files_.erase(it);
  }
  if (!flushed) co_return flushed;
  if (!released) co_return std::unexpected(released.error());
  co_return Result<void>{};
}

Task<size_t> DfsClient::write(uint64_t ino, uint64_t offset, std::string data) {
  if (offset + data.size() > (kChunkSize << 20)) co_return makeError(Code::kFileTooBig, "offset");
  std::shared_ptr<FileState> state = (file(ino), files_.at(ino));
  if (!state->error.isOk()) co_return makeError(std::exchange(state->error, Status::ok()));
  size_t length = data.size();
  if (length == 0) co_return length;
  state->buffer.insert(offset, std::move(data));
  if (!state->readahead.pieces.empty()) state->readahead = {};
  // Ask for the chunk's write location now; by the time the data goes out it is there.
  uint64_t chunk_index = offset / kChunkSize;
  // A small new file's close may store it in a reserved chunk, placed already.
  bool may_store_reserved = state->fresh && offset + length <= options_.close_behind_file_bytes &&
                            state->attr && state->attr->goal() == reserved_chunks_goal_ &&
                            !reserved_chunks_.empty();
  // (Chunk 0 of a file stored in a reserved chunk is that chunk, once its store ends.)
  bool reserved = chunk_index == 0 && state->reserved_chunk.chunk_id() != 0;
  if (!may_store_reserved && !reserved && !state->write_chunks.contains(chunk_index) &&
      !state->locating.contains(chunk_index)) {
    asio::co_spawn(io_, locateAhead(state, chunk_index), asio::detached);
  }
  state->size = std::max(state->size, offset + length);
  state->dirty = true;
  state->changes++;
  noteLocalChange(*state);
  state->mtime_ns = state->ctime_ns = wallNowNs();
  if (state->buffer.bytes() >= options_.write_batch_bytes) {
    state->queue.push_back(state->buffer.take());
    if (!state->writer_running) {
      state->writer_running = true;
      asio::co_spawn(io_, writerLoop(state), asio::detached);
    }
    // Back-pressure: the application waits while too much is queued.
    while (state->queue.size() > options_.max_batches_in_flight && state->error.isOk()) {
      co_await state->changed.wait();
    }
  }
  co_return length;
}

Task<uint64_t> DfsClient::append(uint64_t ino, std::string data) {
  FileState& state = file(ino);
  if (!state.size_known) {
    DFS_CO_TRY(auto attr, co_await getAttr(ino));
    state.size = attr.size();
    state.size_known = true;
  }
  uint64_t offset = state.size;
  DFS_CO_RETURN_IF_ERROR(co_await write(ino, offset, std::move(data)));
  co_return offset;
}

namespace {

// Cuts an extent into chunk writes: at most piece_bytes each, never across a chunk's end. An
// extent that is one piece already is moved, not copied.
std::vector<std::pair<uint64_t, std::string>> cutIntoPieces(uint64_t offset, std::string data,
                                                            uint64_t piece_bytes) {
  std::vector<std::pair<uint64_t, std::string>> pieces;
  uint64_t room = kChunkSize - offset % kChunkSize;
  if (data.size() <= std::min(room, piece_bytes)) {
    pieces.emplace_back(offset, std::move(data));
    return pieces;
  }
  for (uint64_t done = 0; done < data.size();) {
    uint64_t at = offset + done;
    uint64_t length =
        std::min<uint64_t>({data.size() - done, kChunkSize - at % kChunkSize, piece_bytes});
    pieces.emplace_back(at, data.substr(done, length));
    done += length;
  }
  return pieces;
}

bool overlapsInFlight(const std::map<uint64_t, uint64_t>& in_flight, uint64_t offset,
                      uint64_t end) {
  // The ranges are disjoint, so the last one starting before end reaches furthest.
  auto next = in_flight.lower_bound(end);
  return next != in_flight.begin() && std::prev(next)->second > offset;
}

}  // namespace

awaitable<void> DfsClient::writerLoop(std::shared_ptr<FileState> state) {
  // Pieces go out as soon as one of the max_pieces_in_flight slots is free, batch after batch:
  // the replica chains are never idle while a batch's slowest piece finishes.
  for (;;) {
    if (state->queue.empty() || !state->error.isOk()) {
      // Batches queued while the last pieces are under way are still this loop's to write.
      if (state->pieces_in_flight.empty()) break;
      co_await state->changed.wait();
      continue;
    }
    auto batch = std::move(state->queue.front());
    state->queue.pop_front();
    state->changed.notifyAll();  // a writer held back by a full queue may go on
    for (auto& [offset, data] : batch) {
      for (auto& [at, piece] : cutIntoPieces(offset, std::move(data), options_.write_piece_bytes)) {
        uint64_t end = at + piece.size();
        while (state->error.isOk() &&
               (state->pieces_in_flight.size() >= options_.max_pieces_in_flight ||
                overlapsInFlight(state->pieces_in_flight, at, end))) {
          co_await state->changed.wait();
        }
        if (!state->error.isOk()) break;
        state->pieces_in_flight.emplace(at, end);
        asio::co_spawn(io_, writePiece(state, at, std::move(piece)),
                       [state, at](std::exception_ptr thrown, Result<void> written) {
                         state->pieces_in_flight.erase(at);
                         if (thrown) written = makeError(Code::kInternal, "write task threw");
                         if (!written && state->error.isOk()) {
                           spdlog::error("write of inode {} failed: {}", state->ino,
                                         written.error().toString());
                           state->error = written.error();
                         }
                         state->changed.notifyAll();
                       });
      }
    }
  }
  if (!state->error.isOk()) state->queue.clear();
  state->writer_running = false;
  state->changed.notifyAll();
}

Task<proto::ChunkLocation> DfsClient::writeLocation(FileState& state, uint64_t chunk_index) {
  state.fresh = false;
  // One request per chunk at a time: a write may find the location already on its way.
  while (state.locating.contains(chunk_index)) co_await state.changed.wait();
  auto cached = state.write_chunks.find(chunk_index);
  if (cached != state.write_chunks.end() &&
      (std::chrono::steady_clock::now() - cached->second.leased_at < std::chrono::seconds(20) ||
       (chunk_index == 0 && state.reserved_chunk.chunk_id() != 0))) {
    // (A reserved chunk no commit has named yet is this client's alone: no lease to renew.)
    co_return cached->second.location;
  }
  proto::GetWriteChunkRequest request;
  request.set_ino(state.ino);
  request.set_chunk_index(chunk_index);
  state.locating.insert(chunk_index);
  auto reply = co_await masterCall<proto::GetWriteChunkReply>(proto::GET_WRITE_CHUNK, request);
  state.locating.erase(chunk_index);
  state.changed.notifyAll();
  if (!reply) co_return std::unexpected(reply.error());
  state.write_chunks[chunk_index] = WriteChunk{reply->chunk(), reply->created()};
  state.read_chunks[chunk_index] = reply->chunk();
  co_return reply->chunk();
}

awaitable<void> DfsClient::locateAhead(std::shared_ptr<FileState> state, uint64_t chunk_index) {
  // Errors show up again, and are reported, when the write itself asks.
  (void)co_await writeLocation(*state, chunk_index);
}

Task<void> DfsClient::writeReplica(const std::string& address, proto::WriteChunkRequest request,
                                   rpc::SharedPayload data) {
  auto target = chunkservers_.get(address);
  if (!target) co_return makeError(Code::kInternal, "bad replica address " + address);
  rpc::CallOptions call_options;
  call_options.timeout = options_.call_timeout;
  auto written = co_await target->callShared<proto::WriteChunkReply>(proto::WRITE_CHUNK, request,
                                                                     call_options, std::move(data));
  if (written) co_return Result<void>{};
  co_return std::unexpected(written.error());
}

Task<void> DfsClient::writeReplicas(const proto::ChunkLocation& location,
                                    proto::WriteChunkRequest request, rpc::SharedPayload data) {
  if (data->size() > kFanOutBytes || location.replicas_size() < 2) {
    // Through a chain: each replica forwards to the next while it writes, so the client sends
    // the bytes once.
    for (int i = 1; i < location.replicas_size(); ++i) request.add_chain(location.replicas(i));
    co_return co_await writeReplica(location.replicas(0), std::move(request), data);
  }
  // A small write goes to every replica at once: one hop instead of a hop per replica, where
  // latency, not bandwidth, is what it costs (a small file's close waits for it).
  std::vector<awaitable<Result<void>>> writes;
  for (const auto& address : location.replicas()) {
    writes.push_back(writeNamedReplica(address, request, data));
  }
  co_return co_await runAll(io_.get_executor(), std::move(writes));
}

Task<void> DfsClient::writeNamedReplica(std::string address, proto::WriteChunkRequest request,
                                        rpc::SharedPayload data) {
  auto written = co_await writeReplica(address, std::move(request), std::move(data));
  // An error the call made without reaching the replica (no connection) belongs to it too.
  if (!written && written.error().origin().empty()) {
    co_return makeError(written.error().withOrigin(address));
  }
  co_return written;
}

Task<void> DfsClient::writePiece(std::shared_ptr<FileState> state, uint64_t offset,
                                 std::string bytes) {
  uint64_t chunk_index = offset / kChunkSize;
  auto data = std::make_shared<const std::string>(std::move(bytes));
  for (int attempt = 0;; ++attempt) {
    DFS_CO_TRY(auto location, co_await writeLocation(*state, chunk_index));
    if (location.replicas_size() == 0) {
      co_return makeError(Code::kIo, fmt::format("chunk {:#x} has no replica to write to",
                                                 location.chunk_id()));
    }
    proto::WriteChunkRequest request;
    request.set_chunk_id(location.chunk_id());
    request.set_version(location.version());
    request.set_offset(offset % kChunkSize);
    request.set_create(state->write_chunks[chunk_index].created);
    auto written = co_await writeReplicas(location, std::move(request), data);
    if (written) {
      state->unsynced_chunks.insert(chunk_index);
      co_return Result<void>{};
    }
    // A replica whose disk is full is dropped like any failed one and the write goes on with
    // the others; only when too few are left does the program see ENOSPC.
    if (attempt >= 5) {
      co_return makeError(written.error().withContext(
          fmt::format("write chunk {:#x} v{}", location.chunk_id(), location.version())));
    }
    spdlog::warn("write chunk {:#x} v{}: replica {}: {}", location.chunk_id(),
                 location.version(), failedReplica(written.error(), location),
                 written.error().toString());
    state->write_chunks.erase(chunk_index);
    if (written.error().code() == Code::kStale || written.error().code() == Code::kNotFound) {
      continue;  // another writer moved the version on: take a new lease
    }
    // Drop the replica that failed; the master moves the others to a new version, which
    // leaves the failed one recognisably stale.
    proto::ReportWriteFailureRequest report;
    report.set_ino(state->ino);
    report.set_chunk_index(chunk_index);
    report.set_chunk_id(location.chunk_id());
    report.set_version(location.version());
    report.add_failed(failedReplica(written.error(), location));
    auto reply =
        co_await masterCall<proto::GetWriteChunkReply>(proto::REPORT_WRITE_FAILURE, report);
    if (reply) {
      state->write_chunks[chunk_index] = WriteChunk{reply->chunk(), false};
      state->read_chunks[chunk_index] = reply->chunk();
    } else if (reply.error().code() == Code::kIo) {
      if (written.error().code() == Code::kNoSpace) {
        co_return makeError(Code::kNoSpace, reply.error().message());
      }
      co_return std::unexpected(reply.error());
    }
  }
}

Task<void> DfsClient::drain(FileState& state) {
  auto owner = files_.at(state.ino);
  if (!state.buffer.empty()) state.queue.push_back(state.buffer.take());
  if (!state.queue.empty() && !state.writer_running) {
    state.writer_running = true;
    asio::co_spawn(io_, writerLoop(owner), asio::detached);
  }
  while (state.writer_running) co_await state.changed.wait();
  if (!state.error.isOk()) co_return makeError(std::exchange(state.error, Status::ok()));
  co_return Result<void>{};
}

proto::CommitWriteRequest DfsClient::commitRequest(const FileState& state, bool release_leases,
                                                   bool release) {
  proto::CommitWriteRequest request;
  request.set_ino(state.ino);
  request.set_min_size(state.size);
  request.set_mtime_ns(state.mtime_ns);
  request.set_ctime_ns(state.ctime_ns);
  request.set_release_leases(release_leases);
  request.set_release(release);
  if (state.reserved_chunk.chunk_id() != 0) {
    request.set_reserved_chunk_id(state.reserved_chunk.chunk_id());
    *request.mutable_reserved_chunk_replicas() = state.reserved_chunk.replicas();
  }
  if (state.held_mode) {
    request.mutable_attrs()->set_valid(request.attrs().valid() | proto::SET_MODE);
    request.mutable_attrs()->set_mode(*state.held_mode);
  }
  if (state.held_atime_ns) {
    request.mutable_attrs()->set_valid(request.attrs().valid() | proto::SET_ATIME);
    request.mutable_attrs()->set_atime_ns(*state.held_atime_ns);
  }
  return request;
}

Task<void> DfsClient::commit(FileState& state, bool release_leases, bool release) {
  if (!state.dirty) co_return Result<void>{};
  auto request = commitRequest(state, release_leases, release);
  uint64_t changes = state.changes;
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::COMMIT_WRITE, request));
  if (release_leases) state.write_chunks.clear();
  committed(state, reply, changes, request.reserved_chunk_id());
  co_return Result<void>{};
}

void DfsClient::committed(FileState& state, const proto::AttrReply& reply, uint64_t changes,
                          uint64_t reserved_chunk) {
  noteLocalChange(state);  // newer than any answer still on its way
  if (reserved_chunk != 0 && state.reserved_chunk.chunk_id() == reserved_chunk) {
    state.reserved_chunk.Clear();
  }
  state.learnAttr(reply.attr());
  state.master_size = reply.attr().size();
  state.stored_size = 0;  // the master's size has it now
  if (state.changes == changes) {
    state.dirty = false;
    state.held_mode.reset();
    state.held_atime_ns.reset();
    state.size = reply.attr().size();
  } else {
    // Writes or held-back changes came while the commit was on its way: the next one takes them.
    state.size = std::max(state.size, reply.attr().size());
  }
}

Task<void> DfsClient::flush(uint64_t ino) {
  auto it = files_.find(ino);
  if (it == files_.end()) co_return Result<void>{};
  auto state = it->second;
  co_await awaitClosesBehind(*state);
  DFS_CO_RETURN_IF_ERROR(co_await drain(*state));
  co_return co_await commit(*state);
}

Task<void> DfsClient::flushOnClose(uint64_t ino) {
  auto it = files_.find(ino);
  if (it == files_.end()) co_return Result<void>{};
  auto state = it->second;
  if (!state->error.isOk()) co_return makeError(std::exchange(state->error, Status::ok()));
  if (state->closes_behind > 0 && state->changes == state->changes_behind) {
    // Nothing new since a close-behind still under way: this close (another descriptor, a
    // forked child's copy) has nothing of its own to wait for.
    co_return Result<void>{};
  }
  // Large files close the slow way: their close is a small part of their writing anyway.
  bool small = !state->writer_running && state->queue.empty() &&
               state->buffer.bytes() <= options_.close_behind_file_bytes;
  // Only a file the master knows this client holds back: another mount's open of it is then
  // recalled from here and waits for this close's commit to land.
  if (!options_.close_behind || !state->held || !state->dirty || !small) {
    co_return co_await flush(ino);
  }
  // A close returns once its data is on every replica, as NFS's does: a program that checks
  // close learns of data that could not be stored. Only the commit goes behind.
  DFS_CO_RETURN_IF_ERROR(co_await storeForClose(state));
  if (!state->dirty || !state->held) co_return co_await flush(ino);
  state->changes_behind = state->changes;
  state->closes_behind++;
  closes_behind_++;
  commits_behind_.push_back(state);
  if (commits_behind_.size() >= kMaxCommitBatch) commit_linger_.cancel();
  if (!committing_behind_) {
    committing_behind_ = true;
    asio::co_spawn(io_, commitBehindLoop(), asio::detached);
  }
  co_return Result<void>{};
}

bool DfsClient::mayStoreInReservedChunk(const FileState& state) const {
  return state.fresh && state.closes_behind == 0 && state.write_chunks.empty() &&
         state.locating.empty() && !state.writer_running && state.queue.empty() &&
         state.buffer.extents().size() == 1 && state.buffer.extents().begin()->first == 0 &&
         state.buffer.bytes() <= options_.close_behind_file_bytes && state.attr &&
         state.attr->goal() != 0 && state.attr->goal() == reserved_chunks_goal_;
}

Task<void> DfsClient::storeForClose(std::shared_ptr<FileState> state) {
  if (mayStoreInReservedChunk(*state)) {
    if (auto chunk = takeReservedChunk()) {
      if (co_await storeInReservedChunk(*state, std::move(*chunk))) {
        state->stored_size = std::max(state->stored_size, state->size);
        co_return Result<void>{};
      }
    }
  }
  // The way every write goes: a location from the master, retries, failed replicas reported.
  auto stored = co_await drain(*state);
  if (!stored) {
    forgetUnstoredWrites(*state);
    co_return stored;
  }
  state->stored_size = std::max(state->stored_size, state->size);
  co_return Result<void>{};
}

awaitable<bool> DfsClient::storeInReservedChunk(FileState& state, proto::ChunkLocation chunk) {
  // Reads and drains of the file wait until its bytes are out.
  state.fresh = false;
  state.writer_running = true;
  state.reserved_chunk = chunk;
  auto data = std::make_shared<const std::string>(std::move(state.buffer.take().begin()->second));
  proto::WriteChunkRequest request;
  request.set_chunk_id(chunk.chunk_id());
  request.set_version(chunk.version());
  request.set_offset(0);
  request.set_create(true);
  auto written = co_await writeReplicas(chunk, std::move(request), data);
  state.writer_running = false;
  state.changed.notifyAll();
  if (!written) {
    // Placed a while ago: a replica may have gone since. The usual way takes over (the id is
    // passed over; the master releases it with the next one used).
    spdlog::info("inode {}: reserved chunk {:#x}: replica {}: {}; asking the master", state.ino,
                 chunk.chunk_id(), failedReplica(written.error(), chunk),
                 written.error().toString());
    state.reserved_chunk.Clear();
    auto newer = state.buffer.take();  // written meanwhile
    state.buffer.insert(0, std::string(*data));
    for (auto& [offset, bytes] : newer) state.buffer.insert(offset, std::move(bytes));
    co_return false;
  }
  state.unsynced_chunks.insert(0);
  state.write_chunks[0] = WriteChunk{chunk, true};
  state.read_chunks[0] = std::move(chunk);
  co_return true;
}

std::optional<proto::ChunkLocation> DfsClient::takeReservedChunk() {
  if (reserved_chunks_.size() < kReservedChunks / 4 && !reserving_chunks_ &&
      std::chrono::steady_clock::now() >= reserve_chunks_again_at_) {
    reserving_chunks_ = true;
    asio::co_spawn(io_, reserveChunks(), asio::detached);
  }
  if (reserved_chunks_.empty()) return std::nullopt;
  auto chunk = std::move(reserved_chunks_.front());
  reserved_chunks_.pop_front();
  return chunk;
}

awaitable<void> DfsClient::reserveChunks() {
  proto::ReserveChunksRequest request;
  request.set_count(kReservedChunks);
  auto reply = co_await masterCall<proto::ReserveChunksReply>(proto::RESERVE_CHUNKS, request);
  reserving_chunks_ = false;
  if (!reply) {
    // Not asked again by every close while the cluster cannot place chunks (too few
    // chunkservers, full): those closes go the usual way meanwhile.
    reserve_chunks_again_at_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    spdlog::warn("reserving chunks: {}", reply.error().toString());
    co_return;
  }
  if (reply->goal() != reserved_chunks_goal_) reserved_chunks_.clear();
  reserved_chunks_goal_ = reply->goal();
  for (auto& chunk : *reply->mutable_chunks()) reserved_chunks_.push_back(std::move(chunk));
  spdlog::info("{} chunks reserved for small files (goal {}), {} in hand",
               reply->chunks_size(), reply->goal(), reserved_chunks_.size());
}

awaitable<void> DfsClient::commitBehindLoop() {
  // A batch waits a little for more files (options_.commit_behind_linger), and files closed
  // while one is under way wait for the next: under a stream of small files batches grow, and a
  // lone file goes out soon. Every call saved is a few wake-ups of two processes and, on the
  // master, a journal sync.
  while (!commits_behind_.empty()) {
    if (commits_behind_.size() < kMaxCommitBatch && !hurry_commits_ && !stopping_ &&
        options_.commit_behind_linger.count() > 0) {
      commit_linger_.expires_after(options_.commit_behind_linger);
      co_await commit_linger_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    std::vector<std::shared_ptr<FileState>> batch;
    while (!commits_behind_.empty() && batch.size() < kMaxCommitBatch) {
      batch.push_back(std::move(commits_behind_.front()));
      commits_behind_.pop_front();
    }
    co_await commitTogether(std::move(batch));
  }
  committing_behind_ = false;
  hurry_commits_ = false;
}

awaitable<void> DfsClient::commitTogether(std::vector<std::shared_ptr<FileState>> batch) {
  proto::CommitWritesRequest commits;
  std::vector<std::shared_ptr<FileState>> going;
  struct Sent {
    uint64_t changes;
    bool with_release;
    uint64_t chunk;
  };
  std::vector<Sent> sent;
  for (auto& file : batch) {
    if (file->hasUnsentData() || !file->dirty) {
      // Written again since its close (opened anew), or committed meanwhile: the usual way.
      asio::co_spawn(io_, finishCloseBehind(file), asio::detached);
      continue;
    }
    bool with_release = file->release_with_commit;
    auto* commit = commits.add_commits();
    *commit = commitRequest(*file, false, with_release);
    commit->set_request_id(next_request_id_++);
    sent.push_back({file->changes, with_release, file->reserved_chunk.chunk_id()});
    going.push_back(std::move(file));
  }
  if (going.empty()) co_return;
  auto landed = co_await masterCall<proto::CommitWritesReply>(proto::COMMIT_WRITES, commits);
  for (size_t i = 0; i < going.size(); ++i) {
    auto& file = going[i];
    Result<void> outcome;
    if (!landed) {
      outcome = std::unexpected(landed.error());
    } else if (landed->results_size() != static_cast<int>(going.size())) {
      outcome = makeError(Code::kProtocol, "commit answers do not match the commits");
    } else if (const auto& result = landed->results(static_cast<int>(i)); result.status() != 0) {
      outcome = makeError(codeFromWire(result.status()), result.message());
    } else {
      committed(*file, result.reply(), sent[i].changes, sent[i].chunk);
      if (sent[i].with_release) file->released_with_commit = true;
    }
    landCloseBehind(file, std::move(outcome));
  }
}

awaitable<void> DfsClient::finishCloseBehind(std::shared_ptr<FileState> state) {
  auto landed = co_await drain(*state);
  if (!landed) forgetUnstoredWrites(*state);
  if (landed && state->dirty) {
    bool with_release = state->release_with_commit;
    landed = co_await commit(*state, false, with_release);
    if (landed && with_release) state->released_with_commit = true;
  }
  landCloseBehind(state, std::move(landed));
}

void DfsClient::forgetUnstoredWrites(FileState& state) {
  // The bytes are gone: no later commit of this client may publish their size (the namespace
  // never shows a size whose bytes were not stored), and its own answers show the file as the
  // master has it.
  if (!state.buffer.empty()) (void)state.buffer.take();
  state.queue.clear();
  // Attribute changes held for the commit (a chmod, times) still go with the next one.
  state.dirty = state.held_mode.has_value() || state.held_atime_ns.has_value();
  state.size = std::max(state.master_size, state.stored_size);
  state.write_chunks.clear();
  forgetCachedData(state);
  noteLocalChange(state);
}

void DfsClient::landCloseBehind(const std::shared_ptr<FileState>& state, Result<void> landed) {
  if (!landed) {
    spdlog::error("inode {}: committing after close failed: {}", state->ino,
                  landed.error().toString());
    if (state->opens > 0 && state->error.isOk()) state->error = landed.error();
  }
  state->closes_behind--;
  closes_behind_--;
  state->changed.notifyAll();
  close_landed_.notifyAll();
}

void DfsClient::hurryCommits() {
  hurry_commits_ = true;
  commit_linger_.cancel();
}

awaitable<void> DfsClient::awaitClosesBehind(FileState& state, bool hurry) {
  if (hurry && state.closes_behind > 0) hurryCommits();
  while (state.closes_behind > 0) co_await state.changed.wait();
}

awaitable<void> DfsClient::awaitAllClosesBehind() {
  if (closes_behind_ > 0) hurryCommits();
  while (closes_behind_ > 0) co_await close_landed_.wait();
}

bool DfsClient::mayCloseBehind(int flags) {
  if (!options_.close_behind || (flags & O_ACCMODE) == O_RDONLY) return false;
  if (!watching_recalls_) {
    watching_recalls_ = true;
    asio::co_spawn(io_, watchRecallsLoop(), asio::detached);
  }
  return true;
}

awaitable<void> DfsClient::watchRecallsLoop() {
  while (!stopping_) {
    // Not masterCall: a watch that meets a lost session must not open a new one (the keep-alive
    // does that), least of all while the client shuts down.
    rpc::CallOptions call_options;
    call_options.timeout = options_.call_timeout;
    call_options.session_id = session_id_;
    proto::WatchRecallsRequest request;
    request.set_master_instance(master_instance_);
    auto recalls = co_await master_->call<proto::WatchRecallsReply>(proto::WATCH_RECALLS, request,
                                                                    call_options);
    if (stopping_) break;
    if (!recalls) {
      // The master is away, restarting or failing over: keep asking, unhurried.
      asio::steady_timer pause(io_, std::chrono::milliseconds(200));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    for (const auto& recall : recalls->recalls()) {
      asio::co_spawn(io_, answerRecall(recall.ino(), recall.number()), asio::detached);
    }
    co_await noticeMasterInstance(recalls->master_instance());
  }
}

awaitable<void> DfsClient::answerRecall(uint64_t ino, uint64_t number) {
  // A held directory is recalled because another session adds a name to it: from now on this
  // client no longer knows every name in it.
  // Creates and removals in it reach the master first.
  if (held_dirs_.erase(ino) > 0) co_await settleChangesBehind();
  // Every close that returned before the recall arrived is counted in closes_behind by now.
  if (auto it = files_.find(ino); it != files_.end()) {
    auto state = it->second;
    co_await awaitClosesBehind(*state);
  }
  proto::RecallAnsweredRequest answer;
  answer.set_ino(ino);
  answer.set_number(number);
  (void)co_await masterCall<proto::RecallAnsweredReply>(proto::RECALL_ANSWERED, answer);
}

Task<void> DfsClient::fsync(uint64_t ino) {
  auto it = files_.find(ino);
  if (it == files_.end()) co_return Result<void>{};
  auto state = it->second;
  co_await awaitClosesBehind(*state);
  DFS_CO_RETURN_IF_ERROR(co_await drain(*state));
  DFS_CO_RETURN_IF_ERROR(co_await commit(*state));
  std::vector<awaitable<Result<void>>> syncs;
  for (uint64_t chunk_index : std::exchange(state->unsynced_chunks, {})) {
    auto chunk = state->write_chunks.find(chunk_index);
    if (chunk == state->write_chunks.end()) continue;
    for (const auto& address : chunk->second.location.replicas()) {
      auto target = chunkservers_.get(address);
      proto::SyncChunkRequest request;
      request.set_chunk_id(chunk->second.location.chunk_id());
      syncs.push_back([](std::shared_ptr<rpc::Client> target,
                         proto::SyncChunkRequest request) -> awaitable<Result<void>> {
        DFS_CO_RETURN_IF_ERROR(
            co_await target->call<proto::SyncChunkReply>(proto::SYNC_CHUNK, request));
        co_return Result<void>{};
      }(target, request));
    }
  }
  DFS_CO_RETURN_IF_ERROR(co_await runAll(io_.get_executor(), std::move(syncs)));
  co_return co_await syncMetadata();
}

Task<void> DfsClient::syncMetadata() {
  DFS_CO_RETURN_IF_ERROR(co_await masterCall<proto::SyncMetadataReply>(
      proto::SYNC_METADATA, proto::SyncMetadataRequest{}));
  co_return Result<void>{};
}

Task<void> DfsClient::allocate(uint64_t ino, int mode, uint64_t offset, uint64_t length) {
  if (mode & ~FALLOC_FL_KEEP_SIZE) {
    co_return makeError(Code::kNotSupported, fmt::format("fallocate mode {:#x}", mode));
  }
  if (offset + length > (kChunkSize << 20)) co_return makeError(Code::kFileTooBig, "fallocate");
  DFS_CO_TRY(auto space, co_await statFs());
  if (length > space.free_bytes()) {
    co_return makeError(Code::kNoSpace, fmt::format("{} bytes asked, {} free", length,
                                                    space.free_bytes()));
  }
  // The file changed (as ext4 and XFS count it, KEEP_SIZE too): its mtime and ctime move, and
  // without KEEP_SIZE it grows to the end of the range.
  proto::SetAttrRequest change;
  change.set_ino(ino);
  change.set_valid(proto::SET_MTIME_NOW);
  if (!(mode & FALLOC_FL_KEEP_SIZE)) {
    DFS_CO_TRY(auto attr, co_await getAttr(ino));
    if (offset + length > attr.size()) {
      change.set_valid(change.valid() | proto::SET_SIZE);
      change.set_size(offset + length);
    }
  }
  DFS_CO_RETURN_IF_ERROR(co_await setAttr(std::move(change)));
  co_return Result<void>{};
}

Task<uint64_t> DfsClient::seekData(uint64_t ino, uint64_t offset, bool hole) {
  // What this client wrote counts: out to the chunkservers and committed first.
  DFS_CO_RETURN_IF_ERROR(co_await flush(ino));
  DFS_CO_TRY(auto all, co_await chunks(ino));
  uint64_t size = all.size();
  if (offset >= size) co_return makeError(Code::kNoSuchOffset, fmt::format("offset {}", offset));
  std::set<uint64_t> allocated;
  for (const auto& chunk : all.chunks()) allocated.insert(chunk.chunk_index());
  for (uint64_t index = offset / kChunkSize; index * kChunkSize < size; ++index) {
    if (allocated.contains(index) != hole) co_return std::max(offset, index * kChunkSize);
  }
  if (hole) co_return size;  // the end is a hole
  co_return makeError(Code::kNoSuchOffset, fmt::format("no data after {}", offset));
}

Task<proto::Attr> DfsClient::setAttr(proto::SetAttrRequest request) {
  uint64_t ino = request.ino();
  known_permissions_.erase(ino);
  auto changed = co_await changeAttr(std::move(request));
  if (changed) notePermissions(*changed);
  co_return changed;
}

Task<proto::Attr> DfsClient::changeAttr(proto::SetAttrRequest request) {
  uint64_t ino = request.ino();
  if (auto behind = setAttrBehind(request)) co_return std::move(*behind);
  fresh_dirs_.erase(ino);
  if (auto held = holdForCommit(request)) co_return *held;
  if (auto it = files_.find(ino); it != files_.end() && it->second->closes_behind > 0) {
    // A close-behind's commit on its way carries the attributes held for it: this change
    // must land after it, not be overwritten by it.
    auto pending = it->second;
    co_await awaitClosesBehind(*pending);
  }
  bool resize = request.valid() & proto::SET_SIZE;
  std::shared_ptr<FileState> state;
  if (resize) {
    state = (file(ino), files_.at(ino));
    noteLocalChange(*state);
    co_await awaitClosesBehind(*state);
    DFS_CO_RETURN_IF_ERROR(co_await drain(*state));
    DFS_CO_RETURN_IF_ERROR(co_await commit(*state));
    if (!state->size_known) {
      DFS_CO_TRY(auto attr, co_await getAttr(ino));
      state->size = attr.size();
    }
    if (request.size() < state->size && request.size() % kChunkSize != 0) {
      DFS_CO_RETURN_IF_ERROR(co_await truncateTail(*state, request.size()));
    }
  }
  DFS_CO_TRY(auto reply, co_await masterCall<proto::AttrReply>(proto::SET_ATTR, request));
  if (state) {
    uint64_t keep = (request.size() + kChunkSize - 1) / kChunkSize;
    std::erase_if(state->write_chunks, [&](const auto& entry) { return entry.first >= keep; });
    state->read_chunks.erase(state->read_chunks.lower_bound(keep), state->read_chunks.end());
    state->readahead = {};
    state->size = state->master_size = reply.attr().size();
    state->stored_size = 0;
    state->size_known = true;
    noteLocalChange(*state);
  }
  if (auto it = files_.find(ino); it != files_.end()) {
    // What the master now holds is newer than what waited for the commit.
    FileState& file = *it->second;
    uint32_t valid = request.valid();
    if (valid & proto::SET_MODE) file.held_mode.reset();
    if (valid & (proto::SET_ATIME | proto::SET_ATIME_NOW)) file.held_atime_ns.reset();
    if (valid & (proto::SET_MTIME | proto::SET_MTIME_NOW)) file.mtime_ns = reply.attr().mtime_ns();
    if (file.attr) file.learnAttr(reply.attr());
  }
  overlayLocalState(reply.mutable_attr());
  co_return reply.attr();
}

std::optional<proto::Attr> DfsClient::holdForCommit(const proto::SetAttrRequest& request) {
  auto it = files_.find(request.ino());
  if (it == files_.end()) return std::nullopt;
  FileState& state = *it->second;
  if (!state.dirty || !state.attr) return std::nullopt;  // no commit is coming to carry it
  // Judged against attributes the master gave lately, as a getAttr would answer.
  if (std::chrono::steady_clock::now() - state.attr_at >= options_.fresh_attr_ttl) {
    return std::nullopt;
  }
  proto::Attr current = *state.attr;
  overlayLocalState(&current);
  auto next = applyDeferrable(current, request, wallNowNs());
  if (!next) return std::nullopt;
  uint32_t valid = request.valid();
  if (valid & proto::SET_MODE) state.held_mode = next->mode() & 07777;
  if (valid & (proto::SET_ATIME | proto::SET_ATIME_NOW)) state.held_atime_ns = next->atime_ns();
  state.mtime_ns = next->mtime_ns();
  state.ctime_ns = std::max(state.ctime_ns, next->ctime_ns());
  state.attr = *next;
  state.changes++;
  return next;
}

Task<void> DfsClient::truncateTail(FileState& state, uint64_t size) {
  uint64_t chunk_index = size / kChunkSize;
  DFS_CO_TRY(auto existing, co_await readLocation(state, chunk_index, /*refresh=*/true));
  if (existing.chunk_id() == 0) co_return Result<void>{};  // a hole: nothing to zero
  DFS_CO_TRY(auto location, co_await writeLocation(state, chunk_index));
  std::vector<awaitable<Result<void>>> truncations;
  for (const auto& address : location.replicas()) {
    proto::TruncateChunkRequest request;
    request.set_chunk_id(location.chunk_id());
    request.set_version(location.version());
    request.set_length(size % kChunkSize);
    truncations.push_back([](std::shared_ptr<rpc::Client> target,
                             proto::TruncateChunkRequest request) -> awaitable<Result<void>> {
      DFS_CO_RETURN_IF_ERROR(
          co_await target->call<proto::TruncateChunkReply>(proto::TRUNCATE_CHUNK, request));
      co_return Result<void>{};
    }(chunkservers_.get(address), request));
  }
  co_return co_await runAll(io_.get_executor(), std::move(truncations));
}

Task<proto::ChunkLocation> DfsClient::readLocation(FileState& state, uint64_t chunk_index,
                                                   bool refresh) {
  auto cached = state.read_chunks.find(chunk_index);
  if (!refresh && cached != state.read_chunks.end()) {
    co_return cached->second.value_or(proto::ChunkLocation{});
  }
  constexpr uint32_t kPrefetch = 16;
  proto::GetChunksRequest request;
  request.set_ino(state.ino);
  request.set_first_index(chunk_index);
  request.set_count(kPrefetch);
  DFS_CO_TRY(auto reply, co_await masterCall<proto::GetChunksReply>(proto::GET_CHUNKS, request));
  for (uint64_t i = chunk_index; i < chunk_index + kPrefetch; ++i) state.read_chunks[i].reset();
  for (const auto& chunk : reply.chunks()) state.read_chunks[chunk.chunk_index()] = chunk;
  co_return state.read_chunks[chunk_index].value_or(proto::ChunkLocation{});
}

Task<std::string> DfsClient::readChunkPiece(FileState& state, uint64_t chunk_index,
                                            uint64_t offset, uint32_t length) {
  Status last_error(Code::kIo, "no replica");
  auto deadline = std::chrono::steady_clock::now() + options_.retry_window;
  std::chrono::milliseconds backoff(50);
  bool refresh = false;
  for (int round = 0; round < 2; ++round) {
    DFS_CO_TRY(auto location, co_await readLocation(state, chunk_index, refresh || round > 0));
    refresh = false;
    if (location.chunk_id() == 0) co_return std::string(length, '\0');
    if (location.replicas_size() == 0 && std::chrono::steady_clock::now() < deadline) {
      // No live replica known (a master that just restarted is still collecting reports).
      asio::steady_timer timer(io_, backoff);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      refresh = true;
      round = -1;
      continue;
    }
    if (local_replicas_) {
      auto local = co_await readLocalReplica(location, offset, length);
      if (local) co_return local;
      if (local.error().code() != Code::kNotFound) {
        spdlog::info("direct read of chunk {:#x} v{}: {}; reading it over the network",
                     location.chunk_id(), location.version(), local.error().toString());
      }
    }
    proto::ReadChunkRequest request;
    request.set_chunk_id(location.chunk_id());
    request.set_version(location.version());
    request.set_offset(offset);
    request.set_length(length);
    for (const auto& address : location.replicas()) {
      auto source = chunkservers_.get(address);
      if (!source) continue;
      std::string data;
      rpc::CallOptions call_options;
      call_options.timeout = options_.call_timeout;
      // The chunkserver sends the blocks straight from its file and this client checks them:
      // the data is copied twice fewer, and checked after the network too.
      request.set_reader_verifies(true);
      auto reply = co_await source->call<proto::ReadChunkReply>(proto::READ_CHUNK, request,
                                                                call_options, {}, &data);
      if (reply) {
        Status checked = checkReadBlocks(*reply, offset, length, data);
        if (checked.isOk()) co_return data;
        // A write that raced with the send, or damage: the chunkserver decides, by reading and
        // checking the blocks itself (and reporting them if they are damaged).
        spdlog::info("read chunk {:#x} v{} from {}: {}; reading it verified there",
                     location.chunk_id(), location.version(), address, checked.toString());
        request.set_reader_verifies(false);
        reply = co_await source->call<proto::ReadChunkReply>(proto::READ_CHUNK, request,
                                                             call_options, {}, &data);
      }
      if (reply && data.size() == length) co_return data;
      last_error = reply ? Status(Code::kProtocol, "short read") : reply.error();
      spdlog::warn("read chunk {:#x} v{} from {}: {}", location.chunk_id(), location.version(),
                   address, last_error.toString());
      if (last_error.code() == Code::kCorrupt) {
        // The next replica serves this read; the master rebuilds this one.
        proto::ReportBadReplicaRequest report;
        report.set_chunk_id(location.chunk_id());
        report.set_version(location.version());
        report.set_address(address);
        auto reported =
            co_await masterCall<proto::ReportBadReplicaReply>(proto::REPORT_BAD_REPLICA, report);
        if (!reported) spdlog::warn("report of a damaged replica: {}", reported.error().toString());
      }
    }
  }
  co_return makeError(Code::kIo, fmt::format("inode {} chunk {}: every replica failed, last: {}",
                                             state.ino, chunk_index, last_error.toString()));
}

namespace {

// Runs start(done) and waits until done(value) is called, from whatever thread: the coroutine
// goes on on its own executor.
template <class T, class Start>
awaitable<T> awaitCallback(Start start) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(T)>(
      [start = std::move(start)](auto handler) mutable {
        auto executor = asio::get_associated_executor(handler);
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        start([shared, executor](T value) mutable {
          asio::post(executor, [shared, value = std::move(value)]() mutable {
            std::move (*shared)(std::move(value));
          });
        });
      },
      asio::use_awaitable);
}

}  // namespace

Task<std::string> DfsClient::readLocalReplica(const proto::ChunkLocation& location, uint64_t offset,
                                              uint32_t length) {
  for (const auto& address : location.replicas()) {
    if (!local_replicas_->usable(address)) {
      if (local_replicas_->shouldProbe(address)) {
        asio::co_spawn(io_, probeLocalReads(address), asio::detached);
      }
      continue;
    }
    co_return co_await awaitCallback<Result<std::string>>(
        [&](std::move_only_function<void(Result<std::string>)> done) {
          local_replicas_->read(address, location.chunk_id(), location.version(), offset, length,
                                std::move(done));
        });
  }
  co_return makeError(Code::kNotFound, "no replica on this machine");
}

awaitable<void> DfsClient::probeLocalReads(std::string address) {
  auto source = chunkservers_.get(address);
  if (!source) {
    local_replicas_->markRemote(address);
    co_return;
  }
  auto reply =
      co_await source->call<proto::LocalReadsReply>(proto::LOCAL_READS, proto::LocalReadsRequest{});
  if (!reply || reply->socket_path().empty()) {
    local_replicas_->markRemote(address);
    co_return;
  }
  co_await awaitCallback<bool>([&](std::move_only_function<void(bool)> done) {
    local_replicas_->connect(address, reply->socket_path(), reply->token(), std::move(done));
  });
}

uint64_t DfsClient::bytesReadLocally() const {
  return local_replicas_ ? local_replicas_->bytesRead() : 0;
}

Task<std::string> DfsClient::readReplica(const std::string& address, uint64_t chunk_id,
                                         uint64_t version, uint64_t offset, uint32_t length) {
  auto source = chunkservers_.get(address);
  if (!source) co_return makeError(Code::kInvalid, "bad replica address " + address);
  proto::ReadChunkRequest request;
  request.set_chunk_id(chunk_id);
  request.set_version(version);
  request.set_offset(offset);
  request.set_length(length);
  std::string data;
  rpc::CallOptions call_options;
  call_options.timeout = options_.call_timeout;
  DFS_CO_RETURN_IF_ERROR(co_await source->call<proto::ReadChunkReply>(
      proto::READ_CHUNK, request, call_options, {}, &data));
  co_return data;
}

void DfsClient::forgetCachedData(FileState& state) {
  state.read_chunks.clear();
  state.readahead = {};
}

namespace {
// 4 MiB: a piece is one read of the replica (a direct one when it is local), and the disk gives
// more to two 4 MiB reads at a time than to two of 1 MiB (cold 1 GiB read through the mount
// 923-1332 MiB/s against 723-1016, alternating runs; cat of 256 MiB 0.34 s against 0.45 s).
constexpr uint64_t kReadAheadPiece = 4 << 20;
constexpr uint64_t kMaxReadAhead = 16 << 20;
// Kernel read-ahead and parallel FUSE requests arrive slightly out of order: a read this close
// to where the last one ended still counts as sequential.
constexpr uint64_t kSequentialSlack = 4 << 20;

DfsClient::ReadExtent ownedExtent(uint64_t offset, std::string data) {
  auto bytes = std::make_shared<const std::string>(std::move(data));
  return DfsClient::ReadExtent{offset, bytes, *bytes};
}
}  // namespace

awaitable<void> DfsClient::fetchReadAhead(std::shared_ptr<FileState> state,
                                          std::shared_ptr<ReadAheadPiece> piece,
                                          uint64_t offset, uint32_t length) {
  auto data = co_await readChunkPiece(*state, offset / kChunkSize, offset % kChunkSize, length);
  if (data) {
    piece->data = std::move(*data);
  } else {
    piece->error = data.error();
  }
  piece->done = true;
  state->changed.notifyAll();
}

awaitable<std::optional<Result<DfsClient::ReadExtent>>> DfsClient::readSequential(
    std::shared_ptr<FileState> state, uint64_t offset, uint64_t end) {
  auto& ahead = state->readahead;
  // Reads inside the pieces already fetched (the kernel sends several at once, out of order)
  // or close to where the last read ended continue the sequence.
  uint64_t fetched_end = ahead.pieces.empty()
                             ? 0
                             : ahead.pieces.rbegin()->first + kReadAheadPiece;
  bool in_pieces = !ahead.pieces.empty() && offset >= ahead.pieces.begin()->first &&
                   offset < fetched_end;
  bool sequential = in_pieces || (offset + kSequentialSlack >= ahead.next_offset &&
                                  offset <= ahead.next_offset + kSequentialSlack);
  if (!sequential) {
    ahead = {};
    ahead.next_offset = end;
    co_return std::nullopt;
  }
  ahead.next_offset = std::max(ahead.next_offset, end);
  if (++ahead.streak < 2) co_return std::nullopt;  // one read in a row is not a pattern yet
  ahead.window = std::clamp(ahead.window * 2, 2 * kReadAheadPiece, kMaxReadAhead);
  uint64_t first = offset / kReadAheadPiece * kReadAheadPiece;
  // Pieces well behind the reader are not needed again (requests just behind it may still
  // be on their way).
  while (!ahead.pieces.empty() &&
         ahead.pieces.begin()->first + kReadAheadPiece + kSequentialSlack <= offset) {
    ahead.pieces.erase(ahead.pieces.begin());
  }
  uint64_t until = std::min(state->size, end + ahead.window);
  for (uint64_t at = first; at < until; at += kReadAheadPiece) {
    if (ahead.pieces.contains(at)) continue;
    auto piece = std::make_shared<ReadAheadPiece>();
    ahead.pieces[at] = piece;
    uint32_t length = static_cast<uint32_t>(std::min(kReadAheadPiece, state->size - at));
    asio::co_spawn(io_, fetchReadAhead(state, piece, at, length), asio::detached);
  }
  std::string out;
  for (uint64_t at = first; at < end; at += kReadAheadPiece) {
    auto it = ahead.pieces.find(at);
    if (it == ahead.pieces.end()) co_return std::nullopt;  // dropped meanwhile (a write)
    auto piece = it->second;
    while (!piece->done) co_await state->changed.wait();
    if (!piece->error.isOk()) co_return Result<ReadExtent>(std::unexpected(piece->error));
    uint64_t from = std::max(offset, at) - at;
    uint64_t to = std::min<uint64_t>(end - at, piece->data.size());
    if (at == first && end - at <= piece->data.size()) {
      // Inside one piece (the usual case: pieces are larger than the kernel's reads): answered
      // from it, not copied. The piece is never changed once fetched, only dropped.
      std::shared_ptr<const std::string> bytes(piece, &piece->data);
      co_return Result<ReadExtent>(
          ReadExtent{offset, bytes, std::string_view(*bytes).substr(from, end - offset)});
    }
    if (out.empty()) out.reserve(end - offset);
    if (from < to) out.append(piece->data, from, to - from);
  }
  out.resize(end - offset, '\0');
  co_return Result<ReadExtent>(ownedExtent(offset, std::move(out)));
}

Task<DfsClient::ReadExtent> DfsClient::readAround(uint64_t ino, uint64_t offset, uint32_t size) {
  auto state = (file(ino), files_.at(ino));
  if (state->hasUnsentData()) DFS_CO_RETURN_IF_ERROR(co_await drain(*state));
  if (!state->size_known) {
    DFS_CO_TRY(auto attr, co_await getAttr(ino));
    state->size = attr.size();
    state->size_known = true;
  } else if (!state->changingLocally() &&
             std::chrono::steady_clock::now() - state->attr_at >= options_.fresh_attr_ttl) {
    // As NFS revalidates: a reader with the file open sees other mounts' closed writes and
    // truncates within the attribute timeout (getAttr adopts them), whoever asks (the kernel
    // asks for attributes itself only for reads through its page cache). In the background:
    // this read is served as the file was, and a slow or absent master holds no read up.
    state->attr_at = std::chrono::steady_clock::now();
    asio::co_spawn(io_, getAttr(ino), asio::detached);
  }
  if (offset >= state->size) co_return ownedExtent(offset, {});
  uint64_t end = std::min<uint64_t>(offset + size, state->size);
  if (auto sequential = co_await readSequential(state, offset, end)) {
    if (!*sequential) co_return std::unexpected(sequential->error());
    co_return std::move(**sequential);
  }
  uint64_t first_chunk = offset / kChunkSize;
  if ((end - 1) / kChunkSize == first_chunk && end - offset < kChecksumBlockSize) {
    uint64_t chunk_end = std::min(state->size, (first_chunk + 1) * kChunkSize);
    uint64_t from = offset / kChecksumBlockSize * kChecksumBlockSize;
    uint64_t to = std::min(
        chunk_end, (end + kChecksumBlockSize - 1) / kChecksumBlockSize * kChecksumBlockSize);
    DFS_CO_TRY(auto block, co_await readChunkPiece(*state, first_chunk, from % kChunkSize,
                                                   static_cast<uint32_t>(to - from)));
    co_return ownedExtent(from, std::move(block));
  }
  std::string out;
  out.reserve(end - offset);
  for (uint64_t at = offset; at < end;) {
    uint64_t chunk_index = at / kChunkSize;
    uint64_t in_chunk = at % kChunkSize;
    uint32_t length = static_cast<uint32_t>(std::min<uint64_t>(end - at, kChunkSize - in_chunk));
    DFS_CO_TRY(auto piece, co_await readChunkPiece(*state, chunk_index, in_chunk, length));
    out += piece;
    at += length;
  }
  co_return ownedExtent(offset, std::move(out));
}

Task<std::string> DfsClient::read(uint64_t ino, uint64_t offset, uint32_t size) {
  DFS_CO_TRY(auto extent, co_await readAround(ino, offset, size));
  uint64_t from = offset - extent.offset;
  if (from >= extent.data.size()) co_return std::string();
  co_return std::string(
      extent.data.substr(from, std::min<uint64_t>(size, extent.data.size() - from)));
}

}  // namespace dfs::client
