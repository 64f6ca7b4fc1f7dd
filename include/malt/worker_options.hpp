#ifndef MALT_WORKER_OPTIONS_HPP
#define MALT_WORKER_OPTIONS_HPP

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace malt {

/// When forwarded worker output gets its colour (blue prefix for stdout, yellow for stderr).
enum class color_mode { automatic, always, never };

/// How spawn_worker starts a worker. Every field has a working default.
struct worker_options {
  // Declared so that worker_options is not an aggregate: g++ 12 copies aggregate
  // temporaries bitwise inside co_await expressions, which breaks their std::strings.
  worker_options() = default;

  /// The program to run. Empty: this program itself (/proc/self/exe), whose main() must
  /// call malt::maybe_run_worker first. Otherwise malt-worker or a program of yours that
  /// calls malt::worker_main.
  std::string executable;

  /// Extra arguments, given to the worker program after the library's own argument.
  std::vector<std::string> args;

  /// The worker's environment: exactly these variables, unless inherit_env is set, in which
  /// case they are added to (and override) the host's environment.
  std::map<std::string, std::string> env;
  bool inherit_env = false;

  /// The worker's working directory. Empty: the host's.
  std::string working_directory;

  /// How long a worker that neither answers the handshake nor exits may take to start.
  /// A worker that exits during startup is reported at once, whatever this says.
  std::chrono::milliseconds startup_timeout{30'000};

  /// Forward each line the worker prints to the host's stdout / stderr as
  /// "[Worker <pid>]: line". When off, the raw stream is yours: worker::stdout_fd().
  bool monitor_stdout = true;
  bool monitor_stderr = true;
  color_mode color = color_mode::automatic;

  /// stop(): how long to wait after the exit request before SIGTERM, and after SIGTERM
  /// before SIGKILL.
  std::chrono::milliseconds exit_timeout{5'000};
  std::chrono::milliseconds term_timeout{5'000};

  /// A call cancelled with cancellation_type::partial (or whose timeout expired) waits this
  /// long for the worker to acknowledge the interrupt, then gives up on it.
  std::chrono::milliseconds interrupt_grace{2'000};

  /// The largest message either side may send, checked before anything is allocated.
  /// Each side of the connection keeps the buffer of its largest recent message over
  /// 64 KiB, for reuse by the next, until the worker is gone: at most this much each.
  std::uint32_t max_frame_size = 256u << 20;

  /// How many bytes of requests may wait to be written to this worker (one that does not
  /// read, or reads slowly). Beyond it an awaited call waits, in order, for room (it can be
  /// cancelled meanwhile, sending nothing); an eager call (remote_call, remote_eval,
  /// remote_do) cannot wait and throws error{queue_full}. A single request larger than
  /// this is written when nothing else waits.
  std::size_t max_queued_bytes = 64u << 20;

  /// How deep collections may nest in a value the host decodes from this worker (a Lua
  /// table in a table counts one level each). Deeper values fail the call with
  /// decode_error instead of exhausting the host's stack.
  std::size_t max_decode_depth = 64;
};

}  // namespace malt

#endif
