#include "host/worker_impl.hpp"

#include "host/live_workers.hpp"
#include "host/output_forwarder.hpp"
#include "process/output_sink.hpp"
#include "process/interrupt_signal.hpp"
#include "process/sandbox.hpp"
#include "protocol/messages.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace malt::detail {
namespace asio = boost::asio;

std::shared_ptr<worker_impl> user_handle(std::shared_ptr<worker_impl> impl) {
  auto* raw = impl.get();
  return std::shared_ptr<worker_impl>(raw, [impl = std::move(impl)](worker_impl* w) mutable {
    w->release();
    impl.reset();
  });
}

worker_impl::worker_impl(asio::any_io_executor ex, child_process child, worker_options options)
    : ex_(std::move(ex)),
      options_(std::move(options)),
      pid_(child.pid),
      launched_(child.launched),
      summary_(child.launched ? "malt::worker launched by PID " + std::to_string(child.pid)
               : child.pidfd  ? "malt::worker with PID " + std::to_string(child.pid)
                              : "malt::in_process_worker in process " + std::to_string(child.pid)),
      conn_(std::make_shared<connection>(stream_socket(ex_, asio::local::stream_protocol(), child.socket.release()),
                                         options_.max_frame_size)),
      pidfd_(ex_),
      startup_timer_(ex_),
      stdout_pipe_(std::move(child.stdout_pipe)),
      stderr_pipe_(std::move(child.stderr_pipe)),
      cgroup_(std::move(child.cgroup)) {
  if (!child.pidfd) return;  // in-process
  pidfd_.assign(child.pidfd.release());
  add_live(pid_, {});  // the weak pointer is filled in start(), once shared_from_this works
}

worker_impl::~worker_impl() {
  if (!exited_ && has_process()) {
    // The io_context went away before the worker ended: end it without waiting.
    ::killpg(pid_, SIGKILL);  // not yet reaped: the group id is still its own
    pidfd_signal(pidfd_.native_handle(), SIGKILL);
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.native_handle(), &info, WEXITED | WNOHANG);
    forget_live(pid_);
  }
}

template <class MakeEvent>
void worker_impl::tell(MakeEvent make) const noexcept {
  if (!options_.on_event) return;
  try {
    options_.on_event(make());
  } catch (const std::exception& e) {
    write_output(2, std::string("malt: worker_options::on_event threw: ") + e.what() + "\n");
  } catch (...) {
    write_output(2, "malt: worker_options::on_event threw\n");
  }
}

void worker_impl::start() {
  if (has_process()) add_live(pid_, weak_from_this());
  calls_ = std::make_shared<call_driver>(ex_, conn_, options_, has_process(), summary_, *this, driver_hooks());
  auto self = shared_from_this();
  asio::co_spawn(ex_, [self]() -> asio::awaitable<void> {
    auto end = co_await self->conn_->read_frames([w = self.get()](frame& f) { w->on_frame(f); },
                                                 [w = self.get()] { w->calls_->end_of_read(); });
    self->on_connection_end(end);
  }, asio::detached);
  if (has_process()) watch_exit();
  startup_timer_.expires_after(options_.startup_timeout);
  startup_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->phase_ != phase::starting) return;
    self->startup_problem_ = "the worker did not answer the handshake within " +
                             std::to_string(self->options_.startup_timeout.count()) + " ms";
    self->signal(SIGKILL);
  });
  calls_->open();
}

