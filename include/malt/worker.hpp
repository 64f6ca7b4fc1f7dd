#ifndef MALT_WORKER_HPP
#define MALT_WORKER_HPP

// A handle to a worker process, and the lifecycle operations of Malt.jl: spawn_worker,
// isrunning, stop, kill. All operations run on the io_context the worker was spawned from;
// a worker and its copies are not thread-safe (use them from that io_context's thread).

#include <malt/detail/coroutine_operation.hpp>
#include <malt/diagnostics.hpp>
#include <malt/worker_options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace malt {

namespace detail {
class worker_impl;
struct worker_access;
using exit_handler = boost::asio::any_completion_handler<void(boost::system::error_code, exit_status)>;
void wait_exit(const std::shared_ptr<worker_impl>& w, exit_handler handler);
/// What an empty worker calls itself in messages.
inline constexpr const char* empty_worker_summary = "an empty malt::worker";
/// Throws terminated_worker_exception for an operation on an empty worker.
[[noreturn]] void throw_empty_worker();
}  // namespace detail

/// A running (or ended) worker process. Copies share the worker. When the last copy and
/// every call task holding it are gone, a running worker is stopped in the background
/// (exit request, then the signal escalation of stop), without blocking.
class worker {
 public:
  /// An empty worker, to be assigned one spawn_worker gives: it has no process, isrunning
  /// is false, stop returns true at once, kill and interrupt do nothing, and calls, evals
  /// and async_wait_exit throw terminated_worker_exception.
  worker() noexcept = default;

  /// The worker's process id, where it runs (a launched worker's on its machine); -1 for
  /// an empty worker.
  pid_t pid() const noexcept;
  /// The process id of the local launcher (ssh...) of a worker started through
  /// worker_options::launcher; -1 for any other.
  pid_t launcher_pid() const noexcept;
  /// "malt::worker with PID <pid>", as used in error messages ("an empty malt::worker").
  std::string summary() const;
  /// How the worker's descendants end with it, as the kernel allowed
  /// (worker_options::containment): pid_namespace or process_group. An in-process
  /// worker starts no process: process_group.
  malt::containment containment() const noexcept;
  /// The executor of the io_context the worker lives on.
  boost::asio::any_io_executor get_executor() const noexcept;
  /// The read end of the worker's stdout / stderr when it is not monitored, else -1. The
  /// descriptor belongs to the worker object; a worker that nobody reads blocks once the
  /// pipe is full.
  int stdout_fd() const noexcept;
  int stderr_fd() const noexcept;

  /// Calls sent to the worker that have not ended: queued, running, or given up on with
  /// their reply still owed (a call abandoned after an interrupt that was not honoured).
  std::size_t calls_in_flight() const noexcept;

  /// How the process ended (exit code or signal), once the host has observed its end;
  /// empty while it runs.
  std::optional<malt::exit_status> exit_status() const;

  /// Waits for the worker to end, for whatever reason, without asking it to; completes
  /// with its exit_status once every pending call has failed. Completion signature
  /// void(boost::system::error_code, malt::exit_status).
  /// Cancellation: any type; the operation completes with operation_aborted and the worker
  /// is not affected.
  template <class CompletionToken>
  auto async_wait_exit(CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, malt::exit_status)>(
        [](auto handler, std::shared_ptr<detail::worker_impl> w) { detail::wait_exit(w, std::move(handler)); }, token,
        impl_);
  }

 protected:
  explicit worker(std::shared_ptr<detail::worker_impl> impl) noexcept : impl_(std::move(impl)) {}

 private:
  friend struct detail::worker_access;
  std::shared_ptr<detail::worker_impl> impl_;
};

