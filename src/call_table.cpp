#include "call_table.hpp"

namespace malt::detail {

call_ptr call_table::add() {
  auto c = std::make_shared<pending_call>();
  c->id = next_id_++;
  calls_.emplace(c->id, c);
  return c;
}

void call_table::mark_written(std::uint64_t id) noexcept {
  auto it = calls_.find(id);
  if (it != calls_.end() && it->second->state == call_state::queued) it->second->state = call_state::written;
}

call_ptr call_table::complete(std::uint64_t id, frame_type type, std::vector<char> payload) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return nullptr;
  call_ptr c = std::move(it->second);
  calls_.erase(it);
  if (c->state == call_state::abandoned) return nullptr;
  c->state = call_state::done;
  c->reply_type = type;
  c->reply = std::move(payload);
  return c;
}

void call_table::withdraw(pending_call& call) noexcept {
  calls_.erase(call.id);
  call.state = call_state::abandoned;
}

void call_table::abandon(pending_call& call) noexcept {
  if (call.state != call_state::done) call.state = call_state::abandoned;
}

std::vector<call_ptr> call_table::terminate_all() {
  std::vector<call_ptr> ended;
  ended.reserve(calls_.size());
  for (auto& [id, c] : calls_) {
    if (c->state == call_state::abandoned) continue;
    c->state = call_state::done;
    c->terminated = true;
    ended.push_back(std::move(c));
  }
  calls_.clear();
  return ended;
}

}  // namespace malt::detail
