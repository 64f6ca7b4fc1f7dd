#include "serve/worker_session.hpp"

#include "protocol/messages.hpp"
#include "serve/stack_trace.hpp"

#include <malt/detail/registry.hpp>
#include <malt/error.hpp>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <cxxabi.h>
#include <optional>
#include <typeinfo>
#include <unistd.h>

namespace malt::detail {
namespace asio = boost::asio;

struct call_job {
  std::uint64_t id = 0;
  bool reply_expected = true;
  bool send_value = true;
  bool batch = false;
  const function_entry* function = nullptr;
  std::vector<char> arguments;  // the request's, copied out of the read buffer, or a large frame's own
  std::span<const char> args;
  std::vector<std::span<const char>> items;  // a batch's argument archives
  call_context context;
  job_runner* runner = nullptr;              // the coroutine running it, for a coroutine function
  outgoing_frame reply;                      // the reply being built
  bool failed = false;
  failure_report failure;  // the reply instead, when failed
  call_job* prev = nullptr;  // in the session's list of running jobs
  call_job* next = nullptr;
  bool listed_on_pool = false;  // in the pool's list (else in the I/O thread's, or none)
  bool listed = false;

  void reset() {
    reply_expected = send_value = true;
    batch = failed = false;
    function = nullptr;
    args = {};
    items.clear();
    context.reset();
    runner = nullptr;
    reply.bytes.resize(frame_header_size);
    reply.tail = {};
    reply.owner.reset();
    // Large arguments are not kept for every later small call of this record.
    if (arguments.capacity() > write_batch::large) arguments = {};
  }
  void fail(errc code, std::string_view type, std::string_view message, std::string_view trace = {}) {
    fail({code, std::string(type), std::string(message), std::string(trace)});
  }
  void fail(failure_report report) {
    failed = true;
    failure = std::move(report);
  }
  // The failure report as the reply, cut to fit the frame limit.
  void write_failure(std::size_t max_payload) {
    reply.bytes.resize(frame_header_size);
    reply.tail = {};
    reply.owner.reset();
    encode_failure_report(reply.bytes, std::move(failure), max_payload);
    write_header(reply, frame_type::failure, 0, id);
  }
};

/// A coroutine that runs coroutine functions' calls one after another, waiting between
/// them; started when a call finds none waiting, and kept for the next ones.
struct job_runner {
  boost::asio::cancellation_signal cancel;  // reaches the coroutine function it runs
  // Set while it waits for a call (optional<>: Asio 1.26 mis-assigns any_completion_handler).
  std::optional<boost::asio::any_completion_handler<void(call_job*)>> waiting;
};

namespace {

// stack: where the failure was thrown, when that is known.
failure_report report_failure(const call_context& context, std::exception_ptr failure,
                              const throw_stack* stack = nullptr) {
  if (context.is_interrupted()) return {errc::interrupted, "malt::call_interrupted", "the call was interrupted", {}};
  const std::string trace = stack ? format_throw_stack(*stack) : std::string();
  try {
    std::rethrow_exception(failure);
  } catch (const bad_request& e) {
    return {errc::bad_request, "malt::bad_request", e.what(), {}};
  } catch (const std::exception& e) {
    return {errc::remote_exception, demangle(typeid(e).name()), e.what(), trace};
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return {errc::remote_exception, t ? demangle(t->name()) : "unknown", "(an exception that is not a std::exception)",
            trace};
  }
}

// Runs body and says how it failed, if it did, with the stack where it threw. Whatever an
// interrupted call throws, it was interrupted.
template <class Body>
std::optional<failure_report> run_guarded(const call_context& context, Body&& body) {
  throw_stack stack;
  const auto run = [](void* b) { (*static_cast<std::remove_reference_t<Body>*>(b))(); };
  std::exception_ptr failure = run_recording_throw(run, &body, stack);
  if (!failure) return std::nullopt;
  return report_failure(context, failure, &stack);
}

// A batch's reply is its items' outcomes; a failure report of an item is cut to this.
constexpr std::size_t max_item_report = 64 * 1024;

void append_outcome(call_job& job, std::optional<failure_report> failure, const outgoing_frame& item) {
  if (!failure) return append_batch_outcome(job.reply.bytes, false, item.bytes, item.tail);
  std::vector<char> report;
  encode_failure_report(report, std::move(*failure), max_item_report);
  append_batch_outcome(job.reply.bytes, true, report);
}

void clear(outgoing_frame& item) {
  item.bytes.clear();
  item.tail = {};
  item.owner.reset();
}

// The items of a batch run one after another, each outcome its own; an interrupt ends the
// whole batch, which then answers as an interrupted call.
void run_batch_sync(call_job& job) {
  outgoing_frame item;
  for (const auto args : job.items) {
    clear(item);
    if (job.context.is_interrupted()) return job.fail(report_failure(job.context, nullptr));
    auto failure =
        run_guarded(job.context, [&] { job.function->run_sync(job.function->function, args, job.send_value, item); });
    if (job.context.is_interrupted()) return job.fail(report_failure(job.context, nullptr));
    append_outcome(job, std::move(failure), item);
  }
}

asio::awaitable<void> run_batch_async(call_job& job) {
  outgoing_frame item;
  for (const auto args : job.items) {
    clear(item);
    std::exception_ptr failed;
    try {
      co_await job.function->run_async(job.function->function, args, job.send_value, item);
    } catch (...) {
      failed = std::current_exception();
    }
    if (job.context.interrupted) co_return job.fail(report_failure(job.context, nullptr));
    append_outcome(job, failed ? std::optional(report_failure(job.context, failed)) : std::nullopt, item);
  }
}

}  // namespace

worker_session::worker_session(asio::any_io_executor ex, std::shared_ptr<connection> conn,
                               const evaluator_settings& lua, exit_hook on_exit, bool own_process)
    : ex_(std::move(ex)),
      on_exit_(std::move(on_exit)),
      evaluator_(make_evaluator(lua)),
      conn_(std::move(conn)),
      own_process_(own_process) {}

worker_session::~worker_session() = default;

void worker_session::start() {
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    auto end = co_await self->conn_->read_frames([w = self.get()](frame& f) { w->on_frame(f); },
                                                 [w = self.get()] { w->end_of_read(); });
    if (end.what != read_end::eof && !self->exiting_)  // not the end it made itself
      std::fprintf(stderr, "malt worker: connection to the host lost: %s\n", end.message.c_str());
    self->exit(0);  // the host has gone or dropped this worker
  }, asio::detached);
}