call_driver::worker_hooks worker_impl::driver_hooks() {
  // The driver may outlive this object by a timer's wait: it holds it weakly.
  auto weak = weak_from_this();
  call_driver::worker_hooks h;
  h.interrupting = [weak](std::uint64_t id) {
    // For a worker whose I/O thread is held where it cannot read the frame (interrupt_signal.hpp);
    // a launched worker is not the host's to signal.
    if (auto self = weak.lock(); self && self->has_process() && !self->launched_ && !self->exited_)
      send_interrupt_signal(self->signal_target(), id);
  };
  h.violated = [weak](std::string reason) {
    if (auto self = weak.lock()) self->fail_connection(std::move(reason));
  };
  h.escalated = [weak](std::string reason) {
    if (auto self = weak.lock()) {
      self->end_because(std::move(reason));
      self->signal(SIGKILL);
    }
  };
  h.terminated = [weak] {
    auto self = weak.lock();
    return self ? self->terminated_error() : terminated_worker_exception("malt::worker", {}, {}, {});
  };
  return h;
}

asio::awaitable<void> worker_impl::finish_startup() {
  while (phase_ == phase::starting && !finished()) {
    co_await wait_notified(options_.startup_timeout);
    auto cancellation = co_await asio::this_coro::cancellation_state;
    if (cancellation.cancelled() != asio::cancellation_type::none && phase_ == phase::starting) {
      // Nothing of it is anyone's yet: killed at once, and reaped by its exit watcher.
      end_because("its start was cancelled");
      signal(SIGKILL);
      throw boost::system::system_error(asio::error::operation_aborted);
    }
  }
  if (phase_ != phase::starting) {  // the hello came (the worker may have ended since)
    startup_timer_.cancel();
    if (has_process() && !launched_ && options_.containment == containment::pid_namespace)
      containment_ = containment_of(pid_);
    start_forwarding();
    tell([&] { return worker_event{worker_event::kind::spawned, pid(), summary_, 0, {}, {}}; });
    co_return;
  }
  // Failed: make sure the child is gone and reaped before reporting.
  if (!exited_) {
    signal(SIGKILL);
    co_await wait_finished(std::chrono::seconds(10));
  }
  std::string problem = startup_problem_;
  if (problem.empty()) {
    problem = "the worker exited during startup";
    if (exit_code_) problem += " with code " + std::to_string(*exit_code_);
    if (exit_signal_) problem += ", killed by signal " + std::to_string(*exit_signal_);
  }
  std::string err = stderr_pipe_ ? drain(stderr_pipe_.get()) : std::string();
  // A program that ends by itself before the handshake, saying nothing, most likely never
  // looked at the worker flag on its command line.
  if (startup_problem_.empty() && exit_code_ && err.empty())
    problem += " before the handshake, saying nothing: a program started as its own worker must call "
               "malt::maybe_run_worker(argc, argv) first thing in main (worker_options::executable names another)";
  throw spawn_error(startup_code_, "could not start worker (" + summary_ + "): " + problem, err);
}

void worker_impl::start_forwarding() {
  if (!has_process()) return;  // an in-process worker prints on the host's own streams
  if (launched_) {  // its output comes in frames; what the launcher says (ssh's warnings) goes to stderr
    stdout_lines_.emplace(output_stream::out, worker_pid_, options_);
    stderr_lines_.emplace(output_stream::err, worker_pid_, options_);
    stderr_forwarded_ = forward_output(ex_, stderr_pipe_.release(), output_stream::err, worker_pid_, options_);
    return;
  }
  if (options_.monitor_stdout)
    stdout_forwarded_ = forward_output(ex_, stdout_pipe_.release(), output_stream::out, pid_, options_);
  else
    stdout_raw_ = std::move(stdout_pipe_);
  if (options_.monitor_stderr)
    stderr_forwarded_ = forward_output(ex_, stderr_pipe_.release(), output_stream::err, pid_, options_);
  else
    stderr_raw_ = std::move(stderr_pipe_);
}

void worker_impl::on_frame(const frame& f) {
  // After a violation the rest of the stream is not believed: a reply behind it in the
  // same read must not complete a call.
  if (connection_failed_) return;
  if (phase_ == phase::starting) return on_hello(f);
  switch (f.header.type) {
    case frame_type::result:
    case frame_type::failure: return calls_->on_reply(f);
    case frame_type::output:
      if (launched_) return on_output(f);
      [[fallthrough]];
    default:
      return fail_connection(std::string("unexpected frame '") + to_string(f.header.type) + "' from the worker");
  }
}

