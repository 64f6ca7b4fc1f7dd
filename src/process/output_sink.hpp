#ifndef MALT_SRC_PROCESS_OUTPUT_SINK_HPP
#define MALT_SRC_PROCESS_OUTPUT_SINK_HPP

// Where forwarded worker output is written: the host's own stdout and stderr, by a thread
// of its own, so that a host stream nobody reads never blocks the I/O thread. Each stream
// holds at most a bounded amount of text waiting to be written; beyond it, output is
// dropped and a line saying how much takes its place. A stream whose reader has gone
// (EPIPE) is written no more; the thread blocks SIGPIPE, so the host is not killed.

#include <chrono>
#include <cstddef>
#include <string_view>

namespace malt::detail {

/// What one stream may hold waiting to be written.
inline constexpr std::size_t output_backlog_limit = 1024 * 1024;

/// Queues text for fd 1 or 2. Never blocks (but for a moment on a mutex).
void write_output(int fd, std::string_view text);

/// Waits at most limit for queued output to be written (a process about to end calls it).
void flush_output(std::chrono::milliseconds limit);

}  // namespace malt::detail

#endif
