#include "fuse/session_loop.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <future>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <spdlog/spdlog.h>

namespace dfs::fuse {
namespace {

namespace asio = boost::asio;

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
  fuse_buf buffer{};
  int rc = 0;
  while (!stop && !fuse_session_exited(session)) {
    int received = fuse_session_receive_buf(session, &buffer);
    if (received == -EAGAIN || received == -EINTR) {
      co_await device.async_wait(asio::posix::descriptor_base::wait_read,
                                 asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (received <= 0) {  // 0: unmounted
      if (received < 0) {
        spdlog::error("reading the FUSE device: {}", std::strerror(-received));
        rc = 1;
      }
      break;
    }
    fuse_session_process_buf(session, &buffer);
  }
  signals.cancel();
  std::free(buffer.mem);
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
