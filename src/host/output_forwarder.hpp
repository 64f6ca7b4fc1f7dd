#ifndef MALT_SRC_HOST_OUTPUT_FORWARDER_HPP
#define MALT_SRC_HOST_OUTPUT_FORWARDER_HPP

// Monitoring a worker's stdout or stderr: each line it prints reaches the host's own
// stream as "[Worker <pid>]: line", the prefix blue (stdout) or yellow (stderr) when
// coloured, or goes to worker_options::on_output instead; a line longer than
// max_forwarded_line goes out in pieces. It reads until the
// worker's end of the pipe closes, so the last lines of a dying worker are not lost, or
// until its owner closes the pipe (a descendant of the worker may hold it open for ever).
// Writing is the output sink's (output_sink.hpp): it never blocks this side.

#include <malt/worker_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace malt::detail {

inline constexpr std::size_t max_forwarded_line = 64 * 1024;

/// Cuts bytes a worker printed into lines and forwards each (a launched worker's output
/// comes in frames, not from a pipe).
class forwarded_lines {
 public:
  forwarded_lines(output_stream stream, pid_t pid, const worker_options& options);
  /// Forwards every line bytes completes; keeps the rest for the next.
  void feed(std::span<const char> bytes);
  /// Forwards what is left, an unfinished last line.
  void finish();

 private:
  void line(std::string_view text);
  void flush();

  int target_fd_;
  std::string prefix_;
  output_stream stream_;
  pid_t pid_;
  std::function<void(output_stream, pid_t, std::string_view)> on_output_;
  std::string pending_;  // an unfinished line
  std::string out_;      // forwarded lines to write in one go
};

/// Starts forwarding from pipe_fd (taken over), the worker's stream, to the host's same
/// stream, or to options.on_output. Closing the pipe it returns stops the forwarding; what
/// was read is written.
std::shared_ptr<boost::asio::posix::stream_descriptor> forward_output(const boost::asio::any_io_executor& ex,
                                                                      int pipe_fd, output_stream stream, pid_t pid,
                                                                      const worker_options& options);

}  // namespace malt::detail

#endif
