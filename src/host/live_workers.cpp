#include "host/live_workers.hpp"

#include "host/worker_impl.hpp"
#include "process/spawn.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <string>

namespace malt::detail {
namespace asio = boost::asio;

namespace {
struct live_registry {
  std::mutex mutex;
  std::map<pid_t, std::weak_ptr<worker_impl>> workers;
};
live_registry& live() {
  static live_registry r;
  return r;
}

std::atomic<bool> worker_mode{false};
}  // namespace

void add_live(pid_t pid, std::weak_ptr<worker_impl> w) {
  std::lock_guard lock(live().mutex);
  live().workers[pid] = std::move(w);
}

void forget_live(pid_t pid) {
  std::lock_guard lock(live().mutex);
  live().workers.erase(pid);
}

std::vector<std::shared_ptr<worker_impl>> live_workers() {
  std::vector<std::shared_ptr<worker_impl>> out;
  std::lock_guard lock(live().mutex);
  for (auto& [pid, w] : live().workers)
    if (auto s = w.lock()) out.push_back(std::move(s));
  return out;
}

std::vector<pid_t> live_pids() {
  std::vector<pid_t> out;
  std::lock_guard lock(live().mutex);
  for (auto& [pid, w] : live().workers) out.push_back(pid);
  return out;
}

asio::awaitable<void> stop_all_workers() {
  auto workers = live_workers();
  if (workers.empty()) co_return;
  auto ex = co_await asio::this_coro::executor;
  using stop_op = decltype(asio::co_spawn(ex, workers.front()->stop(), asio::deferred));
  std::vector<stop_op> ops;
  for (auto& w : workers) ops.push_back(asio::co_spawn(w->executor(), w->stop(), asio::deferred));
  co_await asio::experimental::make_parallel_group(std::move(ops))
      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

void enter_worker_mode() noexcept { worker_mode.store(true); }

bool started_as_unserved_worker() {
  if (worker_mode.load()) return false;
  static const bool flagged = [] {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return cmdline.find(std::string("\0", 1) + worker_flag) != std::string::npos;
  }();
  return flagged;
}

}  // namespace malt::detail
