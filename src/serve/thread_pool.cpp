#include "serve/thread_pool.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <thread>

#include <sched.h>

namespace malt::detail {

namespace {
// The pool whose io_context this thread runs handlers of: what they post, it runs next.
thread_local const void* leading = nullptr;
// After the last job, the watchdog of a lending pool looks on this many times before it
// sleeps until the next: steady traffic never has to wake it.
constexpr int looks_after_last_job = 100;
}  // namespace

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
  if (leading == state_.get()) return true;  // run after the handler that posted it
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

void thread_pool::idle_thread(const std::shared_ptr<state>& s, lock_type& lock, bool until_io_done) {
  for (;;) {
    ++s->idle;
    // The thread in run_io ends with the io_context, not with the pool.
    auto woken = [&] { return s->starts > 0 || s->lead_wake || (s->closed && !until_io_done) || s->io_done; };
    const bool started = until_io_done ? (s->wake.wait(lock, woken), true) : s->wake.wait_for(lock, std::chrono::minutes(1), woken);
    --s->idle;
    if (started && s->lead_wake && !s->io_done) {
      s->lead_wake = false;
      if (s->lead == state::lead_state::vacant) {
        s->lead = state::lead_state::held;
        lead(s, lock);
      }
      continue;
    }
    if (!started || s->starts == 0) {
      if (until_io_done && !s->io_done) continue;
      return;  // idle for a minute, or the pool or its io_context is gone
    }
    --s->starts;
    run_jobs(s, lock);
  }
}

void thread_pool::run_io(boost::asio::io_context& io) {
  lock_type lock(state_->mutex);
  state_->io = &io;
  state_->lead = state::lead_state::held;
  cpu_set_t cpus;
  state_->several_cores = ::sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
  lead(state_, lock);
  idle_thread(state_, lock, true);
}

// Runs handlers while it holds the lead; when they queue jobs, leaves the lead vacant, runs
// them and takes the lead back, unless another thread took it meanwhile.
void thread_pool::lead(const std::shared_ptr<state>& s, lock_type& lock) {
  for (;;) {
    lock.unlock();
    leading = s.get();
    std::size_t ran = 0;
    do ran = s->io->run_one();
    while (ran != 0 && s->waiting.load(std::memory_order_relaxed) == 0);
    leading = nullptr;
    lock.lock();
    if (ran == 0) {
      s->io_done = true;
      s->lead = state::lead_state::none;
      s->wake.notify_all();
      return;
    }
    if (s->jobs.empty()) continue;  // other threads took them
    if (s->active > 0) {
      // A thread runs jobs already: it takes these next, in order, so that a short call
      // is done before the one sent after it starts. Should it be blocked, the watchdog
      // gives the waiting jobs threads of their own.
      if (s->watchdog_waiting) {
        s->watchdog_waiting = false;
        s->watch.notify_one();
      }
      continue;
    }
    s->lead = state::lead_state::vacant;
    ++s->vacancies;
    ++s->active;
    if (s->watchdog_waiting) {
      s->watchdog_waiting = false;
      s->watch.notify_one();
    }
    // A burst: another thread reads on meanwhile, where there is a core for it (on one,
    // the hand-over would only add a thread switch per burst).
    if (s->several_cores && s->jobs.size() > 1) offer_lead(s, lock);
    run_jobs(s, lock);
    if (s->lead != state::lead_state::vacant) return;  // another thread leads now
    s->lead = state::lead_state::held;
  }
}

// Wakes an idle thread, or starts one, to take the vacant lead.
void thread_pool::offer_lead(const std::shared_ptr<state>& s, lock_type& lock) {
  if (s->lead_wake) return;
  s->lead_wake = true;
  if (s->idle > s->starts) return s->wake.notify_all();  // the first to wake takes it
  lock.unlock();
  try {
    std::thread([s] {
      lock_type l(s->mutex);
      idle_thread(s, l);  // takes the lead at once
    }).detach();
    lock.lock();
  } catch (const std::system_error&) {  // at a processes limit: the next look tries again
    lock.lock();
    s->lead_wake = false;
  }
}

void thread_pool::watchdog(const std::shared_ptr<state>& s) {
  lock_type lock(s->mutex);
  int quiet_looks = 0;
  std::uint64_t seen = s->vacancies;
  while (!s->closed) {
    const bool vacant = s->lead == state::lead_state::vacant;
    if (s->jobs.empty() && !vacant) {
      if (s->io && quiet_looks < looks_after_last_job) {  // jobs come and go without a wake
        s->watch.wait_for(lock, s->patience, [&] { return s->closed; });
        quiet_looks = s->vacancies == seen ? quiet_looks + 1 : 0;
        seen = s->vacancies;
        continue;
      }
      // Woken by a post or a vacancy, which clears watchdog_waiting; it looks again then,
      // as what woke it may be over already.
      s->watchdog_waiting = true;
      s->watch.wait(lock);
      s->watchdog_waiting = false;
      quiet_looks = 0;
      seen = s->vacancies;
      continue;
    }
    const auto taken = s->taken;
    const auto vacancy = s->vacancies;
    s->watch.wait_for(lock, s->patience, [&] { return s->closed; });
    if (s->closed) break;
    // No job was taken for a whole look while some waited: the running ones are blocked.
    if (!s->jobs.empty() && s->taken == taken) start_threads(s, s->jobs.size(), lock);
    // The thread that left the lead is still in the same run of jobs: another thread leads.
    if (s->lead == state::lead_state::vacant && s->vacancies == vacancy) offer_lead(s, lock);
    quiet_looks = 0;
    seen = s->vacancies;
  }
}

}  // namespace malt::detail
