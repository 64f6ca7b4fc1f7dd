// A parallel map's lanes and chunks (detail/map_engine.hpp): compiled once here, so that a
// file calling pmap compiles only the typed part, reading the range and decoding values.
#include <malt/detail/coroutine_operation.hpp>
#include <malt/detail/map_engine.hpp>
#include <malt/detail/registry.hpp>
#include <malt/detail/reply_handler.hpp>
#include <malt/detail/remote_call.hpp>
#include <malt/detail/wire.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/error.hpp>
#include <malt/item_result.hpp>
#include <malt/worker_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <chrono>
#include <type_traits>

namespace malt::detail {
namespace asio = boost::asio;

namespace {

bool is_worker_lost(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const terminated_worker_exception&) {
    return true;
  } catch (...) {
    return false;
  }
}

// Starts the request of one call on its worker and completes with the raw reply.
struct initiate_raw_call {
  template <class Handler>
  void operator()(Handler&& handler, worker_impl* w, std::uint64_t id) const {
    async_call(*w, id, [](reply_handler& to, void* h) {
      to.emplace_raw(std::move(*static_cast<std::decay_t<Handler>*>(h)));
    }, &handler);
  }
};

}  // namespace

std::size_t map_destination::workers() const noexcept { return pool_ ? pool_workers(*pool_) : 1; }

asio::any_io_executor map_destination::executor() const noexcept {
  return pool_ ? pool_executor(*pool_) : worker_->get_executor();
}

struct map_engine::chunk {
  std::size_t first = 0;
  std::size_t count = 0;
  call_handle call;
};

map_engine::map_engine(map_destination destination, const call_target& callee, bool fail_fast,
                       std::size_t chunk_size, std::optional<std::size_t> range_size, std::size_t chunks_in_flight,
                       map_output output)
    : destination_(std::move(destination)),
      callee_(callee),
      fail_fast_(fail_fast),
      output_(output),
      lanes_(destination_.workers() * std::max<std::size_t>(1, chunks_in_flight)),
      chunk_size_(chunk_size),
      ex_(destination_.executor()) {
  if (chunk_size_ == 0)  // 256 for a range that does not know its size
    chunk_size_ = range_size ? std::clamp<std::size_t>(*range_size / (lanes_ * 4), 1, 1024) : 256;
}

map_engine::~map_engine() = default;

const std::string& map_engine::function_name() const noexcept { return callee_.name; }

bool map_engine::done() const noexcept { return stopping_ || range_done(); }

// A streaming map keeps at most this many chunks sent or unread.
bool map_engine::held_back() const noexcept {
  return output_ != map_output::all && in_flight_ + unread_chunks() >= 2 * lanes_;
}

asio::awaitable<bool> map_engine::wait_for_change() { return changes_.wait(ex_); }

void map_engine::notify() { changes_.notify(); }

void map_engine::cancel(asio::cancellation_type type) {
  if (started_ && !finished_) signal_.emit(type);
}

void map_engine::start() {
  started_ = true;
  auto self = shared_from_this();
  asio::co_spawn(ex_, run_lanes(self), asio::bind_cancellation_slot(signal_.slot(), [self](std::exception_ptr e) {
                   self->failure_ = e;
                   self->finished_ = true;
                   self->notify();
                 }));
}

void map_engine::run_detached(std::shared_ptr<map_engine> self, asio::cancellation_slot slot,
                              void (*done)(void*, std::exception_ptr), void* context) {
  auto ex = self->ex_;
  asio::co_spawn(ex, passing_every_cancellation(run_lanes(std::move(self))),
                 asio::bind_cancellation_slot(slot, [done, context](std::exception_ptr e) { done(context, std::move(e)); }));
}

asio::awaitable<void> map_engine::run_lanes(std::shared_ptr<map_engine> self) {
  co_await asio::this_coro::reset_cancellation_state(pass_every_cancellation{});
  auto ex = co_await asio::this_coro::executor;
  using lane_op = decltype(asio::co_spawn(ex, lane(self), asio::deferred));
  std::vector<lane_op> lanes;
  for (std::size_t i = 0; i < self->lanes_; ++i) lanes.push_back(asio::co_spawn(ex, lane(self), asio::deferred));
  auto [order, failures] = co_await asio::experimental::make_parallel_group(std::move(lanes))
                               .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
  auto state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none)
    throw boost::system::system_error(asio::error::operation_aborted);
  for (std::size_t i : order)
    if (failures[i]) std::rethrow_exception(failures[i]);
}

asio::awaitable<void> map_engine::lane(std::shared_ptr<map_engine> self) {
  co_await asio::this_coro::reset_cancellation_state(pass_every_cancellation{});
  while (!self->done()) {
    while (self->held_back() && !self->done()) co_await self->wait_for_change();
    pool_ticket ticket;  // empty for a map on one worker
    if (self->destination_.pool_)
      ticket = co_await acquire(self->destination_.pool_, false, std::chrono::steady_clock::time_point::max());
    if (self->done()) co_return;  // another lane took the last items meanwhile
    chunk c = self->take_chunk(ticket ? ticket.worker() : *self->destination_.worker_);
    auto [failure, reply] = co_await asio::async_initiate<const asio::as_tuple_t<asio::use_awaitable_t<>>&,
                                                          void(std::exception_ptr, std::vector<char>)>(
        initiate_raw_call{}, asio::as_tuple(asio::use_awaitable), &c.call.worker(), c.call.id());
    if (ticket && failure && is_worker_lost(failure)) ticket.worker_lost();  // not again, even before its exit is seen
    self->complete(c, failure, std::move(reply));
  }
}

map_engine::chunk map_engine::take_chunk(const worker& w) {
  const auto& impl = worker_access::impl(w);
  call_handle call = prepare_call(impl, callee_);
  std::vector<char>& frame = call_body(call);
  batch_writer batch(frame);
  const std::size_t max_bytes = std::min<std::size_t>(std::size_t(1) << 20, max_frame_size(*impl) / 2);
  while (!range_done() && batch.items() < chunk_size_ && frame.size() < max_bytes) {
    batch.begin_item();
    encode_next(frame);
    batch.end_item();
  }
  batch.end();
  chunk c{next_, batch.items(), {}};
  next_ += c.count;
  ++in_flight_;
  issue(call, call_mode::fetch);
  c.call = std::move(call);
  return c;
}

// Hands the chunk's outcomes to the typed part; failing fast, throws the first failure.
void map_engine::complete(const chunk& c, std::exception_ptr failure, std::vector<char> reply) {
  --in_flight_;
  const worker_impl& impl = c.call.worker();
  std::vector<item_reply> items;
  if (!failure) {
    try {
      items = split_batch_reply(impl, callee_.name, reply, c.count);
    } catch (...) {
      failure = std::current_exception();
    }
  }
  chunk_failure first_failed = store(c.first, c.count, failure, items, impl);
  if (fail_fast_ && first_failed.index < c.count) {
    stopping_ = true;
    throw item_error(c.first + first_failed.index, first_failed.error);
  }
}

}  // namespace malt::detail
