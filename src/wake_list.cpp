#include <malt/detail/wake_list.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace malt::detail {

struct wake_list::waiter {
  boost::asio::steady_timer timer;
};

// Takes a waiter off the list, however its wait ends.
struct wake_list::leave {
  std::vector<waiter*>& list;
  waiter* w;
  ~leave() { std::erase(list, w); }
};

boost::asio::awaitable<bool> wake_list::wait(boost::asio::any_io_executor ex,
                                             std::chrono::steady_clock::time_point deadline) {
  waiter wake{boost::asio::steady_timer(ex, deadline)};
  waiters_.push_back(&wake);
  const leave guard{waiters_, &wake};
  auto [ec] = co_await wake.timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  co_return static_cast<bool>(ec);
}

void wake_list::notify() {
  for (auto* w : waiters_) w->timer.cancel();
}

}  // namespace malt::detail
