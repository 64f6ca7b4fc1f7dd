// A call's life on the host after its request is encoded: queued on the connection,
// completed by the reply, the worker's end, its cancellation or its timeout. The
// cancellation rules are DESIGN §5's, after Boost.Redis's exec operation.
#include "protocol/messages.hpp"
#include "worker_impl.hpp"

#include <malt/detail/remote_call.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include <stdexcept>

namespace malt::detail {
namespace asio = boost::asio;
namespace {

std::exception_ptr failure_exception(const worker_impl& w, const pending_call& c) {
  try {
    auto r = decode_failure_report(c.reply);
    if (r.code == errc::interrupted && c.timed_out)
      return std::make_exception_ptr(error(errc::timed_out, "the call timed out and was interrupted in " + w.summary()));
    if (r.code == errc::interrupted)
      return std::make_exception_ptr(interrupted_exception(r.code, w.summary(), std::move(r.type),
                                                           std::move(r.message), std::move(r.trace)));
    return std::make_exception_ptr(
        remote_exception(r.code, w.summary(), std::move(r.type), std::move(r.message), std::move(r.trace)));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(
        decode_error(errc::decode_failed, "could not decode a failure report from " + w.summary() + ": " + e.what()));
  }
}

// What the caller gets for a call that is over.
std::exception_ptr outcome(const worker_impl& w, const pending_call& c) {
  if (c.state == call_state::abandoned)  // ended here, without the worker's reply
    return c.timed_out ? std::make_exception_ptr(error(errc::timed_out, "the call to " + w.summary() + " timed out"))
                       : std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
  if (c.terminated) return std::make_exception_ptr(w.terminated_error());
  if (c.reply_type == frame_type::failure) return failure_exception(w, c);
  return nullptr;
}

void check_size(const worker_impl& w, const std::vector<char>& frame) {
  const auto size = frame.size() - frame_header_size;
  if (size > w.max_frame_size())
    throw error(errc::frame_too_large, "the request is " + std::to_string(size) + " bytes, over the limit of " +
                                           std::to_string(w.max_frame_size()) +
                                           " bytes (worker_options::max_frame_size)");
}

void cancel(worker_impl& w, const call_ptr& c, asio::cancellation_type_t type);

// The worker ignored an interrupt for interrupt_grace: under interrupt_escalation::kill,
// the worker goes, and the call with it.
bool escalate(worker_impl& w) {
  if (w.options().interrupt_escalation != interrupt_escalation::kill || !w.has_process()) return false;
  w.end_because("a call ignored its interrupt for " + std::to_string(w.interrupt_grace().count()) +
                " ms (interrupt_escalation::kill)");
  w.signal(SIGKILL);
  return true;
}

// Waits for the worker to answer an interrupt, then gives up on the call (or the worker).
void wait_for_interrupt(worker_impl& w, const call_ptr& c) {
  if (!c->timer) c->timer.emplace(w.executor());
  c->timer->expires_after(w.interrupt_grace());
  c->timer->async_wait([w = w.shared_from_this(), c](boost::system::error_code ec) {
    if (ec || !c->handler || c->state == call_state::done) return;
    if (escalate(*w)) return;  // the call fails with the worker's end
    w->calls().abandon(*c);
    deliver(*w, *c);
  });
}

// A call given up at once (terminal cancellation) still has a grace to answer in.
void watch_abandoned(worker_impl& w, const call_ptr& c) {
  if (w.options().interrupt_escalation != interrupt_escalation::kill) return;
  auto timer = std::make_shared<asio::steady_timer>(w.executor(), w.interrupt_grace());
  timer->async_wait([w = w.shared_from_this(), id = c->id, timer](boost::system::error_code ec) {
    if (!ec && w->running() && w->calls().awaits_reply(id)) escalate(*w);
  });
}

void cancel(worker_impl& w, const call_ptr& c, asio::cancellation_type_t type) {
  if (!c->handler || c->state == call_state::done || c->state == call_state::abandoned) return;  // done wins
  if (c->state == call_state::queued && w.withdraw(*c)) {  // never written: no side effects
    w.calls().withdraw(*c);
    return deliver(w, *c);
  }
  const bool partial = (type & asio::cancellation_type::partial) != asio::cancellation_type::none;
  const bool terminal = (type & asio::cancellation_type::terminal) != asio::cancellation_type::none;
  if (!partial && !terminal) return;  // total: not honoured once the call runs, it has effects
  if (!c->interrupt_sent) {
    c->interrupt_sent = true;
    w.send_interrupt(c->id);
  }
  if (partial) return wait_for_interrupt(w, c);
  w.calls().abandon(*c);  // terminal: the late reply will be dropped
  watch_abandoned(w, c);
  deliver(w, *c);
}

struct cancellation_handler {
  std::shared_ptr<worker_impl> w;
  call_ptr c;
  void operator()(asio::cancellation_type_t type) {
    // Completing the call clears the slot, which destroys this handler: hold on first.
    auto keep_worker = w;
    auto keep_call = c;
    cancel(*keep_worker, keep_call, type);
  }
};

}  // namespace

void deliver(worker_impl& w, pending_call& c) {
  if (!c.handler) return;  // nobody waits yet (an eager call), or any more
  if (c.slot.is_connected()) c.slot.clear();
  if (c.timer) c.timer->cancel();
  auto handler = std::move(*c.handler);
  c.handler.reset();
  // Posted, so a handler never runs inside the operation that completes it; it runs on its
  // own associated executor.
  asio::post(w.executor(), asio::append(std::move(handler), outcome(w, c), std::move(c.reply)));
}

call_ptr start_call(worker_impl& w, std::vector<char> frame, bool send_value, bool may_wait) {
  w.check_running();
  check_size(w, frame);
  if (!may_wait) w.check_room(frame.size());
  auto c = w.calls().add();
  write_header(frame, frame_type::call, send_value ? flag_send_value : flag_none, c->id);
  w.queue_call(c, std::move(frame));
  return c;
}

std::shared_ptr<call_request> make_request(std::shared_ptr<worker_impl> w, call_ptr started, std::vector<char> frame,
                                           bool send_value, std::string function) {
  auto r = std::make_shared<call_request>();
  r->w = std::move(w);
  r->started = std::move(started);
  r->frame = std::move(frame);
  r->settings.send_value = send_value;
  r->function = std::move(function);
  return r;
}

void async_call(call_request& request, call_completion handler) {
  auto& w = request.w;
  auto fail = [&](std::exception_ptr e) {
    asio::post(w->executor(), asio::append(std::move(handler), e, std::vector<char>()));
  };
  if (request.initiated)
    return fail(std::make_exception_ptr(std::logic_error("a malt call operation was awaited twice")));
  request.initiated = true;
  call_ptr call = std::move(request.started);
  if (!call) {
    try {
      call = start_call(*w, std::move(request.frame), request.settings.send_value, true);
    } catch (...) {
      return fail(std::current_exception());
    }
  }
  auto slot = asio::get_associated_cancellation_slot(handler);
  call->handler.emplace(std::move(handler));
  if (call->state == call_state::done) return deliver(*w, *call);  // an eager call whose reply is in
  if (slot.is_connected()) {
    call->slot = slot;
    slot.template emplace<cancellation_handler>(cancellation_handler{w, call});
  }
  if (request.settings.timeout.count() > 0) {
    call->timer.emplace(w->executor(), request.settings.timeout);
    call->timer->async_wait([w, call](boost::system::error_code ec) {
      if (ec) return;
      call->timed_out = true;
      cancel(*w, call, asio::cancellation_type::partial);
    });
  }
}

asio::any_io_executor executor_of(const worker_impl& w) noexcept { return w.executor(); }

std::size_t max_decode_depth(const worker_impl& w) noexcept { return w.options().max_decode_depth; }

std::vector<char> request_buffer(worker_impl& w) {
  auto frame = w.conn().spare().take();
  frame.clear();
  return frame;
}

void recycle(worker_impl& w, std::vector<char>&& reply) noexcept { w.conn().spare().give(std::move(reply)); }

void send_no_reply(worker_impl& w, std::vector<char> frame) {
  w.check_running();
  check_size(w, frame);
  w.check_room(frame.size());
  write_header(frame, frame_type::call_no_reply, flag_none, w.calls().reserve_id());
  w.conn().send(std::move(frame));
}

std::exception_ptr decode_failure(const worker_impl& w, const std::string& function, const std::exception& e) {
  return std::make_exception_ptr(decode_error(
      errc::decode_failed, "could not decode the result of '" + function + "' from " + w.summary() + ": " + e.what()));
}

}  // namespace malt::detail
