#ifndef MALT_DIAGNOSTICS_HPP
#define MALT_DIAGNOSTICS_HPP

// What an operation that completes with a boost::system::error_code knows beyond the code,
// as Boost.MySQL's diagnostics: the typed exception that awaiting the operation directly
// would have thrown (remote_exception with the remote type, message and stack trace;
// terminated_worker_exception with the exit status; ...). Pass one to the operation with
// the token; it is filled in before the handler runs, and cleared on success.
//
//   malt::diagnostics diag;
//   auto [ec, v] = co_await malt::remote_call_fetch(w, f, 1)(diag, asio::as_tuple(asio::use_awaitable));
//   if (ec == malt::errc::remote_exception) log(diag.message());

#include <exception>
#include <string>

namespace malt {

class diagnostics;
namespace detail {
void set_diagnostics(diagnostics& d, std::exception_ptr e) noexcept;

/// e's what() (e not null); costs a rethrow.
inline std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}
}  // namespace detail

class diagnostics {
 public:
  /// The exception the failure is; null after a success.
  const std::exception_ptr& exception() const noexcept { return exception_; }
  /// Its what(): for a remote exception, the summary, the remote type and message and the
  /// stack trace. Empty after a success.
  std::string message() const { return exception_ ? detail::what_of(exception_) : std::string(); }
  /// Throws the exception, if there is one: catch it by type for its details.
  void rethrow() const {
    if (exception_) std::rethrow_exception(exception_);
  }
  void clear() noexcept { exception_ = nullptr; }

 private:
  friend void detail::set_diagnostics(diagnostics& d, std::exception_ptr e) noexcept;
  std::exception_ptr exception_;
};

namespace detail {
inline void set_diagnostics(diagnostics& d, std::exception_ptr e) noexcept { d.exception_ = std::move(e); }
}  // namespace detail

}  // namespace malt

#endif
