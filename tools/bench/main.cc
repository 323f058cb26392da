// dfs-bench: measures a cluster through the client library (no FUSE).
//   dfs-bench meta --master HOST:PORT [--clients N] [--files N] [--depth N]
//       creates, stats, renames and deletes files from N clients (each its own session), with
//       --depth calls in flight per client; prints operations per second. --keep: create only.
//   dfs-bench io --master HOST:PORT [--streams N] [--size BYTES] [--random-reads N]
//       N parallel sequential writers and readers, then 4 KiB random reads; MiB/s and IOPS.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lib/client/dfs_client.h"

namespace {

namespace asio = boost::asio;
using dfs::Result;
using dfs::client::DfsClient;
using Clock = std::chrono::steady_clock;

struct Row {
  std::string name;
  double value;
  std::string unit;
};
std::vector<Row> rows;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::vector<std::unique_ptr<DfsClient>> connectClients(const std::string& master, int count) {
  dfs::client::ClientOptions options;
  options.master = dfs::parseHostPort(master).value();
  options.mount_point = "dfs-bench";
  std::vector<std::unique_ptr<DfsClient>> clients;
  for (int i = 0; i < count; ++i) {
    auto client = DfsClient::connect(options);
    if (!client) {
      std::fprintf(stderr, "dfs-bench: %s\n", client.error().toString().c_str());
      std::exit(1);
    }
    clients.push_back(std::move(*client));
  }
  return clients;
}

// Runs op(client, index) for index in [0, count) on every client, depth calls in flight per
// client, and reports the rate; progress goes to stderr once a second.
template <class Op>
void phase(const std::string& name, std::vector<std::unique_ptr<DfsClient>>& clients, int count,
           int depth, Op op) {
  std::atomic<int64_t> done{0}, failed{0};
  auto start = Clock::now();
  std::atomic<bool> finished{false};
  std::thread progress([&] {
    while (!finished) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      if (!finished) {
        std::fprintf(stderr, "  %s: %lld/%lld\n", name.c_str(), static_cast<long long>(done.load()),
                     static_cast<long long>(count) * static_cast<long long>(clients.size()));
      }
    }
  });
  std::vector<std::thread> drivers;
  for (size_t c = 0; c < clients.size(); ++c) {
    drivers.emplace_back([&, c] {
      DfsClient& client = *clients[c];
      std::atomic<int> next{0};
      auto worker = [&]() -> asio::awaitable<void> {
        for (int i; (i = next++) < count;) {
          Result<void> outcome = co_await op(client, static_cast<int>(c), i);
          if (!outcome) {
            if (failed++ == 0) spdlog::error("{}: {}", name, outcome.error().toString());
          }
          done++;
        }
      };
      std::vector<std::future<void>> workers;
      for (int d = 0; d < depth; ++d) {
        workers.push_back(asio::co_spawn(client.executor(), worker(), asio::use_future));
      }
      for (auto& w : workers) w.get();
    });
  }
  for (auto& driver : drivers) driver.join();
  double elapsed = seconds(start);
  finished = true;
  progress.join();
  double rate = static_cast<double>(done.load()) / elapsed;
  std::fprintf(stderr, "  %s: %lld operations in %.2f s%s\n", name.c_str(),
               static_cast<long long>(done.load()), elapsed,
               failed ? fmt::format(", {} FAILED", failed.load()).c_str() : "");
  rows.push_back({name, rate, "ops/s"});
}

int meta(const std::string& master, int client_count, int files, int depth, bool keep) {
  auto clients = connectClients(master, client_count);
  std::vector<uint64_t> dirs(client_count);
  std::string run = fmt::format("bench-{}-{}", ::getpid(), std::time(nullptr));
  auto& first = *clients[0];
  auto top = first.run(first.mkdir(dfs::client::kRootIno, run, 0755, 0, 0));
  if (!top) {
    std::fprintf(stderr, "dfs-bench: %s\n", top.error().toString().c_str());
    return 1;
  }
  for (int c = 0; c < client_count; ++c) {
    dirs[c] = first.run(first.mkdir(top->ino(), "c" + std::to_string(c), 0755, 0, 0))->ino();
  }
  std::vector<std::vector<uint64_t>> inos(client_count, std::vector<uint64_t>(files));
  phase("create", clients, files, depth,
        [&](DfsClient& client, int c, int i) -> asio::awaitable<Result<void>> {
          auto attr = co_await client.create(dirs[c], "f" + std::to_string(i), 0644, 0, 0);
          if (!attr) co_return std::unexpected(attr.error());
          inos[c][i] = attr->ino();
          co_return co_await client.release(attr->ino());
        });
  if (keep) return 0;  // leave the files, e.g. to measure a large namespace
  phase("stat", clients, files, depth,
        [&](DfsClient& client, int c, int i) -> asio::awaitable<Result<void>> {
          auto attr = co_await client.lookup(dirs[c], "f" + std::to_string(i));
          if (!attr) co_return std::unexpected(attr.error());
          co_return Result<void>{};
        });
  phase("rename", clients, files, depth,
        [&](DfsClient& client, int c, int i) -> asio::awaitable<Result<void>> {
          co_return co_await client.rename(dirs[c], "f" + std::to_string(i), dirs[c],
                                           "g" + std::to_string(i), 0);
        });
  phase("delete", clients, files, depth,
        [&](DfsClient& client, int c, int i) -> asio::awaitable<Result<void>> {
          co_return co_await client.unlink(dirs[c], "g" + std::to_string(i));
        });
  for (int c = 0; c < client_count; ++c) {
    (void)first.run(first.rmdir(top->ino(), "c" + std::to_string(c)));
  }
  (void)first.run(first.rmdir(dfs::client::kRootIno, run));
  return 0;
}

