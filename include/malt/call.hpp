#ifndef MALT_CALL_HPP
#define MALT_CALL_HPP

// Calling functions in a worker, with Malt.jl's four forms:
//
//   int r  = co_await malt::remote_call_fetch(w, add, 1, 2);   // run, return the value
//   co_await malt::remote_call_wait(w, add, 1, 2);             // run, drop the value, rethrow failures
//   malt::task<int> t = malt::remote_call(w, add, 1, 2);       // eager: the request is sent now
//   malt::remote_do(w, add, 1, 2);                             // fire and forget: no reply, ever
//
// The function is a function registered with MALT_REMOTE, or a malt::remote<Sig>
// declaration. Arguments are converted to the declared parameter types and encoded before
// the call returns, so nothing the caller owns is referenced afterwards.
//
// The first three give a call_op, an Asio asynchronous operation. co_await it (or pass
// asio::use_awaitable, or put it in a parallel_group as it is): it completes with
// void(std::exception_ptr, T) and failures are the typed exceptions below. Any other
// completion token (deferred, use_future, a callback, as_tuple, redirect_error...) gets
// void(boost::system::error_code, T): the exception's code, the exception itself in a
// malt::diagnostics passed before the token.
//
// Failures: remote_exception (the function threw, or the worker
// could not decode or match the request), interrupted_exception (the call was interrupted
// in the worker), decode_error (the host could not decode the result),
// terminated_worker_exception (the worker is dead or died meanwhile),
// error{frame_too_large}, error{timed_out}, and system_error{operation_aborted} for a
// cancelled call. After any of these the same worker answers the next call.

#include <malt/detail/await_exception_ptr_fix.hpp>
#include <malt/detail/failure_flavor.hpp>
#include <malt/detail/reply_handler.hpp>
#include <malt/detail/make_call.hpp>
#include <malt/diagnostics.hpp>
#include <malt/remote.hpp>
#include <malt/worker.hpp>

#include <boost/asio/async_result.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace malt {

template <class T, class Wire = T>
class call_op;

/// A call to a worker. The reply carries a Wire, which is converted to T (an eval's
/// malt::value, for example). co_await it for the value (typed exceptions), or call it
/// with a completion token (void(error_code, T), see operator()), or put it in a
/// parallel_group. Use it once.
///
/// Per-operation cancellation, by the state of the call when the slot fires (a coroutine
/// passes on only terminal cancellation unless it resets its cancellation state):
/// * not yet written to the worker (queued, or waiting for room in the write queue): any
///   type takes the request back; the call completes with operation_aborted and nothing
///   ran.
/// * running in the worker: total is not honoured (the call has effects); partial sends an
///   interrupt and waits up to worker_options::interrupt_grace for the worker's answer
///   (interrupted_exception, or the value if the call finished first); terminal sends an
///   interrupt and completes at once with operation_aborted, the late reply being dropped.
///   A signal carrying both (a parallel_group's cancellation_type::all) is taken as partial.
/// * reply already in: the call completes with it; done wins over cancel.
template <class T, class Wire>
class call_op {
 public:
  using value_type = T;

  explicit call_op(detail::call_handle call) noexcept : call_(std::move(call)) {}

  /// The executor of the worker's io_context, where the call completes by default.
  boost::asio::any_io_executor get_executor() const noexcept { return detail::executor_of(call_.worker()); }

  /// Gives the call a deadline, timeout from when it is awaited (or a time point): when it
  /// passes, the call is interrupted in the worker and waits grace (by default
  /// worker_options::interrupt_grace) for the worker's answer. It then completes with its
  /// value if that came first; error{errc::timed_out} if it ended, interrupted (or was
  /// never sent); error{errc::timed_out_running} if it did not answer within grace and may
  /// still be running in the worker (whose next calls it may delay: replace the worker
  /// to be sure). Under interrupt_escalation::kill the worker is killed instead.
  call_op with_timeout(std::chrono::milliseconds timeout, std::optional<std::chrono::milliseconds> grace = {}) && {
    detail::set_timeout(call_.worker(), call_.id(), timeout, grace);
    return std::move(*this);
  }
  call_op with_timeout(std::chrono::steady_clock::time_point deadline,
                       std::optional<std::chrono::milliseconds> grace = {}) && {
    detail::set_deadline(call_.worker(), call_.id(), deadline, grace);
    return std::move(*this);
  }

