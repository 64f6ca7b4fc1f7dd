#ifndef MALT_DETAIL_COROUTINE_OPERATION_HPP
#define MALT_DETAIL_COROUTINE_OPERATION_HPP

// The library's coroutine operations (spawn_worker, stop, in_process_worker::start,
// worker_channel, the pool's operations, pmap) as Asio operations for any completion token: the coroutine runs on an
// executor through co_spawn, whose completion is turned into what the token's flavour
// asks for (detail/failure_flavor.hpp) and runs on the handler's own executor, honouring
// its cancellation slot, as co_spawn does.

#include <malt/detail/failure.hpp>
#include <malt/detail/failure_flavor.hpp>
#include <malt/diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associator.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace malt::detail {

/// Lets every cancellation type through, for an operation whose coroutine honours each
/// (the co_spawn it runs in lets only terminal through by default).
struct pass_every_cancellation {
  boost::asio::cancellation_type_t operator()(boost::asio::cancellation_type_t t) const noexcept { return t; }
};

// Completes handler with a coroutine's outcome, as As wants it.
template <failure_as As, class Handler>
struct completing {
  Handler handler;
  diagnostics* diag;

  template <class... V>
  void operator()(std::exception_ptr e, V&&... v) {
    if constexpr (As == failure_as::exception) {
      std::move(handler)(std::move(e), std::forward<V>(v)...);
    } else {
      const auto code = code_of(e);
      if (diag) set_diagnostics(*diag, std::move(e));
      std::move(handler)(code, std::forward<V>(v)...);
    }
  }
};

/// Runs the coroutine make() returns on ex and completes token with its value (T) or
/// failure, the failure's exception going to diag if given.
template <class T, class Make, class CompletionToken>
auto coroutine_operation(boost::asio::any_io_executor ex, diagnostics* diag, Make make, CompletionToken&& token) {
  constexpr auto as = failure_as_for<CompletionToken>;
  return boost::asio::async_initiate<CompletionToken, signature_for<T, as>>(
      [](auto handler, boost::asio::any_io_executor ex, diagnostics* diag, Make make) {
        if (diag) diag->clear();
        boost::asio::co_spawn(ex, make(), completing<as, decltype(handler)>{std::move(handler), diag});
      },
      token, std::move(ex), diag, std::move(make));
}

/// Awaits a, letting every cancellation type through to it: a coroutine started by
/// co_spawn lets only terminal cancellation through unless it says otherwise.
template <class T>
boost::asio::awaitable<T> passing_every_cancellation(boost::asio::awaitable<T> a) {
  co_await boost::asio::this_coro::reset_cancellation_state(pass_every_cancellation{});
  if constexpr (std::is_void_v<T>)
    co_await std::move(a);
  else
    co_return co_await std::move(a);
}

/// An operation of the library that is a coroutine, made when the operation is: co_await
/// it as the awaitable it is (typed exceptions; it runs in the awaiting coroutine, under
/// that coroutine's cancellation state), pass it where an awaitable goes, put it in a
/// parallel_group, or call it with a completion token (void(error_code, T), the failure's
/// exception going to a diagnostics passed before the token), which runs it through
/// co_spawn on its executor, letting every cancellation type through. Use it once.
///
/// It is no "asynchronous operation" to Asio's co_await (which would run it through
/// co_spawn as well, at a quarter of a pool call's rate): the probe Asio uses to tell
/// is refused.
template <class T>
class coroutine_op : public boost::asio::awaitable<T> {
  template <class Token>
  static constexpr bool is_probe = std::is_same_v<std::decay_t<Token>, boost::asio::detail::async_operation_probe>;

 public:
  coroutine_op(boost::asio::any_io_executor ex, boost::asio::awaitable<T> a) noexcept
      : boost::asio::awaitable<T>(std::move(a)), ex_(std::move(ex)) {}

  /// Where the coroutine runs when a completion token is given.
  const boost::asio::any_io_executor& get_executor() const noexcept { return ex_; }

  template <class CompletionToken>
    requires(!is_probe<CompletionToken> &&
             boost::asio::completion_token_for<CompletionToken, signature_for<T, failure_as_for<CompletionToken>>>)
  auto operator()(CompletionToken&& token) {
    return coroutine_operation<T>(ex_, nullptr, spawned(), std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
    requires(!is_probe<CompletionToken> &&
             boost::asio::completion_token_for<CompletionToken, signature_for<T, failure_as_for<CompletionToken>>>)
  auto operator()(diagnostics& diag, CompletionToken&& token) {
    return coroutine_operation<T>(ex_, &diag, spawned(), std::forward<CompletionToken>(token));
  }

 private:
  auto spawned() {
    return [a = boost::asio::awaitable<T>(std::move(*this))]() mutable { return passing_every_cancellation(std::move(a)); };
  }
  boost::asio::any_io_executor ex_;
};

}  // namespace malt::detail

namespace boost::asio {
// A completing handler is its handler as far as Asio asks: executor, allocator,
// cancellation slot.
template <template <typename, typename> class Associator, malt::detail::failure_as As, class Handler,
          class DefaultCandidate>
struct associator<Associator, malt::detail::completing<As, Handler>, DefaultCandidate> {
  using type = typename Associator<Handler, DefaultCandidate>::type;
  static type get(const malt::detail::completing<As, Handler>& c) noexcept {
    return Associator<Handler, DefaultCandidate>::get(c.handler);
  }
  static auto get(const malt::detail::completing<As, Handler>& c, const DefaultCandidate& d) noexcept
      -> decltype(Associator<Handler, DefaultCandidate>::get(c.handler, d)) {
    return Associator<Handler, DefaultCandidate>::get(c.handler, d);
  }
};
}  // namespace boost::asio

#endif
