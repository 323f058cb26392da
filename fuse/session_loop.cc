#include "fuse/session_loop.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <future>
#include <vector>

namespace dfs::fuse {
namespace {

namespace asio = boost::asio;

constexpr size_t kRequestBufferSize = (1 << 20) + 64 * 1024;

asio::awaitable<void> serve(fuse_session* session, std::promise<int>* finished) {
  auto executor = co_await asio::this_coro::executor;
  int fd = fuse_session_fd(session);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  // Asio closes what it owns: give it a duplicate of the device.
  asio::posix::stream_descriptor device(executor, ::dup(fd));
  asio::signal_set signals(executor, SIGINT, SIGTERM, SIGHUP);
  bool stop = false;
  signals.async_wait([&stop, &device, session](const boost::system::error_code& error, int signal) {
    if (error) return;
    spdlog::info("signal {}: unmounting", signal);
    stop = true;
    fuse_session_exit(session);
    device.cancel();
  });
  // Requests are read by Asio itself: the device stays registered with the reactor, so waiting
  // for the next request costs no system call beyond the read that finds none. (libfuse's
  // receive plus an async_wait re-armed the descriptor for every request.) The buffer is as
  // large as libfuse's own: a 1 MiB write and its headers.
  std::vector<char> request(kRequestBufferSize);
  int rc = 0;
  while (!stop && !fuse_session_exited(session)) {
    auto [error, received] =
        co_await device.async_read_some(asio::buffer(request), asio::as_tuple(asio::use_awaitable));
    if (error == asio::error::operation_aborted) continue;  // a signal: the loop ends
    if (error == asio::error::eof) break;
    int errnum = error ? error.value() : 0;
    // ENOENT: the request was interrupted before it was read.
    if (errnum == EINTR || errnum == EAGAIN || errnum == ENOENT) continue;
    if (errnum == ENODEV) {  // unmounted
      fuse_session_exit(session);
      break;
    }
    if (error) {
      spdlog::error("reading the FUSE device: {}", error.message());
      rc = 1;
      break;
    }
    fuse_buf buffer{};
    buffer.mem = request.data();
    buffer.size = received;
    fuse_session_process_buf(session, &buffer);
  }
  signals.cancel();
  finished->set_value(rc);
}

}  // namespace

int runSessionOnClientThread(fuse_session* session, client::DfsClient& client) {
  std::promise<int> finished;
  auto result = finished.get_future();
  asio::co_spawn(client.executor(), serve(session, &finished), asio::detached);
  return result.get();
}

}  // namespace dfs::fuse
