#ifndef MALT_SRC_OUTPUT_FORWARDER_HPP
#define MALT_SRC_OUTPUT_FORWARDER_HPP

// Monitoring a worker's stdout or stderr: each line it prints reaches the host's own
// stream as "[Worker <pid>]: line", the prefix blue (stdout) or yellow (stderr) when
// coloured. It reads until the worker's end of the pipe closes, so the last lines of a
// dying worker are not lost.

#include <malt/worker_options.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <sys/types.h>

namespace malt::detail {

/// Starts forwarding from pipe_fd (taken over) to target_fd (1 or 2).
void forward_output(const boost::asio::any_io_executor& ex, int pipe_fd, int target_fd, pid_t pid, color_mode color);

}  // namespace malt::detail

#endif
