#include "lib/rpc/run_loop.h"

#include <sched.h>

#include <boost/asio/io_context.hpp>

namespace dfs::rpc {

void runWithSpin(boost::asio::io_context& io, std::chrono::microseconds spin) {
  if (spin.count() == 0) {
    io.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  auto last_work = Clock::now();
  while (!io.stopped()) {
    if (io.poll() > 0) {
      last_work = Clock::now();
    } else if (Clock::now() - last_work >= spin) {
      if (io.run_one() > 0) last_work = Clock::now();
    } else {
      // Polling, not working: a thread that has work gets the CPU first.
      ::sched_yield();
    }
  }
}

}  // namespace dfs::rpc
