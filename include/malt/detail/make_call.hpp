#ifndef MALT_DETAIL_MAKE_CALL_HPP
#define MALT_DETAIL_MAKE_CALL_HPP

// How every call and eval form of <malt/call.hpp> and <malt/eval.hpp> becomes a request:
// what it names (a function registered with MALT_REMOTE, or a remote<Sig>), its
// arguments converted to the declared parameter types and encoded, and the request issued.

#include <malt/detail/remote_call.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/remote.hpp>

#include <string>
#include <string_view>
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

/// The request for f(args...) on w, issued as mode says (see issue()).
template <class F, class... Args>
std::shared_ptr<call_request> make_call(const worker& w, const F& f, call_mode mode, Args&&... args) {
  using sig = typename callee_of<F>::sig;
  using params = typename sig::params;
  static_assert(sizeof...(Args) == sig::arity, "wrong number of arguments for this remote function");
  static_assert([]<std::size_t... I>(std::index_sequence<I...>) {
    return (std::is_convertible_v<Args&&, std::tuple_element_t<I, params>> && ...);
  }(std::make_index_sequence<sizeof...(Args)>{}), "an argument does not convert to the parameter type");
  const std::string& name = callee_of<F>::name(f);
  const auto& impl = worker_access::impl(w);
  std::vector<char> frame = request_buffer(*impl);
  // A void result declared by the host accepts whatever the worker's function returns.
  encode_call_head(frame, name, sig::parameter_types(),
                   std::is_void_v<typename sig::result> ? std::string_view() : std::string_view(sig::result_type()));
  encode_arguments<params>(frame, std::make_index_sequence<sizeof...(Args)>{}, std::forward<Args>(args)...);
  return issue(impl, std::move(frame), mode, name);
}

}  // namespace malt::detail

#endif
