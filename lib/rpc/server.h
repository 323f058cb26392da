// RPC server: accepts connections, parses each request body into its protobuf type, runs the
// route's coroutine on the handler executor and sends the reply. A frame or body that does not
// parse closes that connection (logged); everyone else keeps being served.
#pragma once

#include <boost/asio.hpp>
#include <google/protobuf/message.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/address.h"
#include "lib/base/status.h"
#include "lib/rpc/connection.h"
#include "proto/rpc.pb.h"

namespace dfs::rpc {

struct CallContext {
  const proto::RpcHeader* header = nullptr;
  std::string peer;
  std::string payload;        // request payload
  std::string reply_payload;  // set by the handler
  std::shared_ptr<const FileRegion> reply_file;  // or this, sent straight from the file
  // Not on the wire: a time the call's own request chose for the change it makes (a client's
  // change behind), for the handler's records.
  int64_t chosen_time_ns = 0;
  // Started on the network thread that read the request (Server::serveInline): work that may
  // wait runs on the handler executor instead (offNetworkThread).
  bool on_network_thread = false;
  asio::any_io_executor handler_executor;
  template <class T>
  awaitable<T> offNetworkThread(awaitable<T> work) {
    if (!on_network_thread) co_return co_await std::move(work);
    co_return co_await asio::co_spawn(handler_executor, std::move(work), asio::use_awaitable);
  }
  std::chrono::milliseconds deadline() const {
    return std::chrono::milliseconds(header->deadline_ms() ? header->deadline_ms() : 10000);
  }
};

// Parses body into message; rejects trailing garbage and unknown fields.
bool parseStrict(const std::string& body, google::protobuf::Message* message);

class Server {
 public:
  // Connections run on strands of io (or see spreadConnectionsOver); handlers run on
  // handler_executor (the master's single state thread, or a chunkserver's pool).
  Server(asio::io_context& io, asio::any_io_executor handler_executor);
  ~Server();

  template <class Request, class Reply>
  void route(proto::Method method,
             std::function<awaitable<Result<Reply>>(CallContext&, Request&)> handler) {
    routes_[method] = [handler = std::move(handler)](
                          CallContext& context,
                          const std::string& body) -> awaitable<Result<std::string>> {
      Request request;
      if (!parseStrict(body, &request)) {
        co_return makeError(Code::kProtocol, "malformed " + Request::descriptor()->name());
      }
      auto reply = co_await handler(context, request);
      if (!reply) co_return std::unexpected(std::move(reply).error());
      co_return reply->SerializeAsString();
    };
  }

  // Requests of method with at most max_payload_bytes of payload are served on the network
  // thread that read them, with no hand-over to the handler executor and back (two thread
  // wake-ups, which cost a small write more than the write itself): for a handler that does
  // little for such a request, and leaves the thread (CallContext::offNetworkThread) before
  // anything that may wait.
  void serveInline(proto::Method method, size_t max_payload_bytes) {
    inline_below_[method] = max_payload_bytes;
  }

  // Accepted connections run on strands of these executors, taken in turn, instead of io's:
  // with one io_context per network thread, a connection's reads, requests served inline and
  // replies stay on one thread, and no thread wakes another to share an io_context's events.
  // Call before listen.
  void spreadConnectionsOver(std::vector<asio::any_io_executor> executors) {
    connection_executors_ = std::move(executors);
  }

  // Binds and starts accepting; port 0 picks a free port. Returns the bound address.
  Result<HostPort> listen(const HostPort& address);
  // listen, then writes the bound address to address_file (how launchers and tests learn a
  // picked port).
  Result<HostPort> listenAndPublish(const HostPort& address, const std::string& address_file);
  void stop();
  size_t connectionCount();

 private:
  using RawHandler =
      std::function<awaitable<Result<std::string>>(CallContext&, const std::string& body)>;

  awaitable<void> acceptLoop();
  void onRequest(std::shared_ptr<Connection> connection, Message message);
  awaitable<void> serve(std::shared_ptr<Connection> connection, Message message,
                        bool on_network_thread);

  asio::io_context& io_;
  asio::any_io_executor handler_executor_;
  tcp::acceptor acceptor_;
  std::unordered_map<uint32_t, RawHandler> routes_;
  std::unordered_map<uint32_t, size_t> inline_below_;  // serveInline
  std::vector<asio::any_io_executor> connection_executors_;  // spreadConnectionsOver
  size_t accepted_ = 0;
  std::mutex connections_mutex_;  // guards connections_ (accept and stop run on different threads)
  std::vector<std::weak_ptr<Connection>> connections_;
};

}  // namespace dfs::rpc

// Registers this->HANDLER(ctx, request) as the handler of proto::METHOD on `server`, from
// inside a service's registerRoutes.
#define DFS_ROUTE(METHOD, REQUEST, REPLY, HANDLER)                            \
  server.route<proto::REQUEST, proto::REPLY>(                                 \
      proto::METHOD, [this](rpc::CallContext& ctx, proto::REQUEST& request) { \
        return HANDLER(ctx, request);                                         \
      })
