// A queue of tasks and the threads that run them: the one thread-plus-queue of the code base
// (a chunkserver's write-behind, replica removal and spare files; a mount's local reads).
// Owns its threads and its queue, nothing else.
//
// Promises: tasks start in the order they were queued (one after another with one thread); a
// task queued with a not_before time does not start before it (tasks queued with times that
// never go back, as a constant delay gives, keep their order); stop() returns once no task
// runs and none will, having run or dropped what was queued (Options::at_stop).
// Thread-safe: post, queued and stopping from any thread, a task's own included.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dfs {

class BackgroundWorker {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::move_only_function<void()>;

  enum class AtStop {
    kRunQueued,   // stop runs what is queued first, at once (their not_before times passed over)
    kDropQueued,  // stop destroys what is queued unrun
  };
  struct Options {
    std::string name = "worker";  // the threads' name, as top and perf show it (15 bytes)
    size_t threads = 1;
    size_t max_queued = std::numeric_limits<size_t>::max();
    AtStop at_stop = AtStop::kRunQueued;
    // The threads run only on CPU time nobody else wants (runOnlyWhenIdle, lib/base/priority.h).
    bool only_when_idle = false;
  };

  explicit BackgroundWorker(Options options);
  ~BackgroundWorker();  // stop()
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Queues task (moved from only then). False when max_queued tasks wait already or the worker
  // is stopping: the caller keeps the task (a temporary is destroyed unrun, what it owns
  // released by its destructor).
  bool post(Task&& task, Clock::time_point not_before = {});
  size_t queued() const;
  // True from stop() on: a long task checks it to end early.
  bool stopping() const;
  void stop();

 private:
  struct Queued {
    Task task;
    Clock::time_point not_before;
  };
  void run();

  const Options options_;
  mutable std::mutex mutex_;  // guards queue_ and stopping_
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest is built
};

}  // namespace dfs
