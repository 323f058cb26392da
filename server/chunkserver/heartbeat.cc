#include "server/chunkserver/heartbeat.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lib/base/files.h"
#include "proto/master.pb.h"

namespace dfs::chunkserver {

namespace asio = boost::asio;
using asio::awaitable;

Heartbeat::Heartbeat(asio::io_context& io, ChunkStore& store, const Scrubber& scrubber,
                     HeartbeatOptions options)
    : io_(io),
      store_(store),
      remover_(store),
      scrubber_(scrubber),
      options_(std::move(options)),
      master_(rpc::Client::create(io.get_executor(), options_.master)),
      timer_(asio::make_strand(io)) {}

void Heartbeat::start() { asio::co_spawn(timer_.get_executor(), loop(), asio::detached); }

void Heartbeat::stop() {
  asio::dispatch(timer_.get_executor(), [this] {
    stopped_ = true;
    timer_.cancel();
  });
  master_->close();
}

void Heartbeat::capacity(uint64_t* capacity, uint64_t* used) const {
  struct statvfs stats {};
  if (::statvfs(store_.dir().c_str(), &stats) != 0) {
    *capacity = *used = 0;
    return;
  }
  uint64_t total = uint64_t{stats.f_blocks} * stats.f_frsize;
  uint64_t available = uint64_t{stats.f_bavail} * stats.f_frsize;
  uint64_t taken = total - available;
  if (options_.capacity_limit && options_.capacity_limit < total) {
    // A limited chunkserver counts only its own replicas against the limit.
    total = options_.capacity_limit;
    taken = std::min<uint64_t>(total, store_.count() * kChunkSize);
  }
  *capacity = total;
  *used = taken;
}

std::string clusterIdPath(const std::string& data_dir) { return data_dir + "/cluster"; }

Result<std::string> readClusterId(const std::string& data_dir) {
  // Only a data dir that never registered has none; one that cannot be read is not new.
  std::error_code error;
  if (!std::filesystem::exists(clusterIdPath(data_dir), error) && !error) return std::string();
  std::ifstream in(clusterIdPath(data_dir));
  if (!in) return makeError(Code::kIo, "cannot read " + clusterIdPath(data_dir));
  std::string id;
  in >> id;
  if (id.empty()) return makeError(Code::kCorrupt, clusterIdPath(data_dir) + " is empty");
  return id;
}

awaitable<Result<void>> Heartbeat::registerOnce() {
  proto::RegisterChunkserverRequest request;
  request.set_address(options_.advertised_address);
  request.set_data_dir_id(options_.data_dir_id);
  request.set_cluster_id(options_.cluster_id);
  uint64_t total, used;
  capacity(&total, &used);
  request.set_capacity_bytes(total);
  request.set_used_bytes(used);
  for (const auto& replica : store_.list()) {
    auto* report = request.add_chunks();
    report->set_chunk_id(replica.chunk_id);
    report->set_version(replica.version);
  }
  DFS_CO_TRY(auto reply, co_await master_->call<proto::RegisterChunkserverReply>(
                             proto::REGISTER_CHUNKSERVER, request));
  if (options_.cluster_id.empty() && !reply.cluster_id().empty()) {
    // Before this registration counts: a restart must present the identity it was taken with.
    DFS_CO_RETURN_IF_ERROR(writeFileAtomically(clusterIdPath(store_.dir()),
                                               reply.cluster_id() + "\n", /*sync=*/true));
    options_.cluster_id = reply.cluster_id();
    spdlog::info("data dir {} now belongs to cluster {}", store_.dir(), options_.cluster_id);
  }
  id_ = reply.chunkserver_id();
  registered_ = true;
  spdlog::info("registered with master {} as chunkserver {} ({} replicas)",
               options_.master.toString(), id_, request.chunks_size());
  co_return Result<void>{};
}

awaitable<Result<void>> Heartbeat::beatOnce() {
  proto::ChunkserverHeartbeatRequest request;
  request.set_chunkserver_id(id_);
  request.set_cluster_id(options_.cluster_id);
  uint64_t total, used;
  capacity(&total, &used);
  request.set_capacity_bytes(total);
  request.set_used_bytes(used);
  request.set_chunks(store_.count());
  for (uint64_t chunk_id : store_.takeDamaged()) {
    if (std::find(damaged_unreported_.begin(), damaged_unreported_.end(), chunk_id) ==
        damaged_unreported_.end()) {
      damaged_unreported_.push_back(chunk_id);
    }
  }
  for (uint64_t chunk_id : damaged_unreported_) request.add_corrupt_chunks(chunk_id);
  request.set_scrubbed_bytes(scrubber_.scrubbedBytes());
  DFS_CO_TRY(auto reply, co_await master_->call<proto::ChunkserverHeartbeatReply>(
                             proto::CHUNKSERVER_HEARTBEAT, request));
  damaged_unreported_.clear();
  if (reply.reregister()) {
    registered_ = false;
    co_return Result<void>{};
  }
  for (uint64_t chunk_id : reply.delete_chunks()) remover_.add(chunk_id);
  co_return Result<void>{};
}

awaitable<void> Heartbeat::loop() {
  bool reported_failure = false;
  while (!stopped_) {
    // (No co_await inside ?: here: g++ 12 destroys the result early there.)
    Result<void> outcome;
    if (registered_) {
      outcome = co_await beatOnce();
    } else {
      outcome = co_await registerOnce();
    }
    if (!outcome && outcome.error().code() == Code::kWrongCluster) {
      spdlog::error("master {} refused this chunkserver: {}", options_.master.toString(),
                    outcome.error().toString());
      if (options_.on_refused) options_.on_refused(outcome.error());
      break;
    }
    if (!outcome && !reported_failure) {
      spdlog::warn("master {}: {}", options_.master.toString(), outcome.error().toString());
    }
    reported_failure = !outcome;
    if (stopped_) break;
    timer_.expires_after(options_.interval);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace dfs::chunkserver
