#ifndef MALT_SRC_THREAD_POOL_HPP
#define MALT_SRC_THREAD_POOL_HPP

// Runs the worker's synchronous functions off its I/O thread. The pool grows a thread
// whenever a job arrives and no thread waits for it, so a call that sleeps or blocks never
// delays another; threads idle for a minute end.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace malt::detail {

class thread_pool {
 public:
  void post(std::function<void()> job);

 private:
  void run();
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::size_t waiting_ = 0;  // threads waiting for a job
};

}  // namespace malt::detail

#endif
