#ifndef MALT_SRC_HOST_REMOTE_FAILURE_HPP
#define MALT_SRC_HOST_REMOTE_FAILURE_HPP

// What a caller gets for a failure report from a worker: interrupted_exception,
// remote_exception, error{timed_out} for an interrupted call whose deadline had passed,
// or decode_error for a report that does not decode.

#include <malt/detail/failure.hpp>

#include <span>
#include <string>

namespace malt::detail {

failure exception_from_report(std::span<const char> report, const std::string& summary, bool timed_out);

}  // namespace malt::detail

#endif
