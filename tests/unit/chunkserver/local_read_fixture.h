// A ChunkStore with a LocalReadServer on a real Unix socket, served by a thread of its own.
#pragma once

#include <boost/asio.hpp>
#include <memory>
#include <string>
#include <thread>

#include "server/chunkserver/local_reads.h"
#include "tests/unit/chunkserver/store_fixture.h"

namespace dfs::chunkserver {

class LocalReadFixture : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    startServer();
  }
  void TearDown() override {
    stopServer();
    StoreFixture::TearDown();
  }
  void startServer() {
    io_ = std::make_unique<boost::asio::io_context>();
    auto started = LocalReadServer::start(*io_, *store_, dir_ + "/local-reads.sock");
    ASSERT_TRUE(started.has_value()) << started.error().toString();
    server_ = std::move(*started);
    work_ = std::make_unique<WorkGuard>(io_->get_executor());
    thread_ = std::thread([this] { io_->run(); });
  }
  void stopServer() {
    if (!server_) return;
    boost::asio::post(*io_, [this] { server_->stop(); });
    work_.reset();
    io_->stop();
    thread_.join();
    server_.reset();
    io_.reset();
  }
  // A replica of chunk_id at version holding data from offset 0.
  void writeReplica(uint64_t chunk_id, uint64_t version, const std::string& data) {
    ASSERT_TRUE(store_->write(chunk_id, version, 0, data, /*create=*/true, /*sync=*/false));
  }

  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<WorkGuard> work_;
  std::unique_ptr<LocalReadServer> server_;
  std::thread thread_;
};

// Bytes that differ from block to block.
inline std::string patterned(size_t size) {
  std::string data(size, '\0');
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>((i * 131 + i / 4093) & 0xff);
  return data;
}

}  // namespace dfs::chunkserver
