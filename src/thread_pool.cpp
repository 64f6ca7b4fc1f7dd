#include "thread_pool.hpp"

#include <chrono>
#include <thread>

namespace malt::detail {

thread_pool::thread_pool() : state_(std::make_shared<state>()) {}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
  }
  state_->wake.notify_all();
}

void thread_pool::post(std::function<void()> job) {
  std::unique_lock lock(state_->mutex);
  state_->jobs.push_back(std::move(job));
  // Each waiting thread takes one job; more jobs than waiting threads need a new thread,
  // or a job would wait behind one that blocks.
  const bool grow = state_->jobs.size() > state_->waiting;
  lock.unlock();
  if (grow)
    std::thread([s = state_] { run(s); }).detach();
  else
    state_->wake.notify_one();
}

void thread_pool::run(const std::shared_ptr<state>& s) {
  std::unique_lock lock(s->mutex);
  for (;;) {
    if (s->jobs.empty()) {
      ++s->waiting;
      const bool got_job =
          s->wake.wait_for(lock, std::chrono::minutes(1), [&] { return !s->jobs.empty() || s->closed; });
      --s->waiting;
      if (!got_job || s->jobs.empty()) return;  // idle for a minute, or the pool is gone
    }
    auto job = std::move(s->jobs.front());
    s->jobs.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace malt::detail
