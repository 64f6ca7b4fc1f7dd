#ifndef MALT_WORKER_OPTIONS_HPP
#define MALT_WORKER_OPTIONS_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace malt {

/// When forwarded worker output gets its colour (blue prefix for stdout, yellow for stderr).
enum class color_mode { automatic, always, never };

/// How a worker process ended.
struct exit_status {
  std::optional<int> code;    ///< set when it exited normally
  std::optional<int> signal;  ///< set when a signal ended it
};

/// Which of a worker's streams a line came from (worker_options::on_output).
enum class output_stream { out, err };

/// Something that happened to a worker process (worker_options::on_event).
struct worker_event {
  enum class kind {
    spawned,  ///< it answered the handshake: calls may go
    killed,   ///< the host sent it a signal (signal): kill(), a timeout, a broken protocol...
    exited,   ///< its exit was observed (status)
  };
  kind what;
  pid_t pid;
  std::string summary;  ///< "malt::worker with PID 123"
  int signal = 0;       ///< killed: the signal sent
  exit_status status;   ///< exited: how
  std::string reason;   ///< killed, exited: why, when the host knows (a violation, a limit, a timeout...)
};

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
  /// Processes and threads of the worker and all its descendants together (a cgroup's
  /// pids.max): one more fork() or thread fails with EAGAIN. The worker itself uses a few
  /// (its threads; under pid_namespace containment two more processes).
  std::uint64_t processes = 0;
  /// Resident memory of the worker and all its descendants together, in bytes (a cgroup's
  /// memory.max, swap included where the system tells them apart): past it the kernel's
  /// out-of-memory killer ends the worker, and its calls fail with
  /// terminated_worker_exception naming the limit.
  /// Both need a cgroup the host may create (root, or a delegated subtree); where there is
  /// none, spawn_worker fails with a spawn_error saying so.
  std::uint64_t resident_memory = 0;
};

/// How the processes a worker starts (its descendants) are ended with it.
enum class containment {
  /// They live in a PID namespace whose first process is a reaper the worker starts:
  /// when the worker ends, for whatever reason (stop, kill, its own exit, the host's
  /// death), the reaper ends and the kernel kills every process left in the namespace,
  /// those that called setsid() or forked twice included. Needs a kernel that lets the
  /// worker create the namespace (as root, or in an unprivileged user namespace).
  pid_namespace,
  /// The worker's process group is killed when the host sees the worker end. A
  /// descendant that leaves the group (setsid) survives, and so does every descendant
  /// when the host itself is killed.
  process_group,
};

/// An optional lockdown of the worker process, with Linux namespaces and seccomp. Off by
/// default; each part is refused with spawn_error where the kernel does not allow it.
struct worker_isolation {
  /// No network: a network namespace of its own (an interface-less loopback, down), and
  /// socket() refused, so not even the host's Unix sockets can be reached. The worker
  /// keeps its connection to the host, and socketpair() still works (its own workers).
  bool no_network = false;
  /// The whole filesystem read-only (a mount namespace of its own), except
  /// writable_paths, which must exist.
  bool read_only_filesystem = false;
  std::vector<std::string> writable_paths;
  /// A seccomp filter that refuses, with EPERM, system calls a computation does not
  /// need: tracing and reading other processes (ptrace, process_vm_*), loading kernel
  /// modules and kernels, BPF, perf events, mounting, namespaces (setns, unshare),
  /// keyrings, clocks, swap, reboot, accounting, quotas. Implies no new privileges
  /// (set-user-ID programs run without them).
  bool syscall_filter = false;
};

/// Every part of the lockdown on: no network, a read-only filesystem but for writable,
/// and the system call filter.
inline worker_isolation locked_down(std::vector<std::string> writable = {}) {
  worker_isolation i;
  i.no_network = true;
  i.read_only_filesystem = true;
  i.writable_paths = std::move(writable);
  i.syscall_filter = true;
  return i;
}

/// What evaluated Lua code (remote_eval, remote_exec, channels) may use.
enum class lua_libraries {
  /// The whole standard library, as Malt.jl's eval: the code is as powerful as the
  /// program (files, os.execute, package.loadlib). Only debug.sethook is withheld: the
  /// evaluator's hook is what makes every eval interruptible.
  full,
  /// For code you do not trust: base (without dofile, loadfile; load reads text chunks
  /// only), coroutine, string, table, math, utf8, and os.clock, os.time, os.date. No io,
  /// os.execute, os.exit, os.getenv, package, require, debug.
  safe,
};

