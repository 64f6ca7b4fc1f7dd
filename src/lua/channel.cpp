#include "lua/channel.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <stdexcept>

namespace malt::detail {
namespace asio = boost::asio;

asio::awaitable<void> channel::put(value v) {
  while (!closed_ && items_.size() >= capacity_) co_await wait_for_change();
  if (closed_) throw std::runtime_error("put on a closed channel");
  items_.push_back(std::move(v));
  notify();
}

asio::awaitable<value> channel::take() {
  while (items_.empty() && !closed_) co_await wait_for_change();
  if (items_.empty()) throw std::runtime_error("take on a closed channel");
  value v = std::move(items_.front());
  items_.pop_front();
  notify();
  co_return v;
}

void channel::close() {
  closed_ = true;
  notify();  // every waiter wakes and fails
}

asio::awaitable<void> channel::wait_for_change() {
  asio::steady_timer t(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
  waiters_.push_back(&t);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  std::erase(waiters_, &t);
  if ((co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
    throw boost::system::system_error(asio::error::operation_aborted);
}

void channel::notify() {
  for (auto* t : waiters_) t->cancel();
}

}  // namespace malt::detail
