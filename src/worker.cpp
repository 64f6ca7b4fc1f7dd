#include "worker_impl.hpp"

#include "protocol/messages.hpp"
#include "interrupt_signal.hpp"
#include "output_forwarder.hpp"
#include "sandbox.hpp"
#include "stack_trace.hpp"
#include "worker_session.hpp"

#include <malt/worker.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace malt {
namespace asio = boost::asio;

namespace detail {
void register_builtins();

namespace {

// Every worker this process started and has not seen exit, for running_workers() and for
// stopping them all when this process is itself a worker that has to go.
struct live_registry {
  std::mutex mutex;
  std::map<pid_t, std::weak_ptr<worker_impl>> workers;
};
live_registry& live() {
  static live_registry r;
  return r;
}

std::atomic<bool> worker_mode{false};

// A program started as a worker whose main() does not call maybe_run_worker would run the
// host's code again and spawn workers of its own, without end. Refuse instead.
bool started_as_unserved_worker() {
  if (worker_mode.load()) return false;
  static const bool flagged = [] {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cmdline.find(std::string("\0", 1) + worker_flag) != std::string::npos;
  }();
  return flagged;
}

}  // namespace

void enter_worker_mode() noexcept { worker_mode.store(true); }

std::vector<std::shared_ptr<worker_impl>> live_workers() {
  std::vector<std::shared_ptr<worker_impl>> out;
  std::lock_guard lock(live().mutex);
  for (auto& [pid, w] : live().workers)
    if (auto s = w.lock()) out.push_back(std::move(s));
  return out;
}

std::shared_ptr<worker_impl> user_handle(std::shared_ptr<worker_impl> impl) {
  auto* raw = impl.get();
  return std::shared_ptr<worker_impl>(raw, [impl = std::move(impl)](worker_impl* w) mutable {
    w->release();
    impl.reset();
  });
}

asio::awaitable<void> stop_all_workers() {
  auto workers = live_workers();
  if (workers.empty()) co_return;
  auto ex = co_await asio::this_coro::executor;
  using stop_op = decltype(asio::co_spawn(ex, workers.front()->stop(), asio::deferred));
  std::vector<stop_op> ops;
  for (auto& w : workers) ops.push_back(asio::co_spawn(w->executor(), w->stop(), asio::deferred));
  co_await asio::experimental::make_parallel_group(std::move(ops))
      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

worker_impl::worker_impl(asio::any_io_executor ex, child_process child, worker_options options)
    : ex_(std::move(ex)),
      options_(std::move(options)),
      pid_(child.pid),
      summary_(child.pidfd ? "malt::worker with PID " + std::to_string(child.pid)
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
  std::lock_guard lock(live().mutex);
  live().workers[pid_];  // the weak pointer is filled in start(), once shared_from_this works
}

worker_impl::~worker_impl() {
  // A write that completes after this must not report to it.
  conn_->on_written(nullptr);
  conn_->on_room(nullptr);
  if (!exited_ && has_process()) {
    // The io_context went away before the worker ended: end it without waiting.
    ::killpg(pid_, SIGKILL);  // not yet reaped: the group id is still its own
    pidfd_signal(pidfd_.native_handle(), SIGKILL);
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), pidfd_.native_handle(), &info, WEXITED | WNOHANG);
    std::lock_guard lock(live().mutex);
    live().workers.erase(pid_);
  }
}

void worker_impl::start() {
  if (has_process()) {
    std::lock_guard lock(live().mutex);
    live().workers[pid_] = weak_from_this();
  }
  conn_->on_written([this](std::uint64_t id) { calls_.mark_written(id); });
  conn_->on_room([this] { release_room(); });
  auto self = shared_from_this();
  asio::co_spawn(ex_, [self]() -> asio::awaitable<void> {
    auto end = co_await self->conn_->read_frames([w = self.get()](frame&& f) { w->on_frame(std::move(f)); });
    self->on_connection_end(end);
  }, asio::detached);
  if (has_process()) watch_exit();
  startup_timer_.expires_after(options_.startup_timeout);
  startup_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->handshake_ok_) return;
    self->startup_problem_ = "the worker did not answer the handshake within " +
                             std::to_string(self->options_.startup_timeout.count()) + " ms";
    self->signal(SIGKILL);
  });
  conn_->send(make_hello_frame());
}

asio::awaitable<void> worker_impl::finish_startup() {
  if (handshake_.state != call_state::done) {
    try {
      co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr, std::vector<char>)>(
          [this](auto handler) { handshake_.handler.emplace(std::move(handler)); }, asio::use_awaitable);
    } catch (const std::exception&) {
      // A failed start is described below, from what was observed.
    }
  }
  if (handshake_ok_) {
    startup_timer_.cancel();
    if (has_process() && options_.containment == containment::pid_namespace) containment_ = containment_of(pid_);
    start_forwarding();
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
  const errc code = problem.starts_with("protocol mismatch") ? errc::protocol_mismatch : errc::spawn_failed;
  throw spawn_error(code, "could not start worker (" + summary_ + "): " + problem, err);
}

