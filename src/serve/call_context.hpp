#ifndef MALT_SRC_SERVE_CALL_CONTEXT_HPP
#define MALT_SRC_SERVE_CALL_CONTEXT_HPP

// What a running call in the worker knows about itself: whether it was interrupted.
// malt::this_call reads the context of the call running on the current thread.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace malt::detail {

struct call_context {
  std::atomic<bool> interrupted{false};
  std::mutex mutex;
  std::condition_variable wake;  // this_call::sleep_for waits on it
  // A call on the I/O thread, which reads no interrupt frame while it runs, watches for
  // the interrupt signal the host sends with each (process/interrupt_signal.hpp).
  bool signals_watched = false;
  std::uint64_t id = 0;
  std::uint32_t signals_since = 0;

  // Before the call runs, by the thread that hands it to its runner: nothing races it, and
  // the hand-over orders it (a sequentially consistent store would cost a fence per call).
  void reset() noexcept {
    interrupted.store(false, std::memory_order_relaxed);
    signals_watched = false;
  }
  void watch_signals(std::uint64_t call_id) noexcept;
  /// Interrupted by frame, or by signal when watched.
  bool is_interrupted() const noexcept;

  void interrupt() {
    {
      std::lock_guard lock(mutex);
      interrupted = true;
    }
    wake.notify_all();
  }
};

/// Makes context the current thread's call while it lives.
class current_call {
 public:
  explicit current_call(call_context& context) noexcept;
  ~current_call();
  current_call(const current_call&) = delete;
  current_call& operator=(const current_call&) = delete;

 private:
  call_context* previous_;
};

}  // namespace malt::detail

#endif