void worker_session::end_of_read() {
  start_coroutines();  // their replies join the read's
  in_read_ = false;
  if (replies_.empty()) return;
  conn_->send_with([this](write_batch& batch) {
    if (batch.empty())
      std::swap(batch, replies_);
    else
      batch.append(std::move(replies_));
  });
  replies_.clear();
}

void worker_session::on_frame(frame& f) {
  in_read_ = true;
  if (!greeted_) {
    auto check = f.header.type == frame_type::hello ? check_hello(f.payload)
                                                    : hello_check{0, "the first frame was not a handshake"};
    if (!check.mismatch.empty()) {
      std::fprintf(stderr, "malt worker: protocol mismatch with the host: %s\n", check.mismatch.c_str());
      std::fflush(stderr);
      ::_exit(2);
    }
    greeted_ = true;
    conn_->send(make_hello_frame(announced_pid_));
    if (on_greeted_) on_greeted_();
    return;
  }
  try {
    switch (f.header.type) {
      case frame_type::call:
      case frame_type::call_no_reply: return dispatch(f);
      case frame_type::exit_request: expect_no_payload(f.payload, "exit request"); return exit(0);
      case frame_type::interrupt: expect_no_payload(f.payload, "interrupt"); return interrupt(f.header.call_id);
      case frame_type::signal: expect_no_payload(f.payload, "signal request"); return raise_signal(f.header.call_id);
      default: throw malformed_message(std::string("unexpected frame '") + to_string(f.header.type) + "'");
    }
  } catch (const malformed_message& e) {  // a host that does not speak this protocol
    std::fprintf(stderr, "malt worker: %s from the host\n", e.what());
    return exit(2);
  }
}

