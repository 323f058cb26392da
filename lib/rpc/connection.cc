#include "lib/rpc/connection.h"

#include <spdlog/spdlog.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstring>

#include "lib/base/buffer.h"

namespace dfs::rpc {

using namespace asio::experimental::awaitable_operators;

namespace {

std::string endpointText(const tcp::socket& socket) {
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (ec) return "?";
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

Connection::Connection(tcp::socket socket, RequestHandler on_request)
    : strand_(socket.get_executor()),
      socket_(std::move(socket)),
      on_request_(std::move(on_request)),
      peer_(endpointText(socket_)) {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
}

Connection::~Connection() = default;

void Connection::start() {
  asio::co_spawn(strand_, [self = shared_from_this()] { return self->readLoop(); },
                 asio::detached);
}

// Frames are parsed out of one receive buffer: a small frame costs one receive however many
// parts it has, and frames that arrived together share one. A body or payload longer than what
// is buffered is read straight into its own buffer, so chunk data is copied at most once.
awaitable<void> Connection::readLoop() {
  auto self = shared_from_this();
  std::string reason = "closed by peer";
  ReceiveBuffer in;
  try {
    for (;;) {
      co_await fill(in, kFramePrefixSize);
      auto sizes = decodeFramePrefix(reinterpret_cast<const unsigned char*>(in.data()));
      if (!sizes) {
        reason = sizes.error().toString();
        break;
      }
      in.consume(kFramePrefixSize);
      co_await fill(in, sizes->header_size);
      Message message;
      if (!message.header.ParseFromArray(in.data(), static_cast<int>(sizes->header_size))) {
        reason = "unparsable frame header";
        break;
      }
      in.consume(sizes->header_size);
      uint32_t body_size = message.header.body_size();
      if (body_size > kMaxBodySize || body_size > sizes->rest_size - sizes->header_size) {
        reason = "body length out of bounds";
        break;
      }
      size_t payload_size = sizes->rest_size - sizes->header_size - body_size;
      if (payload_size > kMaxPayloadSize) {
        reason = "payload length out of bounds";
        break;
      }
      message.body.resize(body_size);
      co_await readInto(in, message.body.data(), body_size);
      message.payload = uninitializedBuffer(payload_size);
      co_await readInto(in, message.payload.data(), payload_size);

      if (message.header.is_response()) {
        auto it = pending_.find(message.header.call_id());
        // A reply whose caller already timed out is dropped.
        if (it != pending_.end()) it->second->try_send(boost::system::error_code{}, std::move(message));
        continue;
      }
      if (!on_request_) {
        reason = "unexpected request frame on a client connection";
        break;
      }
      on_request_(self, std::move(message));
    }
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::eof && e.code() != asio::error::operation_aborted) {
      reason = e.code().message();
    }
  }
  close(reason);
}

awaitable<void> Connection::fill(ReceiveBuffer& in, size_t wanted) {
  if (in.size() >= wanted) co_return;
  if (in.begin + wanted > in.bytes.size()) {
    std::memmove(in.bytes.data(), in.data(), in.size());
    in.end -= in.begin;
    in.begin = 0;
  }
  while (in.size() < wanted) {
    in.end += co_await socket_.async_read_some(
        asio::buffer(in.bytes.data() + in.end, in.bytes.size() - in.end), asio::use_awaitable);
  }
}

awaitable<void> Connection::readInto(ReceiveBuffer& in, char* out, size_t length) {
  size_t buffered = std::min(length, in.size());
  std::memcpy(out, in.data(), buffered);
  in.consume(buffered);
  if (length > buffered) {
    co_await asio::async_read(socket_, asio::buffer(out + buffered, length - buffered),
                              asio::use_awaitable);
  }
}

void Connection::close(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  bool orderly = reason == "closed by peer" || reason == "client closed" ||
                 reason == "server stopping";
  if (orderly) {
    spdlog::debug("connection {} closed: {}", peer_, reason);
  } else {
    spdlog::warn("connection {} closed: {}", peer_, reason);
  }
  boost::system::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  for (auto& [id, channel] : pending_) {
    channel->try_send(asio::error::connection_aborted, Message{});
  }
  pending_.clear();
  out_.clear();
}

awaitable<Result<Message>> Connection::call(Message request, std::chrono::milliseconds timeout) {
  auto self = shared_from_this();
  if (!open_) co_return makeError(Code::kUnavailable, "connection to " + peer_ + " is closed");
  uint64_t id = next_call_id_++;
  request.header.set_call_id(id);
  request.header.set_is_response(false);
  request.header.set_deadline_ms(static_cast<uint32_t>(timeout.count()));
  auto channel = std::make_shared<ReplyChannel>(strand_, 1);
  pending_.emplace(id, channel);
  enqueue(std::move(request));

  asio::steady_timer timer(strand_, timeout);
  auto outcome = co_await (
      channel->async_receive(asio::as_tuple(asio::use_awaitable)) ||
      timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  pending_.erase(id);
  if (outcome.index() == 1) {
    co_return makeError(Code::kTimeout, fmt::format("no reply from {} within {} ms", peer_,
                                                    timeout.count()));
  }
  auto [ec, reply] = std::move(std::get<0>(outcome));
  if (ec) co_return makeError(Code::kUnavailable, "connection to " + peer_ + " lost");
  co_return std::move(reply);
}

void Connection::send(Message message) {
  asio::dispatch(strand_, [self = shared_from_this(), m = std::move(message)]() mutable {
    self->enqueue(std::move(m));
  });
}

void Connection::enqueue(Message message) {
  if (!open_) return;
  OutFrame frame;
  frame.head = encodeFrameHead(message.header, message.body, message.outgoingPayloadSize());
  frame.payload = std::move(message.payload);
  frame.shared_payload = std::move(message.shared_payload);
  frame.file_payload = std::move(message.file_payload);
  out_.push_back(std::move(frame));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(strand_, [self = shared_from_this()] { return self->writeLoop(); },
                   asio::detached);
  }
}

awaitable<void> Connection::writeLoop() {
  auto self = shared_from_this();
  // Gathers every queued frame into one write: small replies share a syscall, payloads are
  // written from their own buffers without copying.
  std::vector<OutFrame> batch;
  std::vector<asio::const_buffer> buffers;
  try {
    while (open_ && !out_.empty()) {
      batch.clear();
      buffers.clear();
      size_t bytes = 0;
      while (!out_.empty() && batch.size() < 64 && bytes < 16 * 1024 * 1024) {
        bytes += out_.front().head.size() + out_.front().bytes().size();
        batch.push_back(std::move(out_.front()));
        out_.pop_front();
      }
      for (auto& frame : batch) {
        buffers.push_back(asio::buffer(frame.head));
        if (frame.file_payload) {
          co_await asio::async_write(socket_, buffers, asio::use_awaitable);
          buffers.clear();
          co_await sendFileRegion(*frame.file_payload);
          continue;
        }
        if (!frame.bytes().empty()) buffers.push_back(asio::buffer(frame.bytes()));
      }
      if (!buffers.empty()) co_await asio::async_write(socket_, buffers, asio::use_awaitable);
    }
  } catch (const boost::system::system_error& e) {
    writing_ = false;
    close(std::string("write failed: ") + e.code().message());
    co_return;
  }
  writing_ = false;
}

awaitable<void> Connection::sendFileRegion(const FileRegion& region) {
  socket_.native_non_blocking(true);
  auto position = static_cast<off_t>(region.offset);
  uint64_t left = region.file_bytes;
  while (left > 0) {
    ssize_t sent = ::sendfile(socket_.native_handle(), region.fd, &position,
                              static_cast<size_t>(std::min<uint64_t>(left, 1 << 30)));
    if (sent > 0) {
      left -= static_cast<uint64_t>(sent);
    } else if (sent == 0) {
      break;  // the file is shorter than it was: zeros make up the frame
    } else if (errno == EAGAIN) {
      co_await socket_.async_wait(tcp::socket::wait_write, asio::use_awaitable);
    } else if (errno != EINTR) {
      throw boost::system::system_error(errno, boost::system::system_category());
    }
  }
  static const std::string zeros(64 * 1024, '\0');
  for (uint64_t pad = left + region.zero_bytes; pad > 0;) {
    size_t piece = static_cast<size_t>(std::min<uint64_t>(pad, zeros.size()));
    co_await asio::async_write(socket_, asio::buffer(zeros.data(), piece), asio::use_awaitable);
    pad -= piece;
  }
}

}  // namespace dfs::rpc
