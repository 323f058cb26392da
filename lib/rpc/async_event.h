// A broadcast wake-up for coroutines on one executor: waiters sleep until notifyAll().
// Not thread-safe: use from the executor's thread only.
#pragma once

#include <boost/asio.hpp>

#include <chrono>

namespace dfs::rpc {

class AsyncEvent {
 public:
  explicit AsyncEvent(boost::asio::any_io_executor executor)
      : timer_(executor, std::chrono::steady_clock::time_point::max()) {}

  boost::asio::awaitable<void> wait() {
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  void notifyAll() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace dfs::rpc