call_job* worker_session::take_job() {
  if (free_jobs_.empty()) {
    std::lock_guard lock(pool_m_);
    std::swap(free_jobs_, returned_jobs_);
  }
  if (free_jobs_.empty()) {
    jobs_.push_back(std::make_unique<call_job>());
    // Room for every job in both lists: recycling never allocates.
    free_jobs_.reserve(jobs_.size());
    std::lock_guard lock(pool_m_);
    returned_jobs_.reserve(jobs_.size());
    finished_on_pool_.reserve(jobs_.size());
    waiting_coroutines_.reserve(jobs_.size());
    return jobs_.back().get();
  }
  call_job* job = free_jobs_.back();
  free_jobs_.pop_back();
  return job;
}

void worker_session::unlink(call_job* job, call_job*& head) noexcept {
  if (job->prev) job->prev->next = job->next;
  if (job->next) job->next->prev = job->prev;
  if (head == job) head = job->next;
  job->prev = job->next = nullptr;
  job->listed = false;
}

void worker_session::recycle(call_job* job, bool on_pool_thread) noexcept {
  // The memory of a large request serves the connection's next large frame.
  if (job->arguments.capacity() >= spare_buffer::min_capacity) conn_->spare().give(std::move(job->arguments));
  if (!on_pool_thread) return free_jobs_.push_back(job);
  std::lock_guard lock(pool_m_);
  if (job->listed) unlink(job, running_on_pool_);
  returned_jobs_.push_back(job);
}

void worker_session::define(const call_message& request) {
  interned_function f;
  const std::string_view name = request.function;
  f.entry = find_function(name);
  f.wants_value = !request.result_type.empty();
  if (!f.entry) {
    f.problem = {errc::unknown_function, "malt::unknown_function",
                 "no function named '" + std::string(name) + "' is registered in this worker", {}};
  } else if (request.parameter_types != f.entry->parameter_types ||
             (f.wants_value && request.result_type != f.entry->result_type)) {
    // Appended in turn: g++ 12 warns falsely (-Wrestrict) about "'" + std::string here.
    std::string message = std::string("'").append(name).append("' is ");
    message.append(f.entry->result_type).append(f.entry->parameter_types).append(" in this worker, but was called as ");
    message.append(f.wants_value ? request.result_type : std::string_view("void")).append(request.parameter_types);
    f.problem = {errc::signature_mismatch, "malt::signature_mismatch", std::move(message), {}};
    f.entry = nullptr;
  }
  functions_.push_back(std::move(f));
}

void worker_session::admit(call_job& job, frame& f) {
  try {
    const call_message request = decode_call_request(f.payload, f.header.flags);
    if (request.defines) {
      // Ids are given in turn: a host that skips or repeats one does not speak this protocol.
      if (request.function_id != functions_.size() + 1)
        return job.fail(errc::bad_request, "malt::bad_request",
                        "malformed call request: it defines function id " + std::to_string(request.function_id) +
                            " where " + std::to_string(functions_.size() + 1) + " was next");
      define(request);
    } else if (request.function_id == 0 || request.function_id > functions_.size()) {
      return job.fail(errc::bad_request, "malt::bad_request",
                      "malformed call request: function id " + std::to_string(request.function_id) +
                          " was never defined on this connection");
    }
    const interned_function& function = functions_[request.function_id - 1];
    if (!function.entry) return job.fail(function.problem);
    job.function = function.entry;
    // A host that declared a void result does not want the value, whatever it is.
    job.send_value = (f.header.flags & flag_send_value) && function.wants_value;
    const bool runs_now = !job.function->run_async && job.function->where == run_on::io_thread;
    if (runs_now) {  // done before the read buffer is reused: nothing to copy
      job.args = request.arguments;
    } else if (!f.owned.empty()) {  // a large request: its bytes are the job's now
      const auto offset = request.arguments.data() - f.owned.data();
      job.arguments = std::move(f.owned);
      job.args = std::span<const char>(job.arguments).subspan(static_cast<std::size_t>(offset));
    } else {
      job.arguments.assign(request.arguments.begin(), request.arguments.end());
      job.args = job.arguments;
    }
    if (request.batch_items > 0) {
      job.batch = true;
      call_message items = request;
      items.arguments = job.args;
      job.items = split_batch_items(items);
    }
  } catch (const std::exception& e) {
    job.fail(errc::bad_request, "malt::bad_request", std::string("malformed ") + e.what());
  }
}

