#include "lib/rpc/server.h"

#include <spdlog/spdlog.h>

#include "lib/base/files.h"

namespace dfs::rpc {

bool parseStrict(const std::string& body, google::protobuf::Message* message) {
  if (!message->ParseFromString(body)) return false;
  return message->GetReflection()->GetUnknownFields(*message).empty();
}

Server::Server(asio::io_context& io, asio::any_io_executor handler_executor)
    : io_(io), handler_executor_(std::move(handler_executor)), acceptor_(io) {}

Server::~Server() { stop(); }

Result<HostPort> Server::listen(const HostPort& address) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.host, ec);
  if (ec) return makeError(Code::kInvalid, "bad listen address " + address.host);
  tcp::endpoint endpoint(ip, address.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return makeError(Code::kUnavailable, "listen on " + address.toString() + ": " + ec.message());
  }
  asio::co_spawn(io_, acceptLoop(), asio::detached);
  return HostPort{address.host, acceptor_.local_endpoint().port()};
}

Result<HostPort> Server::listenAndPublish(const HostPort& address,
                                          const std::string& address_file) {
  DFS_TRY(HostPort bound, listen(address));
  DFS_RETURN_IF_ERROR(writeFileAtomically(address_file, bound.toString() + "\n"));
  return bound;
}

void Server::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  std::lock_guard lock(connections_mutex_);
  for (auto& weak : connections_) {
    if (auto connection = weak.lock()) {
      asio::dispatch(connection->strand(), [connection] { connection->close("server stopping"); });
    }
  }
  connections_.clear();
}

size_t Server::connectionCount() {
  std::lock_guard lock(connections_mutex_);
  std::erase_if(connections_, [](auto& weak) { return weak.expired(); });
  return connections_.size();
}

awaitable<void> Server::acceptLoop() {
  for (;;) {
    // Accepted on io_ (no operation of io_ ever refers to another io_context), then moved to
    // the connection's own executor.
    auto [ec, accepted] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    asio::any_io_executor executor =
        connection_executors_.empty()
            ? io_.get_executor()
            : connection_executors_[accepted_++ % connection_executors_.size()];
    auto protocol = accepted.local_endpoint(ec).protocol();
    if (ec) continue;  // gone already
    tcp::socket socket(asio::make_strand(executor), protocol, accepted.release(ec));
    if (ec) continue;
    auto connection = std::make_shared<Connection>(
        std::move(socket), [this](std::shared_ptr<Connection> c, Message m) {
          onRequest(std::move(c), std::move(m));
        });
    {
      std::lock_guard lock(connections_mutex_);
      std::erase_if(connections_, [](auto& weak) { return weak.expired(); });
      connections_.push_back(connection);
    }
    connection->start();
  }
}

void Server::onRequest(std::shared_ptr<Connection> connection, Message message) {
  auto small = inline_below_.find(message.header.method());
  if (small != inline_below_.end() && message.payload.size() <= small->second) {
    auto strand = connection->strand();
    asio::co_spawn(strand, serve(std::move(connection), std::move(message), true),
                   asio::detached);
    return;
  }
  asio::co_spawn(handler_executor_, serve(std::move(connection), std::move(message), false),
                 asio::detached);
}

awaitable<void> Server::serve(std::shared_ptr<Connection> connection, Message message,
                              bool on_network_thread) {
  Message reply;
  reply.header.set_call_id(message.header.call_id());
  reply.header.set_method(message.header.method());
  reply.header.set_is_response(true);
  CallContext context;
  context.header = &message.header;
  context.peer = connection->peer();
  context.payload = std::move(message.payload);
  context.on_network_thread = on_network_thread;
  context.handler_executor = handler_executor_;

  auto route = routes_.find(message.header.method());
  Result<std::string> outcome;
  if (route == routes_.end()) {
    outcome = makeError(Code::kNotSupported,
                        "unknown method " + std::to_string(message.header.method()));
  } else {
    try {
      outcome = co_await route->second(context, message.body);
    } catch (const std::exception& e) {
      spdlog::error("handler for method {} threw: {}", message.header.method(), e.what());
      outcome = makeError(Code::kInternal, e.what());
    }
  }
  if (!outcome && outcome.error().code() == Code::kProtocol) {
    auto reason = outcome.error().toString();
    asio::dispatch(connection->strand(), [connection, reason] { connection->close(reason); });
    co_return;
  }
  if (outcome) {
    reply.body = std::move(*outcome);
    reply.payload = std::move(context.reply_payload);
    reply.file_payload = std::move(context.reply_file);
  } else {
    reply.header.set_status(static_cast<int>(outcome.error().code()));
    reply.header.set_message(outcome.error().message());
    reply.header.set_error_origin(outcome.error().origin());
  }
  connection->send(std::move(reply));
}

}  // namespace dfs::rpc
