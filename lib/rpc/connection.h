// One TCP connection carrying framed messages both ways. Many calls are in flight at once:
// each request carries a call id and its reply is matched by it, in any order.
//
// Threading: all state lives on the connection's strand, which is the executor of the socket it
// is given (create the socket on a strand). call() must run on that strand; send() may be
// called from any thread.
#pragma once

#include <boost/asio.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "lib/base/status.h"
#include "lib/rpc/frame.h"

namespace dfs::rpc {

namespace asio = boost::asio;
using asio::awaitable;
using tcp = asio::ip::tcp;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Called on the strand for every request frame (never for replies).
  using RequestHandler = std::function<void(std::shared_ptr<Connection>, Message)>;

  Connection(tcp::socket socket, RequestHandler on_request);
  ~Connection();

  // Starts reading; the connection keeps itself alive until it closes.
  void start();

  // Sends a request and waits for its reply or the timeout. Runs on the strand.
  awaitable<Result<Message>> call(Message request, std::chrono::milliseconds timeout);

  // Queues a frame (a reply, usually); safe from any thread.
  void send(Message message);

  // Closes the socket and fails every call in flight with kUnavailable.
  void close(const std::string& reason);

  bool isOpen() const { return open_; }
  const std::string& peer() const { return peer_; }
  const asio::any_io_executor& strand() const { return strand_; }

 private:
  using ReplyChannel =
      asio::experimental::channel<void(boost::system::error_code, Message)>;
  struct OutFrame {
    std::string head;
    std::string payload;
    SharedPayload shared_payload;
    std::shared_ptr<const FileRegion> file_payload;
    const std::string& bytes() const { return shared_payload ? *shared_payload : payload; }
  };

  // Bytes received and not parsed yet: [begin, end) of bytes.
  struct ReceiveBuffer {
    static constexpr size_t kSize = 64 * 1024;
    static_assert(kMaxHeaderSize <= kSize, "a frame header must fit the buffer");
    std::vector<char> bytes = std::vector<char>(kSize);
    size_t begin = 0;
    size_t end = 0;
    const char* data() const { return bytes.data() + begin; }
    size_t size() const { return end - begin; }
    void consume(size_t n) {
      begin += n;
      if (begin == end) begin = end = 0;
    }
  };

  awaitable<void> readLoop();
  // Until in holds at least wanted (<= ReceiveBuffer::kSize) bytes.
  awaitable<void> fill(ReceiveBuffer& in, size_t wanted);
  // The next length bytes of the stream into out: what is buffered, then straight from the socket.
  awaitable<void> readInto(ReceiveBuffer& in, char* out, size_t length);
  awaitable<void> writeLoop();
  // The region's bytes with sendfile, then its zeros: no copy through this process.
  awaitable<void> sendFileRegion(const FileRegion& region);
  void enqueue(Message message);

  asio::any_io_executor strand_;
  tcp::socket socket_;
  RequestHandler on_request_;
  std::string peer_;
  bool open_ = true;
  bool writing_ = false;
  uint64_t next_call_id_ = 1;
  std::deque<OutFrame> out_;
  std::unordered_map<uint64_t, std::shared_ptr<ReplyChannel>> pending_;
};

}  // namespace dfs::rpc
