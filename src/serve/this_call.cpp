#include "serve/call_context.hpp"

#include <malt/this_call.hpp>

#include <thread>

namespace malt {
namespace detail {
namespace {
thread_local call_context* current = nullptr;
}

current_call::current_call(call_context& context) noexcept : previous_(current) { current = &context; }
current_call::~current_call() { current = previous_; }

}  // namespace detail

namespace this_call {

bool interrupted() noexcept { return detail::current && detail::current->interrupted.load(); }

void interruption_point() {
  if (interrupted()) throw call_interrupted();
}

void sleep_for(std::chrono::nanoseconds d) {
  auto* c = detail::current;
  if (!c) return std::this_thread::sleep_for(d);  // outside a call: a plain sleep
  std::unique_lock lock(c->mutex);
  if (c->wake.wait_for(lock, d, [c] { return c->interrupted.load(); })) throw call_interrupted();
}

}  // namespace this_call
}  // namespace malt