void worker_impl::start_forwarding() {
  if (!has_process()) return;  // an in-process worker prints on the host's own streams
  if (options_.monitor_stdout)
    stdout_forwarded_ = forward_output(ex_, stdout_pipe_.release(), 1, pid_, options_.color);
  else
    stdout_raw_ = std::move(stdout_pipe_);
  if (options_.monitor_stderr)
    stderr_forwarded_ = forward_output(ex_, stderr_pipe_.release(), 2, pid_, options_.color);
  else
    stderr_raw_ = std::move(stderr_pipe_);
}

void worker_impl::on_frame(frame&& f) {
  if (!handshake_ok_) {
    if (f.header.type != frame_type::hello) return fail_connection("the first frame was not a handshake");
    auto check = check_hello(f.payload);
    if (!check.mismatch.empty()) return fail_connection("protocol mismatch: " + check.mismatch);
    handshake_ok_ = true;
    handshake_.state = call_state::done;
    deliver(*this, handshake_);
    return;
  }
  switch (f.header.type) {
    case frame_type::result:
    case frame_type::failure:
      if (!calls_.awaits_reply(f.header.call_id))
        return fail_connection("protocol violation: a reply to call id " + std::to_string(f.header.call_id) +
                               ", which was never issued or is answered already");
      if (f.header.type == frame_type::failure) {
        if (auto code = failure_code(f.payload); code && !worker_may_report(*code))
          return fail_connection("protocol violation: a failure report with code " + std::to_string(*code) +
                                 ", which a worker may not send");
        // A worker on its way out answers what it interrupts; those calls are terminated.
        if (stopping_ || exited_) return;
      }
      if (auto c = calls_.complete(f.header.call_id, f.header.type, std::move(f.payload))) deliver(*this, *c);
      return;
    default:
      return fail_connection(std::string("unexpected frame '") + to_string(f.header.type) + "' from the worker");
  }
}

void worker_impl::fail_connection(std::string reason) {
  // A worker that breaks the protocol cannot be trusted to answer anything: end it.
  if (!handshake_ok_ && startup_problem_.empty()) startup_problem_ = reason;
  if (end_reason_.empty()) end_reason_ = std::move(reason);
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
  on_exit();
  return true;
}

void worker_impl::on_exit() {
  {
    std::lock_guard lock(live().mutex);
    live().workers.erase(pid_);
  }
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
  waiting_for_room_.clear();
  for (auto& c : calls_.terminate_all()) deliver(*this, *c);
  if (handshake_.state != call_state::done) {
    handshake_.state = call_state::done;
    handshake_.terminated = true;
    deliver(*this, handshake_);
  }
  for (auto* t : finish_waiters_) t->cancel();
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

asio::awaitable<bool> worker_impl::wait_finished(std::chrono::milliseconds d) {
  if (finished()) co_return true;
  asio::steady_timer t(ex_, d);
  finish_waiters_.push_back(&t);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  std::erase(finish_waiters_, &t);
  co_return finished();
}

asio::awaitable<bool> worker_impl::stop() {
  if (has_process()) check_exit();  // a process that has just ended was not running
  if (exited_) {  // ended before: once what it left is failed, there is nothing to stop
    co_await wait_finished(exit_drain_time * 2);
    co_return false;
  }
  stopping_ = true;
  auto keep = shared_from_this();
  if (handshake_ok_ && !connection_ended_) {
    std::vector<char> f(frame_header_size);
    write_header(f, frame_type::exit_request, 0, calls_.reserve_id());
    conn_->send(std::move(f));
  }
  if (co_await wait_finished(options_.exit_timeout)) co_return true;
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

void worker_impl::check_room(std::size_t size) const {
  const std::size_t queued = conn_->queued_bytes();
  if (waiting_for_room_.empty() && (queued == 0 || queued + size <= options_.max_queued_bytes)) return;
  throw error(errc::queue_full, "the request cannot be queued: " + std::to_string(queued) +
                                    " bytes wait to be written to " + summary_ +
                                    ", the limit is worker_options::max_queued_bytes = " +
                                    std::to_string(options_.max_queued_bytes) +
                                    " (an awaited call waits for room instead)");
}

void worker_impl::queue_call(const call_ptr& c, std::vector<char> frame) {
  if (waiting_for_room_.empty() && conn_->send_if_room(frame, c->id, options_.max_queued_bytes)) return;
  c->held_frame = std::move(frame);
  waiting_for_room_.push_back(c);
}

void worker_impl::release_room() {
  while (!waiting_for_room_.empty()) {
    auto& c = waiting_for_room_.front();
    if (!conn_->send_if_room(c->held_frame, c->id, options_.max_queued_bytes)) return;
    c->held_frame = {};
    waiting_for_room_.pop_front();
  }
}

bool worker_impl::withdraw(pending_call& c) noexcept {
  auto held = std::find_if(waiting_for_room_.begin(), waiting_for_room_.end(), [&](auto& p) { return p.get() == &c; });
  if (held != waiting_for_room_.end()) {
    waiting_for_room_.erase(held);
    c.held_frame = {};
    if (!waiting_for_room_.empty()) release_room();  // those behind it may fit now
    return true;
  }
  return conn_->withdraw(c.id);
}

void worker_impl::send_interrupt(std::uint64_t id) {
  if (!handshake_ok_ || connection_ended_) return;  // nothing runs there any more
  std::vector<char> f(frame_header_size);
  write_header(f, frame_type::interrupt, 0, id);
  conn_->send(std::move(f));
  // For a worker whose I/O thread is held where it cannot read the frame (interrupt_signal.hpp).
  if (has_process()) send_interrupt_signal(signal_target(), id);
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
  // A worker proper that ended before its supervisor noticed: the supervisor takes it.
  if (const int target = signal_target(); target != pidfd_.native_handle() && pidfd_signal(target, signo) == 0) return;
  pidfd_signal(pidfd_.native_handle(), signo);
}

void worker_impl::release() noexcept {
  if (exited_) return;
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> { co_await self->stop(); },
                 asio::detached);
}

void worker_impl::check_running() const {
  if (exited_ || connection_ended_ || !handshake_ok_) throw terminated_error();
}

terminated_worker_exception worker_impl::terminated_error() const {
  return terminated_worker_exception(summary_, exit_code_, exit_signal_, end_reason_);
}

}  // namespace detail

