#include "protocol/call_book.hpp"

#include "protocol/messages.hpp"

#include <algorithm>
#include <cstring>

namespace malt::detail {
namespace asio = boost::asio;

namespace {
bool has(asio::cancellation_type_t set, asio::cancellation_type_t t) noexcept {
  return (set & t) != asio::cancellation_type::none;
}

call_action action(call_action::kind what, std::uint64_t id = 0) {
  call_action a;
  a.what = what;
  a.id = id;
  return a;
}
}  // namespace

call_action call_book::violation(std::uint64_t id, std::string reason) {
  violation_ = std::move(reason);
  call_action a = action(call_action::violation, id);
  a.reason = violation_;
  return a;
}

call_action call_book::completion(std::uint64_t id, call_end end, bool timed_out) {
  call_action a = action(call_action::complete, id);
  a.end = end;
  a.timed_out = timed_out;
  return a;
}

std::uint32_t call_book::allocate(slot_kind kind) {
  std::uint32_t index;
  if (free_.empty()) {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_.back();
    free_.pop_back();
  }
  if (++sequence_ == 0) ++sequence_;
  slot& s = slots_[index];
  s.id = (std::uint64_t(sequence_) << 32) | index;
  s.kind = kind;
  s.state = call_state::prepared;
  s.send_value = s.withdrawn = s.interrupt_sent = s.timed_out = s.grace_armed = false;
  s.target = nullptr;
  s.body.clear();
  return index;
}

void call_book::release(std::uint32_t index) noexcept {
  slot& s = slots_[index];
  s.id = 0;
  s.kind = slot_kind::free;
  // A large buffer is not kept for every later small call of this slot.
  if (s.body.capacity() > write_batch::large) s.body = {};
  free_.push_back(index);
}

call_book::slot* call_book::find(std::uint64_t id) noexcept {
  const auto index = slot_of(id);
  if (id == 0 || index >= slots_.size() || slots_[index].id != id || slots_[index].kind != slot_kind::call)
    return nullptr;
  return &slots_[index];
}

const call_book::slot* call_book::find(std::uint64_t id) const noexcept {
  return const_cast<call_book*>(this)->find(id);
}

void call_book::finish(slot& c) noexcept {
  if (c.state != call_state::prepared) --in_flight_;
  release(slot_of(c.id));
}

void call_book::queue(std::uint32_t index, call_actions& out) {
  slot& s = slots_[index];
  s.state = call_state::queued;
  queued_bytes_ += frame_header_size + s.body.size();
  waiting_.push_back(index);
  if (!writing_ && waiting_.size() == 1) out.push_back(action(call_action::write));
}

void call_book::queue_control(frame_type type, std::uint64_t id, call_actions& out) {
  if (ended_) return;  // nobody reads any more
  const auto index = allocate(slot_kind::control);
  auto& bytes = slots_[index].body;
  if (type == frame_type::hello) {
    bytes = make_hello_frame();
  } else {
    bytes.resize(frame_header_size);
    write_header(bytes, type, flag_none, id);
  }
  queued_bytes_ -= frame_header_size;  // a control frame's bytes hold their header
  queue(index, out);
}

call_actions call_book::on_open() {
  call_actions out;
  queue_control(frame_type::hello, 0, out);
  return out;
}

std::uint64_t call_book::prepare(const call_target& target) {
  const auto index = allocate(slot_kind::call);
  slot& s = slots_[index];
  s.target = &target;
  s.body.resize(call_body_head);
  return s.id;
}

void call_book::discard(std::uint64_t id) noexcept {
  if (slot* c = find(id); c && c->state == call_state::prepared) release(slot_of(id));
}

call_actions call_book::on_start(std::uint64_t id, bool send_value) {
  call_actions out;
  slot* c = find(id);
  if (!c || c->state != call_state::prepared) return out;
  if (ended_) {  // a worker that has ended answers nothing
    release(slot_of(id));
    out.push_back(completion(id, call_end::terminated, false));
    return out;
  }
  c->send_value = send_value;
  ++in_flight_;
  queue(slot_of(id), out);
  return out;
}

call_actions call_book::on_start_no_reply(std::uint64_t id) {
  call_actions out;
  slot* c = find(id);
  if (!c || c->state != call_state::prepared) return out;
  if (ended_) {
    release(slot_of(id));
    return out;
  }
  c->kind = slot_kind::no_reply;
  queue(slot_of(id), out);
  return out;
}

call_actions call_book::on_interrupt_all() {
  call_actions out;
  queue_control(frame_type::interrupt, 0, out);
  out.push_back(action(call_action::interrupt, 0));
  return out;
}

call_actions call_book::on_stop() {
  call_actions out;
  leaving_ = true;
  if (++sequence_ == 0) ++sequence_;
  queue_control(frame_type::exit_request, std::uint64_t(sequence_) << 32, out);
  return out;
}

bool call_book::has_room(std::size_t size, std::size_t limit) const noexcept {
  const std::size_t queued = queued_bytes();
  return queued == 0 || queued + size <= limit;
}

void call_book::write_request(slot& c, write_batch& out) {
  // The function's id on this connection; its first request also defines it.
  const auto index = c.target->index;
  if (index >= function_ids_.size()) function_ids_.resize(index + 1, 0);
  std::uint32_t& fid = function_ids_[index];
  const bool defines = fid == 0;
  if (defines) fid = next_function_id_++;
  std::uint8_t flags = defines ? flag_defines_function : flag_none;
  if (c.kind == slot_kind::call && c.send_value) flags |= flag_send_value;
  const auto type = c.kind == slot_kind::call ? frame_type::call : frame_type::call_no_reply;
  auto& bytes = out.bytes();
  const std::size_t at = bytes.size();
  if (!defines && c.body.size() < write_batch::large) {  // most requests: one piece, copied once
    const std::size_t payload = short_call_head + c.body.size();
    bytes.resize(at + frame_header_size + payload);
    char* p = bytes.data() + at;
    put_header(p, payload, type, flags, c.id);
    put_short_call_head(p + frame_header_size, fid);
    std::memcpy(p + frame_header_size + short_call_head, c.body.data(), c.body.size());
    c.body.clear();
    return;
  }
  bytes.resize(at + frame_header_size);
  write_call_head(bytes, fid, defines ? c.target : nullptr);
  const std::size_t payload = bytes.size() - at - frame_header_size + c.body.size();
  put_header(bytes.data() + at, payload, type, flags, c.id);
  out.append(std::move(c.body));
  c.body.clear();
}

void call_book::take_writes(write_batch& out) {
  if (writing_ || waiting_.empty()) return;
  bool taken = false;  // only calls taken back may wait: then nothing is written
  for (const auto index : waiting_) {
    slot& s = slots_[index];
    switch (s.kind) {
      case slot_kind::control:
        out.append(std::span<const char>(s.body));
        release(index);
        taken = true;
        break;
      case slot_kind::no_reply:
        write_request(s, out);
        release(index);
        taken = true;
        break;
      case slot_kind::call:
        if (s.withdrawn) {  // taken back: its slot was kept only until now
          s.withdrawn = false;
          release(index);
          break;
        }
        write_request(s, out);
        s.state = call_state::written;
        taken = true;
        break;
      case slot_kind::free: break;
    }
  }
  waiting_.clear();
  writing_ = taken;
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

call_actions call_book::on_reply(std::uint64_t id, frame_type type, std::span<const char> payload) {
  call_actions out;
  slot* c = find(id);
  // A reply to a queued call would answer a request the worker has not been sent.
  if (!c || c->state == call_state::queued || c->state == call_state::prepared || c->withdrawn) {
    out.push_back(violation(id, "protocol violation: a reply to call id " + std::to_string(id) +
                                    ", which was never issued or is answered already"));
    return out;
  }
  if (type == frame_type::failure) {
    if (auto code = failure_code(payload); code && !worker_may_report(*code)) {
      out.push_back(violation(id, "protocol violation: a failure report with code " + std::to_string(*code) +
                                      ", which a worker may not send"));
      return out;
    }
    // A worker on its way out answers what it interrupts: those calls end as terminated.
    if (leaving_) return out;
  }
  const bool grace_armed = c->grace_armed, abandoned = c->state == call_state::abandoned, timed_out = c->timed_out;
  finish(*c);
  if (grace_armed) out.push_back(action(call_action::disarm_grace, id));
  if (abandoned) return out;  // its caller has gone: dropped
  auto done = completion(id, call_end::replied, timed_out);
  done.reply_type = type;
  done.reply = payload;
  out.push_back(std::move(done));
  return out;
}

bool call_book::on_plain_result(std::uint64_t id, frame_type type) noexcept {
  if (type != frame_type::result) return false;
  slot* c = find(id);
  if (!c || c->state != call_state::written || c->withdrawn || c->grace_armed) return false;
  finish(*c);
  return true;
}

bool call_book::withdraw(slot& c) noexcept {
  if (c.state != call_state::queued) return false;
  queued_bytes_ -= frame_header_size + c.body.size();
  c.withdrawn = true;  // its slot stays taken until the batch skips it
  --in_flight_;
  c.state = call_state::done;
  return true;
}

void call_book::interrupt(slot& c, call_actions& out) {
  if (c.interrupt_sent) return;
  c.interrupt_sent = true;
  const auto id = c.id;
  queue_control(frame_type::interrupt, id, out);  // may move the slots: c is not used after
  out.push_back(action(call_action::interrupt, id));
}

void call_book::arm_grace(slot& c, call_actions& out) {
  if (c.grace_armed) return;
  c.grace_armed = true;
  out.push_back(action(call_action::arm_grace, c.id));
}

call_actions call_book::on_cancel(std::uint64_t id, asio::cancellation_type_t type) {
  call_actions out;
  slot* c = find(id);
  if (!c || c->withdrawn) return out;  // done wins
  switch (c->state) {
    case call_state::prepared: return out;  // not started: nobody can cancel it yet
    case call_state::queued:                // never written: no side effects, whatever the type
      withdraw(*c);
      out.push_back(completion(id, call_end::withdrawn, c->timed_out));
      return out;
    case call_state::written:
      // Partial first: a signal that allows both (a parallel_group's cancellation_type::all)
      // gets the worker's answer, which says how the call ended.
      if (has(type, asio::cancellation_type::partial)) {
        interrupt(*c, out);
        c = find(id);  // the interrupt took a slot: slots may have moved
        arm_grace(*c, out);
      } else if (has(type, asio::cancellation_type::terminal)) {
        interrupt(*c, out);
        c = find(id);
        c->state = call_state::abandoned;  // its late reply is dropped
        out.push_back(completion(id, call_end::abandoned, c->timed_out));
        if (escalate_) arm_grace(*c, out);  // an interrupt ignored still ends the worker
      }
      // total: not honoured once the call may run; it has effects
      return out;
    case call_state::done:
    case call_state::abandoned: return out;
  }
  return out;
}

call_actions call_book::on_timeout(std::uint64_t id) {
  if (slot* c = find(id); c && c->state != call_state::abandoned && !c->withdrawn) c->timed_out = true;
  return on_cancel(id, asio::cancellation_type::partial);
}

call_actions call_book::on_grace_expired(std::uint64_t id) {
  call_actions out;
  slot* c = find(id);
  if (!c || !c->grace_armed) return out;  // answered meanwhile
  c->grace_armed = false;
  if (escalate_) {  // the call ends with the worker
    out.push_back(action(call_action::escalate, id));
    return out;
  }
  if (c->state == call_state::written) {
    c->state = call_state::abandoned;
    out.push_back(completion(id, call_end::abandoned, c->timed_out));
  }
  return out;
}

call_actions call_book::on_worker_end() {
  call_actions out;
  ended_ = true;
  waiting_.clear();
  queued_bytes_ = 0;
  for (std::uint32_t index = 0; index < slots_.size(); ++index) {
    slot& s = slots_[index];
    if (s.kind == slot_kind::free) continue;
    if (s.kind != slot_kind::call) {  // frames that will never be written
      release(index);
      continue;
    }
    if (s.state == call_state::prepared) continue;  // its caller starts or discards it
    if (s.withdrawn) {
      release(index);
      continue;
    }
    if (s.grace_armed) out.push_back(action(call_action::disarm_grace, s.id));
    if (s.state != call_state::abandoned) out.push_back(completion(s.id, call_end::terminated, s.timed_out));
    finish(s);
  }
  return out;
}

call_state call_book::state(std::uint64_t id) const noexcept {
  const slot* c = find(id);
  return !c || c->withdrawn ? call_state::done : c->state;
}

}  // namespace malt::detail
