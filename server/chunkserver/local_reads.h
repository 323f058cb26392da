// Short-circuit reads: clients on this machine get read-only descriptors of replica files over
// a Unix socket (lib/rpc/local_channel.h) and read and verify the blocks themselves, instead of
// receiving them over TCP: no copy through this process or the network stack, and the reading
// runs on the client's threads. (HDFS's short-circuit local reads work the same way.)
//
// The socket is only for root and this process's user (mode 0600, and the peer's credentials
// are checked): a descriptor reads any replica's whole file.
#pragma once

#include <atomic>
#include <boost/asio.hpp>
#include <memory>
#include <string>

#include "lib/base/status.h"
#include "server/chunkserver/chunk_store.h"

namespace dfs::chunkserver {

class LocalReadServer {
 public:
  // Listens at path, replacing a socket a previous run left there.
  static Result<std::unique_ptr<LocalReadServer>> start(boost::asio::io_context& io,
                                                        ChunkStore& store, std::string path);
  ~LocalReadServer();
  LocalReadServer(const LocalReadServer&) = delete;
  LocalReadServer& operator=(const LocalReadServer&) = delete;

  const std::string& path() const { return path_; }
  // Random bytes, new for every start, sent in the hello of every connection.
  const std::string& token() const { return token_; }
  void stop();

  static constexpr int kMaxConnections = 1024;

 private:
  using Socket = boost::asio::local::stream_protocol::socket;
  LocalReadServer(boost::asio::io_context& io, ChunkStore& store, std::string path);
  boost::asio::awaitable<void> acceptLoop();
  boost::asio::awaitable<void> serve(Socket socket);
  bool peerMayRead(Socket& socket) const;

  ChunkStore& store_;
  std::string path_;
  std::string token_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  // Shared with the connections' coroutines, which may be destroyed after this (with their
  // io_context).
  std::shared_ptr<std::atomic<int>> connections_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace dfs::chunkserver