bool worker_session::answer_inline(frame& f) {
  std::uint32_t function_id = 0;
  std::span<const char> arguments;
  // Anything else, a malformed request included, takes the general path.
  if (!read_plain_call(f.payload, f.header.flags, function_id, arguments) || function_id == 0 ||
      function_id > functions_.size())
    return false;
  const interned_function& function = functions_[function_id - 1];
  const function_entry* entry = function.entry;
  if (!entry || entry->run_async || entry->where != run_on::io_thread) return false;
  const std::uint64_t id = f.header.call_id;
  inline_context_.reset();
  inline_context_.watch_signals(id);  // no interrupt frame is read while it runs
  // The reply is written where it will be sent from: the batch's bytes, after a header.
  outgoing_frame& reply = inline_reply_;
  std::swap(reply.bytes, replies_.bytes());
  const std::size_t at = reply.bytes.size();
  reply.bytes.resize(at + frame_header_size);
  // No failure report is made (or its room cleared) unless the function fails.
  throw_stack stack;
  std::exception_ptr thrown;
  {
    current_call scope(inline_context_);
    const bool send_value = (f.header.flags & flag_send_value) && function.wants_value;
    auto body = [&] { entry->run_sync(entry->function, arguments, send_value, reply); };
    thrown = run_recording_throw([](void* b) { (*static_cast<decltype(body)*>(b))(); }, &body, stack);
  }
  const std::size_t payload = reply.bytes.size() - at - frame_header_size + reply.tail.size();
  if (thrown || payload > conn_->max_frame_size()) [[unlikely]] {
    reply.bytes.resize(at);
    reply.tail = {};
    reply.owner.reset();
    std::swap(reply.bytes, replies_.bytes());
    call_job failed;
    failed.id = id;
    if (thrown)
      failed.fail(report_failure(inline_context_, thrown, &stack));
    else
      failed.fail(failure_report{errc::frame_too_large, "malt::frame_too_large",
                                 "the result is " + std::to_string(payload) + " bytes, over the limit of " +
                                     std::to_string(conn_->max_frame_size()) +
                                     " bytes (worker_options::max_frame_size)",
                                 {}});
    failed.write_failure(conn_->max_frame_size());
    replies_.append(std::move(failed.reply));
    return true;
  }
  put_header(reply.bytes.data() + at, payload, frame_type::result, 0, id);
  std::vector<char> large;  // a large value's bytes go as a part of their own, as any reply's
  if (reply.bytes.size() - at >= write_batch::large) {
    large.assign(reply.bytes.begin() + static_cast<std::ptrdiff_t>(at), reply.bytes.end());
    reply.bytes.resize(at);
  }
  std::swap(reply.bytes, replies_.bytes());
  if (!large.empty()) replies_.append(std::move(large));
  if (!reply.tail.empty()) {
    replies_.append(outgoing_frame{{}, reply.tail, std::move(reply.owner)});
    reply.tail = {};
  }
  return true;
}

void worker_session::dispatch(frame& f) {
  if (f.header.type == frame_type::call && answer_inline(f)) return;
  call_job* job = take_job();
  job->reset();
  job->id = f.header.call_id;
  job->reply_expected = f.header.type == frame_type::call;
  admit(*job, f);
  if (job->failed) return finish(job, false);
  // A call that runs on after this handler is listed, so that an interrupt finds it.
  auto list_in = [job](call_job*& head, bool pool) {
    job->next = head;
    job->prev = nullptr;
    if (head) head->prev = job;
    head = job;
    job->listed = true;
    job->listed_on_pool = pool;
  };
  if (job->function->run_async) {
    if (job->reply_expected) list_in(running_here_, false);
    return waiting_coroutines_.push_back(job);  // has room: reserved
  }
  if (job->function->where != run_on::pool) {
    job->context.watch_signals(job->id);  // no interrupt frame is read while it runs
    run_sync(*job);
    return finish(job, false);
  }
  {
    std::lock_guard lock(pool_m_);
    if (job->reply_expected) list_in(running_on_pool_, true);
    ++on_pool_;  // close() waits for it
  }
  const bool posted = pool_.post([this, job] {
    run_sync(*job);
    finish_from_pool(job);
    left_pool();
  });
  if (!posted) {
    left_pool();
    job->fail(errc::remote_exception, "std::system_error",
              "no thread could start to run '" + job->function->name + "': " + std::strerror(EAGAIN) +
                  " (the worker is at its processes limit, worker_options::limits.processes)");
    finish(job, false);
  }
}

