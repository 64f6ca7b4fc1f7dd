#ifndef MALT_SRC_SERVE_LAUNCHED_STREAMS_HPP
#define MALT_SRC_SERVE_LAUNCHED_STREAMS_HPP

// A worker started through a launcher (ssh, srun, docker exec, bwrap...) talks to the host
// over its own stdin and stdout, the launcher's channel. What the worker and its code print
// must stay off that channel: its stdout and stderr become pipes of its own, and what comes
// out of them travels to the host as output frames. And since a launcher gives no
// parent-death signal across machines, the worker watches its channel: when the channel
// hangs up (the host died, the network went, the launcher was killed) it exits, even if a
// call holds its I/O thread.

#include "transport/connection.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace malt::detail {

/// Takes stdin and stdout over as the channel, gives the process new stdout and stderr
/// pipes (and /dev/null as stdin), and starts the hang-up watch. Throws std::runtime_error.
class launched_streams {
 public:
  explicit launched_streams(const boost::asio::any_io_executor& ex, std::uint32_t max_frame_size);
  launched_streams(const launched_streams&) = delete;
  launched_streams& operator=(const launched_streams&) = delete;

  const std::shared_ptr<connection>& channel() const noexcept { return channel_; }
  /// Starts sending what is printed as output frames.
  void start_relay();
  /// Sends what is printed and not yet sent, then waits (at most limit) until the channel
  /// has written everything: before the process exits.
  boost::asio::awaitable<void> flush(std::chrono::milliseconds limit);

 private:
  struct relay;
  std::shared_ptr<connection> channel_;
  std::shared_ptr<relay> out_, err_;
};

}  // namespace malt::detail

#endif
