#ifndef MALT_WORKER_POOL_HPP
#define MALT_WORKER_POOL_HPP

// A supervised set of workers: calls go to the least loaded one, a worker that dies is
// replaced at once, a worker is recycled after a number of calls or above a resident size,
// and a request can lease one worker for itself.
//
//   auto pool = co_await malt::worker_pool::start({.size = 4});
//   int r = co_await pool.call(add, 1, 2);
//   auto lease = co_await pool.lease(200ms);        // one worker, all mine, or timed_out
//   co_await malt::remote_call_fetch(*lease, add, 1, 2);
//   co_await pool.stop();
//
// A pool lives on the io_context it was started from, as its workers do; use it from that
// io_context's thread.

#include <malt/call.hpp>
#include <malt/detail/coroutine_operation.hpp>
#include <malt/diagnostics.hpp>
#include <malt/error.hpp>
#include <malt/eval.hpp>
#include <malt/worker.hpp>
#include <malt/worker_options.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace malt {

struct pool_options {
  /// How many workers; 0: one per placement if there are placements, else one per
  /// hardware thread.
  std::size_t size = 0;
  /// How each worker is started.
  worker_options worker;
  /// Where the workers run, in turn: worker i (and its replacements) is started with
  /// placements[i % placements.size()] instead of worker, e.g. ssh_worker_options for
  /// several machines, or the same machine listed twice for two workers there.
  std::vector<worker_options> placements;
  /// Runs in every new worker, replacements included, before it takes any work: a
  /// registered function (co_await malt::remote_call_wait(w, setup)) or Lua
  /// (co_await malt::remote_eval_wait(w, "...")). If it throws, the worker is killed;
  /// start() rethrows, a replacement is tried again later.
  std::function<boost::asio::awaitable<void>(const malt::worker&)> init;
  /// Replace a worker once it has completed this many calls (0: never), as Python's
  /// maxtasksperchild. A pmap chunk is one call.
  std::size_t max_calls_per_worker = 0;
  /// Replace a worker whose process tree holds more than this many resident bytes after a
  /// call (0: never). Read from /proc after each call.
  std::size_t max_worker_rss = 0;
};

/// How many times a call may run again on a fresh worker if its worker dies under it. Only
/// for calls that can safely run twice: the first run may have had effects.
struct retry {
  unsigned attempts = 1;
};

namespace detail {
class pool_state;

/// One worker of a pool, held for one call (shared with other calls) or a lease (alone).
/// Giving it back counts the call, and may recycle or replace the worker.
class pool_ticket {
 public:
  pool_ticket() = default;
  pool_ticket(std::shared_ptr<pool_state> pool, std::size_t slot, malt::worker w, bool exclusive) noexcept;
  pool_ticket(pool_ticket&& other) noexcept;
  pool_ticket& operator=(pool_ticket&& other) noexcept;
  ~pool_ticket();

  const malt::worker& worker() const noexcept { return *worker_; }
  explicit operator bool() const noexcept { return pool_ != nullptr; }
  void give_back() noexcept;
  /// The worker failed a call as terminated: it takes no more calls, even before its exit
  /// is seen, and is replaced.
  void worker_lost() noexcept;

