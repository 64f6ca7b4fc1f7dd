#ifndef MALT_SRC_PROCESS_SPAWN_HPP
#define MALT_SRC_PROCESS_SPAWN_HPP

// Starting a worker process: posix_spawn (glibc runs it as clone(CLONE_VM|CLONE_VFORK), so
// a large host is not copied), the socketpair end at a known fd named on the command line,
// stdout/stderr on pipes, its own process group, default signal dispositions, and every
// other descriptor closed. The worker sets its parent-death signal itself (worker_main).
// Or starting a launcher (worker_options::launcher) the same way, with the socketpair end
// as its stdin and stdout, and the worker's command line appended to it.

#include "process/cgroup.hpp"

#include <malt/worker_options.hpp>

#include <csignal>
#include <string>
#include <sys/types.h>

namespace malt::detail {

/// The fd number the worker finds its socket at.
inline constexpr int worker_socket_fd = 3;
/// The argument that makes a program a worker: "--malt-worker=fd=3,parent=PID,max-frame=N".
inline constexpr const char* worker_flag = "--malt-worker=";

/// Each path the worker's read-only filesystem leaves writable: "--malt-writable=PATH".
inline constexpr const char* writable_flag = "--malt-writable=";
/// Each control group the worker joins before it starts anything: "--malt-cgroup=DIR".
inline constexpr const char* cgroup_flag = "--malt-cgroup=";

/// An owned file descriptor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
  unique_fd& operator=(unique_fd&& o) noexcept;
  ~unique_fd();
  int get() const noexcept { return fd_; }
  int release() noexcept;
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct child_process {
  pid_t pid = -1;
  unique_fd pidfd;
  unique_fd socket;       // the host's end of the socketpair
  unique_fd stdout_pipe;  // read ends (a launcher's stdout is the socket)
  unique_fd stderr_pipe;
  bool launched = false;  // pid is a launcher's, which started the worker
  worker_cgroup cgroup;  // holds the limits rlimits cannot, if any
};

/// Kills the process group of a worker that has ended but is not yet reaped (its
/// descendants that stayed in it), and reaps the worker; pidfd -1 names it by pid.
/// Returns waitid's outcome (options: WNOHANG or 0).
int kill_group_and_reap(pid_t pid, int pidfd, siginfo_t& info, int options) noexcept;

/// Throws error{invalid_options} or spawn_error.
child_process spawn_child(const worker_options& options);

/// Quotes word for a POSIX shell (ssh runs the remote command through one).
std::string shell_quoted(const std::string& word);

/// The limits as worker arguments (",as=N,cpu=N,..."): the worker sets them on itself.
std::string limit_arguments(const worker_limits& limits);

/// The limit of limits that a process ended by signo ran into, as a phrase ("CPU limit
/// 2 s"); empty when the signal is not a limit's. oom_killed: the out-of-memory killer of
/// the worker's cgroup killed a process.
std::string limit_reached(const worker_limits& limits, int signo, bool oom_killed);

/// pidfd system calls (glibc 2.36's <sys/pidfd.h> lacks extern "C" for C++).
int pidfd_open(pid_t pid) noexcept;
int pidfd_signal(int pidfd, int signo) noexcept;

/// Reads what is left in a pipe of a child that has ended, up to limit bytes.
std::string drain(int fd, std::size_t limit = 64 * 1024);

}  // namespace malt::detail

#endif
