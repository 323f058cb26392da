// RPC client for one server address: connects lazily, reconnects after a failure, multiplexes
// concurrent calls on one connection. It does not retry: whether a call may be repeated is the
// caller's knowledge.
#pragma once

#include <boost/asio.hpp>
#include <google/protobuf/message.h>

#include <chrono>
#include <memory>
#include <string>

#include "lib/base/address.h"
#include "lib/base/status.h"
#include "lib/rpc/connection.h"
#include "lib/rpc/server.h"
#include "proto/rpc.pb.h"

namespace dfs::rpc {

struct CallOptions {
  std::chrono::milliseconds timeout{10000};
  uint64_t session_id = 0;
  uint64_t request_id = 0;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(asio::any_io_executor executor, HostPort target);

  // Sends body + payload (shared_payload instead when set), returns the reply (body and
  // payload) or the remote error.
  awaitable<Result<Message>> callRaw(proto::Method method, std::string body, std::string payload,
                                     SharedPayload shared_payload, CallOptions options);

  template <class Reply>
  awaitable<Result<Reply>> call(proto::Method method, const google::protobuf::Message& request,
                                CallOptions options = {}, std::string payload = {},
                                std::string* reply_payload = nullptr) {
    auto raw = co_await callRaw(method, request.SerializeAsString(), std::move(payload), nullptr,
                                options);
    co_return parseReply<Reply>(std::move(raw), reply_payload);
  }

  // The payload is shared, not copied: the same bytes may go to several peers, or again.
  template <class Reply>
  awaitable<Result<Reply>> callShared(proto::Method method,
                                      const google::protobuf::Message& request,
                                      CallOptions options, SharedPayload payload,
                                      std::string* reply_payload = nullptr) {
    auto raw = co_await callRaw(method, request.SerializeAsString(), {}, std::move(payload),
                                options);
    co_return parseReply<Reply>(std::move(raw), reply_payload);
  }

  const HostPort& target() const { return target_; }
  void close();

 private:
  Client(asio::any_io_executor executor, HostPort target);
  template <class Reply>
  Result<Reply> parseReply(Result<Message> raw, std::string* reply_payload) const {
    if (!raw) return std::unexpected(std::move(raw).error());
    Reply reply;
    if (!parseStrict(raw->body, &reply)) {
      return makeError(Code::kProtocol, "malformed " + Reply::descriptor()->name() + " from " +
                                            target_.toString());
    }
    if (reply_payload) *reply_payload = std::move(raw->payload);
    return reply;
  }
  awaitable<Result<Message>> callOnStrand(Message request, std::chrono::milliseconds timeout);
  awaitable<Result<std::shared_ptr<Connection>>> connection(std::chrono::milliseconds timeout);

  asio::strand<asio::any_io_executor> strand_;
  HostPort target_;
  std::shared_ptr<Connection> connection_;
  bool connecting_ = false;
  asio::steady_timer connected_;  // cancelled when a connect attempt ends, to wake waiters
};

}  // namespace dfs::rpc
