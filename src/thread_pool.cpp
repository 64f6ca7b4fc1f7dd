#include "thread_pool.hpp"

#include <chrono>
#include <thread>

namespace malt::detail {

void thread_pool::post(std::function<void()> job) {
  std::unique_lock lock(mutex_);
  jobs_.push_back(std::move(job));
  if (idle_ > 0) {
    lock.unlock();
    wake_.notify_one();
    return;
  }
  lock.unlock();
  std::thread([this] { run(); }).detach();  // the pool lives until the worker process ends
}

void thread_pool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    while (jobs_.empty()) {
      ++idle_;
      const bool woke = wake_.wait_for(lock, std::chrono::minutes(1), [this] { return !jobs_.empty(); });
      --idle_;
      if (!woke) return;
    }
    auto job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace malt::detail
