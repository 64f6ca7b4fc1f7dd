#include "serve/thread_pool.hpp"

#include <algorithm>
#include <thread>

namespace malt::detail {

void job_queue::push_back(std::function<void()> job) {
  if (size_ == ring_.size()) {  // full: unroll into a ring twice as large
    std::vector<std::function<void()>> larger(std::max<std::size_t>(16, 2 * ring_.size()));
    for (std::size_t i = 0; i < size_; ++i) larger[i] = std::move(ring_[(head_ + i) % ring_.size()]);
    ring_ = std::move(larger);
    head_ = 0;
  }
  ring_[(head_ + size_) % ring_.size()] = std::move(job);
  ++size_;
}

std::function<void()> job_queue::pop_front() noexcept {
  auto job = std::move(ring_[head_]);
  ring_[head_] = nullptr;
  head_ = (head_ + 1) % ring_.size();
  --size_;
  return job;
}

void job_queue::pop_back() noexcept {
  --size_;
  ring_[(head_ + size_) % ring_.size()] = nullptr;
}

thread_pool::thread_pool(std::chrono::microseconds patience) : state_(std::make_shared<state>()) {
  state_->patience = patience;
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(state_->mutex);
    state_->closed = true;
  }
  state_->wake.notify_all();
  state_->watch.notify_all();
}

bool thread_pool::has_waiting_jobs() const { return state_->waiting.load(std::memory_order_relaxed) != 0; }

bool thread_pool::post(std::function<void()> job) {
  lock_type lock(state_->mutex);
  state_->jobs.push_back(std::move(job));
  state_->waiting.store(state_->jobs.size(), std::memory_order_relaxed);
  if (!state_->watchdog) {  // with the first job, not in the middle of later traffic
    try {
      std::thread([s = state_] { watchdog(s); }).detach();
      state_->watchdog = true;
    } catch (const std::system_error&) {
      // The next post tries again.
    }
  }
  if (state_->active == 0) {
    // None idle, the kernel refused a new one, and no thread took a job meanwhile (the
    // watchdog may start one while the lock is down): the job is still last, take it back.
    const auto taken = state_->taken;
    if (start_threads(state_, 1, lock) == 0 && state_->taken == taken) {
      state_->jobs.pop_back();
      state_->waiting.store(state_->jobs.size(), std::memory_order_relaxed);
      return false;
    }
  } else if (state_->watchdog_waiting) {
    state_->watchdog_waiting = false;
    lock.unlock();
    state_->watch.notify_one();  // jobs wait behind running ones: the watchdog starts looking
  }
  return true;
}

// Makes n more threads active: idle ones first, new ones for the rest. Returns how many.
std::size_t thread_pool::start_threads(const std::shared_ptr<state>& s, std::size_t n, lock_type& lock) {
  s->active += n;
  const std::size_t woken = std::min(n, s->idle - s->starts);
  s->starts += woken;
  lock.unlock();
  for (std::size_t i = 0; i < woken; ++i) s->wake.notify_one();
  std::size_t refused = 0;
  for (std::size_t i = woken; i < n; ++i) {
    try {
      std::thread([s] {
        lock_type l(s->mutex);
        run_jobs(s, l);
        idle_thread(s, l);  // idle before the lock is down: a post meanwhile wakes this thread
      }).detach();
    } catch (const std::system_error&) {  // at a processes limit: the running threads take the jobs
      refused = n - i;
      break;
    }
  }
  lock.lock();
  s->active -= refused;
  return n - refused;
}

// Runs queued jobs until there are none; the thread is then no longer active.
void thread_pool::run_jobs(const std::shared_ptr<state>& s, lock_type& lock) {
  while (!s->jobs.empty()) {
    auto job = s->jobs.pop_front();
    s->waiting.store(s->jobs.size(), std::memory_order_relaxed);
    ++s->taken;
    lock.unlock();
    job();
    job = nullptr;  // whatever it holds goes before the lock is taken again
    lock.lock();
  }
  --s->active;
}

void thread_pool::idle_thread(const std::shared_ptr<state>& s, lock_type& lock) {
  for (;;) {
    ++s->idle;
    const bool started =
        s->wake.wait_for(lock, std::chrono::minutes(1), [&] { return s->starts > 0 || s->closed; }) && s->starts > 0;
    --s->idle;
    if (!started) return;  // idle for a minute, or the pool is gone
    --s->starts;
    run_jobs(s, lock);
  }
}

void thread_pool::watchdog(const std::shared_ptr<state>& s) {
  lock_type lock(s->mutex);
  while (!s->closed) {
    if (s->jobs.empty()) {
      s->watchdog_waiting = true;
      s->watch.wait(lock, [&] { return !s->jobs.empty() || s->closed; });
      s->watchdog_waiting = false;
      continue;
    }
    const auto taken = s->taken;
    s->watch.wait_for(lock, s->patience, [&] { return s->closed; });
    // No job was taken for a whole look while some waited: the running ones are blocked.
    if (!s->closed && !s->jobs.empty() && s->taken == taken) start_threads(s, s->jobs.size(), lock);
  }
}

}  // namespace malt::detail
