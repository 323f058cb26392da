// dfs-chunkserver: stores chunk replicas and serves them.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <memory>
#include <thread>
#include <vector>

#include "lib/base/address.h"
#include "lib/base/buffer.h"
#include "lib/base/logging.h"
#include "lib/base/priority.h"
#include "lib/rpc/server.h"
#include "server/chunkserver/chunk_store.h"
#include "server/chunkserver/heartbeat.h"
#include "server/chunkserver/local_reads.h"
#include "server/chunkserver/scrubber.h"
#include "server/chunkserver/service.h"

namespace {

// A random identity kept in the data dir: the master recognises this storage after a restart
// even if the chunkserver comes back on another port.
std::string dataDirId(const std::string& data_dir) {
  std::string path = data_dir + "/id";
  std::ifstream in(path);
  std::string id;
  if (in >> id && !id.empty()) return id;
  std::random_device random;
  id = fmt::format("{:08x}{:08x}", random(), random());
  std::ofstream(path) << id << "\n";
  return id;
}

}  // namespace

int main(int argc, char** argv) {
  dfs::keepLargeBuffersInHeap();
  CLI::App app{"dfs-chunkserver: stores and serves chunk replicas of a DFS cluster"};
  std::string listen = "127.0.0.1:0";
  std::string data_dir;
  std::string master = "127.0.0.1:9600";
  std::string log_level = "info";
  int nice = dfs::kServerNiceLevel;
  unsigned threads = 4;
  unsigned network_threads = 2;
  bool local_reads_enabled = true;
  uint64_t capacity_limit = 0;
  dfs::chunkserver::ScrubberOptions scrub;
  uint64_t scrub_mib_per_s = scrub.bytes_per_second >> 20;
  int64_t scrub_interval_s = 86400;
  uint64_t replication_mib_per_s = 128;
  size_t spare_files = 4096;
  app.set_config("--config", "", "TOML config file (keys as the long flags); flags win");
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one");
  app.add_option("--data-dir", data_dir, "where replicas are stored")->required();
  app.add_option("--master", master, "HOST:PORT of the master");
  app.add_option("--threads", threads, "threads that serve requests (and wait for the disk)")
      ->check(CLI::Range(1, 64));
  app.add_option("--network-threads", network_threads,
                 "threads that receive and send (never wait for the disk)")
      ->check(CLI::Range(1, 16));
  app.add_option("--capacity", capacity_limit, "bytes this chunkserver offers (0: whole disk)");
  app.add_option("--scrub-mib-per-s", scrub_mib_per_s,
                 "rate the scrubber re-verifies replicas at (0: off)");
  app.add_option("--scrub-interval-s", scrub_interval_s, "pause between two scrub passes");
  app.add_option("--replication-mib-per-s", replication_mib_per_s,
                 "bandwidth for copying replicas from peers (repair, rebalancing; 0: unlimited)");
  app.add_option("--spare-files", spare_files,
                 "empty files made ahead of need, when the machine is otherwise idle, for new "
                 "replicas to be renamed from")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20));
  app.add_option("--local-reads", local_reads_enabled,
                 "let clients on this machine read replica files directly (root or this user)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--nice", nice, "CPU priority (nice level) to run at; needs root below 0")
      ->check(CLI::Range(-20, 19));
  CLI11_PARSE(app, argc, argv);
  dfs::setupLogging("chunkserver", log_level);
  dfs::setNiceLevelOrWarn(nice);

  auto address = dfs::parseHostPort(listen, /*allow_zero_port=*/true);
  auto master_address = dfs::parseHostPort(master);
  if (!address || !master_address) {
    spdlog::error("{}", (!address ? address.error() : master_address.error()).toString());
    return 2;
  }
  // Many clients and peers: take every file descriptor the system allows this process.
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto store = dfs::chunkserver::ChunkStore::open(data_dir, spare_files);
  if (!store) {
    spdlog::error("{}", store.error().toString());
    return 1;
  }

  // One io_context per network thread: io (the first, run by this thread) carries the services,
  // timers and the acceptor; accepted connections are spread over all of them. A shared
  // io_context would have its threads wake each other for every event (measured: 2.6 more
  // thread switches per small file's write).
  boost::asio::io_context io(1);
  std::vector<std::unique_ptr<boost::asio::io_context>> connection_io;
  std::vector<boost::asio::any_io_executor> connection_executors{io.get_executor()};
  for (unsigned i = 1; i < network_threads; ++i) {
    connection_io.push_back(std::make_unique<boost::asio::io_context>(1));
    connection_executors.push_back(connection_io.back()->get_executor());
  }
  dfs::chunkserver::ChunkService service(io, **store, replication_mib_per_s << 20);
  // Requests are served on threads of their own: a handler that waits for the disk would
  // otherwise hold up its connection's reads, and with them the requests queued behind it
  // (a chain's pieces were written one after another, never side by side).
  boost::asio::thread_pool request_threads(threads);
  dfs::rpc::Server server(io, request_threads.get_executor());
  service.registerRoutes(server);
  // A small file's write (what its close waits for) costs less than the hand-over to a request
  // thread and back; the writes the client fans out to every replica are 64 KiB at most.
  server.serveInline(dfs::proto::WRITE_CHUNK, 64 << 10);
  server.spreadConnectionsOver(connection_executors);
  auto bound = server.listenAndPublish(*address, data_dir + "/chunkserver.addr");
  if (!bound) {
    spdlog::error("{}", bound.error().toString());
    return 1;
  }
  service.setAddress(bound->toString());
  std::unique_ptr<dfs::chunkserver::LocalReadServer> local_reads;
  if (local_reads_enabled) {
    auto started = dfs::chunkserver::LocalReadServer::start(
        io, **store, (std::filesystem::absolute(data_dir) / "local-reads.sock").string());
    if (started) {
      local_reads = std::move(*started);
      service.setLocalReads(local_reads->path(), local_reads->token());
    } else {
      spdlog::warn("no short-circuit reads for clients on this machine: {}",
                   started.error().toString());
    }
  }
  spdlog::info("chunkserver listening on {} with {} replicas in {}", bound->toString(),
               (*store)->count(), data_dir);

  dfs::chunkserver::HeartbeatOptions heartbeat_options;
  heartbeat_options.master = *master_address;
  heartbeat_options.advertised_address = bound->toString();
  heartbeat_options.data_dir_id = dataDirId(data_dir);
  auto cluster_id = dfs::chunkserver::readClusterId(data_dir);
  if (!cluster_id) {
    spdlog::error("{}", cluster_id.error().toString());
    return 1;
  }
  heartbeat_options.cluster_id = *cluster_id;
  int exit_code = 0;
  std::function<void()> shut_down;
  heartbeat_options.on_refused = [&](const dfs::Status&) {
    exit_code = 1;
    boost::asio::post(io, [&] { shut_down(); });
  };
  heartbeat_options.capacity_limit = capacity_limit;
  scrub.bytes_per_second = scrub_mib_per_s << 20;
  scrub.pass_interval = std::chrono::seconds(scrub_interval_s);
  dfs::chunkserver::Scrubber scrubber(**store, scrub);
  scrubber.start();
  dfs::chunkserver::Heartbeat heartbeat(io, **store, scrubber, heartbeat_options);
  heartbeat.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  shut_down = [&] {
    heartbeat.stop();
    scrubber.stop();
    service.stop();
    if (local_reads) local_reads->stop();
    server.stop();
    io.stop();
  };
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down", signal);
    shut_down();
  });
  std::vector<std::thread> pool;
  for (auto& more : connection_io) {
    pool.emplace_back([more = more.get()] {
      auto busy = boost::asio::make_work_guard(*more);
      more->run();
    });
  }
  io.run();
  for (auto& more : connection_io) more->stop();
  for (auto& thread : pool) thread.join();
  request_threads.stop();
  request_threads.join();
  return exit_code;
}
