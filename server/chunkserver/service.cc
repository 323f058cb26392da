#include "server/chunkserver/service.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace dfs::chunkserver {

namespace asio = boost::asio;
using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

void ChunkService::registerRoutes(rpc::Server& server) {
  DFS_ROUTE(READ_CHUNK, ReadChunkRequest, ReadChunkReply, readChunk);
  DFS_ROUTE(WRITE_CHUNK, WriteChunkRequest, WriteChunkReply, writeChunk);
  DFS_ROUTE(SET_CHUNK_VERSION, SetChunkVersionRequest, SetChunkVersionReply, setChunkVersion);
  DFS_ROUTE(TRUNCATE_CHUNK, TruncateChunkRequest, TruncateChunkReply, truncateChunk);
  DFS_ROUTE(DELETE_CHUNK, DeleteChunkRequest, DeleteChunkReply, deleteChunk);
  DFS_ROUTE(SYNC_CHUNK, SyncChunkRequest, SyncChunkReply, syncChunk);
  DFS_ROUTE(REPLICATE_CHUNK, ReplicateChunkRequest, ReplicateChunkReply, replicateChunk);
  DFS_ROUTE(LOCAL_READS, LocalReadsRequest, LocalReadsReply, localReads);
}

void ChunkService::stop() { peers_.closeAll(); }

awaitable<Result<proto::ReadChunkReply>> ChunkService::readChunk(Ctx& ctx,
                                                                 proto::ReadChunkRequest& request) {
  if (request.length() > rpc::kMaxPayloadSize) {
    co_return makeError(Code::kInvalid, fmt::format("read of {} bytes", request.length()));
  }
  proto::ReadChunkReply reply;
  if (request.reader_verifies()) {
    DFS_CO_TRY(auto region, store_.readRegion(request.chunk_id(), request.version(),
                                              request.offset(), request.length()));
    if (region.file->size() > rpc::kMaxPayloadSize) {
      co_return makeError(Code::kInvalid, fmt::format("read of {} bytes", region.file->size()));
    }
    reply.set_chunk_length(region.chunk_length);
    reply.set_data_offset(region.chunk_offset);
    reply.mutable_block_crcs()->Add(region.crcs.begin(), region.crcs.end());
    ctx.reply_file = std::move(region.file);
    co_return reply;
  }
  DFS_CO_TRY(ctx.reply_payload, store_.read(request.chunk_id(), request.version(), request.offset(),
                                            request.length()));
  if (auto length = store_.length(request.chunk_id())) reply.set_chunk_length(*length);
  co_return reply;
}

awaitable<Result<void>> ChunkService::forward(proto::WriteChunkRequest request,
                                              rpc::SharedPayload payload,
                                              std::chrono::milliseconds timeout) {
  std::string next = request.chain(0);
  request.mutable_chain()->erase(request.mutable_chain()->begin());
  auto client = peers_.get(next);
  if (!client) {
    co_return makeError(Status(Code::kInvalid, "bad chain address " + next).withOrigin(next));
  }
  rpc::CallOptions options;
  options.timeout = timeout;
  auto reply = co_await client->callShared<proto::WriteChunkReply>(proto::WRITE_CHUNK, request,
                                                                   options, std::move(payload));
  // The error names the replica that failed (Status::origin: next, or one further down the
  // chain), so the client can report exactly that one.
  if (!reply) {
    // A peer's malformed answer is this write's I/O failure, not a protocol error of the
    // caller's (which would close the caller's connection).
    Status error = reply.error().withContext("forwarded to " + next);
    if (error.code() == Code::kProtocol) {
      error = Status(Code::kIo, error.message()).withOrigin(error.origin());
    }
    co_return makeError(std::move(error));
  }
  co_return Result<void>{};
}

awaitable<Result<proto::WriteChunkReply>> ChunkService::writeChunk(
    Ctx& ctx, proto::WriteChunkRequest& request) {
  // A small buffered write is served where it was read (main.cc); one that waits for the disk
  // or for a peer is not.
  if (request.sync() || request.chain_size() > 0) {
    co_return co_await ctx.offNetworkThread(writeChunkHere(ctx, request));
  }
  co_return co_await writeChunkHere(ctx, request);
}

awaitable<Result<proto::WriteChunkReply>> ChunkService::writeChunkHere(
    Ctx& ctx, proto::WriteChunkRequest& request) {
  Result<void> local, forwarded;
  if (request.chain_size() == 0) {
    local = store_.write(request.chunk_id(), request.version(), request.offset(), ctx.payload,
                         request.create(), request.sync());
  } else {
    // The forward starts first and waits on the network while the local write runs.
    auto timeout = ctx.deadline() > std::chrono::milliseconds(500)
                       ? ctx.deadline() - std::chrono::milliseconds(200)
                       : ctx.deadline();
    // (A member coroutine, not a capturing lambda: g++ 12 double-frees those in co_await.)
    // The payload is shared between the two, not copied for the forward.
    auto payload = std::make_shared<const std::string>(std::move(ctx.payload));
    auto both = co_await (forward(request, payload, timeout) && writeLocal(request, payload));
    forwarded = std::move(std::get<0>(both));
    local = std::move(std::get<1>(both));
  }
  if (!local) co_return makeError(local.error().withOrigin(address_));
  if (!forwarded) co_return std::unexpected(forwarded.error());
  co_return proto::WriteChunkReply{};
}

