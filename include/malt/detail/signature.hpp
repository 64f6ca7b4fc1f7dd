#ifndef MALT_DETAIL_SIGNATURE_HPP
#define MALT_DETAIL_SIGNATURE_HPP

// What a remote function looks like on the wire: its parameter types and result type as
// strings that the host and the worker compute from the same template, so a mismatch is
// caught in the worker before any argument is decoded.

#include <boost/asio/awaitable.hpp>

#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace malt::detail {

template <class T>
constexpr std::string_view type_name() {
  std::string_view p = __PRETTY_FUNCTION__;  // "... type_name() [with T = int; ...]"
  auto start = p.find("T = ") + 4;
  auto end = p.find(';', start);
  if (end == std::string_view::npos) end = p.rfind(']');
  return p.substr(start, end - start);
}

/// type_name<T>(), computed while compiling.
template <class T>
inline constexpr std::string_view type_name_v = type_name<T>();

template <class T>
struct unwrap_awaitable {
  using type = T;
  static constexpr bool is_coroutine = false;
};
template <class T, class E>
struct unwrap_awaitable<boost::asio::awaitable<T, E>> {
  using type = T;
  static constexpr bool is_coroutine = true;
};

/// "(int, double)" of {"int", "double"}; compiled in the library (src/registry.cpp).
std::string join_parameter_types(std::initializer_list<std::string_view> types);

template <class... P>
std::string parameter_list() {
  return join_parameter_types({type_name_v<P>...});
}

/// Traits of a function type R(A...), with awaitable<T> results unwrapped to T.
template <class Sig>
struct signature;
template <class R, class... A>
struct signature<R(A...)> {
  using raw_result = R;
  using result = typename unwrap_awaitable<R>::type;
  using params = std::tuple<std::decay_t<A>...>;
  static constexpr bool is_coroutine = unwrap_awaitable<R>::is_coroutine;
  static constexpr std::size_t arity = sizeof...(A);
  static_assert(((!std::is_lvalue_reference_v<A> || std::is_const_v<std::remove_reference_t<A>>) && ...),
                "remote functions take parameters by value, const reference or rvalue reference");
  static std::string parameter_types() { return parameter_list<std::decay_t<A>...>(); }
  static constexpr std::string_view result_type() { return type_name_v<result>; }
};

}  // namespace malt::detail

#endif
