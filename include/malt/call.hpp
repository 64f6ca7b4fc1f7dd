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
// Failures: remote_exception (the function threw, or the worker could not decode or match
// the request), decode_error (the host could not decode the result),
// terminated_worker_exception (the worker is dead or died meanwhile), error{frame_too_large}.
// After any of these but the last-but-one, the same worker answers the next call.
//
// Cancellation: none yet; a call completes when its reply arrives or the worker ends.

#include <malt/detail/remote_call.hpp>
#include <malt/remote.hpp>
#include <malt/worker.hpp>

#include <boost/asio/awaitable.hpp>

#include <type_traits>
#include <utility>

namespace malt {

/// An eagerly started call: co_await std::move(t) gives the value or rethrows.
/// Dropping it leaves the call running in the worker and drops its reply.
template <class T>
using task = boost::asio::awaitable<T>;

namespace detail {

template <class F>
struct callee;  // what a call names: a function registered by MALT_REMOTE, or remote<Sig>
template <class R, class... A>
struct callee<R(A...)> {
  using sig = signature<R(A...)>;
  static const std::string& name(R (*f)(A...)) { return registered_name(reinterpret_cast<erased_function>(f)); }
};
template <class R, class... A>
struct callee<R (*)(A...)> : callee<R(A...)> {};
template <class R, class... A>
struct callee<remote<R(A...)>> {
  using sig = signature<R(A...)>;
  static const std::string& name(const remote<R(A...)>& r) { return r.name(); }
};

template <class F>
using callee_of = callee<std::remove_cvref_t<F>>;

template <class F>
using result_of = typename callee_of<F>::sig::result;

template <class Params, class... Args, std::size_t... I>
void encode_arguments(std::vector<char>& out, std::index_sequence<I...>, Args&&... args) {
  // Each argument is converted to the declared parameter type first, as a local call would.
  auto as_parameter = [](auto&& a, auto tag) -> decltype(auto) {
    using P = typename decltype(tag)::type;
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(a)>, P>)
      return static_cast<const P&>(a);
    else
      return P(std::forward<decltype(a)>(a));
  };
  encode_values(out, as_parameter(std::forward<Args>(args),
                                  std::type_identity<std::tuple_element_t<I, Params>>{})...);
}

template <class F, class... Args>
std::vector<char> make_call_frame(const std::string& name, Args&&... args) {
  using sig = typename callee_of<F>::sig;
  using params = typename sig::params;
  static_assert(sizeof...(Args) == sig::arity, "wrong number of arguments for this remote function");
  static_assert([]<std::size_t... I>(std::index_sequence<I...>) {
    return (std::is_convertible_v<Args&&, std::tuple_element_t<I, params>> && ...);
  }(std::make_index_sequence<sizeof...(Args)>{}), "an argument does not convert to the parameter type");
  std::vector<char> frame(frame_header_size);
  put_string(frame, name);
  put_string(frame, sig::parameter_types());
  // A void result declared by the host accepts whatever the worker's function returns.
  put_string(frame, std::is_void_v<typename sig::result> ? std::string() : sig::result_type());
  encode_arguments<params>(frame, std::make_index_sequence<sizeof...(Args)>{}, std::forward<Args>(args)...);
  return frame;
}

template <class R>
task<R> complete_call(std::shared_ptr<worker_impl> w, call_ptr call, std::vector<char> frame, bool send_value,
                      std::string name) {
  if (!call) call = start_call(*w, std::move(frame), send_value);
  std::vector<char> result = co_await finish_call(w, std::move(call));
  if constexpr (!std::is_void_v<R>) {
    R value{};
    try {
      decode_values(result, value);
    } catch (const std::exception& e) {
      throw_decode_error(*w, name, e);
    }
    co_return value;
  }
}

}  // namespace detail

// The public functions are not coroutines: they encode at once, and they hand the
// coroutine only named values (g++ 12 copies a coroutine's prvalue arguments bitwise when
// the call stands in another coroutine's co_await).

/// Runs f(args...) in the worker and returns its value. The request is sent when the
/// returned awaitable is first awaited.
template <class F, class... Args>
task<detail::result_of<F>> remote_call_fetch(const worker& w, const F& f, Args&&... args) {
  std::string name = detail::callee_of<F>::name(f);
  auto frame = detail::make_call_frame<F>(name, std::forward<Args>(args)...);
  detail::call_ptr not_started;
  return detail::complete_call<detail::result_of<F>>(w.impl(), std::move(not_started), std::move(frame), true,
                                                     std::move(name));
}

/// Runs f(args...) in the worker and waits for it to finish; the value is not sent back,
/// so its type need not be decodable by the host. Rethrows the worker's failures.
template <class F, class... Args>
task<void> remote_call_wait(const worker& w, const F& f, Args&&... args) {
  std::string name = detail::callee_of<F>::name(f);
  auto frame = detail::make_call_frame<F>(name, std::forward<Args>(args)...);
  detail::call_ptr not_started;
  return detail::complete_call<void>(w.impl(), std::move(not_started), std::move(frame), false, std::move(name));
}

/// Sends the request before returning; the task gives the value or rethrows.
/// Throws at once (not from the task) if the worker is not running.
template <class F, class... Args>
task<detail::result_of<F>> remote_call(const worker& w, const F& f, Args&&... args) {
  std::string name = detail::callee_of<F>::name(f);
  auto call = detail::start_call(*w.impl(), detail::make_call_frame<F>(name, std::forward<Args>(args)...), true);
  std::vector<char> sent;
  return detail::complete_call<detail::result_of<F>>(w.impl(), std::move(call), std::move(sent), true,
                                                     std::move(name));
}

/// Sends the request and returns; no reply is ever sent. A failure in the worker is
/// printed on the worker's stderr. Throws at once if the worker is not running.
template <class F, class... Args>
void remote_do(const worker& w, const F& f, Args&&... args) {
  detail::send_no_reply(*w.impl(), detail::make_call_frame<F>(detail::callee_of<F>::name(f),
                                                             std::forward<Args>(args)...));
}

}  // namespace malt

#endif