awaitable<Result<void>> ChunkService::writeLocal(const proto::WriteChunkRequest& request,
                                                 rpc::SharedPayload payload) {
  co_return store_.write(request.chunk_id(), request.version(), request.offset(), *payload,
                         request.create(), request.sync());
}

awaitable<Result<proto::SetChunkVersionReply>> ChunkService::setChunkVersion(
    Ctx& ctx, proto::SetChunkVersionRequest& request) {
  DFS_CO_RETURN_IF_ERROR(
      store_.setVersion(request.chunk_id(), request.old_version(), request.new_version(),
                        request.create_if_missing()));
  co_return proto::SetChunkVersionReply{};
}

awaitable<Result<proto::TruncateChunkReply>> ChunkService::truncateChunk(
    Ctx& ctx, proto::TruncateChunkRequest& request) {
  DFS_CO_RETURN_IF_ERROR(store_.truncate(request.chunk_id(), request.version(), request.length()));
  co_return proto::TruncateChunkReply{};
}

awaitable<Result<proto::DeleteChunkReply>> ChunkService::deleteChunk(
    Ctx& ctx, proto::DeleteChunkRequest& request) {
  DFS_CO_RETURN_IF_ERROR(store_.remove(request.chunk_id()));
  co_return proto::DeleteChunkReply{};
}

awaitable<void> ChunkService::paceReplication(uint64_t bytes) {
  if (replication_bytes_per_second_ == 0) co_return;
  std::chrono::steady_clock::time_point slot;
  {
    std::lock_guard lock(pace_mutex_);
    auto now = std::chrono::steady_clock::now();
    if (next_replication_slot_ < now) next_replication_slot_ = now;
    slot = next_replication_slot_;
    next_replication_slot_ +=
        std::chrono::microseconds(bytes * 1000000 / replication_bytes_per_second_);
  }
  asio::steady_timer timer(co_await asio::this_coro::executor, slot);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

awaitable<Result<proto::ReplicateChunkReply>> ChunkService::replicateChunk(
    Ctx& ctx, proto::ReplicateChunkRequest& request) {
  auto source = peers_.get(request.source());
  if (!source) co_return makeError(Code::kInvalid, "bad source " + request.source());
  // The whole chunk is gathered before anything is written: a copy is installed whole or not at
  // all. Pieces are checked by the source's CRCs as they are read.
  constexpr uint32_t kPiece = 4 << 20;
  std::string data;
  uint64_t length = kChunkSize;
  for (uint64_t offset = 0; offset < length; offset += kPiece) {
    proto::ReadChunkRequest read;
    read.set_chunk_id(request.chunk_id());
    read.set_version(request.version());
    read.set_offset(offset);
    read.set_length(static_cast<uint32_t>(std::min<uint64_t>(kPiece, length - offset)));
    co_await paceReplication(read.length());
    std::string piece;
    rpc::CallOptions options;
    options.timeout = std::chrono::milliseconds(30000);
    auto read_reply =
        co_await source->call<proto::ReadChunkReply>(proto::READ_CHUNK, read, options, {}, &piece);
    if (!read_reply && read_reply.error().code() == Code::kNotFound) {
      proto::ReplicateChunkReply missing;
      missing.set_source_missing(true);
      co_return missing;
    }
    DFS_CO_TRY(auto reply, std::move(read_reply));
    length = std::min<uint64_t>(reply.chunk_length(), kChunkSize);
    data += piece;
  }
  data.resize(std::min<uint64_t>(data.size(), length));
  DFS_CO_RETURN_IF_ERROR(
      store_.install(request.chunk_id(), request.version(), data, request.replace_damaged()));
  if (request.replace_damaged()) {
    spdlog::info("chunk {:#x} v{}: damaged replica rebuilt from {}", request.chunk_id(),
                 request.version(), request.source());
  }
  co_return proto::ReplicateChunkReply{};
}

awaitable<Result<proto::SyncChunkReply>> ChunkService::syncChunk(Ctx& ctx,
                                                                 proto::SyncChunkRequest& request) {
  DFS_CO_RETURN_IF_ERROR(store_.sync(request.chunk_id()));
  co_return proto::SyncChunkReply{};
}

awaitable<Result<proto::LocalReadsReply>> ChunkService::localReads(Ctx&,
                                                                   proto::LocalReadsRequest&) {
  proto::LocalReadsReply reply;
  reply.set_socket_path(local_reads_path_);
  reply.set_token(local_reads_token_);
  co_return reply;
}

}  // namespace dfs::chunkserver
