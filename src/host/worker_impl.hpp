#ifndef MALT_SRC_HOST_WORKER_IMPL_HPP
#define MALT_SRC_HOST_WORKER_IMPL_HPP

// The host's side of one worker: its lifecycle (starting, running, stopping, ended), the
// reader loop that hands replies to the call driver, the exit watcher (pidfd) that ends
// the worker's calls when its process goes, and the stop escalation. Everything runs on
// the worker's executor, one thread.

#include "host/call_driver.hpp"
#include "host/output_forwarder.hpp"
#include "process/spawn.hpp"
#include "transport/connection.hpp"

#include <malt/detail/wake_list.hpp>
#include <malt/error.hpp>
#include <malt/worker.hpp>
#include <malt/worker_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace malt::detail {

class worker_impl : public std::enable_shared_from_this<worker_impl> {
 public:
  worker_impl(boost::asio::any_io_executor ex, child_process child, worker_options options);
  ~worker_impl();

  /// Starts the reader loop and the exit watcher, and sends the hello.
  void start();
  /// Completes when the worker's hello has come and matched; throws spawn_error
  /// otherwise, after the child has been reaped.
  boost::asio::awaitable<void> finish_startup();

  boost::asio::awaitable<bool> stop();
  void signal(int signo) noexcept;
  /// Calls worker_options::on_event, if any, with make()'s event; an exception it throws
  /// is reported on stderr.
  template <class MakeEvent>
  void tell(MakeEvent make) const noexcept;
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
  /// The worker's pid, where it runs (a launched worker's, once it has answered).
  pid_t pid() const noexcept { return launched_ ? worker_pid_ : pid_; }
  /// The local launcher's pid, for a launched worker; else -1.
  pid_t launcher_pid() const noexcept { return launched_ ? pid_ : -1; }
  malt::containment containment() const noexcept { return containment_; }
  const std::string& summary() const noexcept { return summary_; }
  const boost::asio::any_io_executor& executor() const noexcept { return ex_; }
  int raw_stdout() const noexcept { return stdout_raw_.get(); }
  int raw_stderr() const noexcept { return stderr_raw_.get(); }

  /// The calls (remote_call.cpp), once check_running() has passed.
  call_driver& calls() noexcept { return *calls_; }
  /// Throws terminated_worker_exception unless calls can be sent.
  void check_running() const {
    const bool accepting = (phase_ == phase::running || phase_ == phase::stopping) && !exited_ && !connection_ended_;
    if (!accepting) [[unlikely]]
      throw terminated_error();
  }
  /// Whether new calls can be sent and answered: running, not stopping, and neither the
  /// process nor its stream has ended.
  bool accepts_calls() const noexcept { return phase_ == phase::running && !exited_ && !connection_ended_; }
  terminated_worker_exception terminated_error() const;
  const worker_options& options() const noexcept { return options_; }
  /// The buffers of the worker's connection, for large requests and replies.
  spare_buffer& spare() noexcept { return conn_->spare(); }
  /// Asks the worker to interrupt every running call.
  void interrupt_all();

 private:
  /// starting: the hello has not come (a worker that ends then never leaves it). running:
  /// calls go out. stopping: stop() has begun (calls still go out, to be terminated).
  /// ended: the process has exited, its stream has ended, and everything pending has
  /// failed.
  enum class phase { starting, running, stopping, ended };

  /// The pidfd signals go to.
  int signal_target() noexcept;
  /// Sends signo to the launcher of a launched worker (or the process the host started).
  void signal_process(int signo) noexcept;
  /// A launched worker: asks it to raise signo, over its channel; its launcher gets SIGKILL
  /// if a SIGKILL has not ended it within a second (a worker that reads nothing more).
  void request_signal(int signo);
  void on_output(const frame& f);
  call_driver::worker_hooks driver_hooks();
  void on_frame(const frame& f);
  void on_hello(const frame& f);
  void on_connection_end(const read_end& end);
  void on_exit();
  void watch_exit();
  /// The process has gone: what it wrote before going is read for a short while, then its
  /// connection and output pipes are closed, even if a descendant holds them open.
  void drain_then_close();
  /// The process has exited and its stream ended: fail whatever still waits.
  void finish();
  bool finished() const noexcept { return exited_ && connection_ended_; }
  /// A worker that breaks the protocol (or the hello) cannot be trusted with anything.
  void fail_connection(std::string reason, errc startup_code = errc::spawn_failed);
  /// Wakes whoever waits for the phase to change or the worker to finish.
  void notify_waiters();
  /// Waits until notified or d has passed.
  boost::asio::awaitable<void> wait_notified(std::chrono::steady_clock::duration d);
  /// True once finished(), waiting at most d.
  boost::asio::awaitable<bool> wait_finished(std::chrono::milliseconds d);
  void start_forwarding();

  boost::asio::any_io_executor ex_;
  worker_options options_;
  pid_t pid_;                 // of the process the host started: the worker, or its launcher
  bool launched_ = false;     // that process is a launcher (worker_options::launcher)
  pid_t worker_pid_ = -1;     // a launched worker's, from its handshake
  std::string summary_;
  malt::containment containment_ = malt::containment::process_group;  // once started
  unique_fd signal_target_;  // the worker proper, when a supervisor is what the host started
  bool signal_target_looked_up_ = false;
  std::shared_ptr<connection> conn_;
  std::shared_ptr<call_driver> calls_;
  phase phase_ = phase::starting;
  std::string startup_problem_;
  errc startup_code_ = errc::spawn_failed;
  boost::asio::posix::stream_descriptor pidfd_;
  boost::asio::steady_timer startup_timer_;
  unique_fd stdout_pipe_, stderr_pipe_;  // until forwarding starts or the user takes them
  worker_cgroup cgroup_;                  // removed once the worker is reaped
  unique_fd stdout_raw_, stderr_raw_;
  std::shared_ptr<boost::asio::posix::stream_descriptor> stdout_forwarded_, stderr_forwarded_;
  std::optional<forwarded_lines> stdout_lines_, stderr_lines_;  // a launched worker's output frames
  bool exited_ = false;            // the process has been reaped
  bool connection_ended_ = false;  // its stream has ended
  std::optional<int> exit_code_, exit_signal_;
  std::string end_reason_;
  bool connection_failed_ = false;  // fail_connection: frames still in the read are dropped
  wake_list changes_;  // stop, startup and drain wait for the phase to change
  struct exit_waiter;
  std::vector<std::shared_ptr<exit_waiter>> exit_waiters_;
};

/// How long a worker whose process has ended may still deliver what it wrote.
inline constexpr std::chrono::milliseconds exit_drain_time{200};

/// The handle users hold: when its last copy goes, the worker is stopped.
std::shared_ptr<worker_impl> user_handle(std::shared_ptr<worker_impl> impl);

}  // namespace malt::detail

#endif
