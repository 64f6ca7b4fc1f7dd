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

/// Resource limits of a worker process, enforced by the kernel (setrlimit). Each one left
/// at 0 is inherited from the host. Applied as the worker starts, before it serves
/// anything; its own workers inherit them.
struct worker_limits {
  /// Virtual memory, in bytes (RLIMIT_AS): an allocation beyond it fails in the worker
  /// (std::bad_alloc, Lua's "not enough memory"), and the worker carries on. It counts
  /// every mapping: the program, its libraries and 8 MiB per thread stack, so allow a few
  /// hundred MiB above what the calls need.
  std::uint64_t address_space = 0;
  /// Processor time (RLIMIT_CPU): the worker is ended by SIGXCPU when it has used this
  /// much, and by SIGKILL a second later if it survives that.
  std::chrono::seconds cpu_time{0};
  /// Open file descriptors (RLIMIT_NOFILE): opening one more fails with EMFILE.
  std::uint64_t open_files = 0;
  /// The largest file the worker may write, in bytes (RLIMIT_FSIZE): writing beyond it
  /// ends the worker with SIGXFSZ.
  std::uint64_t file_size = 0;
  /// Whether a crashing worker may write a core file (RLIMIT_CORE). Off by default.
  bool core_dumps = false;
};

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

  /// Limits on what the worker process may use (see worker_limits). Calls pending when
  /// a limit ends the worker fail with terminated_worker_exception naming the limit.
  worker_limits limits;

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
