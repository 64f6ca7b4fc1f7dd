#include "process/interrupt_signal.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <sys/syscall.h>
#include <unistd.h>

namespace malt::detail {
namespace {

// The last signals' call ids, in a ring the handler writes without locks. A call looks
// only at those that arrived since it started; more than the ring holds in that time
// would be an interrupt storm, after which it still sees the latest.
std::array<std::atomic<std::uint64_t>, 32> recent_ids{};
std::atomic<std::uint32_t> received{0};
std::atomic_flag writing = ATOMIC_FLAG_INIT;

void on_interrupt_signal(int, siginfo_t* info, void*) {
  const auto id = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(info->si_value.sival_ptr));
  // Two threads may each take one of these signals at once: the second waits for the
  // first's two stores (a handler blocks every signal, so it never waits on itself), and a
  // reader never counts a slot before its id is in it.
  while (writing.test_and_set(std::memory_order_acquire)) {
  }
  const std::uint32_t n = received.load(std::memory_order_relaxed);
  recent_ids[n % recent_ids.size()].store(id, std::memory_order_relaxed);
  received.store(n + 1, std::memory_order_release);
  writing.clear(std::memory_order_release);
}

}  // namespace

int interrupt_signal() noexcept { return SIGRTMIN + 3; }

void send_interrupt_signal(int pidfd, std::uint64_t id) noexcept {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  info.si_signo = interrupt_signal();
  info.si_code = SI_QUEUE;
  info.si_pid = ::getpid();
  info.si_uid = ::getuid();
  info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
  ::syscall(SYS_pidfd_send_signal, pidfd, info.si_signo, &info, 0);
}

void install_interrupt_signal_handler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_interrupt_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigfillset(&sa.sa_mask);
  ::sigaction(interrupt_signal(), &sa, nullptr);
}

std::uint32_t interrupt_signals_received() noexcept { return received.load(std::memory_order_acquire); }

bool interrupt_signalled(std::uint64_t id, std::uint32_t since) noexcept {
  const std::uint32_t now = received.load(std::memory_order_acquire);
  const std::uint32_t count = now - since;
  const std::uint32_t look = count < recent_ids.size() ? count : static_cast<std::uint32_t>(recent_ids.size());
  for (std::uint32_t i = 1; i <= look; ++i) {
    const std::uint64_t x = recent_ids[(now - i) % recent_ids.size()].load(std::memory_order_relaxed);
    if (x == id || x == 0) return true;
  }
  return false;
}

}  // namespace malt::detail