 private:
  std::shared_ptr<pool_state> pool_;
  std::size_t slot_ = 0;
  std::optional<malt::worker> worker_;
  bool exclusive_ = false;
};

/// Waits for a ready worker: the least loaded one, or for exclusive use one with no call,
/// until deadline (then error{timed_out}). Throws error{pool_stopped} once the pool stops.
boost::asio::awaitable<pool_ticket> acquire(std::shared_ptr<pool_state> pool, bool exclusive,
                                            std::chrono::steady_clock::time_point deadline);
std::size_t pool_workers(const pool_state& pool) noexcept;
boost::asio::any_io_executor pool_executor(const pool_state& pool) noexcept;

// The public forms are not coroutines: their arguments reach this one as xvalues (g++ 12
// copies a prvalue argument of a coroutine bitwise when the call stands in a co_await).
// R void: the value stays in the worker.
template <class R, class F, class... Args>
boost::asio::awaitable<R> pool_call(std::shared_ptr<pool_state> pool, unsigned retries, F f, Args... args) {
  for (unsigned attempt = 0;; ++attempt) {
    auto ticket = co_await acquire(pool, false, std::chrono::steady_clock::time_point::max());
    try {
      if constexpr (std::is_void_v<R>) {
        co_await remote_call_wait(ticket.worker(), f, args...);
        co_return;
      } else {
        co_return co_await remote_call_fetch(ticket.worker(), f, args...);
      }
    } catch (const terminated_worker_exception&) {
      ticket.worker_lost();
      if (attempt >= retries) throw;
    }
  }
}

template <class F, class... Args>
boost::asio::awaitable<void> pool_do(std::shared_ptr<pool_state> pool, F f, Args... args) {
  auto ticket = co_await acquire(std::move(pool), false, std::chrono::steady_clock::time_point::max());
  remote_do(ticket.worker(), f, std::move(args)...);
}
}  // namespace detail

/// A worker of a pool for one holder alone; given back when destroyed (or by release()). A
/// worker found dead, or still running a call, when it comes back is replaced.
class worker_lease {
 public:
  worker_lease() = default;
  const malt::worker& operator*() const noexcept { return ticket_.worker(); }
  const malt::worker* operator->() const noexcept { return &ticket_.worker(); }
  const malt::worker& get() const noexcept { return ticket_.worker(); }
  /// Gives the worker back now.
  void release() noexcept { ticket_.give_back(); }

 private:
  friend class worker_pool;
  explicit worker_lease(detail::pool_ticket t) noexcept : ticket_(std::move(t)) {}
  detail::pool_ticket ticket_;
};

/// Every operation of a pool is an awaitable that is also an Asio operation
/// (detail::coroutine_op): co_await it for the value (failures as typed exceptions; it
/// runs in the awaiting coroutine), co_spawn it, put it in a parallel_group, or call it
/// with any other completion token for void(boost::system::error_code, T), the failure's
/// exception going to a malt::diagnostics passed before the token:
///
///   auto [ec, r] = co_await pool.call(add, 1, 2)(diag, asio::as_tuple(asio::use_awaitable));
///   pool.call(add, 1, 2)([](boost::system::error_code ec, int r) { ... });
///
/// The operations of an empty pool (default-constructed, or moved from) throw
/// error{pool_stopped} at once.
class worker_pool {
  // (Ahead of its uses: they deduce their type from it.)
  // The pool's executor; throws error{pool_stopped} for an empty pool.
  boost::asio::any_io_executor checked_executor() const;
  template <class T>
  detail::coroutine_op<T> operation(boost::asio::awaitable<T> a) const {
    return detail::coroutine_op<T>(checked_executor(), std::move(a));
  }
  auto lease_until(std::chrono::steady_clock::time_point deadline) const { return operation(leased(state_, deadline)); }

 public:
  /// An empty pool, to be assigned one that start gives.
  worker_pool() noexcept = default;

  /// Starts options.size workers together and runs init in each. Throws what spawn_worker
  /// or init threw, after stopping the workers already started.
  static boost::asio::awaitable<worker_pool> start(const pool_options& options = {});

