// A call's way from its prepared body to its caller's handler: through the worker's call
// driver (src/host/call_driver.cpp), which completes it.
#include "host/remote_failure.hpp"
#include "host/worker_impl.hpp"
#include "protocol/messages.hpp"

#include <malt/detail/remote_call.hpp>

#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/require.hpp>

#include <utility>

namespace malt::detail {
namespace asio = boost::asio;

void call_handle::release() noexcept {
  if (id_ != 0) w_->calls().release(id_);
  id_ = 0;
}

call_handle prepare_call(const std::shared_ptr<worker_impl>& w, const call_target& target) {
  if (!w) throw_empty_worker();
  const auto id = w->calls().prepare(target);
  return call_handle(w, id);
}

std::vector<char>& call_body(const call_handle& call) noexcept { return call.worker().calls().body(call.id()); }

void reserve_body(const call_handle& call, std::size_t n) { call.worker().calls().reserve(call.id(), n); }

void issue(call_handle& call, call_mode mode) {
  auto& w = call.worker();
  switch (mode) {
    case call_mode::fetch: return;
    case call_mode::wait: return w.calls().want_value(call.id(), false);
    case call_mode::eager:
      w.check_running();
      return w.calls().start(call.id(), true, false, true);
    case call_mode::no_reply: {
      w.check_running();
      const auto id = call.id();
      w.calls().start_no_reply(id);
      call = call_handle();  // nothing to await or drop
      return;
    }
  }
}

void set_timeout(worker_impl& w, std::uint64_t id, std::chrono::milliseconds timeout,
                 std::optional<std::chrono::milliseconds> grace) {
  w.calls().set_deadline(id, timeout, std::chrono::steady_clock::time_point::max(), grace);
}

void set_deadline(worker_impl& w, std::uint64_t id, std::chrono::steady_clock::time_point deadline,
                  std::optional<std::chrono::milliseconds> grace) {
  w.calls().set_deadline(id, std::chrono::milliseconds(0), deadline, grace);
}

void async_call(worker_impl& w, std::uint64_t id, place_handler place, void* handler, diagnostics* diag) {
  w.calls().await(id, place, handler, diag);
}

asio::any_io_executor executor_of(const worker_impl& w) noexcept { return w.executor(); }

bool runs_in_this_thread(const asio::any_io_executor& ex) noexcept {
  const auto* io = ex.target<asio::io_context::executor_type>();
  return io && io->running_in_this_thread();
}

namespace {
// Owns a pending completion until it runs; an executor that drops it unrun (its context
// destroyed first) frees it.
class erased_job {
 public:
  erased_job(void (*finish)(void*, bool), void* record) noexcept : finish_(finish), record_(record) {}
  erased_job(erased_job&& o) noexcept : finish_(o.finish_), record_(std::exchange(o.record_, nullptr)) {}
  erased_job& operator=(erased_job&&) = delete;
  ~erased_job() {
    if (record_) finish_(record_, false);
  }
  void operator()() { finish_(std::exchange(record_, nullptr), true); }

 private:
  void (*finish_)(void*, bool);
  void* record_;
};
}  // namespace

void execute_erased(const asio::any_io_executor& ex, bool from_reader, void (*finish)(void*, bool), void* record) {
  erased_job job(finish, record);
  if (from_reader)
    asio::prefer(ex, asio::execution::blocking.possibly).execute(std::move(job));
  else
    asio::require(ex, asio::execution::blocking.never).execute(std::move(job));
}

std::size_t max_decode_depth(const worker_impl& w) noexcept { return w.options().max_decode_depth; }

std::size_t max_frame_size(const worker_impl& w) noexcept { return w.options().max_frame_size; }

failure decode_failure(const worker_impl& w, const std::string& function, const std::exception& e) {
  return failure_of(decode_error(errc::decode_failed,
                                 "could not decode the result of '" + function + "' from " + w.summary() + ": " + e.what()));
}

std::vector<item_reply> split_batch_reply(const worker_impl& w, const std::string& function,
                                          std::span<const char> reply, std::size_t items) {
  std::vector<batch_outcome> outcomes;
  try {
    outcomes = split_batch_reply(reply, items);
  } catch (const malformed_message& e) {
    throw decode_error(errc::decode_failed,
                       "could not decode the results of '" + function + "' from " + w.summary() + ": " + e.what());
  }
  std::vector<item_reply> r(items);
  for (std::size_t i = 0; i < items; ++i) {
    r[i].bytes = outcomes[i].bytes;
    if (!outcomes[i].failed) continue;
    // A worker answers for its item with its own codes only; a host's code is a lie.
    if (auto code = failure_code(outcomes[i].bytes); code && !worker_may_report(*code))
      r[i].failure = std::make_exception_ptr(decode_error(
          errc::decode_failed, "item " + std::to_string(i) + " of a batch of '" + function + "' from " + w.summary() +
                                   " failed with code " + std::to_string(*code) + ", which a worker may not report"));
    else
      r[i].failure = exception_from_report(outcomes[i].bytes, w.summary(), false).exception;
  }
  return r;
}

}  // namespace malt::detail
