#ifndef MALT_REMOTE_HPP
#define MALT_REMOTE_HPP

// Making functions callable in workers, and naming functions a host does not link.
//
//   int add(int a, int b) { return a + b; }
//   MALT_REMOTE(add);                          // at namespace scope, in a .cpp of the worker program
//
//   malt::remote<int(int, int)> add{"add"};    // in a host that does not link add()
//
// Functions returning boost::asio::awaitable<T> run on the worker's io_context; other
// functions run on a worker thread, off the I/O thread, unless registered to run inline:
//
//   int add(int a, int b) { return a + b; }
//   MALT_REMOTE_INLINE(add);                   // or register_remote("add", &add, malt::run_inline)
//
// An inline function runs on the worker's I/O thread, as a coroutine function does, which
// saves the hop to a pool thread and back (about the cost of the call itself on one CPU).
// It is for functions known to be short: while it runs, the worker reads nothing, so later
// calls, interrupts and stop wait for it. Failures are reported as for any function; an
// interrupt that arrives while it runs is seen by malt::this_call::interrupted().
//
// Parameters are taken by value, const reference or rvalue reference; every parameter and
// result type must be serializable (<malt/serialization.hpp>).
//
// MALT_REMOTE registers during static initialisation. Put it in a source file of the
// executable, or of a library linked as an object library or with --whole-archive: a
// linker drops unused objects of a static library, and their registrations with them.

#include <malt/detail/registry.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace malt {

/// Tag for register_remote: run the function on the worker's I/O thread (see above).
struct run_inline_t {
  explicit constexpr run_inline_t() = default;
};
inline constexpr run_inline_t run_inline{};

/// Registers f under name; for overloaded functions or names of your choosing.
template <class R, class... A>
bool register_remote(std::string_view name, R (*f)(A...)) {
  return detail::register_function(name, f);
}

/// Registers f under name, to run on the worker's I/O thread (see above).
template <class R, class... A>
bool register_remote(std::string_view name, R (*f)(A...), run_inline_t) {
  return detail::register_function(name, f, detail::run_on::io_thread);
}

/// A function known by name and signature only. The worker checks the signature.
/// A void result type accepts any result, which is then dropped in the worker.
template <class Sig>
class remote;
template <class R, class... A>
class remote<R(A...)> {
  using result = typename detail::signature<R(A...)>::result;

 public:
  explicit remote(std::string_view name)
      : target_(&detail::intern_declared_target(
            name, {detail::type_name_v<std::decay_t<A>>...},
            std::is_void_v<result> ? std::string_view() : detail::type_name_v<result>)) {}
  const std::string& name() const noexcept { return target_->name; }
  /// What its calls name (the library's own).
  const detail::call_target& target() const noexcept { return *target_; }

 private:
  const detail::call_target* target_;
};

}  // namespace malt

#define MALT_DETAIL_CAT2(a, b) a##b
#define MALT_DETAIL_CAT(a, b) MALT_DETAIL_CAT2(a, b)

/// Registers a function under its spelled name, e.g. MALT_REMOTE(add) or MALT_REMOTE(ns::add).
#define MALT_REMOTE(f)                                                        \
  [[maybe_unused]] static const bool MALT_DETAIL_CAT(malt_remote_, __COUNTER__) = \
      ::malt::register_remote(#f, &f)

/// As MALT_REMOTE, for a short synchronous function that runs on the worker's I/O thread.
#define MALT_REMOTE_INLINE(f)                                                 \
  [[maybe_unused]] static const bool MALT_DETAIL_CAT(malt_remote_, __COUNTER__) = \
      ::malt::register_remote(#f, &f, ::malt::run_inline)

#endif
