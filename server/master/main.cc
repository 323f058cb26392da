// dfs-master: the namespace and chunk map of one cluster.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lib/base/address.h"
#include "lib/base/logging.h"
#include "lib/base/priority.h"
#include "lib/rpc/server.h"
#include "server/master/recovery.h"
#include "server/master/service.h"

namespace {

// dfs-master --check-metadata DIR: verify a metadata directory without changing it.
int checkMetadata(const std::string& dir) {
  auto recovered = dfs::master::recoverMetadata(dir, dfs::master::RecoveryMode::kCheckOnly);
  if (!recovered) {
    std::fprintf(stderr, "metadata in %s is damaged: %s\n", dir.c_str(),
                 recovered.error().toString().c_str());
    return 1;
  }
  dfs::master::Namespace& ns = *recovered->checkpoint.ns;
  for (const auto& record : recovered->records) {
    if (record.has_open_session() || record.has_close_session()) continue;
    auto applied = ns.apply(record);
    if (!applied) {
      std::fprintf(stderr, "metadata in %s is damaged: journal record %llu does not apply: %s\n",
                   dir.c_str(), static_cast<unsigned long long>(record.seq()),
                   applied.error().toString().c_str());
      return 1;
    }
  }
  if (auto consistent = ns.checkConsistency(); !consistent.isOk()) {
    std::fprintf(stderr, "metadata in %s is inconsistent: %s\n", dir.c_str(),
                 consistent.toString().c_str());
    return 1;
  }
  for (const auto& warning : recovered->warnings) std::printf("warning: %s\n", warning.c_str());
  std::printf("checkpoint: %s\njournal: %zu segments, %zu records after the checkpoint, last "
              "record %llu\nnamespace: %llu files, %llu directories, %llu chunks\nok\n",
              recovered->checkpoint_path.empty() ? "none" : recovered->checkpoint_path.c_str(),
              recovered->segments, recovered->records.size(),
              static_cast<unsigned long long>(recovered->last_seq),
              static_cast<unsigned long long>(ns.fileCount()),
              static_cast<unsigned long long>(ns.directoryCount()),
              static_cast<unsigned long long>(ns.chunkCount()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfs-master: namespace, chunk map and sessions of a DFS cluster"};
  std::string listen = "127.0.0.1:9600";
  std::string data_dir = "/var/lib/dfs/master";
  std::string log_level = "info";
  int nice = dfs::kServerNiceLevel;
  dfs::master::MasterOptions options;
  app.set_config("--config", "", "TOML config file (keys as the long flags); flags win");
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one");
  app.add_option("--data-dir", data_dir, "where metadata is kept");
  app.add_option("--goal", options.goal, "replicas per chunk")->check(CLI::Range(1, 16));
  app.add_option("--write-min-replicas", options.write_min_replicas,
                 "fewest replicas a write may complete on")->check(CLI::Range(1, 16));
  app.add_option("--chunkserver-dead-ms", options.chunkserver_dead_ms,
                 "silence after which a chunkserver is dead");
  app.add_option("--deleted-chunk-grace-ms", options.deleted_chunk_grace_ms,
                 "how long replicas of deleted or truncated-away data are kept");
  app.add_option("--unreferenced-chunk-grace-ms", options.unreferenced_chunk_grace_ms,
                 "how long a replica no file references is kept before deletion");
  app.add_option("--max-concurrent-repairs", options.max_concurrent_repairs,
                 "chunk copies (repair, rebalancing) at once")
      ->check(CLI::Range(1, 64));
  app.add_option("--rebalance", options.rebalance,
                 "move chunks onto less loaded chunkservers (true/false)");
  app.add_option("--session-lease-ms", options.session_lease_ms,
                 "silence after which a client session expires");
  std::string journal_sync = "group";
  app.add_option("--journal-sync", journal_sync,
                 "group: fsync by group commit, fsync calls wait for it; always: every reply waits")
      ->check(CLI::IsMember({"group", "always"}));
  app.add_option("--journal-sync-delay-ms", options.journal_sync_delay_ms,
                 "group commit: how long records may wait for a sync when no fsync waits")
      ->check(CLI::Range(0, 1000));
  app.add_option("--checkpoint-records", options.checkpoint_records,
                 "journal records between checkpoints");
  int64_t checkpoint_interval_s = options.checkpoint_interval_ms / 1000;
  app.add_option("--checkpoint-interval-s", checkpoint_interval_s, "seconds between checkpoints");
  std::string check_dir;
  app.add_option("--check-metadata", check_dir, "verify the metadata in DIR, print a summary, exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--nice", nice, "CPU priority (nice level) to run at; needs root below 0")
      ->check(CLI::Range(-20, 19));
  CLI11_PARSE(app, argc, argv);
  if (!check_dir.empty()) return checkMetadata(check_dir);
  options.journal_sync_always = journal_sync == "always";
  options.checkpoint_interval_ms = checkpoint_interval_s * 1000;
  dfs::setupLogging("master", log_level);
  dfs::setNiceLevelOrWarn(nice);

  auto address = dfs::parseHostPort(listen, /*allow_zero_port=*/true);
  if (!address) {
    spdlog::error("--listen: {}", address.error().toString());
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    spdlog::error("cannot create data dir {}: {}", data_dir, ec.message());
    return 1;
  }

  options.data_dir = data_dir;
  boost::asio::io_context io(1);
  dfs::master::MasterService service(io, options);
  if (auto recovered = service.recover(); !recovered) {
    spdlog::error("cannot start: {}", recovered.error().toString());
    return 1;
  }
  dfs::rpc::Server server(io, io.get_executor());
  service.registerRoutes(server);
  auto bound = server.listenAndPublish(*address, data_dir + "/master.addr");
  if (!bound) {
    spdlog::error("{}", bound.error().toString());
    return 1;
  }
  spdlog::info("master listening on {} (goal {})", bound->toString(), options.goal);
  service.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down", signal);
    server.stop();
    if (auto saved = service.checkpointNow(); !saved) {
      spdlog::error("final checkpoint: {}", saved.error().toString());
    }
    service.stop();
    io.stop();
  });
  io.run();
  return 0;
}