void worker_impl::on_hello(const frame& f) {
  if (f.header.type != frame_type::hello) return fail_connection("the first frame was not a handshake");
  auto check = check_hello(f.payload);
  if (!check.mismatch.empty()) return fail_connection("protocol mismatch: " + check.mismatch, errc::protocol_mismatch);
  if (launched_) {
    worker_pid_ = check.peer_pid;
    summary_ = "malt::worker with PID " + std::to_string(worker_pid_) + " (launched by PID " + std::to_string(pid_) + ")";
    calls_->rename(summary_);
  }
  phase_ = phase::running;
  notify_waiters();
}

void worker_impl::on_output(const frame& f) {
  auto& lines = f.header.call_id == 1 ? stdout_lines_ : stderr_lines_;
  if (f.header.call_id != 1 && f.header.call_id != 2)
    return fail_connection("an output frame for stream " + std::to_string(f.header.call_id) + ", which is not 1 or 2");
  if (lines) lines->feed(f.payload);
}

void worker_impl::fail_connection(std::string reason, errc startup_code) {
  connection_failed_ = true;
  if (phase_ == phase::starting && startup_problem_.empty()) {
    startup_problem_ = reason;
    startup_code_ = startup_code;
  }
  end_because(std::move(reason));
  conn_->close();
  signal(SIGKILL);
}

void worker_impl::on_connection_end(const read_end& end) {
  if (end.what != read_end::eof && end.what != read_end::io_error) fail_connection(end.message);
  connection_ended_ = true;
  conn_->close();
  if (!has_process()) {  // an in-process worker ends with its connection
    exited_ = true;
    exit_code_ = 0;
  }
  if (exited_) return finish();
  // The socket closes as the process ends; a worker that closed it and lives on is broken.
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    if (!co_await self->wait_finished(std::chrono::seconds(1))) {
      if (self->end_reason_.empty()) self->end_reason_ = "it closed its connection but kept running";
      self->signal(SIGKILL);
    }
  }, asio::detached);
}

void worker_impl::watch_exit() {
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    for (;;) {
      auto [ec] = co_await self->pidfd_.async_wait(asio::posix::descriptor_base::wait_read,
                                                   asio::as_tuple(asio::use_awaitable));
      if (self->exited_ || self->check_exit()) co_return;
      if (ec && ec != asio::error::interrupted) {
        // The wait itself failed: a worker the host cannot watch is ended, and reaped once
        // its pidfd reports the exit; never forgotten while it may live.
        if (self->end_reason_.empty()) self->end_reason_ = "the host could not watch its process: " + ec.message();
        self->signal(SIGKILL);
        asio::steady_timer pause(self->ex_, std::chrono::milliseconds(10));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
  }, asio::detached);
}