int io(const std::string& master, int streams, uint64_t size, int random_reads) {
  auto clients = connectClients(master, streams);
  auto& first = *clients[0];
  std::string run = fmt::format("bench-io-{}-{}", ::getpid(), std::time(nullptr));
  auto top = first.run(first.mkdir(dfs::client::kRootIno, run, 0755, 0, 0));
  if (!top) {
    std::fprintf(stderr, "dfs-bench: %s\n", top.error().toString().c_str());
    return 1;
  }
  constexpr uint64_t kBlock = 1 << 20;
  std::string block(kBlock, '\0');
  std::mt19937_64 random(42);
  for (auto& byte : block) byte = static_cast<char>(random());
  std::vector<uint64_t> inos(streams);
  int blocks = static_cast<int>(size / kBlock);

  auto start = Clock::now();
  phase("seq_write_1MiB", clients, 1, 1,
        [&](DfsClient& client, int c, int) -> asio::awaitable<Result<void>> {
          auto attr = co_await client.create(top->ino(), "s" + std::to_string(c), 0644, 0, 0);
          if (!attr) co_return std::unexpected(attr.error());
          inos[c] = attr->ino();
          for (int b = 0; b < blocks; ++b) {
            auto written = co_await client.write(attr->ino(), b * kBlock, block);
            if (!written) co_return std::unexpected(written.error());
          }
          auto synced = co_await client.fsync(attr->ino());
          if (!synced) co_return synced;
          co_return co_await client.release(attr->ino());
        });
  rows.back() = {"seq_write", static_cast<double>(size * streams) / (1 << 20) / seconds(start), "MiB/s"};

  start = Clock::now();
  phase("seq_read_1MiB", clients, 1, 1,
        [&](DfsClient& client, int c, int) -> asio::awaitable<Result<void>> {
          auto opened = co_await client.open(inos[c], 0);
          if (!opened) co_return std::unexpected(opened.error());
          for (int b = 0; b < blocks; ++b) {
            auto data = co_await client.read(inos[c], b * kBlock, kBlock);
            if (!data) co_return std::unexpected(data.error());
            if (data->size() != kBlock) co_return dfs::makeError(dfs::Code::kIo, "short read");
          }
          co_return co_await client.release(inos[c]);
        });
  rows.back() = {"seq_read", static_cast<double>(size * streams) / (1 << 20) / seconds(start), "MiB/s"};

  for (int c = 0; c < streams; ++c) (void)clients[c]->run(clients[c]->open(inos[c], 0));
  phase("rand_read_4k", clients, random_reads, 1,
        [&](DfsClient& client, int c, int i) -> asio::awaitable<Result<void>> {
          uint64_t offset = (std::hash<int>{}(i * 7919 + c) % (size / 4096)) * 4096;
          auto data = co_await client.read(inos[c], offset, 4096);
          if (!data) co_return std::unexpected(data.error());
          co_return Result<void>{};
        });
  rows.back().unit = "IOPS";
  for (int c = 0; c < streams; ++c) {
    (void)clients[c]->run(clients[c]->release(inos[c]));
    (void)first.run(first.unlink(top->ino(), "s" + std::to_string(c)));
  }
  (void)first.run(first.rmdir(dfs::client::kRootIno, run));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dfs-bench: throughput and metadata rates of a DFS cluster"};
  app.require_subcommand(1);
  std::string master = "127.0.0.1:9600";
  app.add_option("--master", master, "HOST:PORT of the master");
  int clients = 4, files = 10000, depth = 16, streams = 4, random_reads = 5000;
  uint64_t size = 256ull << 20;
  auto* meta_cmd = app.add_subcommand("meta", "create/stat/rename/delete rates");
  meta_cmd->add_option("--clients", clients, "concurrent clients (sessions)");
  meta_cmd->add_option("--files", files, "files per client");
  meta_cmd->add_option("--depth", depth, "calls in flight per client");
  bool keep = false;
  meta_cmd->add_flag("--keep", keep, "create only, and leave the files");
  auto* io_cmd = app.add_subcommand("io", "sequential and random throughput");
  io_cmd->add_option("--streams", streams, "parallel streams");
  io_cmd->add_option("--size", size, "bytes per stream");
  io_cmd->add_option("--random-reads", random_reads, "4 KiB random reads per stream");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  int rc = meta_cmd->parsed() ? meta(master, clients, files, depth, keep)
                              : io(master, streams, size, random_reads);
  std::printf("%-16s %14s  %s\n", "workload", "value", "unit");
  for (const auto& row : rows) std::printf("%-16s %14.1f  %s\n", row.name.c_str(), row.value, row.unit.c_str());
  return rc;
}