void worker_session::finish_from_pool(call_job* job) {
  {
    std::unique_lock lock(pool_m_);
    if (finish_posted_ || pool_.has_waiting_jobs()) {
      finished_on_pool_.push_back(job);  // has room: reserved for every job
      if (std::exchange(finish_posted_, true)) return;
    } else {
      lock.unlock();
      return finish(job, true);
    }
  }
  post_in(finish_memory_, ex_, [self = shared_from_this()] { self->finish_posted(); });
}

void worker_session::left_pool() noexcept {
  std::shared_ptr<worker_session> closing;
  {
    std::lock_guard lock(pool_m_);
    if (--on_pool_ == 0) closing = std::move(closing_);
  }
  if (!closing) return;
  // The host waits for the close, so its io_context runs: the session ends there.
  auto& self = *closing;
  try {
    asio::post(self.ex_, [s = std::move(closing)] { s->conn_->close(); });
  } catch (...) {  // no memory for the post
    self.conn_->close();
  }
}

void worker_session::close() {
  {
    std::lock_guard lock(pool_m_);
    if (on_pool_ != 0) {
      closing_ = shared_from_this();
      return;
    }
  }
  conn_->close();
}

void worker_session::finish_posted() {
  {
    std::lock_guard lock(pool_m_);
    std::swap(finishing_, finished_on_pool_);
    finish_posted_ = false;
  }
  in_read_ = true;  // their replies leave in one write
  for (auto* job : finishing_) finish(job, false);
  finishing_.clear();
  end_of_read();
}

call_job* worker_session::next_waiting_coroutine() noexcept {
  if (next_coroutine_ < waiting_coroutines_.size()) return waiting_coroutines_[next_coroutine_++];
  waiting_coroutines_.clear();
  next_coroutine_ = 0;
  return nullptr;
}

void worker_session::start_coroutines() {
  // Each runner resumed here runs calls until one waits; the next runner goes on from there.
  while (call_job* job = next_waiting_coroutine()) run_on_runner(job);
}

void worker_session::run_on_runner(call_job* job) {
  if (!idle_runners_.empty()) {
    job_runner* r = idle_runners_.back();
    idle_runners_.pop_back();
    job->runner = r;
    // Resumed here: it runs calls until one waits, then start_coroutines goes on.
    auto resume = std::move(*r->waiting);
    r->waiting.reset();
    std::move(resume)(job);
    return;
  }
  runners_.push_back(std::make_unique<job_runner>());
  job_runner* r = runners_.back().get();
  job->runner = r;
  asio::co_spawn(ex_, runner_loop(shared_from_this(), r, job), asio::bind_cancellation_slot(r->cancel.slot(), asio::detached));
}

asio::awaitable<void> worker_session::runner_loop(std::shared_ptr<worker_session> self, job_runner* r, call_job* job) {
  while (job) {
    std::exception_ptr failed;
    const bool interrupted_early = job->context.is_interrupted();  // while it waited to start: it does not
    try {
      make_current(self->evaluator_.get(), &job->context, job->id);  // for the built-in Lua functions
      if (interrupted_early) {
      } else if (job->batch)
        co_await run_batch_async(*job);
      else
        co_await job->function->run_async(job->function->function, job->args, job->send_value, job->reply);
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed || interrupted_early) job->fail(report_failure(job->context, failed));
    // An interrupt cancels the runner's state for good: a new one for the next call. Only
    // an interrupted call's runner needs it (a new state costs a slot's memory).
    const bool interrupted = job->context.interrupted;
    self->finish(job, false);
    if (self->exiting_) co_return;
    if (interrupted) co_await asio::this_coro::reset_cancellation_state();
    if ((job = self->next_waiting_coroutine())) {  // the read's next call, without a wait
      job->runner = r;
      continue;
    }
    self->idle_runners_.push_back(r);
    job = co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(call_job*)>(
        [r](auto handler) { r->waiting.emplace(std::move(handler)); }, asio::use_awaitable);
  }
}

