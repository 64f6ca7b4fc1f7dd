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

#include <exception>
#include <type_traits>
#include <utility>

namespace malt::detail {

/// Lets every cancellation type through, for an operation whose coroutine honours each
/// (the co_spawn it runs in lets only terminal through by default).
struct pass_every_cancellation {
  boost::asio::cancellation_type_t operator()(boost::asio::cancellation_type_t t) const noexcept { return t; }
};

/// The exception a coroutine ended with, with its code.
inline failure failure_from(std::exception_ptr e) {
  const auto code = code_of(e);
  return {code, std::move(e)};
}

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
      failure f = failure_from(std::move(e));
      if (diag) set_diagnostics(*diag, std::move(f.exception));
      std::move(handler)(f.code, std::forward<V>(v)...);
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

/// An operation of the library that runs a coroutine when it is initiated, as call_op
/// does a call: co_await it (typed exceptions), put it in a parallel_group, or call it
/// with a completion token (void(error_code, T), the failure's exception going to a
/// diagnostics passed before the token). Use it once.
template <class T, class Make>
class coroutine_op {
 public:
  using value_type = T;

  coroutine_op(boost::asio::any_io_executor ex, Make make) : ex_(std::move(ex)), make_(std::move(make)) {}

  /// Where the coroutine runs.
  const boost::asio::any_io_executor& get_executor() const noexcept { return ex_; }

  template <class CompletionToken>
    requires boost::asio::completion_token_for<CompletionToken, signature_for<T, failure_as_for<CompletionToken>>>
  auto operator()(CompletionToken&& token) {
    return coroutine_operation<T>(ex_, nullptr, std::move(make_), std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
    requires boost::asio::completion_token_for<CompletionToken, signature_for<T, failure_as_for<CompletionToken>>>
  auto operator()(diagnostics& diag, CompletionToken&& token) {
    return coroutine_operation<T>(ex_, &diag, std::move(make_), std::forward<CompletionToken>(token));
  }

 private:
  boost::asio::any_io_executor ex_;
  Make make_;
};

/// The operation that runs, on ex, the coroutine make() returns.
template <class T, class Make>
coroutine_op<T, Make> make_coroutine_op(boost::asio::any_io_executor ex, Make make) {
  return coroutine_op<T, Make>(std::move(ex), std::move(make));
}

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
