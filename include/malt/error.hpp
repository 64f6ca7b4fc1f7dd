#ifndef MALT_ERROR_HPP
#define MALT_ERROR_HPP

// Errors a caller can tell apart: an error_code enum with its category, and one exception
// class per situation of DESIGN §3. Every exception derives from malt::error, a
// boost::system::system_error whose code() is a malt::errc, so callers may catch by type or
// compare codes.

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <iosfwd>
#include <optional>
#include <string>
#include <type_traits>

namespace malt {

enum class errc : int {
  remote_exception = 1,  ///< the remote function threw
  bad_request,           ///< the worker could not decode the request's arguments
  unknown_function,      ///< no function of that name is registered in the worker
  signature_mismatch,    ///< the worker's function has another signature than the caller's
  decode_failed,         ///< the host could not decode the worker's reply
  worker_terminated,     ///< the worker is dead, or died while the call was pending
  spawn_failed,          ///< the worker process could not be started
  protocol_mismatch,     ///< host and worker were built differently (handshake)
  protocol_error,        ///< a malformed frame arrived; the connection was dropped
  frame_too_large,       ///< a message is larger than worker_options::max_frame_size
  invalid_options,       ///< worker_options hold a value that cannot work
  not_registered,        ///< a function pointer that MALT_REMOTE did not register
  stop_failed,           ///< the worker survived SIGKILL for longer than allowed
  interrupted,           ///< the call was interrupted in the worker
  timed_out,             ///< the call's timeout expired; it ended interrupted in the worker (or never ran)
  queue_full,            ///< more than worker_options::max_queued_bytes wait to be written
  pool_stopped,          ///< the worker pool was stopped while the call waited for a worker
  timed_out_running,     ///< the call timed out and ignored its interrupt: it may still run in the worker
};

/// Whether the worker is gone after an error with this code, so that the next call needs
/// a new worker (as Boost.MySQL's is_fatal_error for a connection): the worker ended or
/// broke the protocol, never started, or outlived SIGKILL. Every other code fails one call
/// and leaves the worker answering the next.
constexpr bool is_fatal(errc e) noexcept {
  switch (e) {
    case errc::worker_terminated:
    case errc::spawn_failed:
    case errc::protocol_mismatch:
    case errc::protocol_error:
    case errc::stop_failed: return true;
    default: return false;
  }
}

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// Writes the code's message, e.g. "the worker is not running".
std::ostream& operator<<(std::ostream& os, errc e);

/// Base of every exception the library throws. what() is the full message.
class error : public boost::system::system_error {
 public:
  error(errc code, std::string message)
      : boost::system::system_error(make_error_code(code)), message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

/// The worker reported a failure for a call: the function threw (errc::remote_exception),
/// the request could not be decoded or matched there (bad_request, unknown_function,
/// signature_mismatch). The original exception object never crosses; its text does.
/// what() reads "Remote exception from <summary>:\n\n<type>: <message>\nStack trace:\n...".
class remote_exception : public error {
 public:
  remote_exception(errc code, std::string summary, std::string type_name, std::string message,
                   std::string stack_trace);
  const std::string& worker_summary() const noexcept { return summary_; }
  /// Dynamic type of the exception in the worker, demangled ("std::domain_error").
  const std::string& type_name() const noexcept { return type_name_; }
  /// The remote exception's what().
  const std::string& message() const noexcept { return message_; }
  /// The worker's stack at the throw, one frame per line; empty when unavailable.
  const std::string& stack_trace() const noexcept { return stack_trace_; }

 private:
  std::string summary_, type_name_, message_, stack_trace_;
};

/// The call was interrupted in the worker (malt::interrupt, or a cancelled or timed-out
/// call), and the worker acknowledged it. The worker carries on.
class interrupted_exception : public remote_exception {
 public:
  using remote_exception::remote_exception;
};

/// The worker is not running: it was dead when called, or died while the call was pending.
class terminated_worker_exception : public error {
 public:
  terminated_worker_exception(std::string summary, std::optional<int> exit_code,
                              std::optional<int> signal, std::string reason = {});
  /// Set when the process exited normally.
  std::optional<int> exit_code() const noexcept { return exit_code_; }
  /// Set when the process was ended by a signal.
  std::optional<int> signal() const noexcept { return signal_; }

 private:
  std::optional<int> exit_code_, signal_;
};

/// The host could not decode the worker's reply. The worker stays usable.
class decode_error : public error {
 public:
  using error::error;
};

/// The worker process could not be started. stderr_text() holds what it printed.
class spawn_error : public error {
 public:
  spawn_error(errc code, std::string message, std::string stderr_text = {});
  const std::string& stderr_text() const noexcept { return stderr_; }

 private:
  std::string stderr_;
};

}  // namespace malt

namespace boost::system {
template <>
struct is_error_code_enum<malt::errc> : std::true_type {};
}  // namespace boost::system

namespace malt {
/// is_fatal for an exception's code(); false for codes of other categories. (Here, after
/// the trait above: overload resolution against errc instantiates it.)
inline bool is_fatal(const boost::system::error_code& ec) noexcept {
  return ec.category() == error_category() && is_fatal(static_cast<errc>(ec.value()));
}
}  // namespace malt

#endif
