#ifndef MALT_SRC_HOST_LIVE_WORKERS_HPP
#define MALT_SRC_HOST_LIVE_WORKERS_HPP

// Every worker this process started and has not seen exit: for running_workers(), and for
// stopping them all when this process is itself a worker that has to go (nesting, which is
// why the worker side may include this header and no other of host/).

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <sys/types.h>
#include <vector>

namespace malt::detail {

class worker_impl;

/// A worker whose process has been started; listed until forget_live(pid).
void add_live(pid_t pid, std::weak_ptr<worker_impl> w);
void forget_live(pid_t pid);
/// Workers this process started and has not seen exit.
std::vector<std::shared_ptr<worker_impl>> live_workers();
/// Their pids, including those whose handle is still being made.
std::vector<pid_t> live_pids();
/// Stops every live worker of this process, concurrently.
boost::asio::awaitable<void> stop_all_workers();

/// Set by worker_main: this process serves a host.
void enter_worker_mode() noexcept;
/// A program started as a worker whose main() does not call maybe_run_worker would run the
/// host's code again and spawn workers of its own, without end: spawning refuses then.
bool started_as_unserved_worker();

}  // namespace malt::detail

#endif
