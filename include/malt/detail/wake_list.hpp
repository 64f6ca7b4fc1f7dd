#ifndef MALT_DETAIL_WAKE_LIST_HPP
#define MALT_DETAIL_WAKE_LIST_HPP

// Coroutines waiting for "something changed" on one executor: each waits on a timer of its
// own, listed here while it waits, and notify() wakes them all. A waiter leaves the list
// however its wait ends, a throw included (a coroutine already cancelled throws at the
// co_await itself). Compiled in src/wake_list.cpp, which keeps Asio's timers out of the
// headers that include this one.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <vector>

namespace malt::detail {

class wake_list {
 public:
  /// Waits until notify(), a cancellation, or deadline; false if the deadline passed.
  boost::asio::awaitable<bool> wait(
      boost::asio::any_io_executor ex,
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max());

  /// Wakes every waiter (their timers complete as cancelled, later, on the executor).
  void notify();

 private:
  struct waiter;
  struct leave;
  std::vector<waiter*> waiters_;
};

}  // namespace malt::detail

#endif
