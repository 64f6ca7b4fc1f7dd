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
// functions run on a worker thread, off the I/O thread. Parameters are taken by value,
// const reference or rvalue reference; every parameter and result type must be
// serializable (<malt/serialization.hpp>).
//
// MALT_REMOTE registers during static initialisation. Put it in a source file of the
// executable, or of a library linked as an object library or with --whole-archive: a
// linker drops unused objects of a static library, and their registrations with them.

#include <malt/detail/registry.hpp>

#include <string>
#include <string_view>

namespace malt {

/// Registers f under name; for overloaded functions or names of your choosing.
template <class R, class... A>
bool register_remote(std::string_view name, R (*f)(A...)) {
  return detail::register_function(detail::normalise_name(name), f);
}

/// A function known by name and signature only. The worker checks the signature.
/// A void result type accepts any result, which is then dropped in the worker.
template <class Sig>
class remote;
template <class R, class... A>
class remote<R(A...)> {
 public:
  explicit remote(std::string name) : name_(detail::normalise_name(name)) {}
  const std::string& name() const noexcept { return name_; }

 private:
  std::string name_;
};

}  // namespace malt

#define MALT_DETAIL_CAT2(a, b) a##b
#define MALT_DETAIL_CAT(a, b) MALT_DETAIL_CAT2(a, b)

/// Registers a function under its spelled name, e.g. MALT_REMOTE(add) or MALT_REMOTE(ns::add).
#define MALT_REMOTE(f)                                                        \
  [[maybe_unused]] static const bool MALT_DETAIL_CAT(malt_remote_, __COUNTER__) = \
      ::malt::register_remote(#f, &f)

#endif
