#ifndef MALT_SRC_PROCESS_SANDBOX_HPP
#define MALT_SRC_PROCESS_SANDBOX_HPP

// The worker process's own containment and lockdown (worker_options::containment and
// ::isolation), entered by worker_main before the worker starts a thread: namespaces; under
// pid_namespace containment, the process the host started stays outside as the worker's
// supervisor (it passes signals on and ends as the worker did) and the worker proper runs
// in the namespace beside a reaper, its first process; the read-only filesystem; the
// seccomp filter. The host only asks (flags on the worker's command line) and then reads
// from /proc what is in force.

#include <malt/worker_options.hpp>

#include <string>
#include <sys/types.h>
#include <vector>

namespace malt::detail {

struct sandbox_request {
  bool contain = false;  // a PID namespace for the descendants, if the kernel allows it
  bool no_network = false;
  bool read_only = false;
  std::vector<std::string> writable;
  bool syscall_filter = false;
};

/// Enters what r asks for. Throws std::runtime_error naming the part of the isolation the
/// kernel refused; containment falls back to the process group without a word.
void enter_sandbox(const sandbox_request& r);

/// The worker's pid as the host knows it (worker::pid()): inside a PID namespace, the
/// worker's own pid is another number.
pid_t worker_pid_seen_by_host() noexcept;

/// The host's pid of the worker proper, which runs under supervisor (the process the host
/// started) when the worker has a PID namespace; -1 if it cannot be found.
pid_t supervised_worker(pid_t supervisor);

/// What the host can tell from outside: whether the worker pid's children are born in a
/// PID namespace other than the host's own children.
containment containment_of(pid_t pid);

}  // namespace malt::detail

#endif