void worker_session::interrupt(std::uint64_t id) {
  // Runners run on this thread only: theirs are cancelled once the lock is down, as a
  // cancellation may end a call at once.
  {
    std::lock_guard lock(pool_m_);  // a job is not recycled while it is interrupted
    for (call_job* job = running_on_pool_; job; job = job->next)
      if (id == 0 || job->id == id) job->context.interrupt();
  }
  std::vector<job_runner*> runners;
  for (call_job* job = running_here_; job; job = job->next)
    if (id == 0 || job->id == id) {
      job->context.interrupt();
      if (job->runner) runners.push_back(job->runner);  // else it has not started: it will not
    }
  for (auto* r : runners) r->cancel.emit(asio::cancellation_type::terminal);
}

void worker_session::run_sync(call_job& job) {
  current_call scope(job.context);
  if (job.batch) {
    run_batch_sync(job);
  } else if (auto failure = run_guarded(job.context, [&] {
               job.function->run_sync(job.function->function, job.args, job.send_value, job.reply);
             })) {
    job.fail(std::move(*failure));
  }
}

void worker_session::finish(call_job* job, bool on_pool_thread) {
  // A pool thread's call leaves the list when its record is recycled, under the same lock;
  // an interrupt meanwhile finds it answered, and does nothing.
  const bool unlink_when_recycled = job->listed && job->listed_on_pool && on_pool_thread;
  if (job->listed && !unlink_when_recycled) {
    if (job->listed_on_pool) {
      std::lock_guard lock(pool_m_);
      unlink(job, running_on_pool_);
    } else {
      unlink(job, running_here_);
    }
  }
  if (!job->reply_expected) {
    if (job->failed && !job->context.is_interrupted())
      std::fprintf(stderr, "malt worker: remote_do failed: %s: %s\n", job->failure.type.c_str(),
                   job->failure.message.c_str());
    return recycle(job, on_pool_thread);
  }
  if (!job->failed) {
    const std::size_t size = job->reply.payload_size();
    if (size > conn_->max_frame_size())
      job->fail(errc::frame_too_large, "malt::frame_too_large",
                "the result is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(conn_->max_frame_size()) + " bytes (worker_options::max_frame_size)");
    else
      write_header(job->reply, frame_type::result, 0, job->id);
  }
  if (job->failed) job->write_failure(conn_->max_frame_size());
  if (on_pool_thread)
    conn_->send_at_once(job->reply);
  else if (in_read_)
    replies_.append(std::move(job->reply));
  else
    conn_->send_with([&](write_batch& b) { b.append(std::move(job->reply)); });
  recycle(job, on_pool_thread);
}

void worker_session::raise_signal(std::uint64_t signo) {
  if (signo == 0 || signo >= static_cast<std::uint64_t>(NSIG))
    throw malformed_message("signal request for signal " + std::to_string(signo) + ", which does not exist");
  if (!own_process_) throw malformed_message("signal request to an in-process worker");
  std::fflush(nullptr);
  ::kill(::getpid(), static_cast<int>(signo));
}

void worker_session::exit(int code) {
  if (exiting_) return;
  exiting_ = true;
  interrupt(0);  // an in-process worker's evals would otherwise run on in the host
  while (call_job* job = next_waiting_coroutine()) {  // never started: nobody waits for them
    if (job->listed) unlink(job, running_here_);
    recycle(job, false);
  }
  // Runners waiting for a call end; those running one end when it does.
  for (auto* r : std::exchange(idle_runners_, {})) {
    auto resume = std::move(*r->waiting);
    r->waiting.reset();
    std::move(resume)(nullptr);
  }
  on_exit_(*this, code);
}

}  // namespace malt::detail
