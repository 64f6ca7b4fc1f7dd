#ifndef MALT_DETAIL_MAKE_CALL_HPP
#define MALT_DETAIL_MAKE_CALL_HPP

// How every call and eval form of <malt/call.hpp> and <malt/eval.hpp> becomes a request:
// what it names (a function registered with MALT_REMOTE, or a remote<Sig>), its
// arguments converted to the declared parameter types and encoded into the call's body,
// and the call issued.

#include <malt/detail/remote_call.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/remote.hpp>

#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace malt::detail {

template <class F>
struct callee;
template <class R, class... A>
struct callee<R(A...)> {
  using sig = signature<R(A...)>;
  static const call_target& target(R (*f)(A...)) {
    // The registry is asked once per thread for a run of calls of one function.
    thread_local erased_function last = nullptr;
    thread_local const call_target* cached = nullptr;
    const auto erased = reinterpret_cast<erased_function>(f);
    if (erased != last) {
      cached = &target_of(erased);
      last = erased;
    }
    return *cached;
  }
};
template <class R, class... A>
struct callee<R (*)(A...)> : callee<R(A...)> {};
template <class R, class... A>
struct callee<remote<R(A...)>> {
  using sig = signature<R(A...)>;
  static const call_target& target(const remote<R(A...)>& r) { return r.target(); }
};

template <class F>
using callee_of = callee<std::remove_cvref_t<F>>;

template <class F>
using result_of = typename callee_of<F>::sig::result;

// About how many bytes the archive of a plain value takes; 0 when not known cheaply.
template <class P, class A>
std::size_t encoded_size_hint(const A& a) {
  if constexpr (!std::is_same_v<std::remove_cvref_t<A>, P> || !is_plain_value<P>)
    return 0;
  else if constexpr (is_plain_number<P>)
    return sizeof(P);
  else
    return sizeof(std::size_t) + a.size() * sizeof(*a.data());
}

template <class Params, class... Args, std::size_t... I>
void encode_arguments(std::vector<char>& out, std::index_sequence<I...>, Args&&... args) {
  // Each argument is converted to the declared parameter type first, as a local call would.
  [[maybe_unused]] auto as_parameter = [](auto&& a, auto tag) -> decltype(auto) {
    using P = typename decltype(tag)::type;
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(a)>, P>)
      return static_cast<const P&>(a);
    else
      return P(std::forward<decltype(a)>(a));
  };
  encode_values(out, as_parameter(std::forward<Args>(args),
                                  std::type_identity<std::tuple_element_t<I, Params>>{})...);
}

/// The call f(args...) on w, issued as mode says (see issue()).
template <class F, class... Args>
call_handle make_call(const worker& w, const F& f, call_mode mode, Args&&... args) {
  using sig = typename callee_of<F>::sig;
  using params = typename sig::params;
  static_assert(sizeof...(Args) == sig::arity, "wrong number of arguments for this remote function");
  static_assert([]<std::size_t... I>(std::index_sequence<I...>) {
    return (std::is_convertible_v<Args&&, std::tuple_element_t<I, params>> && ...);
  }(std::make_index_sequence<sizeof...(Args)>{}), "an argument does not convert to the parameter type");
  call_handle call = prepare_call(worker_access::impl(w), callee_of<F>::target(f));
  const std::size_t hint = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return (std::size_t(0) + ... + encoded_size_hint<std::tuple_element_t<I, params>>(args));
  }(std::make_index_sequence<sizeof...(Args)>{});
  if (hint >= write_batch_large_payload) reserve_body(call, hint);
  encode_arguments<params>(call_body(call), std::make_index_sequence<sizeof...(Args)>{}, std::forward<Args>(args)...);
  if (mode != call_mode::fetch) issue(call, mode);  // a fetch waits to be awaited: nothing to do
  return call;
}

}  // namespace malt::detail

#endif
