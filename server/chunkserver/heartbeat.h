// The chunkserver's side of the master link: registers with a block report, heartbeats every
// second with capacity and the replicas found damaged, hands the deletions the master queued to
// a ReplicaRemover, and registers again when the master has forgotten it (master restart, or it
// was declared dead).
//
// Cluster identity: the data dir's file `cluster` names the cluster its replicas belong to,
// written (durably) at the first registration from the master's answer and sent with every
// registration after. A master of another cluster refuses the chunkserver; then on_refused runs
// (the chunkserver stops: its replicas must never be taken for that cluster's chunks).
#pragma once

#include <boost/asio.hpp>

#include <functional>
#include <memory>
#include <string>

#include "lib/base/address.h"
#include "lib/rpc/client.h"
#include "server/chunkserver/chunk_store.h"
#include "server/chunkserver/replica_remover.h"
#include "server/chunkserver/scrubber.h"

namespace dfs::chunkserver {

struct HeartbeatOptions {
  HostPort master;
  std::string advertised_address;  // HOST:PORT clients reach this chunkserver at
  std::string data_dir_id;
  std::string cluster_id;          // from the data dir; empty until the first registration
  std::function<void(const Status&)> on_refused;  // a master of another cluster refused it
  uint64_t capacity_limit = 0;     // 0: the file system's size
  std::chrono::milliseconds interval{1000};
};

// The data dir's cluster identity file, and what it holds ("" when there is none).
std::string clusterIdPath(const std::string& data_dir);
Result<std::string> readClusterId(const std::string& data_dir);

class Heartbeat {
 public:
  Heartbeat(boost::asio::io_context& io, ChunkStore& store, const Scrubber& scrubber,
            HeartbeatOptions options);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> loop();
  boost::asio::awaitable<Result<void>> registerOnce();
  boost::asio::awaitable<Result<void>> beatOnce();
  void capacity(uint64_t* capacity, uint64_t* used) const;

  boost::asio::io_context& io_;
  ChunkStore& store_;
  ReplicaRemover remover_;
  const Scrubber& scrubber_;
  std::vector<uint64_t> damaged_unreported_;  // kept until a heartbeat carried them
  HeartbeatOptions options_;
  std::shared_ptr<rpc::Client> master_;
  boost::asio::steady_timer timer_;
  uint32_t id_ = 0;
  bool registered_ = false;
  bool stopped_ = false;
};

}  // namespace dfs::chunkserver
