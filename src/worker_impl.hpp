#ifndef MALT_SRC_WORKER_IMPL_HPP
#define MALT_SRC_WORKER_IMPL_HPP

// The host's side of one worker process: its connection and call table, the reader loop
// that completes calls, the exit watcher (pidfd) that ends them when the process goes, and
// the stop escalation. Everything runs on the worker's executor, one thread.

#include "call_table.hpp"
#include "connection.hpp"
#include "spawn.hpp"

#include <malt/error.hpp>
#include <malt/worker.hpp>
#include <malt/worker_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace malt::detail {

class worker_impl : public std::enable_shared_from_this<worker_impl> {
 public:
  worker_impl(boost::asio::any_io_executor ex, child_process child, worker_options options);
  ~worker_impl();

  /// Starts the reader loop and the exit watcher, and sends the handshake.
  void start();
  /// Completes when the handshake is answered; throws spawn_error otherwise, after the
  /// child has been reaped.
  boost::asio::awaitable<void> finish_startup();

  boost::asio::awaitable<bool> stop();
  void signal(int signo) noexcept;
  /// Names why the worker is about to end, for its calls' terminated_worker_exception
  /// (unless a reason was given first).
  void end_because(std::string reason) {
    if (end_reason_.empty()) end_reason_ = std::move(reason);
  }
  /// Called when the user's last handle goes: stop in the background.
  void release() noexcept;

  bool running() const noexcept { return !exited_; }
  /// How the process ended, once the host has observed it.
  std::optional<malt::exit_status> exit_status() const;
  /// Completes handler once the worker has ended and everything pending has failed.
  void wait_exit(exit_handler handler);
  /// The pidfd reported readable: reaps the process if it has exited. False (and the
  /// watch goes on) when it has not: a wake without an exit.
  bool check_exit();
  /// False for an in-process worker, whose end is the end of its connection.
  bool has_process() const noexcept { return pidfd_.is_open(); }
  pid_t pid() const noexcept { return pid_; }
  malt::containment containment() const noexcept { return containment_; }
  const std::string& summary() const noexcept { return summary_; }
  const boost::asio::any_io_executor& executor() const noexcept { return ex_; }
  int raw_stdout() const noexcept { return stdout_raw_.get(); }
  int raw_stderr() const noexcept { return stderr_raw_.get(); }

  // For the calls (remote_call.cpp).
  call_table& calls() noexcept { return calls_; }
  connection& conn() noexcept { return *conn_; }
  /// Throws terminated_worker_exception unless calls can be sent.
  void check_running() const;
  terminated_worker_exception terminated_error() const;
  std::uint32_t max_frame_size() const noexcept { return options_.max_frame_size; }
  const worker_options& options() const noexcept { return options_; }
  std::chrono::milliseconds interrupt_grace() const noexcept { return options_.interrupt_grace; }
  /// Writes the call's frame, or holds it until the write queue has room for it
  /// (worker_options::max_queued_bytes); calls go out in the order they came.
  void queue_call(const call_ptr& c, std::vector<char> frame);
  /// Throws error{queue_full} unless a frame of size bytes can be queued now.
  void check_room(std::size_t size) const;
  /// Takes back a call whose frame no write has started on. False if it is (being) sent.
  bool withdraw(pending_call& c) noexcept;
  /// Asks the worker to interrupt call id, or every running call if id is 0.
  void send_interrupt(std::uint64_t id);

 private:
  /// The pidfd signals go to.
  int signal_target() noexcept;
  void on_frame(frame&& f);
  void on_connection_end(const read_end& end);
  void on_exit();
  void watch_exit();
  /// The process has gone: what it wrote before going is read for a short while, then its
  /// connection and output pipes are closed, even if a descendant holds them open.
  void drain_then_close();
  /// The process has exited and its stream ended: fail whatever still waits.
  void finish();
  bool finished() const noexcept { return exited_ && connection_ended_; }
  void fail_connection(std::string reason);
  /// True once finished(), waiting at most d.
  boost::asio::awaitable<bool> wait_finished(std::chrono::milliseconds d);
  void start_forwarding();
  void release_room();

  boost::asio::any_io_executor ex_;
  worker_options options_;
  pid_t pid_;
  std::string summary_;
  malt::containment containment_ = malt::containment::process_group;  // once started
  unique_fd signal_target_;  // the worker proper, when a supervisor is what the host started
  bool signal_target_looked_up_ = false;
  std::shared_ptr<connection> conn_;
  call_table calls_;
  pending_call handshake_;
  bool handshake_ok_ = false;
  std::string startup_problem_;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::steady_timer startup_timer_;
  unique_fd stdout_pipe_, stderr_pipe_;  // until forwarding starts or the user takes them
  worker_cgroup cgroup_;                  // removed once the worker is reaped
  unique_fd stdout_raw_, stderr_raw_;
  std::shared_ptr<boost::asio::posix::stream_descriptor> stdout_forwarded_, stderr_forwarded_;
  bool exited_ = false;
  bool stopping_ = false;  // stop() has begun: what the worker answers on its way out is not kept
  bool connection_ended_ = false;
  std::optional<int> exit_code_, exit_signal_;
  std::string end_reason_;
  std::vector<boost::asio::steady_timer*> finish_waiters_;
  std::deque<call_ptr> waiting_for_room_;
  struct exit_waiter;
  std::vector<std::shared_ptr<exit_waiter>> exit_waiters_;
};

/// How long a worker whose process has ended may still deliver what it wrote.
inline constexpr std::chrono::milliseconds exit_drain_time{200};

/// Completes the caller's handler of a call that is over, if one waits (remote_call.cpp).
void deliver(worker_impl& w, pending_call& c);

/// Workers this process started and has not seen exit.
std::vector<std::shared_ptr<worker_impl>> live_workers();
/// Stops every live worker of this process, concurrently.
boost::asio::awaitable<void> stop_all_workers();

/// The handle users hold: when its last copy goes, the worker is stopped.
std::shared_ptr<worker_impl> user_handle(std::shared_ptr<worker_impl> impl);

/// Set by worker_main: this process serves a host.
void enter_worker_mode() noexcept;

}  // namespace malt::detail

#endif
