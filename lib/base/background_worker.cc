#include "lib/base/background_worker.h"

#include <pthread.h>

#include "lib/base/priority.h"

namespace dfs {

BackgroundWorker::BackgroundWorker(Options options) : options_(std::move(options)) {
  for (size_t i = 0; i < options_.threads; ++i) {
    threads_.emplace_back([this] { run(); });
    ::pthread_setname_np(threads_.back().native_handle(), options_.name.substr(0, 15).c_str());
  }
}

BackgroundWorker::~BackgroundWorker() { stop(); }

bool BackgroundWorker::post(Task&& task, Clock::time_point not_before) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= options_.max_queued) return false;
    queue_.push_back({std::move(task), not_before});
  }
  wake_.notify_one();
  return true;
}

size_t BackgroundWorker::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool BackgroundWorker::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void BackgroundWorker::stop() {
  std::deque<Queued> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (options_.at_stop == AtStop::kDropQueued) dropped.swap(queue_);
  }
  wake_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
  // dropped tasks are destroyed here, outside the lock
}

void BackgroundWorker::run() {
  if (options_.only_when_idle) runOnlyWhenIdle();
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to run
    if (!stopping_ && queue_.front().not_before > Clock::now()) {
      wake_.wait_until(lock, queue_.front().not_before);
      continue;
    }
    Task task = std::move(queue_.front().task);
    queue_.pop_front();
    lock.unlock();
    task();
    task = nullptr;  // what it holds goes before the lock is taken again
    lock.lock();
  }
}

}  // namespace dfs
