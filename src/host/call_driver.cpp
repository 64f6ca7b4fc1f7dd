#include "host/call_driver.hpp"

#include "host/remote_failure.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/post.hpp>

#include <stdexcept>

namespace malt::detail {
namespace asio = boost::asio;

call_driver::call_driver(asio::any_io_executor ex, std::shared_ptr<connection> conn, const worker_options& options,
                         bool can_kill, std::string summary, worker_hooks hooks)
    : ex_(std::move(ex)),
      conn_(std::move(conn)),
      max_frame_size_(options.max_frame_size),
      max_queued_bytes_(options.max_queued_bytes),
      grace_(options.interrupt_grace),
      summary_(std::move(summary)),
      hooks_(std::move(hooks)),
      book_(can_kill && options.interrupt_escalation == interrupt_escalation::kill) {}

void call_driver::open() {
  conn_->on_write_end([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->perform(self->book_.on_written());
  });
  perform(book_.on_open());
}

void call_driver::check_size(const std::vector<char>& frame) const {
  const auto size = frame.size() - frame_header_size;
  if (size > max_frame_size_)
    throw error(errc::frame_too_large, "the request is " + std::to_string(size) + " bytes, over the limit of " +
                                           std::to_string(max_frame_size_) + " bytes (worker_options::max_frame_size)");
}

void call_driver::check_room(std::size_t size) const {
  if (book_.has_room(size, max_queued_bytes_)) return;
  throw error(errc::queue_full, "the request cannot be queued: " + std::to_string(book_.queued_bytes()) +
                                    " bytes wait to be written to " + summary_ +
                                    ", the limit is worker_options::max_queued_bytes = " +
                                    std::to_string(max_queued_bytes_) + " (an awaited call waits for room instead)");
}

std::uint64_t call_driver::start(std::vector<char> frame, bool send_value, bool may_wait) {
  check_size(frame);
  if (!may_wait) check_room(frame.size());
  auto started = book_.on_start(std::move(frame), send_value);
  waiters_.try_emplace(started.id);
  perform(std::move(started.actions));
  return started.id;
}

void call_driver::start_no_reply(std::vector<char> frame) {
  check_size(frame);
  check_room(frame.size());
  perform(book_.on_start_no_reply(std::move(frame)));
}

struct call_driver::cancel_handler {
  std::shared_ptr<call_driver> driver;
  std::uint64_t id;
  void operator()(asio::cancellation_type_t type) {
    // Completing the call clears the slot, which destroys this handler: hold on first.
    auto keep = driver;
    keep->perform(keep->book_.on_cancel(id, type));
  }
};

void call_driver::await(std::uint64_t id, call_completion handler, std::chrono::steady_clock::time_point deadline,
                        std::optional<std::chrono::milliseconds> grace) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) {  // start() made every waiter, and only completion removes one
    auto failure = std::make_exception_ptr(std::logic_error("a malt call was awaited after it was forgotten"));
    return asio::post(ex_, asio::append(std::move(handler), failure, std::vector<char>()));
  }
  waiter& w = it->second;
  w.handler.emplace(std::move(handler));
  w.grace = grace;
  if (w.outcome) {  // an eager call whose reply is in
    auto [failure, reply] = std::move(*w.outcome);
    return deliver(it, failure, std::move(reply));
  }
  auto slot = asio::get_associated_cancellation_slot(*w.handler);
  if (slot.is_connected()) {
    w.slot = slot;
    slot.template emplace<cancel_handler>(cancel_handler{shared_from_this(), id});
  }
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    w.deadline.emplace(ex_, deadline);
    w.deadline->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (!ec) self->perform(self->book_.on_timeout(id));
    });
  }
}

void call_driver::forget(std::uint64_t id) noexcept {
  auto it = waiters_.find(id);
  if (it == waiters_.end() || it->second.handler) return;
  if (it->second.outcome)
    waiters_.erase(it);
  else
    it->second.forgotten = true;
}

void call_driver::on_reply(frame&& f) { perform(book_.on_reply(f.header.call_id, f.header.type, std::move(f.payload))); }

void call_driver::interrupt_all() { perform(book_.on_interrupt_all()); }

void call_driver::stop() { perform(book_.on_stop()); }

void call_driver::ended() {
  perform(book_.on_worker_end());
  graces_.clear();
}

void call_driver::perform(call_actions actions) {
  for (auto& a : actions) switch (a.what) {
      case call_action::write: write(); break;
      case call_action::complete: complete(a); break;
      case call_action::interrupt: hooks_.interrupting(a.id); break;
      case call_action::arm_grace: arm_grace(a.id); break;
      case call_action::disarm_grace: graces_.erase(a.id); break;  // destroying the timer cancels it
      case call_action::escalate:
        hooks_.escalated("a call ignored its interrupt for " + std::to_string(grace_of(a.id).count()) +
                         " ms (interrupt_escalation::kill)");
        break;
      case call_action::violation: hooks_.violated(std::move(a.reason)); break;
    }
}

void call_driver::write() {
  batch_.clear();
  book_.take_writes(batch_);
  if (!batch_.empty()) conn_->send(batch_);
}

std::chrono::milliseconds call_driver::grace_of(std::uint64_t id) const {
  auto it = waiters_.find(id);
  return it != waiters_.end() && it->second.grace ? *it->second.grace : grace_;
}

void call_driver::arm_grace(std::uint64_t id) {
  auto [it, fresh] = graces_.try_emplace(id, ex_, grace_of(id));
  if (!fresh) return;
  it->second.async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
    // A timer erased after its wake was queued completes without error: check it is armed.
    if (ec || self->graces_.erase(id) == 0) return;
    self->perform(self->book_.on_grace_expired(id));
  });
}

std::exception_ptr call_driver::failure_of(call_action& done) const {
  switch (done.end) {
    case call_end::replied: break;
    case call_end::withdrawn:
      return done.timed_out ? std::make_exception_ptr(error(errc::timed_out, "the call to " + summary_ +
                                                                              " timed out before it was sent"))
                            : std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
    case call_end::abandoned:
      return done.timed_out
                 ? std::make_exception_ptr(error(errc::timed_out_running,
                                                 "the call to " + summary_ +
                                                     " timed out and did not answer its interrupt in time: it may "
                                                     "still be running in the worker"))
                 : std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
    case call_end::terminated: return std::make_exception_ptr(hooks_.terminated());
  }
  if (done.reply_type != frame_type::failure) return nullptr;
  return exception_from_report(done.reply, summary_, done.timed_out);
}

void call_driver::complete(call_action& done) {
  auto it = waiters_.find(done.id);
  if (it == waiters_.end()) return;
  auto failure = failure_of(done);
  waiter& w = it->second;
  if (w.handler) return deliver(it, failure, std::move(done.reply));
  if (w.forgotten)
    waiters_.erase(it);
  else
    w.outcome.emplace(failure, std::move(done.reply));
}

void call_driver::deliver(std::unordered_map<std::uint64_t, waiter>::iterator it, std::exception_ptr failure,
                          std::vector<char> reply) {
  waiter& w = it->second;
  if (w.slot.is_connected()) w.slot.clear();
  auto handler = std::move(*w.handler);
  waiters_.erase(it);  // and with it the deadline, cancelled
  // Posted, so a handler never runs inside the operation that completes it; it runs on its
  // own associated executor.
  asio::post(ex_, asio::append(std::move(handler), failure, std::move(reply)));
}

}  // namespace malt::detail
