#include "host/call_driver.hpp"

#include "host/remote_failure.hpp"
#include "host/worker_impl.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>

#include <stdexcept>

namespace malt::detail {
namespace asio = boost::asio;

call_driver::call_driver(asio::any_io_executor ex, std::shared_ptr<connection> conn, const worker_options& options,
                         bool can_kill, std::string summary, const worker_impl& owner, worker_hooks hooks)
    : ex_(std::move(ex)),
      conn_(std::move(conn)),
      max_frame_size_(options.max_frame_size),
      max_queued_bytes_(options.max_queued_bytes),
      grace_(options.interrupt_grace),
      summary_(std::move(summary)),
      owner_(owner),
      hooks_(std::move(hooks)),
      book_(can_kill && options.interrupt_escalation == interrupt_escalation::kill) {}

void call_driver::open() {
  conn_->on_write_end([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->perform(self->book_.on_written());
  });
  perform(book_.on_open());
}

call_driver::waiter* call_driver::find(std::uint64_t id) noexcept {
  const auto index = call_book::slot_of(id);
  if (id == 0 || index >= waiter_count()) return nullptr;
  waiter& w = waiter_at(index);
  return w.id == id ? &w : nullptr;
}

std::optional<asio::steady_timer>& call_driver::deadline_timer_at(std::size_t index) {
  const auto chunk = index >> chunk_bits;
  if (deadline_timers_.size() <= chunk) deadline_timers_.resize(chunk + 1);
  auto& timers = deadline_timers_[chunk];
  if (!timers) timers = std::make_unique<std::optional<asio::steady_timer>[]>(std::size_t(1) << chunk_bits);
  return timers[index & ((std::size_t(1) << chunk_bits) - 1)];
}

void call_driver::cancel_deadline(waiter& w) noexcept {
  if (!w.timed) return;
  w.timed = false;
  deadline_timer_at(call_book::slot_of(w.id)).reset();  // its chunk exists: cancels the wait
}

void call_driver::free(waiter& w) noexcept {
  cancel_deadline(w);
  w.id = 0;
  w.handler.reset();
  if (w.slot.is_connected()) w.slot.clear();
  w.slot = {};
}

std::uint64_t call_driver::prepare(const call_target& target) {
  const auto id = book_.prepare(target);
  const auto index = call_book::slot_of(id);
  while (waiter_count() <= index) waiters_.push_back(std::make_unique<waiter[]>(std::size_t(1) << chunk_bits));
  waiter& w = waiter_at(index);
  w.id = id;
  w.target = &target;
  w.initiated = w.eager = w.forgotten = false;
  w.send_value = true;
  w.timeout = std::chrono::milliseconds(0);
  w.deadline = std::chrono::steady_clock::time_point::max();
  w.grace.reset();
  return id;
}

void call_driver::reserve(std::uint64_t id, std::size_t n) {
  auto& body = book_.body(id);
  if (body.capacity() - body.size() >= n) return;
  auto spare = conn_->spare().take();
  if (spare.capacity() >= body.size() + n) {
    spare.assign(body.begin(), body.end());
    body.swap(spare);
  }
  conn_->spare().give(std::move(spare));
  body.reserve(body.size() + n);
}

void call_driver::check_size(std::uint64_t id) const {
  const auto size = book_.body(id).size();
  if (size > max_frame_size_) [[unlikely]]
    throw_too_large(size);
}

void call_driver::throw_too_large(std::size_t size) const {
  throw error(errc::frame_too_large, "the request is " + std::to_string(size) + " bytes, over the limit of " +
                                         std::to_string(max_frame_size_) + " bytes (worker_options::max_frame_size)");
}

void call_driver::check_room(std::uint64_t id) const {
  const auto size = frame_header_size + book_.body(id).size();
  if (book_.has_room(size, max_queued_bytes_)) return;
  throw error(errc::queue_full, "the request cannot be queued: " + std::to_string(book_.queued_bytes()) +
                                    " bytes wait to be written to " + summary_ +
                                    ", the limit is worker_options::max_queued_bytes = " +
                                    std::to_string(max_queued_bytes_) + " (an awaited call waits for room instead)");
}

void call_driver::start(std::uint64_t id, bool send_value, bool may_wait, bool eager) {
  check_size(id);
  if (!may_wait) check_room(id);
  if (waiter* w = find(id)) {
    w->eager = eager;
    w->send_value = send_value;
  }
  perform(book_.on_start(id, send_value));
}

void call_driver::start_no_reply(std::uint64_t id) {
  check_size(id);
  check_room(id);
  if (waiter* w = find(id)) free(*w);
  perform(book_.on_start_no_reply(id));
}

void call_driver::release(std::uint64_t id) noexcept {
  waiter* w = find(id);
  if (!w) {  // over: its outcome may wait for a caller that will not come
    if (!unclaimed_.empty()) unclaimed_.erase(id);
    return;
  }
  if (w->initiated) return;
  if (book_.state(id) == call_state::prepared) {
    book_.discard(id);
    free(*w);
  } else {
    w->forgotten = true;
  }
}

void call_driver::set_deadline(std::uint64_t id, std::chrono::milliseconds timeout,
                               std::chrono::steady_clock::time_point deadline,
                               std::optional<std::chrono::milliseconds> grace) {
  waiter* w = find(id);
  if (!w || w->initiated) return;
  w->timeout = timeout;
  w->deadline = deadline;
  w->grace = grace;
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

void call_driver::fail_now(place_handler place, void* handler, diagnostics* diag, failure f) {
  static const std::string unknown = "a malt call";
  reply_handler h;
  place(h, handler);
  h.attach(diag);
  h.complete(std::move(f), {}, reply_context{owner_, unknown, ex_, false});
}

namespace {
// Awaiting a call the wrong way round is the caller's mistake, not the worker's.
failure misuse(const char* what) {
  return {make_error_code(boost::system::errc::invalid_argument), std::make_exception_ptr(std::logic_error(what))};
}
}  // namespace

void call_driver::await(std::uint64_t id, place_handler place, void* handler, diagnostics* diag) {
  waiter* w = find(id);
  if (!w) {
    if (auto it = unclaimed_.find(id); it != unclaimed_.end()) {  // an eager call whose reply is in
      auto outcome = std::move(it->second);
      unclaimed_.erase(it);
      reply_handler h;
      place(h, handler);
      h.attach(diag);
      h.complete(std::move(outcome.outcome), outcome.reply, reply_context{owner_, outcome.target->name, ex_, false});
      return;
    }
    // Only its completion or its handle's release frees a call's record.
    return fail_now(place, handler, diag, misuse("a malt call was awaited after it was forgotten"));
  }
  if (w->initiated)
    return fail_now(place, handler, diag, misuse("a malt call operation was awaited twice"));
  w->initiated = true;
  place(w->handler, handler);
  w->handler.attach(diag);
  if (!w->eager) {  // else started when it was issued
    try {
      owner_.check_running();
      // Awaited from a reply's completion, it goes out with the others that read starts.
      in_await_ = true;
      start(id, w->send_value, true, false);
      in_await_ = false;
    } catch (...) {  // the worker's end, or the size limit
      in_await_ = false;
      book_.discard(id);
      return deliver(*w, current_failure(), {}, false);
    }
    w = find(id);
    if (!w) return;  // completed already: the worker has ended
  }
  auto slot = w->handler.slot();
  if (slot.is_connected()) {
    w->slot = slot;
    slot.template emplace<cancel_handler>(cancel_handler{shared_from_this(), id});
  }
  auto deadline = w->deadline;
  if (w->timeout.count() > 0) deadline = std::min(deadline, std::chrono::steady_clock::now() + w->timeout);
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto& timer = deadline_timer_at(call_book::slot_of(id));
    w->timed = true;
    timer.emplace(ex_, deadline);
    timer->async_wait([self = shared_from_this(), id](boost::system::error_code ec) {
      if (!ec) self->perform(self->book_.on_timeout(id));
    });
  }
}

void call_driver::on_reply(const frame& f) {
  in_read_ = true;
  if (book_.on_plain_result(f.header.call_id, f.header.type)) return complete(f.header.call_id, {}, f.payload, true);
  perform(book_.on_reply(f.header.call_id, f.header.type, f.payload), true);
}

void call_driver::end_of_read() {
  in_read_ = false;
  if (std::exchange(write_wanted_, false)) write();
}

void call_driver::interrupt_all() { perform(book_.on_interrupt_all()); }

void call_driver::stop() { perform(book_.on_stop()); }

void call_driver::ended() {
  perform(book_.on_worker_end());
  graces_.clear();
}

void call_driver::perform(call_actions&& actions, bool from_reader) {
  for (auto& a : actions) switch (a.what) {
      case call_action::write: write(); break;
      case call_action::complete: complete(a, from_reader); break;
      case call_action::interrupt: hooks_.interrupting(a.id); break;
      case call_action::arm_grace: arm_grace(a.id); break;
      case call_action::disarm_grace: graces_.erase(a.id); break;  // destroying the timer cancels it
      case call_action::escalate:
        hooks_.escalated("a call ignored its interrupt for " + std::to_string(grace_of(a.id).count()) +
                         " ms (interrupt_escalation::kill)");
        break;
      case call_action::violation: hooks_.violated(std::string(a.reason)); break;
    }
}

void call_driver::write() {
  if (in_read_ && in_await_) {  // the calls a read's replies start go out together after it
    write_wanted_ = true;
    return;
  }
  // Anything else (remote_call, remote_do, interrupts, stop) is written before it returns.
  conn_->send_with([this](write_batch& batch) { book_.take_writes(batch); }, !in_await_);
}

std::chrono::milliseconds call_driver::grace_of(std::uint64_t id) {
  waiter* w = find(id);
  return w && w->grace ? *w->grace : grace_;
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

failure call_driver::outcome_of(const call_action& done) const {
  switch (done.end) {
    case call_end::replied: break;
    case call_end::withdrawn:
      return done.timed_out ? failure_of(error(errc::timed_out, "the call to " + summary_ + " timed out before it was sent"))
                            : failure_of(boost::system::system_error(asio::error::operation_aborted));
    case call_end::abandoned:
      return done.timed_out ? failure_of(error(errc::timed_out_running,
                                               "the call to " + summary_ +
                                                   " timed out and did not answer its interrupt in time: it may "
                                                   "still be running in the worker"))
                            : failure_of(boost::system::system_error(asio::error::operation_aborted));
    case call_end::terminated: return failure_of(hooks_.terminated());
  }
  if (done.reply_type != frame_type::failure) return {};
  return exception_from_report(done.reply, summary_, done.timed_out);
}

void call_driver::complete(call_action& done, bool from_reader) {
  complete(done.id, outcome_of(done), done.reply, from_reader && done.end == call_end::replied);
}

void call_driver::complete(std::uint64_t id, failure f, std::span<const char> reply, bool from_reader) {
  waiter* w = find(id);
  if (!w) return;
  if (w->handler) return deliver(*w, std::move(f), reply, from_reader);
  if (!w->forgotten)  // kept until it is awaited: the reply's bytes are the read buffer's
    unclaimed_.insert_or_assign(id, unclaimed{w->target, std::move(f), {reply.begin(), reply.end()}});
  free(*w);
}

void call_driver::deliver(waiter& w, failure f, std::span<const char> reply, bool from_reader) {
  if (w.slot.is_connected()) w.slot.clear();
  w.slot = {};
  cancel_deadline(w);
  w.id = 0;  // free: the handler may start a call that takes this very slot
  const reply_context context{owner_, w.target->name, ex_, from_reader};
  try {
    w.handler.complete(std::move(f), reply, context);
  } catch (...) {
    // A handler run here threw: it leaves the io_context's run() as from a posted handler,
    // and the reader goes on.
    asio::post(ex_, [e = std::current_exception()] { std::rethrow_exception(e); });
  }
}

}  // namespace malt::detail