bool worker_impl::check_exit() {
  if (exited_) return true;
  siginfo_t info{};
  for (;;) {
    if (kill_group_and_reap(pid_, pidfd_.native_handle(), info, WNOHANG) == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return false;  // a non-blocking pidfd of a process that lives
    info.si_pid = pid_;  // ECHILD: reaped by someone else (a waitpid(-1) of the program's): it has ended
    info.si_code = 0;
    break;
  }
  if (info.si_pid == 0) return false;  // woken, but the process lives: wait again
  if (info.si_code == CLD_EXITED)
    exit_code_ = info.si_status;
  else if (info.si_code != 0)
    exit_signal_ = info.si_status;
  // Reaped: under pid_namespace containment nothing of the worker's is left; under
  // process_group, whatever left the group is still in the cgroup, and goes with it.
  const bool oom_killed = cgroup_.oom_killed();
  cgroup_.remove();
  if (exit_signal_)
    if (auto limit = limit_reached(options_.limits, *exit_signal_, oom_killed); !limit.empty())
      end_reason_ = std::move(limit);
  exited_ = true;
  tell([&] {
    return worker_event{worker_event::kind::exited, pid(), summary_, 0, {exit_code_, exit_signal_}, end_reason_};
  });
  on_exit();
  return true;
}

void worker_impl::on_exit() {
  forget_live(pid_);
  calls_->leaving();  // what it answers from now on, it answered on its way out
  // The kernel closed the process's end of the socket before reporting the exit, so the
  // reader is about to read the last replies and the end of the stream, and calls finish(),
  // unless a descendant holds the socket: then drain_then_close ends it.
  drain_then_close();
  if (connection_ended_) finish();
}

void worker_impl::drain_then_close() {
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    asio::steady_timer t(self->ex_, exit_drain_time);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!self->connection_ended_) {
      if (self->end_reason_.empty()) self->end_reason_ = "a process it started kept its connection open";
      self->conn_->close();  // the reader ends and calls finish()
    }
    boost::system::error_code ignored;
    for (auto& pipe : {self->stdout_forwarded_, self->stderr_forwarded_})
      if (pipe) pipe->close(ignored);
    for (auto* lines : {&self->stdout_lines_, &self->stderr_lines_})
      if (*lines) (*lines)->finish();
  }, asio::detached);
}

struct worker_impl::exit_waiter {
  exit_handler handler;
  asio::any_io_executor ex;
  void complete(boost::system::error_code ec, malt::exit_status status) {
    if (!handler) return;
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    asio::post(ex, asio::append(std::move(handler), ec, status));  // runs on the handler's own executor
  }
};

void worker_impl::finish() {
  if (phase_ != phase::starting) phase_ = phase::ended;  // a worker that never started stays so
  calls_->ended();
  notify_waiters();
  auto waiters = std::move(exit_waiters_);
  exit_waiters_.clear();
  for (auto& x : waiters) x->complete({}, *exit_status());
}

std::optional<malt::exit_status> worker_impl::exit_status() const {
  if (!exited_) return std::nullopt;
  return malt::exit_status{exit_code_, exit_signal_};
}

void worker_impl::wait_exit(exit_handler handler) {
  auto waiter = std::make_shared<exit_waiter>(exit_waiter{std::move(handler), ex_});
  if (finished()) return waiter->complete({}, *exit_status());
  auto slot = asio::get_associated_cancellation_slot(waiter->handler);
  if (slot.is_connected())
    slot.assign([this, self = weak_from_this(), w = std::weak_ptr(waiter)](asio::cancellation_type_t) {
      auto s = self.lock();
      auto x = w.lock();
      if (!s || !x) return;
      std::erase(exit_waiters_, x);
      x->complete(asio::error::operation_aborted, {});
    });
  exit_waiters_.push_back(std::move(waiter));
}

void worker_impl::notify_waiters() { changes_.notify(); }

asio::awaitable<void> worker_impl::wait_notified(std::chrono::steady_clock::duration d) {
  co_await changes_.wait(ex_, std::chrono::steady_clock::now() + d);
}

asio::awaitable<bool> worker_impl::wait_finished(std::chrono::milliseconds d) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  while (!finished() && std::chrono::steady_clock::now() < deadline)
    co_await wait_notified(deadline - std::chrono::steady_clock::now());
  co_return finished();
}

