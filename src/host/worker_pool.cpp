// The worker pool: slots that each hold a worker (or are getting one), the tickets that
// lend them out, and the supervision that replaces a worker when it dies, has served its
// calls, or has grown too large.
#include "host/worker_impl.hpp"
#include "process/resident_memory.hpp"

#include <malt/detail/wake_list.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/error.hpp>
#include <malt/worker_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <optional>
#include <thread>
#include <vector>

namespace malt {
namespace asio = boost::asio;

namespace detail {
namespace {
bool same(const worker& a, const worker& b) noexcept { return worker_access::impl(a) == worker_access::impl(b); }
// Sooner than isrunning(): a worker whose stream has ended is gone before its exit is seen.
bool accepts_calls(const worker& w) noexcept { return worker_access::impl(w)->accepts_calls(); }
}  // namespace

class pool_state : public std::enable_shared_from_this<pool_state> {
 public:
  pool_state(asio::any_io_executor ex, pool_options options)
      : ex_(std::move(ex)), options_(std::move(options)), slots_(options_.size) {}

  const asio::any_io_executor& executor() const noexcept { return ex_; }
  std::size_t size() const noexcept { return slots_.size(); }
  std::size_t ready() const noexcept {
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.ready(); }));
  }
  bool stopped() const noexcept { return stopping_; }

  /// Fills every slot; the first failure stops what started and is rethrown.
  asio::awaitable<void> fill() {
    using op = decltype(asio::co_spawn(ex_, start_slot(0), asio::deferred));
    std::vector<op> starts;
    for (std::size_t i = 0; i < slots_.size(); ++i) starts.push_back(asio::co_spawn(ex_, start_slot(i), asio::deferred));
    auto [order, failures] = co_await asio::experimental::make_parallel_group(std::move(starts))
                                 .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    for (std::size_t i : order) {
      if (failures[i]) {
        co_await stop_all();
        std::rethrow_exception(failures[i]);
      }
    }
  }

  asio::awaitable<pool_ticket> acquire(bool exclusive, std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (stopping_) throw error(errc::pool_stopped, "the worker pool was stopped while the call waited for a worker");
      if (auto i = pick(exclusive)) {
        slot& s = slots_[*i];
        ++s.in_flight;
        if (exclusive) s.leased = true;
        co_return pool_ticket(shared_from_this(), *i, *s.w, exclusive);
      }
      if (!co_await changes_.wait(ex_, deadline)) throw error(errc::timed_out, "no worker of the pool was free in time");
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none)
        throw boost::system::system_error(asio::error::operation_aborted);
    }
  }

  void give_back(std::size_t i, const worker& w, bool exclusive) noexcept {
    slot& s = slots_[i];
    if (!s.w || !same(*s.w, w)) return;  // that worker has been replaced already
    --s.in_flight;
    ++s.calls;
    if (exclusive) {
      s.leased = false;
      // A lease may leave a call running (interrupted, abandoned): the worker is not clean.
      if (!accepts_calls(w) || w.calls_in_flight() > 0) s.retiring = true;
    }
    if (options_.max_calls_per_worker && s.calls >= options_.max_calls_per_worker) s.retiring = true;
    // A launched worker's processes are not the host's to read.
    if (options_.max_worker_rss && isrunning(w) && w.launcher_pid() < 0 &&
        resident_bytes_of_tree(w.pid()) > options_.max_worker_rss)
      s.retiring = true;
    if (s.retiring && s.in_flight == 0 && !s.leased) retire(i);
    notify();
  }

  void lost(std::size_t i, const worker& w) noexcept {
    if (slots_[i].w && same(*slots_[i].w, w)) slots_[i].retiring = true;
  }

  asio::awaitable<void> stop_all() {
    stopping_ = true;
    notify();
    using op = decltype(asio::co_spawn(ex_, stop_slot(0), asio::deferred));
    std::vector<op> stops;
    for (std::size_t i = 0; i < slots_.size(); ++i) stops.push_back(asio::co_spawn(ex_, stop_slot(i), asio::deferred));
    co_await asio::experimental::make_parallel_group(std::move(stops))
        .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    // A replacement that was starting stops its worker itself once it has started.
    while (starting_ > 0) co_await changes_.wait(ex_);
  }

 private:
  struct slot {
    std::optional<worker> w;  // empty while it starts
    std::size_t in_flight = 0;
    std::size_t calls = 0;
    bool leased = false;
    bool retiring = false;  // takes no more work; replaced once idle
    bool ready() const noexcept { return w && !retiring && accepts_calls(*w); }
  };

  std::optional<std::size_t> pick(bool exclusive) const {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      const slot& s = slots_[i];
      if (!s.ready() || s.leased || (exclusive && s.in_flight > 0)) continue;
      if (!best || s.in_flight < slots_[*best].in_flight) best = i;
    }
    return best;
  }

  void notify() { changes_.notify(); }

  asio::awaitable<void> start_slot(std::size_t i) {
    ++starting_;
    struct done_starting {
      pool_state& p;
      ~done_starting() {
        --p.starting_;
        p.notify();
      }
    } guard{*this};
    worker_options options =
        options_.placements.empty() ? options_.worker : options_.placements[i % options_.placements.size()];
    worker w = co_await spawn_worker(std::move(options));
    if (options_.init) {
      std::exception_ptr failed;
      try {
        co_await options_.init(w);
      } catch (...) {
        failed = std::current_exception();
      }
      if (failed) {
        kill(w);
        co_await stop(w);
        std::rethrow_exception(failed);
      }
    }
    if (stopping_) {
      co_await stop(w);
      co_return;
    }
    slots_[i] = slot{};
    slots_[i].w = w;
    watch(i, w);
  }

  // When the worker ends, for whatever reason, its slot gets a new one.
  void watch(std::size_t i, worker w) {
    asio::co_spawn(ex_, [self = shared_from_this(), i, w]() -> asio::awaitable<void> {
      co_await w.async_wait_exit(asio::as_tuple(asio::use_awaitable));
      self->replace(i, w);
    }, asio::detached);
  }

  void replace(std::size_t i, const worker& ended) {
    slot& s = slots_[i];
    if (!s.w || !same(*s.w, ended)) return;
    s = slot{};
    notify();
    if (stopping_) return;
    asio::co_spawn(ex_, [self = shared_from_this(), i]() -> asio::awaitable<void> {
      // A replacement that cannot start (no memory, a failing init) is tried again, less
      // and less often, while the pool lives.
      for (auto pause = std::chrono::milliseconds(50); !self->stopping_; pause = std::min(pause * 2, std::chrono::milliseconds(5000))) {
        try {
          co_await self->start_slot(i);
          co_return;
        } catch (...) {  // tried again below
        }
        asio::steady_timer wait(self->ex_, pause);
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }, asio::detached);
  }

  void retire(std::size_t i) {
    worker w = *slots_[i].w;
    asio::co_spawn(ex_, [w]() mutable -> asio::awaitable<void> { co_await stop(w); }, asio::detached);
  }

  asio::awaitable<void> stop_slot(std::size_t i) {
    if (!slots_[i].w) co_return;
    worker w = *slots_[i].w;
    co_await stop(w);
  }

  asio::any_io_executor ex_;
  pool_options options_;
  std::vector<slot> slots_;
  wake_list changes_;  // callers waiting for a worker, and stop waiting for starts
  std::size_t starting_ = 0;
  bool stopping_ = false;
};

