#include <malt/error.hpp>

#include <csignal>
#include <cstring>
#include <ostream>

namespace malt {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "malt"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::remote_exception: return "the remote function threw an exception";
      case errc::bad_request: return "the worker could not decode the request";
      case errc::unknown_function: return "no such function in the worker";
      case errc::signature_mismatch: return "the function has another signature in the worker";
      case errc::decode_failed: return "the host could not decode the reply";
      case errc::worker_terminated: return "the worker is not running";
      case errc::spawn_failed: return "the worker could not be started";
      case errc::protocol_mismatch: return "host and worker speak different protocols";
      case errc::protocol_error: return "malformed frame";
      case errc::frame_too_large: return "message larger than the maximum frame size";
      case errc::invalid_options: return "invalid worker options";
      case errc::not_registered: return "function not registered with MALT_REMOTE";
      case errc::stop_failed: return "the worker did not exit";
      case errc::interrupted: return "the call was interrupted";
      case errc::timed_out: return "the call timed out";
      case errc::queue_full: return "too many bytes wait to be written to the worker";
      case errc::pool_stopped: return "the worker pool was stopped";
      case errc::timed_out_running: return "the call timed out and may still be running in the worker";
    }
    return "unknown malt error";
  }
};

std::string describe_end(const std::optional<int>& code, const std::optional<int>& sig) {
  if (code) return "exited with code " + std::to_string(*code);
  if (sig) {
    const char* name = sigabbrev_np(*sig);
    return "was killed by signal " + std::to_string(*sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "is not running";
}

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::ostream& operator<<(std::ostream& os, errc e) { return os << error_category().message(static_cast<int>(e)); }

remote_exception::remote_exception(errc code, std::string summary, std::string type_name,
                                   std::string message, std::string stack_trace)
    : error(code, "Remote exception from " + summary + ":\n\n" + type_name + ": " + message +
                      (stack_trace.empty() ? std::string() : "\nStack trace:\n" + stack_trace)),
      summary_(std::move(summary)),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      stack_trace_(std::move(stack_trace)) {}

terminated_worker_exception::terminated_worker_exception(std::string summary,
                                                         std::optional<int> exit_code,
                                                         std::optional<int> signal,
                                                         std::string reason)
    : error(errc::worker_terminated,
            summary + " " + describe_end(exit_code, signal) + (reason.empty() ? "" : ": " + reason)),
      exit_code_(exit_code),
      signal_(signal) {}

spawn_error::spawn_error(errc code, std::string message, std::string stderr_text)
    : error(code, stderr_text.empty() ? message : message + "\nStderr of the worker:\n" + stderr_text),
      stderr_(std::move(stderr_text)) {}

}  // namespace malt