  /// Initiates the call with token. The completion signature is void(error_code, T)
  /// (void(error_code) for void), except for co_await on the operation itself and for
  /// use_awaitable, which throw the typed exceptions (void(std::exception_ptr, T)).
  template <class CompletionToken>
    requires boost::asio::completion_token_for<CompletionToken,
                                               detail::signature_for<T, detail::failure_as_for<CompletionToken>>>
  auto operator()(CompletionToken&& token) {
    return initiate(nullptr, std::forward<CompletionToken>(token));
  }
  /// The same, the failure's exception (its message, remote type, stack trace...) going to
  /// diag, which must live until the operation completes.
  template <class CompletionToken>
    requires boost::asio::completion_token_for<CompletionToken,
                                               detail::signature_for<T, detail::failure_as_for<CompletionToken>>>
  auto operator()(diagnostics& diag, CompletionToken&& token) {
    return initiate(&diag, std::forward<CompletionToken>(token));
  }

 private:
  template <class CompletionToken>
  auto initiate(diagnostics* diag, CompletionToken&& token) {
    constexpr auto as = detail::failure_as_for<CompletionToken>;
    return boost::asio::async_initiate<CompletionToken, detail::signature_for<T, as>>(
        [](auto handler, detail::call_handle call, diagnostics* diag) {
          if (diag) diag->clear();
          detail::async_call(call.worker(), call.id(), &detail::place_decoding<T, Wire, as, decltype(handler)>,
                             &handler, diag);
          call.awaited();
        },
        token, std::move(call_), diag);
  }

  detail::call_handle call_;  // until initiated
};

namespace detail {
/// The handler co_await gives a call that completes with T.
template <class T>
using awaiting_handler = boost::asio::detail::awaitable_async_op_handler<call_signature<T>, boost::asio::any_io_executor>;
}  // namespace detail

// How the common result types complete an awaiting coroutine, compiled once in the library
// (src/host/compiled_calls.cpp) rather than in every file that awaits them: the list is
// X(T, Wire) for each.
#define MALT_DETAIL_COMPILED_CALLS(X)                                                                   \
  X(void, void) X(bool, bool) X(int, int) X(long, long) X(unsigned long, unsigned long) X(double, double) \
  X(std::string, std::string) X(value, value) X(bool, value) X(int, value) X(long, value) X(double, value) \
  X(std::string, value)
#define MALT_DETAIL_EXTERN_CALL(T, Wire)                                             \
  extern template void detail::place_decoding<T, Wire, detail::failure_as::exception, \
                                              detail::awaiting_handler<T>>(detail::reply_handler&, void*);
MALT_DETAIL_COMPILED_CALLS(MALT_DETAIL_EXTERN_CALL)
#undef MALT_DETAIL_EXTERN_CALL

/// What remote_call gives: a call that is already on its way.
template <class T>
using task = call_op<T>;

// The public functions encode at once and hand on only named values (g++ 12 copies
// aggregate temporaries in a co_await expression bitwise).

/// Runs f(args...) in the worker and returns its value. The request is sent when the
/// operation is initiated (co_await), or, while more than worker_options::max_queued_bytes
/// wait to be written, as soon as there is room.
template <class F, class... Args>
call_op<detail::result_of<F>> remote_call_fetch(const worker& w, const F& f, Args&&... args) {
  return call_op<detail::result_of<F>>(detail::make_call(w, f, detail::call_mode::fetch, std::forward<Args>(args)...));
}

/// Runs f(args...) in the worker and waits for it to finish; the value is not sent back,
/// so its type need not be decodable by the host. Rethrows the worker's failures.
template <class F, class... Args>
call_op<void> remote_call_wait(const worker& w, const F& f, Args&&... args) {
  return call_op<void>(detail::make_call(w, f, detail::call_mode::wait, std::forward<Args>(args)...));
}

/// Sends the request before returning; the task gives the value or rethrows.
/// Throws at once (not from the task) if the worker is not running, or error{queue_full}
/// if more than worker_options::max_queued_bytes already wait to be written.
template <class F, class... Args>
task<detail::result_of<F>> remote_call(const worker& w, const F& f, Args&&... args) {
  return task<detail::result_of<F>>(detail::make_call(w, f, detail::call_mode::eager, std::forward<Args>(args)...));
}

/// Sends the request and returns; no reply is ever sent. A failure in the worker is
/// printed on the worker's stderr. Throws at once if the worker is not running, or
/// error{queue_full} as remote_call does.
template <class F, class... Args>
void remote_do(const worker& w, const F& f, Args&&... args) {
  detail::make_call(w, f, detail::call_mode::no_reply, std::forward<Args>(args)...);
}

}  // namespace malt

#endif
