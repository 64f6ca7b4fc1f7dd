#ifndef MALT_DETAIL_REGISTRY_HPP
#define MALT_DETAIL_REGISTRY_HPP

// The process-wide table of functions callable by name. MALT_REMOTE adds to it during
// static initialisation; the worker looks calls up in it, the host maps a function
// pointer to its name.

#include <malt/detail/payload.hpp>
#include <malt/detail/signature.hpp>
#include <malt/value.hpp>

#include <boost/asio/awaitable.hpp>

#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace malt::detail {

using erased_function = void (*)();

/// Thrown by the trampolines when the arguments cannot be decoded; the worker answers
/// errc::bad_request.
struct bad_request : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Where a synchronous function runs in the worker.
enum class run_on : std::uint8_t {
  pool,       // a thread of the worker's pool, off the I/O thread (the default)
  io_thread,  // the worker's I/O thread, without a hop (malt::run_inline)
};

/// How the library runs a registered function: one table per signature, built while
/// compiling, so that a registration costs its program one call.
struct function_calls {
  bool is_coroutine = false;
  // Decode the arguments, run, and append the result to the reply when send_value.
  void (*run_sync)(erased_function, std::span<const char> args, bool send_value, outgoing_frame& reply) = nullptr;
  boost::asio::awaitable<void> (*run_async)(erased_function, std::span<const char> args, bool send_value,
                                            outgoing_frame& reply) = nullptr;
  // For calls from Lua, arguments and result as values; both null when a parameter or the
  // result has no Lua equivalent (is_value_convertible).
  value (*call_with_values)(erased_function, const std::vector<value>& args) = nullptr;
  boost::asio::awaitable<value> (*call_with_values_async)(erased_function, std::vector<value> args) = nullptr;
};

struct function_entry : function_calls {
  std::string name;
  std::string parameter_types;
  std::string result_type;
  erased_function function = nullptr;
  run_on where = run_on::pool;
};

/// Registers f under spelled (normalised here), to run where says (a coroutine function
/// always runs on the I/O thread).
void add_function(std::string_view spelled, erased_function f, run_on where, const function_calls& calls,
                  std::initializer_list<std::string_view> parameter_types, std::string_view result_type);
const function_entry* find_function(std::string_view name) noexcept;
const function_entry* find_function(erased_function f) noexcept;

/// What a call names: a function, the parameter types it is called with and the result
/// type wanted (empty: none). One per distinct triple in the process, never freed; index
/// numbers them from 0, for a connection's table of the functions it has named.
struct call_target {
  std::string name;
  std::string parameter_types;
  std::string result_type;
  std::uint32_t index = 0;
};

/// The target of these three; the same object for the same three.
const call_target& intern_target(std::string_view name, std::string_view parameter_types,
                                 std::string_view result_type);
/// The target a remote<Sig> declaration names: spelled normalised, the types joined here.
const call_target& intern_declared_target(std::string_view spelled,
                                          std::initializer_list<std::string_view> parameter_types,
                                          std::string_view result_type);
/// The target of a registered function called through its pointer (its result wanted
/// unless it is void); throws error{not_registered}.
const call_target& target_of(erased_function f);

template <class Params>
Params decode_arguments(std::span<const char> args) {
  Params values;
  try {
    std::apply([&](auto&... v) { decode_values(args, v...); }, values);
  } catch (const std::exception& e) {
    throw bad_request(std::string("could not decode the arguments: ") + e.what());
  }
  return values;
}

template <class R, class... A>
void run_sync(erased_function f, std::span<const char> args, bool send_value, outgoing_frame& reply) {
  auto values = decode_arguments<typename signature<R(A...)>::params>(args);
  auto fn = reinterpret_cast<R (*)(A...)>(f);
  if constexpr (std::is_void_v<R>) {
    std::apply([&](auto&... v) { fn(std::move(v)...); }, values);
  } else {
    R r = std::apply([&](auto&... v) { return fn(std::move(v)...); }, values);
    if (send_value) encode_result(reply, std::move(r));
  }
}

/// Awaits a coroutine function's value and appends it to the reply: one coroutine per
/// result type, the common ones compiled in the library.
template <class T>
boost::asio::awaitable<void> await_result(boost::asio::awaitable<T> a, bool send_value, outgoing_frame& reply) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
  } else {
    T r = co_await std::move(a);
    if (send_value) encode_result(reply, std::move(r));
  }
}

template <class R, class... A>
boost::asio::awaitable<void> run_async_with_references(erased_function f, std::span<const char> args,
                                                       bool send_value, outgoing_frame& reply) {
  // The arguments live in this frame while the function's coroutine refers to them.
  auto values = decode_arguments<typename signature<R(A...)>::params>(args);
  auto fn = reinterpret_cast<R (*)(A...)>(f);
  co_await await_result(std::apply([&](auto&... v) { return fn(std::move(v)...); }, values), send_value, reply);
}