asio::awaitable<bool> worker_impl::stop() {
  if (has_process()) check_exit();  // a process that has just ended was not running
  if (exited_) {  // ended before: once what it left is failed, there is nothing to stop
    co_await wait_finished(exit_drain_time * 2);
    co_return false;
  }
  auto keep = shared_from_this();
  calls_->leaving();  // what it answers from now on, it answers on its way out
  if (phase_ == phase::running) {
    phase_ = phase::stopping;
    if (!connection_ended_) calls_->stop();
  }
  if (co_await wait_finished(options_.exit_timeout)) co_return true;
  if (launched_) {  // what ends a launched worker: the end of its channel, and of its launcher
    if (end_reason_.empty()) end_reason_ = "it did not stop within exit_timeout; the host closed its channel";
    conn_->close();
    signal_process(SIGTERM);
    if (co_await wait_finished(options_.term_timeout)) co_return true;
    signal_process(SIGKILL);
    if (co_await wait_finished(std::chrono::seconds(10))) co_return true;
    throw error(errc::stop_failed, summary_ + ": its launcher did not exit 10 s after SIGKILL");
  }
  if (!has_process()) {  // no signal reaches a thread: stop talking to it
    if (end_reason_.empty()) end_reason_ = "it did not stop within exit_timeout; the host closed its connection";
    conn_->close();
    co_await wait_finished(options_.term_timeout);
    co_return true;
  }
  signal(SIGTERM);
  if (co_await wait_finished(options_.term_timeout)) co_return true;
  signal(SIGKILL);
  if (co_await wait_finished(std::chrono::seconds(10))) co_return true;
  throw error(errc::stop_failed, summary_ + " did not exit 10 s after SIGKILL");
}

void worker_impl::interrupt_all() {
  if (phase_ == phase::running && !connection_ended_) calls_->interrupt_all();
}

int worker_impl::signal_target() noexcept {
  // Signals go straight to the worker proper: its supervisor would pass them on, but not
  // SIGKILL, which would end the supervisor first and orphan the worker. Looked up at the
  // first signal rather than at every spawn, while the supervisor (not yet reaped) still
  // holds the worker proper as its child.
  if (containment_ == containment::pid_namespace && !exited_ && !signal_target_looked_up_) {
    signal_target_looked_up_ = true;
    if (const pid_t worker = supervised_worker(pid_); worker > 0) signal_target_ = unique_fd(pidfd_open(worker));
  }
  return signal_target_ ? signal_target_.get() : pidfd_.native_handle();
}

void worker_impl::signal(int signo) noexcept {
  if (exited_ || !has_process()) return;
  tell([&] {
    return worker_event{worker_event::kind::killed, pid(), summary_, signo, {},
                        !startup_problem_.empty() ? startup_problem_ : end_reason_};
  });
  if (launched_ && phase_ != phase::starting && conn_->is_open()) {
    // From any thread: the frame goes out on the worker's executor.
    asio::post(ex_, [self = shared_from_this(), signo] { self->request_signal(signo); });
    return;
  }
  signal_process(signo);
}

void worker_impl::request_signal(int signo) {
  if (exited_) return;
  if (!conn_->is_open()) return signal_process(signo);
  std::vector<char> f(frame_header_size);
  write_header(f, frame_type::signal, 0, static_cast<std::uint64_t>(signo));
  conn_->send(std::move(f));
  if (signo != SIGKILL) return;
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    if (co_await self->wait_finished(std::chrono::seconds(1))) co_return;
    if (self->end_reason_.empty()) self->end_reason_ = "it did not act on a SIGKILL request; its launcher was killed";
    self->conn_->close();
    self->signal_process(SIGKILL);
  }, asio::detached);
}

void worker_impl::signal_process(int signo) noexcept {
  if (exited_ || !has_process()) return;
  // A worker proper that ended before its supervisor noticed: the supervisor takes it.
  if (const int target = signal_target(); target != pidfd_.native_handle() && pidfd_signal(target, signo) == 0) return;
  pidfd_signal(pidfd_.native_handle(), signo);
}

void worker_impl::release() noexcept {
  if (exited_) return;
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->stop(); },
                 asio::detached);
}

terminated_worker_exception worker_impl::terminated_error() const {
  return terminated_worker_exception(summary_, exit_code_, exit_signal_, end_reason_);
}

}  // namespace malt::detail
