#include "lib/rpc/client.h"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <fmt/format.h>

namespace dfs::rpc {

using namespace asio::experimental::awaitable_operators;

std::shared_ptr<Client> Client::create(asio::any_io_executor executor, HostPort target) {
  return std::shared_ptr<Client>(new Client(std::move(executor), std::move(target)));
}

Client::Client(asio::any_io_executor executor, HostPort target)
    : strand_(asio::make_strand(executor)), target_(std::move(target)), connected_(strand_) {}

void Client::close() {
  asio::dispatch(strand_, [self = shared_from_this()] {
    if (self->connection_) self->connection_->close("client closed");
    self->connection_.reset();
  });
}

awaitable<Result<Message>> Client::callRaw(proto::Method method, std::string body,
                                           std::string payload, SharedPayload shared_payload,
                                           CallOptions options) {
  Message request;
  request.header.set_method(method);
  request.header.set_session_id(options.session_id);
  request.header.set_request_id(options.request_id);
  request.body = std::move(body);
  request.payload = std::move(payload);
  request.shared_payload = std::move(shared_payload);
  // The connection's state lives on this client's strand, so the call runs there.
  co_return co_await asio::co_spawn(
      strand_, callOnStrand(std::move(request), options.timeout), asio::use_awaitable);
}

awaitable<Result<Message>> Client::callOnStrand(Message request,
                                                std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  // Every error of the call belongs to this peer unless its answer names another.
  auto connection = co_await this->connection(timeout);
  if (!connection) co_return makeError(connection.error().withOrigin(target_.toString()));
  auto reply = co_await (*connection)->call(std::move(request), timeout);
  if (!reply) co_return makeError(reply.error().withOrigin(target_.toString()));
  if (reply->header.status() != 0) {
    const std::string& named = reply->header.error_origin();
    co_return makeError(Status(codeFromWire(reply->header.status()), reply->header.message())
                            .withOrigin(named.empty() ? target_.toString() : named));
  }
  co_return reply;
}

awaitable<Result<std::shared_ptr<Connection>>> Client::connection(
    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (connecting_) {
    connected_.expires_at(deadline);
    co_await connected_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return makeError(Code::kTimeout, "connect to " + target_.toString() + " timed out");
    }
  }
  if (connection_ && connection_->isOpen()) co_return connection_;

  connecting_ = true;
  tcp::socket socket(strand_);
  boost::system::error_code error;
  asio::ip::address address = asio::ip::make_address(target_.host, error);
  if (error) {
    tcp::resolver resolver(strand_);
    auto [ec, results] = co_await resolver.async_resolve(
        target_.host, std::to_string(target_.port), asio::as_tuple(asio::use_awaitable));
    if (!ec && !results.empty()) address = results.begin()->endpoint().address();
    error = ec;
  }
  if (!error) {
    asio::steady_timer timer(strand_, deadline);
    auto outcome = co_await (
        socket.async_connect(tcp::endpoint(address, target_.port),
                             asio::as_tuple(asio::use_awaitable)) ||
        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (outcome.index() == 1) {
      error = asio::error::timed_out;
    } else {
      error = std::get<0>(std::get<0>(outcome));
    }
  }
  connecting_ = false;
  connected_.cancel();
  if (error) {
    co_return makeError(Code::kUnavailable,
                        fmt::format("connect to {}: {}", target_.toString(), error.message()));
  }
  connection_ = std::make_shared<Connection>(std::move(socket), nullptr);
  connection_->start();
  co_return connection_;
}

}  // namespace dfs::rpc
