#include "serve/call_context.hpp"

#include "process/interrupt_signal.hpp"

#include <malt/this_call.hpp>

#include <thread>

namespace malt {
namespace detail {
namespace {
thread_local call_context* current = nullptr;
}

current_call::current_call(call_context& context) noexcept : previous_(current) { current = &context; }

void call_context::watch_signals(std::uint64_t call_id) noexcept {
  signals_watched = true;
  id = call_id;
  signals_since = interrupt_signals_received();
}

bool call_context::is_interrupted() const noexcept {
  return interrupted.load() || (signals_watched && interrupt_signalled(id, signals_since));
}
current_call::~current_call() { current = previous_; }

}  // namespace detail

namespace this_call {

bool interrupted() noexcept { return detail::current && detail::current->is_interrupted(); }

void interruption_point() {
  if (interrupted()) throw call_interrupted();
}

void sleep_for(std::chrono::nanoseconds d) {
  auto* c = detail::current;
  if (!c) return std::this_thread::sleep_for(d);  // outside a call: a plain sleep
  std::unique_lock lock(c->mutex);
  if (c->signals_watched) {  // no frame wakes a call on the I/O thread: look now and then
    const auto end = std::chrono::steady_clock::now() + d;
    while (!c->is_interrupted()) {
      const auto left = end - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) return;
      c->wake.wait_for(lock, std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1)));
    }
    throw call_interrupted();
  }
  if (c->wake.wait_for(lock, d, [c] { return c->interrupted.load(); })) throw call_interrupted();
}

}  // namespace this_call
}  // namespace malt
