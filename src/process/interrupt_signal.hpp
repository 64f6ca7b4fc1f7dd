#ifndef MALT_SRC_PROCESS_INTERRUPT_SIGNAL_HPP
#define MALT_SRC_PROCESS_INTERRUPT_SIGNAL_HPP

// An interrupt that reaches a worker whose I/O thread does not come back to read it: Lua
// code looping where it cannot yield (a table.sort comparator, a gsub callback, a
// coroutine of its own, a long C function of the string library). Besides the interrupt
// frame, the host queues a real-time signal carrying the call id; the worker's handler
// records it, and the evaluator's hook and bounded library functions look for it.

#include <cstdint>

namespace malt::detail {

/// The signal: SIGRTMIN + 3 (glibc keeps the first ones for itself).
int interrupt_signal() noexcept;

/// Host: queues the signal for call id (0: every call) to the process behind pidfd.
void send_interrupt_signal(int pidfd, std::uint64_t id) noexcept;

/// Worker: installs the handler. Before the first thread starts.
void install_interrupt_signal_handler();

/// Worker: how many signals have arrived so far; a call takes it as it starts, and only
/// signals after that concern it.
std::uint32_t interrupt_signals_received() noexcept;
/// Worker: whether a signal for call id (or for every call) arrived after since.
bool interrupt_signalled(std::uint64_t id, std::uint32_t since) noexcept;

}  // namespace malt::detail

#endif