/// What follows an interrupt that the worker does not acknowledge within interrupt_grace.
enum class interrupt_escalation {
  /// The call completes (interrupted_exception or timed_out) and the worker keeps running
  /// whatever ignored the interrupt; it answers other calls if it can.
  abandon,
  /// The worker is killed (SIGKILL): a call never hangs, at the price of the worker; every
  /// call pending on it fails with terminated_worker_exception, which names the reason.
  kill,
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

  /// A command that starts the worker program somewhere else: on another machine
  /// ({"ssh", "-T", "user@host"}, see ssh_worker_options), under a scheduler
  /// ({"srun", "-N1"}), in a container ({"docker", "exec", "-i", "box"}) or a sandbox
  /// ({"bwrap", ...}). The worker's command line (executable, the library's arguments, args)
  /// is appended to it, and the host talks to the worker over the launcher's stdin and
  /// stdout; what the worker prints comes back over the same channel and is forwarded as
  /// usual, under the worker's own PID. Empty: the host starts the worker itself, over a
  /// socketpair.
  /// With a launcher, executable names the program where the launcher runs it (empty:
  /// this program's path), which must be the same build as the host (the handshake refuses
  /// another with errc::protocol_mismatch); env, inherit_env and working_directory are
  /// given to the worker through env(1) on its side; the launcher itself runs in the host's
  /// environment and directory. The launched worker exits when its channel closes, so
  /// nothing is left behind when the host, the launcher or the network goes. Not available
  /// with a launcher: the cgroup limits (limits.processes, limits.resident_memory), turning
  /// monitor_stdout or monitor_stderr off, and the interrupt signal (interrupts travel as
  /// frames only).
  std::vector<std::string> launcher;
  /// The launcher hands the worker's command line to a shell, as ssh does: each word is
  /// quoted for it.
  bool launcher_uses_shell = false;

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

  /// Instead of that forwarding: each line the worker prints on a monitored stream, without
  /// its newline (a line over 64 KiB comes in pieces), called on the worker's executor, in
  /// order. For a logger: keep it short, the worker's next lines wait for it. An exception
  /// it throws is reported on the host's stderr and dropped.
  std::function<void(output_stream stream, pid_t pid, std::string_view line)> on_output;

  /// Called on the worker's executor when the worker process has started, when the host
  /// signals it, and when its exit is observed (worker_event). Not for in-process workers.
  /// An exception it throws is reported on the host's stderr and dropped.
  std::function<void(const worker_event& event)> on_event;

  /// stop(): how long to wait after the exit request before SIGTERM, and after SIGTERM
  /// before SIGKILL.
  std::chrono::milliseconds exit_timeout{5'000};
  std::chrono::milliseconds term_timeout{5'000};

  /// A call cancelled with cancellation_type::partial (or whose timeout expired) waits this
  /// long for the worker to acknowledge the interrupt, then gives up on it, or kills the
  /// worker (interrupt_escalation).
  std::chrono::milliseconds interrupt_grace{2'000};
  malt::interrupt_escalation interrupt_escalation = malt::interrupt_escalation::abandon;

  /// The Lua libraries evals may use (see lua_libraries).
  malt::lua_libraries lua_libraries = malt::lua_libraries::full;
  /// The most memory the worker's Lua state may hold, in bytes; 0: no limit of its own.
  /// An allocation beyond it fails in Lua with "not enough memory" (a catchable error),
  /// and the worker carries on.
  std::size_t lua_memory_limit = 0;

  /// The largest message either side may send, checked before anything is allocated.
  /// Each side of the connection keeps the buffer of its largest recent message over
  /// 64 KiB, for reuse by the next, until the worker is gone: at most this much each.
  std::uint32_t max_frame_size = 256u << 20;

  /// Limits on what the worker process may use (see worker_limits). Calls pending when
  /// a limit ends the worker fail with terminated_worker_exception naming the limit.
  worker_limits limits;

  /// How the worker's descendants end with it: pid_namespace where the kernel allows it,
  /// else process_group (worker::containment() tells which is in force).
  malt::containment containment = malt::containment::pid_namespace;

  /// The optional lockdown (see worker_isolation). Not for in-process workers.
  worker_isolation isolation;

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

/// Options for a worker started over SSH on destination ("host", "user@host", an alias
/// of ~/.ssh/config), running remote_executable there (malt-worker, or a program of yours
/// that calls malt::worker_main, the same build as this program). ssh_arguments go before
/// the destination (e.g. {"-p", "2222", "-i", "key"}). SSH authenticates and encrypts; the
/// worker listens on nothing. BatchMode is on (no password prompt: keys or an agent), and
/// ssh checks the connection every 10 s, so a cut network ends the worker's calls with
/// terminated_worker_exception within about 30 s.
worker_options ssh_worker_options(std::string destination, std::string remote_executable,
                                  std::vector<std::string> ssh_arguments = {});

}  // namespace malt

#endif