pid_t worker::pid() const noexcept { return impl_->pid(); }
std::string worker::summary() const { return impl_->summary(); }
containment worker::containment() const noexcept { return impl_->containment(); }
asio::any_io_executor worker::get_executor() const noexcept { return impl_->executor(); }
int worker::stdout_fd() const noexcept { return impl_->raw_stdout(); }
int worker::stderr_fd() const noexcept { return impl_->raw_stderr(); }
std::optional<exit_status> worker::exit_status() const { return impl_->exit_status(); }

namespace detail {

void wait_exit(const std::shared_ptr<worker_impl>& w, exit_handler handler) { w->wait_exit(std::move(handler)); }

namespace {

asio::awaitable<worker> spawn(worker_options options) {
  if (started_as_unserved_worker())
    throw spawn_error(errc::spawn_failed,
                      "this program was started as a malt worker, but its main() does not call "
                      "malt::maybe_run_worker(argc, argv) first");
  auto ex = co_await asio::this_coro::executor;
  auto child = spawn_child(options);
  auto impl = std::make_shared<worker_impl>(ex, std::move(child), std::move(options));
  impl->start();
  co_await impl->finish_startup();
  co_return worker(user_handle(std::move(impl)));
}

asio::awaitable<in_process_worker> start_in_process(worker_options options) {
  register_builtins();  // this process serves the worker's built-in functions too
  record_throw_stacks();
  auto ex = co_await asio::this_coro::executor;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw spawn_error(errc::spawn_failed, std::string("socketpair: ") + std::strerror(errno));
  child_process none;  // no process: the session below is the worker
  none.pid = ::getpid();
  none.socket = unique_fd(sv[0]);
  auto session = std::make_shared<worker_session>(ex, stream_socket(ex, asio::local::stream_protocol(), sv[1]),
                                                  options.max_frame_size,
                                                  evaluator_settings{options.lua_libraries == lua_libraries::safe,
                                                                     options.lua_memory_limit},
                                                  [](worker_session& s, int) { s.close(); });
  session->start();
  auto impl = std::make_shared<worker_impl>(ex, std::move(none), std::move(options));
  impl->start();
  co_await impl->finish_startup();
  co_return in_process_worker(user_handle(std::move(impl)));
}

}  // namespace
}  // namespace detail

// Not a coroutine itself: g++ 12 copies a prvalue argument of a coroutine bitwise when the
// call stands in another coroutine's co_await, so options reach the coroutine as an xvalue.
asio::awaitable<worker> spawn_worker(worker_options options) { return detail::spawn(std::move(options)); }

asio::awaitable<in_process_worker> in_process_worker::start(worker_options options) {
  return detail::start_in_process(std::move(options));
}

bool isrunning(const worker& w) noexcept { return w.impl()->running(); }

asio::awaitable<bool> stop(worker& w) { co_return co_await w.impl()->stop(); }

void kill(const worker& w, int signo) noexcept { w.impl()->signal(signo); }

void interrupt(const worker& w) { w.impl()->send_interrupt(0); }

std::vector<pid_t> running_workers() {
  std::vector<pid_t> out;
  std::lock_guard lock(detail::live().mutex);
  for (auto& [pid, w] : detail::live().workers) out.push_back(pid);
  return out;
}

}  // namespace malt
