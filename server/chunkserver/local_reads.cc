#include "server/chunkserver/local_reads.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <random>

#include "lib/rpc/local_channel.h"

namespace dfs::chunkserver {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

LocalReadServer::LocalReadServer(asio::io_context& io, ChunkStore& store, std::string path)
    : store_(store), path_(std::move(path)), acceptor_(io) {
  std::random_device random;
  token_.resize(rpc::kLocalTokenSize);
  for (char& byte : token_) byte = static_cast<char>(random());
}

LocalReadServer::~LocalReadServer() { stop(); }

Result<std::unique_ptr<LocalReadServer>> LocalReadServer::start(asio::io_context& io,
                                                                ChunkStore& store,
                                                                std::string path) {
  sockaddr_un limits{};
  if (path.size() >= sizeof limits.sun_path) {
    return makeError(Code::kNameTooLong, fmt::format("socket path {} is too long", path));
  }
  std::unique_ptr<LocalReadServer> server(new LocalReadServer(io, store, std::move(path)));
  ::unlink(server->path_.c_str());
  boost::system::error_code error;
  asio::local::stream_protocol::endpoint endpoint(server->path_);
  // Created with no permissions for others before anyone can connect.
  mode_t old_mask = ::umask(0077);
  server->acceptor_.open(endpoint.protocol(), error);
  if (!error) server->acceptor_.bind(endpoint, error);
  ::umask(old_mask);
  if (!error) server->acceptor_.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return makeError(Code::kIo, fmt::format("listen on {}: {}", server->path_, error.message()));
  }
  asio::co_spawn(io, server->acceptLoop(), asio::detached);
  return server;
}

void LocalReadServer::stop() {
  if (!acceptor_.is_open()) return;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  ::unlink(path_.c_str());
}

bool LocalReadServer::peerMayRead(Socket& socket) const {
  ucred peer{};
  socklen_t size = sizeof peer;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
    return false;
  }
  return peer.uid == 0 || peer.uid == ::geteuid();
}

awaitable<void> LocalReadServer::acceptLoop() {
  for (;;) {
    auto [error, socket] = co_await acceptor_.async_accept(asio::as_tuple(use_awaitable));
    if (error == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (error) continue;
    if (!peerMayRead(socket)) {
      spdlog::warn("local reads: a connection from a user other than root or this one refused");
      continue;
    }
    if (connections_->load() >= kMaxConnections) continue;
    asio::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

awaitable<void> LocalReadServer::serve(Socket socket) {
  struct Count {
    std::shared_ptr<std::atomic<int>> connections;
    ~Count() { --*connections; }
  } count{connections_};
  ++*connections_;
  rpc::LocalHello hello;
  std::memcpy(hello.token.data(), token_.data(), rpc::kLocalTokenSize);
  auto [written, bytes] = co_await asio::async_write(socket, asio::buffer(&hello, sizeof hello),
                                                     asio::as_tuple(use_awaitable));
  if (written) co_return;
  boost::system::error_code ignored;
  socket.native_non_blocking(true, ignored);
  int fd = socket.native_handle();
  for (;;) {
    rpc::LocalOpenRequest request;
    auto received = rpc::receiveFrame(fd, &request, sizeof request);
    if (!received && received.error().code() == Code::kBusy) {
      auto [waited] = co_await socket.async_wait(Socket::wait_read, asio::as_tuple(use_awaitable));
      if (waited) co_return;
      continue;
    }
    if (!received || request.reserved != 0) co_return;  // closed, or a bad frame: hang up
    rpc::LocalOpenReply reply;
    OwnedFd replica;
    if (auto opened = store_.openForReader(request.chunk_id, request.version)) {
      replica = OwnedFd(*opened);
    } else {
      reply.code = static_cast<int32_t>(opened.error().code());
    }
    for (;;) {
      auto sent = rpc::sendFrame(fd, &reply, sizeof reply, replica.get());
      if (sent) break;
      if (sent.error().code() != Code::kBusy) co_return;
      auto [waited] = co_await socket.async_wait(Socket::wait_write, asio::as_tuple(use_awaitable));
      if (waited) co_return;
    }
  }
}

}  // namespace dfs::chunkserver