  /// start on ex for any completion token: void(boost::system::error_code, worker_pool), the
  /// failure's exception going to diag if given; use_awaitable throws as above.
  template <class CompletionToken>
  static auto start(boost::asio::any_io_executor ex, pool_options options, CompletionToken&& token) {
    return detail::coroutine_operation<worker_pool>(
        std::move(ex), nullptr, [o = std::move(options)] { return start(o); }, std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  static auto start(boost::asio::any_io_executor ex, pool_options options, diagnostics& diag,
                    CompletionToken&& token) {
    return detail::coroutine_operation<worker_pool>(
        std::move(ex), &diag, [o = std::move(options)] { return start(o); }, std::forward<CompletionToken>(token));
  }

  worker_pool(worker_pool&&) noexcept = default;
  worker_pool& operator=(worker_pool&&) noexcept;
  /// A pool that was not stopped stops in the background.
  ~worker_pool();

  /// The number of workers it keeps (0 for an empty pool).
  std::size_t size() const noexcept;
  /// How many workers are ready now (the others are starting, or being replaced).
  std::size_t ready_workers() const noexcept;
  boost::asio::any_io_executor get_executor() const noexcept;

  /// f(args...) on the least loaded worker; the arguments are copied into the operation.
  /// A call whose worker dies fails with terminated_worker_exception (the worker is
  /// replaced). Waits while no worker is ready. Completes with the value (T).
  /// Cancellation: as remote_call_fetch once the call is sent; before, any type ends the
  /// wait with operation_aborted.
  template <class F, class... Args>
  auto call(F f, Args... args) const {
    return operation(detail::pool_call<detail::result_of<F>>(state_, 0, std::move(f), std::move(args)...));
  }

  /// The same, run again on a fresh worker up to r.attempts times while the worker dies
  /// under it (terminated_worker_exception); every other failure is the call's.
  template <class F, class... Args>
  auto call(retry r, F f, Args... args) const {
    return operation(detail::pool_call<detail::result_of<F>>(state_, r.attempts, std::move(f), std::move(args)...));
  }

  /// f(args...) on the least loaded worker, its value left there (remote_call_wait).
  template <class F, class... Args>
  auto call_wait(F f, Args... args) const {
    return operation(detail::pool_call<void>(state_, 0, std::move(f), std::move(args)...));
  }

  /// f(args...) on the least loaded worker, answered by nothing (remote_do); completes once
  /// it is sent (waiting, as call does, while no worker is ready).
  template <class F, class... Args>
  auto call_do(F f, Args... args) const {
    return operation(detail::pool_do(state_, std::move(f), std::move(args)...));
  }

  /// Lua code on the least loaded worker (remote_eval_fetch); completes with a malt::value.
  auto eval(std::string code) const {
    return operation(evaluated(state_, std::move(code)));
  }

  /// One worker for the caller alone, waiting as long as all are busy; completes with a
  /// worker_lease.
  auto lease() const { return lease_until(std::chrono::steady_clock::time_point::max()); }
  /// The same, but error{timed_out} when none is free within patience (or by deadline).
  auto lease(std::chrono::steady_clock::duration patience) const {
    return lease_until(std::chrono::steady_clock::now() + patience);
  }
  auto lease(std::chrono::steady_clock::time_point deadline) const { return lease_until(deadline); }

  /// Stops every worker, including those being started or replaced; whatever waits for a
  /// worker fails with error{pool_stopped}, and running calls with
  /// terminated_worker_exception. Completes (void) once every process has ended.
  auto stop() const {
    return operation(stopped(state_));
  }

  /// For pmap: the pool's shared state.
  const std::shared_ptr<detail::pool_state>& state() const noexcept { return state_; }

 private:
  explicit worker_pool(std::shared_ptr<detail::pool_state> s) noexcept : state_(std::move(s)) {}
  static boost::asio::awaitable<worker_pool> started(pool_options options);
  static boost::asio::awaitable<value> evaluated(std::shared_ptr<detail::pool_state> s, std::string code);
  static boost::asio::awaitable<worker_lease> leased(std::shared_ptr<detail::pool_state> s,
                                                     std::chrono::steady_clock::time_point deadline);
  static boost::asio::awaitable<void> stopped(std::shared_ptr<detail::pool_state> s);
  void stop_in_background() noexcept;
  std::shared_ptr<detail::pool_state> state_;
};

}  // namespace malt

#endif
