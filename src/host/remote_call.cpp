// A call's way from its encoded request to its caller's handler: sent through the worker's
// call driver (src/host/call_driver.cpp), which completes it.
#include "host/remote_failure.hpp"
#include "host/worker_impl.hpp"
#include "protocol/messages.hpp"

#include <malt/detail/remote_call.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <stdexcept>

namespace malt::detail {
namespace asio = boost::asio;

namespace {
void send(call_request& r) {
  r.w->check_running();
  const bool eager = r.mode == call_mode::eager;
  r.id = r.w->calls().start(std::move(r.frame), r.mode != call_mode::wait, !eager);
}
}  // namespace

call_request::~call_request() {
  if (id != 0 && !initiated) w->calls().forget(id);
}

std::shared_ptr<call_request> issue(std::shared_ptr<worker_impl> w, std::vector<char> frame, call_mode mode,
                                    std::string function) {
  if (mode == call_mode::no_reply) {
    w->check_running();
    w->calls().start_no_reply(std::move(frame));
    return nullptr;
  }
  auto r = std::make_shared<call_request>();
  r->w = std::move(w);
  r->mode = mode;
  r->function = std::move(function);
  r->frame = std::move(frame);
  if (mode == call_mode::eager) send(*r);
  return r;
}

void async_call(call_request& r, call_completion handler) {
  auto fail = [&](std::exception_ptr e) {
    asio::post(r.w->executor(), asio::append(std::move(handler), e, std::vector<char>()));
  };
  if (r.initiated) return fail(std::make_exception_ptr(std::logic_error("a malt call operation was awaited twice")));
  r.initiated = true;
  if (r.id == 0) {
    try {
      send(r);
    } catch (...) {
      return fail(std::current_exception());
    }
  }
  auto deadline = r.deadline;
  if (r.timeout.count() > 0) deadline = std::min(deadline, std::chrono::steady_clock::now() + r.timeout);
  r.w->calls().await(r.id, std::move(handler), deadline, r.grace);
}

asio::any_io_executor executor_of(const worker_impl& w) noexcept { return w.executor(); }

std::size_t max_decode_depth(const worker_impl& w) noexcept { return w.options().max_decode_depth; }

std::size_t max_frame_size(const worker_impl& w) noexcept { return w.options().max_frame_size; }

std::vector<char> request_buffer(worker_impl& w) {
  auto frame = w.spare().take();
  frame.resize(frame_header_size);
  return frame;
}

void recycle(worker_impl& w, std::vector<char>&& reply) noexcept { w.spare().give(std::move(reply)); }

std::exception_ptr decode_failure(const worker_impl& w, const std::string& function, const std::exception& e) {
  return std::make_exception_ptr(decode_error(
      errc::decode_failed, "could not decode the result of '" + function + "' from " + w.summary() + ": " + e.what()));
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
      r[i].failure = exception_from_report(outcomes[i].bytes, w.summary(), false);
  }
  return r;
}

}  // namespace malt::detail
