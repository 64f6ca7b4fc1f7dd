#ifndef MALT_SRC_FAILURE_REPORT_HPP
#define MALT_SRC_FAILURE_REPORT_HPP

// The payload of a failure frame, the worker's answer to a call that did not produce a
// value: the errc, then the exception's type, message and stack trace. The worker writes
// it to fit the frame limit whatever the exception said (when both do not fit, the stack
// trace keeps at most a quarter of the room and the message the rest; each cut says so); the host reads it trusting nothing.

#include <malt/error.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace malt::detail {

struct failure_report {
  errc code = errc::remote_exception;
  std::string type, message, trace;
};

/// Appends the report to out, in at most max_payload bytes.
void encode_failure_report(std::vector<char>& out, failure_report report, std::size_t max_payload);

/// Throws std::runtime_error on a truncated or malformed report.
failure_report decode_failure_report(std::span<const char> payload);

/// The code a report starts with, if it has one.
std::optional<std::uint32_t> failure_code(std::span<const char> payload) noexcept;

/// Whether a worker may answer a call with this code (the others are the host's own).
bool worker_may_report(std::uint32_t code) noexcept;

}  // namespace malt::detail

#endif