pool_ticket::pool_ticket(std::shared_ptr<pool_state> pool, std::size_t slot, malt::worker w, bool exclusive) noexcept
    : pool_(std::move(pool)), slot_(slot), worker_(std::move(w)), exclusive_(exclusive) {}

pool_ticket::pool_ticket(pool_ticket&& other) noexcept
    : pool_(std::move(other.pool_)), slot_(other.slot_), worker_(std::move(other.worker_)), exclusive_(other.exclusive_) {
  other.pool_.reset();
}

pool_ticket& pool_ticket::operator=(pool_ticket&& other) noexcept {
  if (this != &other) {
    give_back();
    pool_ = std::move(other.pool_);
    other.pool_.reset();
    slot_ = other.slot_;
    worker_ = std::move(other.worker_);
    exclusive_ = other.exclusive_;
  }
  return *this;
}

pool_ticket::~pool_ticket() { give_back(); }

void pool_ticket::give_back() noexcept {
  if (!pool_) return;
  auto pool = std::move(pool_);
  pool_.reset();
  pool->give_back(slot_, *worker_, exclusive_);
}

void pool_ticket::worker_lost() noexcept {
  if (pool_) pool_->lost(slot_, *worker_);
}

asio::awaitable<pool_ticket> acquire(std::shared_ptr<pool_state> pool, bool exclusive,
                                     std::chrono::steady_clock::time_point deadline) {
  co_return co_await pool->acquire(exclusive, deadline);
}

std::size_t pool_workers(const pool_state& pool) noexcept { return pool.size(); }
asio::any_io_executor pool_executor(const pool_state& pool) noexcept { return pool.executor(); }

}  // namespace detail

asio::awaitable<worker_pool> worker_pool::started(pool_options options) {
  if (options.size == 0) options.size = options.placements.size();
  if (options.size == 0) options.size = std::max(1u, std::thread::hardware_concurrency());
  auto state = std::make_shared<detail::pool_state>(co_await asio::this_coro::executor, std::move(options));
  co_await state->fill();
  co_return worker_pool(std::move(state));
}

// Not a coroutine itself: options reach the coroutine as an xvalue (g++ 12 copies a
// prvalue argument of a coroutine bitwise when the call stands in a co_await).
asio::awaitable<worker_pool> worker_pool::start(const pool_options& options) { return started(options); }

worker_pool& worker_pool::operator=(worker_pool&& other) noexcept {
  if (this != &other) {
    stop_in_background();
    state_ = std::move(other.state_);
  }
  return *this;
}

worker_pool::~worker_pool() { stop_in_background(); }

void worker_pool::stop_in_background() noexcept {
  if (!state_ || state_->stopped()) return;
  asio::co_spawn(state_->executor(), [s = state_]() -> asio::awaitable<void> { co_await s->stop_all(); },
                 asio::detached);
}

std::size_t worker_pool::size() const noexcept { return state_ ? state_->size() : 0; }
std::size_t worker_pool::ready_workers() const noexcept { return state_ ? state_->ready() : 0; }
asio::any_io_executor worker_pool::get_executor() const noexcept {
  return state_ ? state_->executor() : asio::any_io_executor();
}

asio::any_io_executor worker_pool::checked_executor() const {
  if (!state_) throw error(errc::pool_stopped, "an empty malt::worker_pool (default-constructed, or moved from)");
  return state_->executor();
}

asio::awaitable<value> worker_pool::evaluated(std::shared_ptr<detail::pool_state> s, std::string code) {
  auto ticket = co_await detail::acquire(std::move(s), false, std::chrono::steady_clock::time_point::max());
  co_return co_await remote_eval_fetch(ticket.worker(), std::move(code));
}

asio::awaitable<worker_lease> worker_pool::leased(std::shared_ptr<detail::pool_state> s,
                                                  std::chrono::steady_clock::time_point deadline) {
  co_return worker_lease(co_await detail::acquire(std::move(s), true, deadline));
}

asio::awaitable<void> worker_pool::stopped(std::shared_ptr<detail::pool_state> s) { co_await s->stop_all(); }

}  // namespace malt
