// Runs an io_context on the calling thread, polling for a short while after each burst of work
// before it blocks. On virtual machines a blocked thread's wake-up costs tens of microseconds
// (the idle virtual CPU halts and must be woken): when the next request or reply follows within
// the spin, polling catches it without one. FUSE, metadata and chunk round trips of a small
// file follow each other that closely. While it polls, the thread yields to any other thread
// ready to run, so the spin only uses CPU nobody else wants. (Measured: in the client,
// small-file creates +12-17% and deletes +28-47%; yielding added +27% to creates, beside a busy
// loop or not; in the master, no gain: its spinning takes the CPU its peers need.)
#pragma once

#include <chrono>

namespace boost::asio {
class io_context;
}

namespace dfs::rpc {

// Returns when io is stopped. spin 0: plain io.run().
void runWithSpin(boost::asio::io_context& io, std::chrono::microseconds spin);

}  // namespace dfs::rpc
