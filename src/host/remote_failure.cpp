#include "host/remote_failure.hpp"

#include "protocol/messages.hpp"

#include <malt/error.hpp>

namespace malt::detail {

failure exception_from_report(std::span<const char> report, const std::string& summary, bool timed_out) {
  try {
    auto r = decode_failure_report(report);
    if (r.code == errc::interrupted && timed_out)
      return failure_of(error(errc::timed_out, "the call timed out and was interrupted in " + summary));
    if (r.code == errc::interrupted)
      return failure_of(interrupted_exception(r.code, summary, std::move(r.type), std::move(r.message), std::move(r.trace)));
    return failure_of(remote_exception(r.code, summary, std::move(r.type), std::move(r.message), std::move(r.trace)));
  } catch (const std::exception& e) {
    return failure_of(
        decode_error(errc::decode_failed, "could not decode a failure report from " + summary + ": " + e.what()));
  }
}

}  // namespace malt::detail
