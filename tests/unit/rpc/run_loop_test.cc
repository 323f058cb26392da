#include "lib/rpc/run_loop.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

namespace dfs::rpc {
namespace {

using namespace std::chrono_literals;

// Work posted right away and work that arrives while the loop sleeps both run; the loop
// returns once the context is stopped.
void runsEverythingUntilStopped(std::chrono::microseconds spin) {
  boost::asio::io_context io;
  auto guard = boost::asio::make_work_guard(io);
  std::atomic<int> ran{0};
  boost::asio::post(io, [&] { ++ran; });
  std::thread late([&] {
    std::this_thread::sleep_for(20ms);  // long past the spin: the loop is blocked by now
    boost::asio::post(io, [&] {
      ++ran;
      io.stop();
    });
  });
  runWithSpin(io, spin);
  late.join();
  EXPECT_EQ(ran.load(), 2);
  EXPECT_TRUE(io.stopped());
}

TEST(RunLoopTest, SpinningLoopRunsEverythingUntilStopped) { runsEverythingUntilStopped(50us); }
TEST(RunLoopTest, WithoutSpinItIsAPlainRun) { runsEverythingUntilStopped(0us); }

}  // namespace
}  // namespace dfs::rpc
