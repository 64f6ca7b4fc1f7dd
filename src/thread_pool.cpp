#include "thread_pool.hpp"

#include <chrono>
#include <thread>

namespace malt::detail {

void thread_pool::post(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  jobs_.push_back(std::move(job));
  // Each waiting thread takes one job; more jobs than waiting threads need a new thread,
  // or a job would wait behind one that blocks.
  const bool grow = jobs_.size() > waiting_;
  lock.unlock();
  if (grow)
    std::thread([this] { run(); }).detach();  // the pool lives until the worker process ends
  else
    wake_.notify_one();
}

void thread_pool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (jobs_.empty()) {
      ++waiting_;
      const bool got_job = wake_.wait_for(lock, std::chrono::minutes(1), [this] { return !jobs_.empty(); });
      --waiting_;
      if (!got_job) return;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}
}  // namespace malt::detail
