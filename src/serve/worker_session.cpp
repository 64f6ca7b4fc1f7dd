#include "serve/worker_session.hpp"

#include "protocol/messages.hpp"
#include "serve/stack_trace.hpp"

#include <malt/detail/registry.hpp>
#include <malt/error.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cxxabi.h>
#include <optional>
#include <typeinfo>
#include <unistd.h>

namespace malt::detail {
namespace asio = boost::asio;

struct call_job {
  frame request;  // owns the bytes args points into
  call_context context;
  boost::asio::cancellation_signal cancel;  // reaches a coroutine function
  std::span<const char> args;
  std::vector<std::span<const char>> items;  // a batch's argument archives
  bool batch = false;
  const function_entry* function = nullptr;
  bool reply_expected = true;
  bool send_value = true;
  outgoing_frame reply;  // the reply being built
  bool failed = false;
  failure_report failure;  // the reply instead, when failed

  void fail(errc code, std::string_view type, std::string_view message, std::string_view trace = {}) {
    fail({code, std::string(type), std::string(message), std::string(trace)});
  }
  void fail(failure_report report) {
    failed = true;
    failure = std::move(report);
  }
  // The failure report as the reply, cut to fit the frame limit.
  void write_failure(std::size_t max_payload) {
    reply = {};
    reply.bytes.assign(frame_header_size, 0);
    encode_failure_report(reply.bytes, std::move(failure), max_payload);
    write_header(reply, frame_type::failure, 0, request.header.call_id);
  }
};

namespace {

failure_report report_failure(const call_context& context, std::exception_ptr failure) {
  if (context.interrupted) return {errc::interrupted, "malt::call_interrupted", "the call was interrupted", {}};
  try {
    std::rethrow_exception(failure);  // unlike a throw, this keeps the recorded stack
  } catch (const bad_request& e) {
    return {errc::bad_request, "malt::bad_request", e.what(), {}};
  } catch (const std::exception& e) {
    return {errc::remote_exception, demangle(typeid(e).name()), e.what(), last_throw_stack()};
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return {errc::remote_exception, t ? demangle(t->name()) : "unknown",
            "(an exception that is not a std::exception)", last_throw_stack()};
  }
}

// Runs body and says how it failed, if it did. Whatever an interrupted call throws, it was
// interrupted.
template <class Body>
std::optional<failure_report> run_guarded(const call_context& context, Body&& body) {
  std::exception_ptr failure;
  try {
    body();
    return std::nullopt;
  } catch (...) {
    failure = std::current_exception();
  }
  return report_failure(context, failure);
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
    if (job.context.interrupted) return job.fail(report_failure(job.context, nullptr));
    auto failure =
        run_guarded(job.context, [&] { job.function->run_sync(job.function->function, args, job.send_value, item); });
    if (job.context.interrupted) return job.fail(report_failure(job.context, nullptr));
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

worker_session::worker_session(asio::any_io_executor ex, stream_socket socket, std::uint32_t max_frame_size,
                               const evaluator_settings& lua, exit_hook on_exit)
    : ex_(std::move(ex)),
      on_exit_(std::move(on_exit)),
      evaluator_(make_evaluator(lua)),
      conn_(std::make_shared<connection>(std::move(socket), max_frame_size)) {}

void worker_session::start() {
  asio::co_spawn(ex_, [self = shared_from_this()]() -> asio::awaitable<void> {
    auto end = co_await self->conn_->read_frames([w = self.get()](frame&& f) { w->on_frame(std::move(f)); });
    if (end.what != read_end::eof && !self->exiting_)  // not the end it made itself
      std::fprintf(stderr, "malt worker: connection to the host lost: %s\n", end.message.c_str());
    self->exit(0);  // the host has gone or dropped this worker
  }, asio::detached);
}

void worker_session::on_frame(frame&& f) {
  if (!greeted_) {
    auto check = f.header.type == frame_type::hello ? check_hello(f.payload)
                                                    : hello_check{0, "the first frame was not a handshake"};
    if (!check.mismatch.empty()) {
      std::fprintf(stderr, "malt worker: protocol mismatch with the host: %s\n", check.mismatch.c_str());
      std::fflush(stderr);
      ::_exit(2);
    }
    greeted_ = true;
    conn_->send(make_hello_frame());
    return;
  }
  try {
    switch (f.header.type) {
      case frame_type::call:
      case frame_type::call_no_reply: return dispatch(std::move(f));
      case frame_type::exit_request: expect_no_payload(f.payload, "exit request"); return exit(0);
      case frame_type::interrupt: expect_no_payload(f.payload, "interrupt"); return interrupt(f.header.call_id);
      default: throw malformed_message(std::string("unexpected frame '") + to_string(f.header.type) + "'");
    }
  } catch (const malformed_message& e) {  // a host that does not speak this protocol
    std::fprintf(stderr, "malt worker: %s from the host\n", e.what());
    return exit(2);
  }
}

namespace {
// Reads the request, finds its function and checks the signature the host expects; a
// request that fails any of these is answered with the failure and never runs.
void admit(call_job& job) {
  try {
    const call_message request = decode_call_request(job.request.payload);
    const std::string_view name = request.function;
    job.args = request.arguments;
    if (request.batch_items > 0) {
      job.batch = true;
      job.items = split_batch_items(request);
    }
    job.function = find_function(name);
    if (!job.function)
      return job.fail(errc::unknown_function, "malt::unknown_function",
                      "no function named '" + std::string(name) + "' is registered in this worker");
    const auto& f = *job.function;
    const std::string_view result = request.result_type;
    if (request.parameter_types != f.parameter_types || (!result.empty() && result != f.result_type)) {
      // Appended in turn: g++ 12 warns falsely (-Wrestrict) about "'" + std::string here.
      std::string message = std::string("'").append(name).append("' is ");
      message.append(f.result_type).append(f.parameter_types).append(" in this worker, but was called as ");
      message.append(result.empty() ? std::string_view("void") : result).append(request.parameter_types);
      return job.fail(errc::signature_mismatch, "malt::signature_mismatch", message);
    }
    // A host that declared a void result does not want the value, whatever it is.
    job.send_value = (job.request.header.flags & flag_send_value) && !result.empty();
  } catch (const std::exception& e) {
    job.fail(errc::bad_request, "malt::bad_request", std::string("malformed ") + e.what());
  }
}
}  // namespace

void worker_session::dispatch(frame&& f) {
  auto job = std::make_shared<call_job>();
  job->request = std::move(f);
  job->reply_expected = job->request.header.type == frame_type::call;
  job->reply.bytes.resize(frame_header_size);
  const auto id = job->request.header.call_id;
  admit(*job);
  if (job->failed) return finish(job, false);
  if (job->reply_expected) {
    std::lock_guard lock(running_m_);
    running_.emplace(id, job);
  }
  if (job->function->run_sync) {
    if (!pool_.post([self = shared_from_this(), job] { self->run_sync(job); })) {
      job->fail(errc::remote_exception, "std::system_error",
                "no thread could start to run '" + job->function->name + "': " + std::strerror(EAGAIN) +
                    " (the worker is at its processes limit, worker_options::limits.processes)");
      finish(job, false);
    }
    return;
  }
  asio::co_spawn(ex_, [self = shared_from_this(), job]() -> asio::awaitable<void> {
    std::exception_ptr failed;
    try {
      make_current(self->evaluator_.get(), &job->context, job->request.header.call_id);  // for the built-in Lua functions
      if (job->batch)
        co_await run_batch_async(*job);
      else
        co_await job->function->run_async(job->function->function, job->args, job->send_value, job->reply);
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed) job->fail(report_failure(job->context, failed));
    self->finish(job, false);
  }, asio::bind_cancellation_slot(job->cancel.slot(), asio::detached));
}

void worker_session::interrupt(std::uint64_t id) {
  std::vector<std::shared_ptr<call_job>> targets;
  {
    std::lock_guard lock(running_m_);
    if (id == 0) {
      for (auto& [_, job] : running_) targets.push_back(job);
    } else if (auto it = running_.find(id); it != running_.end()) {
      targets.push_back(it->second);
    }
  }
  for (auto& job : targets) {  // a call that ends meanwhile ignores its interrupt
    job->context.interrupt();
    if (job->function->run_async) job->cancel.emit(asio::cancellation_type::terminal);
  }
}

void worker_session::run_sync(const std::shared_ptr<call_job>& job) {
  {
    current_call scope(job->context);
    if (job->batch) {
      run_batch_sync(*job);
    } else if (auto failure = run_guarded(job->context, [&] {
                 job->function->run_sync(job->function->function, job->args, job->send_value, job->reply);
               })) {
      job->fail(std::move(*failure));
    }
  }
  // Alone, the call answers from this thread, without waking the I/O thread. In a burst,
  // replies go through the I/O thread, which sends those that finished meanwhile together.
  if (pool_.has_waiting_jobs())
    asio::post(ex_, [self = shared_from_this(), job] { self->finish(job, false); });
  else
    finish(job, true);
}

void worker_session::finish(const std::shared_ptr<call_job>& job, bool on_pool_thread) {
  const auto id = job->request.header.call_id;
  {
    std::lock_guard lock(running_m_);
    running_.erase(id);
  }
  conn_->spare().give(std::move(job->request.payload));  // the call is over with its arguments
  if (!job->reply_expected) {
    if (job->failed && !job->context.interrupted)
      std::fprintf(stderr, "malt worker: remote_do failed: %s: %s\n", job->failure.type.c_str(),
                   job->failure.message.c_str());
    return;
  }
  if (!job->failed) {
    const std::size_t size = job->reply.payload_size();
    if (size > conn_->max_frame_size())
      job->fail(errc::frame_too_large, "malt::frame_too_large",
                "the result is " + std::to_string(size) + " bytes, over the limit of " +
                    std::to_string(conn_->max_frame_size()) + " bytes (worker_options::max_frame_size)");
    else
      write_header(job->reply, frame_type::result, 0, id);
  }
  if (job->failed) job->write_failure(conn_->max_frame_size());
  if (on_pool_thread)
    conn_->send_at_once(std::move(job->reply));
  else
    conn_->send(std::move(job->reply));
}

void worker_session::exit(int code) {
  if (exiting_) return;
  exiting_ = true;
  interrupt(0);  // an in-process worker's evals would otherwise run on in the host
  on_exit_(*this, code);
}

}  // namespace malt::detail
