#ifndef MALT_SRC_LUA_CHANNEL_HPP
#define MALT_SRC_LUA_CHANNEL_HPP

// A channel (malt.channel(capacity) in Lua, malt::worker_channel on the host): a bounded
// queue of values on the worker's I/O thread whose put waits while it is full and take
// while it is empty. Evals and host calls share it; close wakes and fails every waiter.

#include <malt/value.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <deque>
#include <vector>

namespace malt::detail {

class channel {
 public:
  explicit channel(std::size_t capacity) : capacity_(capacity) {}

  boost::asio::awaitable<void> put(value v);
  boost::asio::awaitable<value> take();
  bool is_ready() const noexcept { return !items_.empty(); }
  void close();

 private:
  // Waits until another operation changed the channel; an interrupt of the waiting call
  // ends the wait with operation_aborted.
  boost::asio::awaitable<void> wait_for_change();
  void notify();

  std::size_t capacity_;
  std::deque<value> items_;
  bool closed_ = false;
  std::vector<boost::asio::steady_timer*> waiters_;
};

}  // namespace malt::detail

#endif
