#ifndef MALT_DETAIL_WAKE_LIST_HPP
#define MALT_DETAIL_WAKE_LIST_HPP

// Coroutines waiting for "something changed" on one executor: each waits on a timer of its
// own, listed here while it waits, and notify() wakes them all. A waiter leaves the list
// however its wait ends, a throw included (a coroutine already cancelled throws at the
// co_await itself).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace malt::detail {

class wake_list {
 public:
  /// Waits until notify(), a cancellation, or deadline; false if the deadline passed.
  boost::asio::awaitable<bool> wait(
      boost::asio::any_io_executor ex,
      std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max()) {
    boost::asio::steady_timer wake(ex, deadline);
    waiters_.push_back(&wake);
    const leave guard{waiters_, &wake};
    auto [ec] = co_await wake.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return static_cast<bool>(ec);
  }

  /// Wakes every waiter (their timers complete as cancelled, later, on the executor).
  void notify() {
    for (auto* w : waiters_) w->cancel();
  }

 private:
  // Takes a waiter off the list. A class of its own, not local to the coroutine: g++ 12
  // fails to compile a local class in an inline coroutine with full debug information
  // (internal compiler error in the name mangler).
  struct leave {
    std::vector<boost::asio::steady_timer*>& list;
    boost::asio::steady_timer* timer;
    ~leave() { std::erase(list, timer); }
  };

  std::vector<boost::asio::steady_timer*> waiters_;
};

}  // namespace malt::detail

#endif
