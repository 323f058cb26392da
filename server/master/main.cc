// dfs-master: the namespace and chunk map of one cluster.
#include <boost/asio.hpp>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "lib/base/address.h"
#include "lib/base/logging.h"
#include "lib/rpc/server.h"
#include "server/master/service.h"

int main(int argc, char** argv) {
  CLI::App app{"dfs-master: namespace, chunk map and sessions of a DFS cluster"};
  std::string listen = "127.0.0.1:9600";
  std::string data_dir = "/var/lib/dfs/master";
  std::string log_level = "info";
  dfs::master::MasterOptions options;
  app.set_config("--config", "", "TOML config file (keys as the long flags); flags win");
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one");
  app.add_option("--data-dir", data_dir, "where metadata is kept");
  app.add_option("--goal", options.goal, "replicas per chunk")->check(CLI::Range(1, 16));
  app.add_option("--write-min-replicas", options.write_min_replicas,
                 "fewest replicas a write may complete on")->check(CLI::Range(1, 16));
  app.add_option("--chunkserver-dead-ms", options.chunkserver_dead_ms,
                 "silence after which a chunkserver is dead");
  app.add_option("--session-lease-ms", options.session_lease_ms,
                 "silence after which a client session expires");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  CLI11_PARSE(app, argc, argv);
  dfs::setupLogging("master", log_level);

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

  boost::asio::io_context io(1);
  dfs::master::MasterService service(io, options);
  dfs::rpc::Server server(io, io.get_executor());
  service.registerRoutes(server);
  auto bound = server.listen(*address);
  if (!bound) {
    spdlog::error("{}", bound.error().toString());
    return 1;
  }
  // Launchers and tests learn a picked port from this file.
  {
    std::ofstream out(data_dir + "/master.addr.tmp");
    out << bound->toString() << "\n";
  }
  std::filesystem::rename(data_dir + "/master.addr.tmp", data_dir + "/master.addr", ec);
  spdlog::info("master listening on {} (goal {})", bound->toString(), options.goal);
  service.start();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int signal) {
    spdlog::info("signal {}: shutting down", signal);
    service.stop();
    server.stop();
    io.stop();
  });
  io.run();
  return 0;
}
