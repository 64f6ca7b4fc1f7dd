#ifndef MALT_SRC_THREAD_POOL_HPP
#define MALT_SRC_THREAD_POOL_HPP

// Runs the worker's synchronous functions off its I/O thread. The pool grows a thread
// whenever a job arrives and no thread waits for it, so a call that sleeps or blocks never
// delays another; threads idle for a minute end, and so do all once the pool is gone (an
// in-process worker's pool goes with its worker; running jobs finish first).

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace malt::detail {

class thread_pool {
 public:
  thread_pool();
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  void post(std::function<void()> job);

 private:
  struct state {  // shared with the threads, which may outlive the pool
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> jobs;
    std::size_t waiting = 0;  // threads waiting for a job
    bool closed = false;
  };
  static void run(const std::shared_ptr<state>& s);
  std::shared_ptr<state> state_;
};

}  // namespace malt::detail

#endif