template <class R, class... A>
boost::asio::awaitable<void> run_async(erased_function f, std::span<const char> args, bool send_value,
                                       outgoing_frame& reply) {
  if constexpr ((std::is_reference_v<A> || ...)) {
    return run_async_with_references<R, A...>(f, args, send_value, reply);
  } else {
    // The function's coroutine takes its arguments into its own frame: no frame of its own.
    auto values = decode_arguments<typename signature<R(A...)>::params>(args);
    auto fn = reinterpret_cast<R (*)(A...)>(f);
    return await_result(std::apply([&](auto&... v) { return fn(std::move(v)...); }, values), send_value, reply);
  }
}

/// Throws std::invalid_argument unless a call from Lua passed as many arguments as expected.
void check_argument_count(std::size_t given, std::size_t expected);

template <class... P>
std::tuple<P...> arguments_from_values(const std::vector<value>& args) {
  check_argument_count(args.size(), sizeof...(P));
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple<P...>{args[I].template as<P>()...};
  }(std::index_sequence_for<P...>{});
}

template <class R, class... A>
value call_with_values(erased_function f, const std::vector<value>& args) {
  auto values = arguments_from_values<std::decay_t<A>...>(args);
  auto fn = reinterpret_cast<R (*)(A...)>(f);
  if constexpr (std::is_void_v<R>) {
    std::apply([&](auto&... v) { fn(std::move(v)...); }, values);
    return value();
  } else {
    return to_value(std::apply([&](auto&... v) { return fn(std::move(v)...); }, values));
  }
}

/// Awaits a coroutine function's value as a malt::value, for Lua: one coroutine per result
/// type, the common ones compiled in the library.
template <class T>
boost::asio::awaitable<value> await_value(boost::asio::awaitable<T> a) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(a);
    co_return value();
  } else {
    co_return to_value(co_await std::move(a));
  }
}

template <class R, class... A>
boost::asio::awaitable<value> call_with_values_async_with_references(erased_function f, std::vector<value> args) {
  auto values = arguments_from_values<std::decay_t<A>...>(args);
  auto fn = reinterpret_cast<R (*)(A...)>(f);
  co_return co_await await_value(std::apply([&](auto&... v) { return fn(std::move(v)...); }, values));
}

template <class R, class... A>
boost::asio::awaitable<value> call_with_values_async(erased_function f, std::vector<value> args) {
  if constexpr ((std::is_reference_v<A> || ...)) {
    return call_with_values_async_with_references<R, A...>(f, std::move(args));
  } else {
    auto values = arguments_from_values<std::decay_t<A>...>(args);
    auto fn = reinterpret_cast<R (*)(A...)>(f);
    return await_value(std::apply([&](auto&... v) { return fn(std::move(v)...); }, values));
  }
}

// The common result types' coroutines, compiled once in the library (src/registry.cpp).
#define MALT_DETAIL_COMPILED_RESULTS(X) X(void) X(bool) X(int) X(long) X(double) X(std::string) X(value)
#define MALT_DETAIL_EXTERN_RESULT(T)                                                                       \
  extern template boost::asio::awaitable<void> await_result<T>(boost::asio::awaitable<T>, bool, outgoing_frame&); \
  extern template boost::asio::awaitable<value> await_value<T>(boost::asio::awaitable<T>);
MALT_DETAIL_COMPILED_RESULTS(MALT_DETAIL_EXTERN_RESULT)
#undef MALT_DETAIL_EXTERN_RESULT

template <class R, class... A>
constexpr function_calls calls_for() {
  using sig = signature<R(A...)>;
  using result = typename sig::result;
  function_calls c;
  c.is_coroutine = sig::is_coroutine;
  if constexpr (sig::is_coroutine)
    c.run_async = &run_async<R, A...>;
  else
    c.run_sync = &run_sync<R, A...>;
  if constexpr ((is_value_convertible<std::decay_t<A>> && ...) && (std::is_void_v<result> || is_value_convertible<result>)) {
    if constexpr (sig::is_coroutine)
      c.call_with_values_async = &call_with_values_async<R, A...>;
    else
      c.call_with_values = &call_with_values<R, A...>;
  }
  return c;
}

template <class R, class... A>
inline constexpr function_calls calls_of = calls_for<R, A...>();

template <class R, class... A>
bool register_function(std::string_view spelled, R (*f)(A...), run_on where = run_on::pool) {
  add_function(spelled, reinterpret_cast<erased_function>(f), where, calls_of<R, A...>,
               {type_name_v<std::decay_t<A>>...}, type_name_v<typename signature<R(A...)>::result>);
  return true;
}

/// "::ns::f" and "ns :: f" both name ns::f.
std::string normalise_name(std::string_view spelled);

}  // namespace malt::detail

#endif
