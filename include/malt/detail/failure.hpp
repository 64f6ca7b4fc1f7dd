#ifndef MALT_DETAIL_FAILURE_HPP
#define MALT_DETAIL_FAILURE_HPP

// A failed operation as both ways of completing need it: the code, for handlers of
// void(error_code, T), and the typed exception, for those of void(std::exception_ptr, T)
// and for diagnostics. Made once, where the failure is known; never thrown to find the code.

#include <boost/system/errc.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <new>
#include <stdexcept>
#include <utility>

namespace malt::detail {

struct failure {
  boost::system::error_code code;
  std::exception_ptr exception;

  explicit operator bool() const noexcept { return static_cast<bool>(exception); }
};

template <class T>
struct call_signature_of {
  using type = void(std::exception_ptr, T);
};
template <>
struct call_signature_of<void> {
  using type = void(std::exception_ptr);
};
template <class T>
using call_signature = typename call_signature_of<T>::type;

template <class T>
struct code_signature_of {
  using type = void(boost::system::error_code, T);
};
template <>
struct code_signature_of<void> {
  using type = void(boost::system::error_code);
};
template <class T>
using code_signature = typename code_signature_of<T>::type;

/// How a handler takes a failure.
enum class failure_as : bool { exception, code };

/// e (a boost::system::system_error, as every exception of the library is) with its code.
template <class E>
failure failure_of(E&& e) {
  const auto code = e.code();
  return {code, std::make_exception_ptr(std::forward<E>(e))};
}

/// The exception being handled, with its code: a system_error's own; for the standard
/// library's, the nearest generic one.
inline failure current_failure() {
  auto e = std::current_exception();
  try {
    throw;
  } catch (const boost::system::system_error& x) {
    return {x.code(), e};
  } catch (const std::bad_alloc&) {
    return {make_error_code(boost::system::errc::not_enough_memory), e};
  } catch (...) {
    return {make_error_code(boost::system::errc::invalid_argument), e};
  }
}

/// The code of exception e (as current_failure finds it); success for none. Rethrows e to
/// look: for a failure, once.
inline boost::system::error_code code_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (...) {
    return current_failure().code;
  }
}

}  // namespace malt::detail

#endif
