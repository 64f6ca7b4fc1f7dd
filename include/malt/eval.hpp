#ifndef MALT_EVAL_HPP
#define MALT_EVAL_HPP

// Evaluating Lua in a worker's global state, and channels to the worker, after Malt.jl's
// remote_eval* and worker_channel:
//
//   malt::value two = co_await malt::remote_eval_fetch(w, "1 + 1");   // an expression, or statements
//   co_await malt::remote_eval_wait(w, "x = 10");                      // globals persist between evals
//   int x = co_await malt::remote_eval_fetch<int>(w, "x");             // converted, or decode_error
//   auto later = malt::remote_eval(w, "malt.sleep(0.5); x = 900");     // eager, like remote_call
//
//   auto ch = co_await malt::worker_channel<int>(w, "rc = malt.channel(20)");
//   co_await ch.put(5);  int five = co_await ch.take();
//
// Code runs as a Lua coroutine on the worker's I/O thread, sharing it cooperatively with
// the other evals and calls, and any eval can be interrupted, even `while true do end`.
// Lua in the worker has malt.sleep(seconds), malt.channel(capacity), and every registered
// C++ function whose types convert to Lua values: malt.call("name", ...) or malt.fn.name(...).
// A Lua error reaches the host as a remote_exception of type malt::lua_error, with the
// Lua message and traceback.

#include <malt/builtins.hpp>
#include <malt/call.hpp>
#include <malt/detail/channel_calls.hpp>
#include <malt/detail/coroutine_operation.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/value.hpp>

#include <boost/asio/awaitable.hpp>

#include <string>

namespace malt {

/// Evaluates code in the worker and returns its (first) value as T.
template <class T = value>
call_op<T, value> remote_eval_fetch(const worker& w, std::string code) {
  static_assert(is_value_convertible<T>, "remote_eval_fetch<T>: T must convert from malt::value");
  return call_op<T, value>(detail::make_call(w, builtin::eval, detail::call_mode::fetch, std::move(code)));
}

/// Evaluates code in the worker and waits for it; the value is not sent back, so it need
/// not have a host equivalent. (Compiled in the library: every program that includes this
/// header would otherwise compile the call for it.)
call_op<void> remote_eval_wait(const worker& w, std::string code);

/// Sends the code before returning; the operation gives the value as T or rethrows.
template <class T = value>
call_op<T, value> remote_eval(const worker& w, std::string code) {
  static_assert(is_value_convertible<T>, "remote_eval<T>: T must convert from malt::value");
  return call_op<T, value>(detail::make_call(w, builtin::eval, detail::call_mode::eager, std::move(code)));
}

/// The host's end of a channel in a worker (malt.channel in Lua). Each operation is a call
/// to the worker; put waits while the channel is full, take while it is empty, and neither
/// keeps the other from running. After close, put fails, and take fails once it is empty.
template <class T>
class remote_channel {
  static_assert(is_value_convertible<T>, "remote_channel<T>: T must convert to and from malt::value");

 public:
  /// An end of no channel, to be assigned one worker_channel gives.
  remote_channel() = default;
  remote_channel(worker w, std::uint64_t id) : w_(std::move(w)), id_(id) {}
  call_op<void> put(const T& v) const { return remote_call_wait(w_, detail::channel_calls::put, id_, to_value(v)); }
  call_op<T, value> take() const {
    return call_op<T, value>(detail::make_call(w_, detail::channel_calls::take, detail::call_mode::fetch, id_));
  }
  call_op<bool> is_ready() const { return remote_call_fetch(w_, detail::channel_calls::is_ready, id_); }
  call_op<void> close() const { return remote_call_wait(w_, detail::channel_calls::close, id_); }

 private:
  worker w_;
  std::uint64_t id_ = 0;
};

namespace detail {
template <class T>
boost::asio::awaitable<remote_channel<T>> open_channel(worker w, std::string code) {
  const std::uint64_t id = co_await remote_call_fetch(w, channel_calls::open, std::move(code));
  co_return remote_channel<T>(std::move(w), id);
}
}  // namespace detail

/// Evaluates code that gives a channel (malt.channel(capacity)) in the worker, and returns
/// the host's end of it. Code that assigns the channel ("rc = malt.channel(20)") gives the
/// channel it assigned. Fails with remote_exception if the code gives no channel; throws
/// terminated_worker_exception at once for an empty worker.
/// An awaitable and an operation, as a pool's operations are (<malt/worker_pool.hpp>):
/// co_await it, or call it with a completion token (void(boost::system::error_code,
/// remote_channel<T>)); cancellation as remote_call_fetch's.
template <class T>
auto worker_channel(const worker& w, std::string code) {
  if (!detail::worker_access::impl(w)) detail::throw_empty_worker();
  return detail::coroutine_op<remote_channel<T>>(w.get_executor(), detail::open_channel<T>(w, std::move(code)));
}

}  // namespace malt

#endif