/// A worker that runs in this process, on the io_context that starts it: the same API
/// (calls, evals with a Lua state of its own, channels, interrupt, stop) over the same
/// protocol, without a process. For tests and debugging: it isolates nothing. Its
/// synchronous functions run on a thread pool of its own, its coroutine functions and
/// evals on this io_context. kill() does nothing; stop() ends it once no pool thread runs
/// a call (or, if its code holds the io_context or a pool thread past exit_timeout, stops
/// talking to it; the io_context must then outlive that call); running_workers() does not
/// list it, and limits, containment and isolation do not apply to it. Of worker_options,
/// max_frame_size, interrupt_grace, exit_timeout, term_timeout, lua_libraries and
/// lua_memory_limit apply.
class in_process_worker : public worker {
 public:
  /// An empty one, as a default-constructed worker.
  in_process_worker() noexcept = default;
  static boost::asio::awaitable<in_process_worker> start(const worker_options& options = {});
  /// The same on ex, for any completion token: void(error_code, in_process_worker) (see
  /// spawn_worker's).
  template <class CompletionToken>
  static auto start(boost::asio::any_io_executor ex, worker_options options, CompletionToken&& token) {
    return detail::coroutine_operation<in_process_worker>(
        std::move(ex), nullptr, [o = std::move(options)] { return start(o); }, std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  static auto start(boost::asio::any_io_executor ex, worker_options options, diagnostics& diag,
                    CompletionToken&& token) {
    return detail::coroutine_operation<in_process_worker>(
        std::move(ex), &diag, [o = std::move(options)] { return start(o); }, std::forward<CompletionToken>(token));
  }

 private:
  friend struct detail::worker_access;
  explicit in_process_worker(std::shared_ptr<detail::worker_impl> impl) noexcept : worker(std::move(impl)) {}
};

/// Starts a worker process and completes once it has answered the handshake.
/// Throws spawn_error (with the worker's stderr when it exited during startup, or when
/// the kernel refused the isolation asked for; at once, not after the timeout), or
/// error{invalid_options}. The worker never outlives this process: it gets
/// PR_SET_PDEATHSIG, its own process group and no inherited descriptors but its socket
/// and stdio; its descendants end with it (worker_options::containment). Spawn from a
/// thread that lives as long as the workers: Linux sends the parent-death signal when the
/// spawning thread ends.
/// Cancellation: terminal (what a coroutine passes on by default; a parallel_group's
/// cancellation includes it): the child is killed at once and reaped in the background, and
/// the operation throws operation_aborted. A hanging child is also bounded by
/// startup_timeout.
boost::asio::awaitable<worker> spawn_worker(const worker_options& options = {});

/// spawn_worker on ex for any completion token (a callback, use_future, deferred, as_tuple,
/// redirect_error...): completion signature void(boost::system::error_code, worker), the
/// failure's exception going to diag if given; use_awaitable throws as above. Cancellation
/// as above, through the handler's cancellation slot.
template <class CompletionToken>
auto spawn_worker(boost::asio::any_io_executor ex, worker_options options, CompletionToken&& token) {
  return detail::coroutine_operation<worker>(
      std::move(ex), nullptr, [o = std::move(options)] { return spawn_worker(o); }, std::forward<CompletionToken>(token));
}
template <class CompletionToken>
auto spawn_worker(boost::asio::any_io_executor ex, worker_options options, diagnostics& diag, CompletionToken&& token) {
  return detail::coroutine_operation<worker>(
      std::move(ex), &diag, [o = std::move(options)] { return spawn_worker(o); }, std::forward<CompletionToken>(token));
}

/// True until the host has observed the worker's exit: the end of its process, whatever
/// still holds its connection or output pipes (a descendant that kept them, for example).
bool isrunning(const worker& w) noexcept;

/// Stops the worker: an exit request (the worker stops its own workers first), then
/// SIGTERM after exit_timeout, then SIGKILL after term_timeout. Calls pending when stop
/// begins fail with terminated_worker_exception as soon as the process is gone, whatever
/// the worker answered them on its way out (a result it sent still counts). Completes after
/// the process has been reaped. Returns true if the worker was running, false if it had
/// already ended (never throws for that). Throws error{stop_failed} only if the process
/// survives SIGKILL for 10 s.
boost::asio::awaitable<bool> stop(worker& w);

/// stop for any completion token, on the worker's executor: void(error_code, bool), the
/// failure's exception going to diag if given. w must live until it completes.
template <class CompletionToken>
auto stop(worker& w, CompletionToken&& token) {
  return detail::coroutine_operation<bool>(w.get_executor(), nullptr, [&w] { return stop(w); },
                                           std::forward<CompletionToken>(token));
}
template <class CompletionToken>
auto stop(worker& w, diagnostics& diag, CompletionToken&& token) {
  return detail::coroutine_operation<bool>(w.get_executor(), &diag, [&w] { return stop(w); },
                                           std::forward<CompletionToken>(token));
}

/// Interrupts every call running in the worker and returns at once. Each ends with
/// interrupted_exception if its function honours the interrupt (see <malt/this_call.hpp>),
/// or with its value if it finishes regardless; the worker carries on. Harmless on an idle
/// or an ended worker.
void interrupt(const worker& w);

/// Sends a signal to the worker process (SIGKILL by default) and returns at once; pending
/// calls fail when the exit is observed. No effect on a worker that has ended. A launched
/// worker is asked over its channel to raise the signal on itself; a SIGKILL that has not
/// ended it within a second kills its launcher, which ends it too.
void kill(const worker& w, int signo = SIGKILL) noexcept;

/// Process ids of the workers this process started that are still running.
std::vector<pid_t> running_workers();

}  // namespace malt

#endif
