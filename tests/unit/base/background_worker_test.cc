#include "lib/base/background_worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

namespace dfs {
namespace {

using namespace std::chrono_literals;
using Options = BackgroundWorker::Options;

TEST(BackgroundWorkerTest, TasksRunInTheOrderTheyWereQueued) {
  std::vector<int> order;
  {
    BackgroundWorker worker(Options{.name = "test"});
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(worker.post([&order, i] { order.push_back(i); }));
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(BackgroundWorkerTest, AFullQueueRefusesAndReleasesTheTask) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  BackgroundWorker worker(Options{.max_queued = 2});
  std::promise<void> started;
  ASSERT_TRUE(worker.post([&started, released] {
    started.set_value();
    released.wait();
  }));
  started.get_future().wait();  // the first task runs: the queue is empty again
  EXPECT_TRUE(worker.post([] {}));
  EXPECT_TRUE(worker.post([] {}));
  auto owned = std::make_shared<int>(1);
  EXPECT_FALSE(worker.post([owned] {}));
  EXPECT_EQ(owned.use_count(), 1);  // the refused task is gone, and what it held with it
  BackgroundWorker::Task kept = [] {};
  EXPECT_FALSE(worker.post(std::move(kept)));
  EXPECT_TRUE(kept);  // a named task refused stays the caller's, to run or drop
  EXPECT_EQ(worker.queued(), 2u);
  release.set_value();
}

TEST(BackgroundWorkerTest, ATaskWaitsForItsTimeUnlessTheWorkerStops) {
  std::atomic<bool> ran{false};
  auto queued_at = BackgroundWorker::Clock::now();
  BackgroundWorker::Clock::time_point ran_at;
  {
    BackgroundWorker worker(Options{});
    worker.post([&] {
      ran_at = BackgroundWorker::Clock::now();
      ran = true;
    }, queued_at + 50ms);
    while (!ran) std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(ran_at - queued_at, 50ms);

  // Stopping runs it at once (kRunQueued), an hour early.
  bool early = false;
  {
    BackgroundWorker worker(Options{});
    worker.post([&] { early = true; }, BackgroundWorker::Clock::now() + 1h);
  }
  EXPECT_TRUE(early);
}

TEST(BackgroundWorkerTest, DropQueuedDestroysWhatIsQueuedUnrun) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto owned = std::make_shared<int>(1);
  std::atomic<int> runs{0};
  std::promise<void> started;
  {
    BackgroundWorker worker(Options{.at_stop = BackgroundWorker::AtStop::kDropQueued});
    worker.post([&, released] {
      started.set_value();
      released.wait();
      ++runs;
    });
    started.get_future().wait();
    for (int i = 0; i < 10; ++i) worker.post([owned, &runs] { ++runs; });
    std::thread stopper([&worker] { worker.stop(); });
    while (!worker.stopping()) std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(worker.post([] {}));
    release.set_value();
    stopper.join();
  }
  EXPECT_EQ(runs.load(), 1);  // the running task finished; the ten queued never ran
  EXPECT_EQ(owned.use_count(), 1);
}

TEST(BackgroundWorkerTest, SeveralThreadsRunTasksSideBySideAndATaskMayQueueMore) {
  std::mutex mutex;
  std::condition_variable both;
  int waiting = 0;
  std::atomic<int> follow_ups{0};
  BackgroundWorker worker(Options{.threads = 2});
  for (int i = 0; i < 2; ++i) {
    worker.post([&] {
      std::unique_lock lock(mutex);
      ++waiting;
      both.notify_all();
      // Returns only once the other task runs too: with one thread this would never end.
      both.wait(lock, [&] { return waiting == 2; });
      worker.post([&] { ++follow_ups; });
    });
  }
  while (follow_ups < 2) std::this_thread::sleep_for(1ms);  // queued by the tasks, then run
  worker.stop();
  EXPECT_EQ(waiting, 2);
}

}  // namespace
}  // namespace dfs
