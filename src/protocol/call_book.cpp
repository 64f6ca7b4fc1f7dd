#include "protocol/call_book.hpp"

#include "protocol/messages.hpp"

#include <algorithm>

namespace malt::detail {
namespace asio = boost::asio;

namespace {
std::vector<char> header_only(frame_type type, std::uint64_t id) {
  std::vector<char> f(frame_header_size);
  write_header(f, type, flag_none, id);
  return f;
}

bool has(asio::cancellation_type_t set, asio::cancellation_type_t t) noexcept {
  return (set & t) != asio::cancellation_type::none;
}

call_action action(call_action::kind what, std::uint64_t id = 0, std::string reason = {}) {
  call_action a;
  a.what = what;
  a.id = id;
  a.reason = std::move(reason);
  return a;
}
}  // namespace

call_action call_book::completion(std::uint64_t id, call_end end, bool timed_out) {
  call_action a = action(call_action::complete, id);
  a.end = end;
  a.timed_out = timed_out;
  return a;
}

void call_book::queue(std::vector<char> frame, std::uint64_t call_id, call_actions& out) {
  if (ended_) return;  // nobody reads any more
  queued_bytes_ += frame.size();
  waiting_.push_back({std::move(frame), call_id});
  if (!writing_ && waiting_.size() == 1) out.push_back(action(call_action::write));
}

call_actions call_book::on_open() {
  call_actions out;
  queue(make_hello_frame(), 0, out);
  return out;
}

call_book::started call_book::on_start(std::vector<char> frame, bool send_value) {
  started s{next_id_++, {}};
  if (ended_) {  // a worker that has ended answers nothing
    s.actions.push_back(completion(s.id, call_end::terminated, false));
    return s;
  }
  write_header(frame, frame_type::call, send_value ? flag_send_value : flag_none, s.id);
  calls_.emplace(s.id, call{});
  queue(std::move(frame), s.id, s.actions);
  return s;
}

call_actions call_book::on_start_no_reply(std::vector<char> frame) {
  call_actions out;
  write_header(frame, frame_type::call_no_reply, flag_none, next_id_++);
  queue(std::move(frame), 0, out);
  return out;
}

call_actions call_book::on_interrupt_all() {
  call_actions out;
  queue(header_only(frame_type::interrupt, 0), 0, out);
  out.push_back(action(call_action::interrupt, 0));
  return out;
}

call_actions call_book::on_stop() {
  call_actions out;
  leaving_ = true;
  queue(header_only(frame_type::exit_request, next_id_++), 0, out);
  return out;
}

bool call_book::has_room(std::size_t size, std::size_t limit) const noexcept {
  const std::size_t queued = queued_bytes();
  return queued == 0 || queued + size <= limit;
}

void call_book::take_writes(std::vector<outgoing_frame>& out) {
  if (writing_ || waiting_.empty()) return;
  writing_ = true;
  for (auto& w : waiting_) {
    if (w.call_id != 0)
      if (auto it = calls_.find(w.call_id); it != calls_.end()) it->second.state = call_state::written;
    out.push_back(outgoing_frame{std::move(w.bytes), {}, {}});
  }
  waiting_.clear();
  writing_bytes_ = queued_bytes_;
  queued_bytes_ = 0;
}

call_actions call_book::on_written() {
  call_actions out;
  writing_ = false;
  writing_bytes_ = 0;
  if (!waiting_.empty() && !ended_) out.push_back(action(call_action::write));
  return out;
}

call_actions call_book::on_reply(std::uint64_t id, frame_type type, std::vector<char> payload) {
  call_actions out;
  auto it = calls_.find(id);
  // A reply to a queued call would answer a request the worker has not been sent.
  if (it == calls_.end() || it->second.state == call_state::queued) {
    out.push_back(action(call_action::violation, id,
                          "protocol violation: a reply to call id " + std::to_string(id) +
                             ", which was never issued or is answered already"));
    return out;
  }
  if (type == frame_type::failure) {
    if (auto code = failure_code(payload); code && !worker_may_report(*code)) {
      out.push_back(action(call_action::violation, id,
                            "protocol violation: a failure report with code " + std::to_string(*code) +
                               ", which a worker may not send"));
      return out;
    }
    // A worker on its way out answers what it interrupts: those calls end as terminated.
    if (leaving_) return out;
  }
  const call c = it->second;
  calls_.erase(it);
  if (c.grace_armed) out.push_back(action(call_action::disarm_grace, id));
  if (c.state == call_state::abandoned) return out;  // its caller has gone: dropped
  auto done = completion(id, call_end::replied, c.timed_out);
  done.reply_type = type;
  done.reply = std::move(payload);
  out.push_back(std::move(done));
  return out;
}

bool call_book::withdraw(std::uint64_t id) noexcept {
  auto w = std::find_if(waiting_.begin(), waiting_.end(), [&](const waiting_frame& f) { return f.call_id == id; });
  if (w == waiting_.end()) return false;
  queued_bytes_ -= w->bytes.size();
  waiting_.erase(w);
  return true;
}

void call_book::interrupt(std::uint64_t id, call& c, call_actions& out) {
  if (c.interrupt_sent) return;
  c.interrupt_sent = true;
  queue(header_only(frame_type::interrupt, id), 0, out);
  out.push_back(action(call_action::interrupt, id));
}

void call_book::arm_grace(std::uint64_t id, call& c, call_actions& out) {
  if (c.grace_armed) return;
  c.grace_armed = true;
  out.push_back(action(call_action::arm_grace, id));
}

call_actions call_book::on_cancel(std::uint64_t id, asio::cancellation_type_t type) {
  call_actions out;
  auto it = calls_.find(id);
  if (it == calls_.end()) return out;  // done wins
  call& c = it->second;
  switch (c.state) {
    case call_state::queued:  // never written: no side effects, whatever the type
      withdraw(id);
      out.push_back(completion(id, call_end::withdrawn, c.timed_out));
      calls_.erase(it);
      return out;
    case call_state::written:
      // Partial first: a signal that allows both (a parallel_group's cancellation_type::all)
      // gets the worker's answer, which says how the call ended.
      if (has(type, asio::cancellation_type::partial)) {
        interrupt(id, c, out);
        arm_grace(id, c, out);
      } else if (has(type, asio::cancellation_type::terminal)) {
        interrupt(id, c, out);
        c.state = call_state::abandoned;  // its late reply is dropped
        out.push_back(completion(id, call_end::abandoned, c.timed_out));
        if (escalate_) arm_grace(id, c, out);  // an interrupt ignored still ends the worker
      }
      // total: not honoured once the call may run; it has effects
      return out;
    case call_state::done:
    case call_state::abandoned: return out;
  }
  return out;
}

call_actions call_book::on_timeout(std::uint64_t id) {
  if (auto it = calls_.find(id); it != calls_.end() && it->second.state != call_state::abandoned)
    it->second.timed_out = true;
  return on_cancel(id, asio::cancellation_type::partial);
}

call_actions call_book::on_grace_expired(std::uint64_t id) {
  call_actions out;
  auto it = calls_.find(id);
  if (it == calls_.end() || !it->second.grace_armed) return out;  // answered meanwhile
  call& c = it->second;
  c.grace_armed = false;
  if (escalate_) {  // the call ends with the worker
    out.push_back(action(call_action::escalate, id));
    return out;
  }
  if (c.state == call_state::written) {
    c.state = call_state::abandoned;
    out.push_back(completion(id, call_end::abandoned, c.timed_out));
  }
  return out;
}

call_actions call_book::on_worker_end() {
  call_actions out;
  ended_ = true;
  waiting_.clear();
  queued_bytes_ = 0;
  for (auto& [id, c] : calls_) {
    if (c.grace_armed) out.push_back(action(call_action::disarm_grace, id));
    if (c.state != call_state::abandoned) out.push_back(completion(id, call_end::terminated, c.timed_out));
  }
  calls_.clear();
  return out;
}

call_state call_book::state(std::uint64_t id) const noexcept {
  auto it = calls_.find(id);
  return it == calls_.end() ? call_state::done : it->second.state;
}

}  // namespace malt::detail
