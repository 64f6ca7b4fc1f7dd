#ifndef MALT_DETAIL_PMAP_RUN_HPP
#define MALT_DETAIL_PMAP_RUN_HPP

// One parallel map in progress (<malt/pmap.hpp>): the range being read, the chunks in
// flight and the results. Lanes, each a coroutine, take the next chunk, send it to a worker
// as one batch request and store its items' outcomes; a worker has chunks_in_flight lanes.
// Everything runs on the workers' executor, one thread.

#include <malt/detail/coroutine_operation.hpp>
#include <malt/detail/make_call.hpp>
#include <malt/detail/payload.hpp>
#include <malt/detail/remote_call.hpp>
#include <malt/detail/wake_list.hpp>
#include <malt/detail/worker_access.hpp>
#include <malt/error.hpp>
#include <malt/item_result.hpp>
#include <malt/worker.hpp>
#include <malt/worker_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace malt {

/// A chunk of a streaming map's results: the values of items first, first + 1, ...
template <class T>
struct result_chunk {
  std::size_t first = 0;
  std::vector<T> values;
};

}  // namespace malt

namespace malt::detail {

/// A streaming map as its reader sees it.
template <class T>
class stream_source {
 public:
  virtual ~stream_source() = default;
  virtual boost::asio::awaitable<std::optional<result_chunk<T>>> next() = 0;
  virtual void cancel(boost::asio::cancellation_type type) = 0;
  virtual bool finished() const noexcept = 0;
  virtual boost::asio::any_io_executor executor() const noexcept = 0;
};

template <class R>
auto range_begin(R& r) {
  using std::begin;
  return begin(r);
}
template <class R>
auto range_end(R& r) {
  using std::end;
  return end(r);
}

/// A map on one worker: every chunk goes to it.
class worker_target {
 public:
  explicit worker_target(const worker& w) : w_(w) {}
  std::size_t workers() const noexcept { return 1; }
  boost::asio::any_io_executor executor() const noexcept { return w_.get_executor(); }
  struct ticket {
    const malt::worker* w;
    const malt::worker& worker() const noexcept { return *w; }
  };
  boost::asio::awaitable<ticket> acquire() const { co_return ticket{&w_}; }

 private:
  malt::worker w_;
};

/// A map on a pool: each chunk goes to the least loaded worker when it is sent.
class pool_target {
 public:
  explicit pool_target(std::shared_ptr<pool_state> pool) : pool_(std::move(pool)) {}
  std::size_t workers() const noexcept { return pool_workers(*pool_); }
  boost::asio::any_io_executor executor() const noexcept { return pool_executor(*pool_); }
  boost::asio::awaitable<pool_ticket> acquire() const {
    return detail::acquire(pool_, false, std::chrono::steady_clock::time_point::max());
  }

 private:
  std::shared_ptr<pool_state> pool_;
};

inline bool is_worker_lost(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const terminated_worker_exception&) {
    return true;
  } catch (...) {
    return false;
  }
}

/// Starts the request of one call on its worker and completes with the raw reply.
struct initiate_raw_call {
  template <class Handler>
  void operator()(Handler&& handler, worker_impl* w, std::uint64_t id) const {
    async_call(*w, id, [](reply_handler& to, void* h) {
      to.emplace_raw(std::move(*static_cast<std::decay_t<Handler>*>(h)));
    }, &handler);
  }
};

/// Where the results of a map go: all at the end (pmap), or chunk by chunk to a reader
/// (imap), in input order or as they complete.
enum class map_output : std::uint8_t { all, in_order, as_completed };

template <class T, class F, class Range, class Target>
class pmap_run : public std::enable_shared_from_this<pmap_run<T, F, Range, Target>> {
 protected:
  using chunk_type = result_chunk<std::conditional_t<std::is_void_v<T>, char, T>>;
  using sig = typename callee_of<F>::sig;
  using params = typename sig::params;
  using range_type = std::remove_reference_t<Range>;

 public:
  pmap_run(Target target, F f, Range&& range, bool fail_fast, std::size_t chunk_size, std::size_t chunks_in_flight,
           map_output output = map_output::all)
      : target_(std::move(target)),
        f_(std::move(f)),
        range_(std::forward<Range>(range)),
        it_(range_begin(range_)),
        end_(range_end(range_)),
        callee_(callee_of<F>::target(f_)),
        name_(callee_.name),
        fail_fast_(fail_fast),
        output_(output),
        lanes_(target_.workers() * std::max<std::size_t>(1, chunks_in_flight)),
        ex_(target_.executor()) {
    chunk_size_ = chunk_size;
    if (chunk_size_ == 0) {
      chunk_size_ = 256;  // a range that does not know its size
      if constexpr (requires(range_type& r) { std::size(r); })
        chunk_size_ = std::clamp<std::size_t>(static_cast<std::size_t>(std::size(range_)) / (lanes_ * 4), 1, 1024);
    }
  }

  /// Every item's outcome, in input order.
  static boost::asio::awaitable<std::vector<item_result<T>>> outcomes(std::shared_ptr<pmap_run> self) {
    co_await run_lanes(self);
    co_return std::move(self->results_);
  }

  /// Runs the lanes until the range is done, a failure stops them, or the map is cancelled.
  static boost::asio::awaitable<void> run_lanes(std::shared_ptr<pmap_run> self) {
    namespace asio = boost::asio;
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

  /// Every item's value, in input order; the first failure is thrown.
  static boost::asio::awaitable<std::vector<T>> values(std::shared_ptr<pmap_run> self) {
    auto results = co_await outcomes(std::move(self));
    std::vector<T> values;
    values.reserve(results.size());
    for (auto& r : results) values.push_back(std::move(*r.value_));
    co_return values;
  }

  static boost::asio::awaitable<void> all_done(std::shared_ptr<pmap_run> self) {
    co_await outcomes(std::move(self));
  }

 protected:
  struct chunk {
    std::size_t first = 0;
    std::size_t count = 0;
    call_handle call;
  };

  bool done() const { return stopping_ || it_ == end_; }

  void start() {
    namespace asio = boost::asio;
    started_ = true;
    asio::co_spawn(ex_, run_lanes(this->shared_from_this()),
                   asio::bind_cancellation_slot(signal_.slot(), [self = this->shared_from_this()](std::exception_ptr e) {
                     self->failure_ = e;
                     self->finished_ = true;
                     self->notify();
                   }));
  }

  // The reader and lanes held back by the bound wait for a change of the other side.
  boost::asio::awaitable<bool> wait_for_change() { return changes_.wait(ex_); }
  void notify() { changes_.notify(); }
  // A streaming map keeps at most this many chunks sent or unread.
  bool held_back() const { return output_ != map_output::all && in_flight_ + done_.size() >= 2 * lanes_; }

  static boost::asio::awaitable<void> lane(std::shared_ptr<pmap_run> self) {
    namespace asio = boost::asio;
    co_await asio::this_coro::reset_cancellation_state(pass_every_cancellation{});
    while (!self->done()) {
      while (self->held_back() && !self->done()) co_await self->wait_for_change();
      auto ticket = co_await self->target_.acquire();
      if (self->done()) co_return;  // another lane took the last items meanwhile
      chunk c = self->take_chunk(ticket.worker());
      auto [failure, reply] = co_await asio::async_initiate<const asio::as_tuple_t<asio::use_awaitable_t<>>&,
                                                            void(std::exception_ptr, std::vector<char>)>(
          initiate_raw_call{}, asio::as_tuple(asio::use_awaitable), &c.call.worker(), c.call.id());
      if constexpr (requires { ticket.worker_lost(); })
        if (failure && is_worker_lost(failure)) ticket.worker_lost();  // not again, even before its exit is seen
      self->complete(c, failure, std::move(reply));
    }
  }

  template <class Item>
  static void encode_item(std::vector<char>& frame, Item&& item) {
    constexpr std::size_t arity = sig::arity;
    if constexpr (arity == 1) {
      encode_arguments<params>(frame, std::index_sequence<0>{}, std::forward<Item>(item));
    } else {
      std::apply([&](auto&&... a) {
        static_assert(sizeof...(a) == arity, "an item must hold one value for each parameter of the function");
        encode_arguments<params>(frame, std::make_index_sequence<arity>{}, std::forward<decltype(a)>(a)...);
      }, std::forward<Item>(item));
    }
  }

  chunk take_chunk(const worker& w) {
    const auto& impl = worker_access::impl(w);
    call_handle call = prepare_call(impl, callee_);
    std::vector<char>& frame = call_body(call);
    batch_writer batch(frame);
    const std::size_t max_bytes = std::min<std::size_t>(std::size_t(1) << 20, max_frame_size(*impl) / 2);
    while (it_ != end_ && batch.items() < chunk_size_ && frame.size() < max_bytes) {
      batch.begin_item();
      encode_item(frame, *it_);
      batch.end_item();
      ++it_;
    }
    batch.end();
    chunk c{next_, batch.items(), {}};
    next_ += c.count;
    if (output_ == map_output::all) results_.resize(next_);
    ++in_flight_;
    issue(call, call_mode::fetch);
    c.call = std::move(call);
    return c;
  }

  // Stores the chunk's outcomes; failing fast, throws the first failure.
  void complete(const chunk& c, std::exception_ptr failure, std::vector<char> reply) {
    --in_flight_;
    const worker_impl& impl = c.call.worker();
    std::vector<item_reply> items;
    if (!failure) {
      try {
        items = split_batch_reply(impl, name_, reply, c.count);
      } catch (...) {
        failure = std::current_exception();
      }
    }
    std::size_t first_failed = c.count;
    std::vector<item_result<T>> streamed(output_ == map_output::all ? 0 : c.count);
    for (std::size_t i = 0; i < c.count; ++i) {
      auto& r = output_ == map_output::all ? results_[c.first + i] : streamed[i];
      r.error_ = failure ? failure : items[i].failure;
      if constexpr (!std::is_void_v<T>) {
        if (!r.error_) {
          try {
            T value{};
            decode_values(items[i].bytes, decode_limits{max_decode_depth(impl)}, value);
            r.value_ = std::move(value);
          } catch (const std::exception& e) {
            r.error_ = decode_failure(impl, name_, e).exception;
          }
        }
      }
      if (r.error_ && first_failed == c.count) first_failed = i;
    }
    if (fail_fast_ && first_failed < c.count) {
      stopping_ = true;
      const auto& failed = output_ == map_output::all ? results_[c.first + first_failed] : streamed[first_failed];
      throw item_error(c.first + first_failed, failed.error_);
    }
    if (output_ != map_output::all) {
      chunk_type out{c.first, {}};
      out.values.reserve(c.count);
      if constexpr (!std::is_void_v<T>)
        for (auto& r : streamed) out.values.push_back(std::move(*r.value_));
      done_.emplace(c.first, std::move(out));
      notify();
    }
  }

  Target target_;
  F f_;
  Range range_;  // a reference for an lvalue range, the range itself for an rvalue
  decltype(range_begin(std::declval<range_type&>())) it_;
  decltype(range_end(std::declval<range_type&>())) end_;
  const call_target& callee_;
  const std::string& name_;
  bool fail_fast_;
  map_output output_;
  std::size_t lanes_;
  std::size_t chunk_size_ = 0;
  std::size_t next_ = 0;
  bool stopping_ = false;
  std::vector<item_result<T>> results_;  // map_output::all
  // Streaming: chunks done and not yet read, by first index; the reader's progress.
  std::map<std::size_t, chunk_type> done_;
  std::size_t next_out_ = 0;
  std::size_t in_flight_ = 0;
  bool started_ = false;
  bool finished_ = false;
  std::exception_ptr failure_;
  boost::asio::cancellation_signal signal_;
  boost::asio::any_io_executor ex_;
  wake_list changes_;
};

/// A map read as a stream (imap): the reader's side of pmap_run, apart so that a plain
/// pmap does not compile it.
template <class T, class F, class Range, class Target>
class imap_run final : public pmap_run<T, F, Range, Target>, public stream_source<T> {
  using base = pmap_run<T, F, Range, Target>;
  using typename base::chunk_type;

 public:
  using base::base;

  boost::asio::awaitable<std::optional<chunk_type>> next() override {
    namespace asio = boost::asio;
    auto self = this->shared_from_this();  // alive while the reader waits
    if (!this->started_) this->start();
    for (;;) {
      if (this->failure_) std::rethrow_exception(this->failure_);
      auto it = this->output_ == map_output::in_order ? this->done_.find(this->next_out_) : this->done_.begin();
      if (it != this->done_.end()) {
        chunk_type chunk = std::move(it->second);
        this->done_.erase(it);
        if (this->output_ == map_output::in_order) this->next_out_ += chunk.values.size();
        this->notify();  // a lane held back by the bound may go on
        co_return chunk;
      }
      if (this->finished_) co_return std::nullopt;
      co_await this->wait_for_change();
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        cancel(state.cancelled());
        throw boost::system::system_error(asio::error::operation_aborted);
      }
    }
  }

  void cancel(boost::asio::cancellation_type type) override {
    if (this->started_ && !this->finished_) this->signal_.emit(type);
  }
  bool finished() const noexcept override { return this->started_ ? this->finished_ : true; }
  boost::asio::any_io_executor executor() const noexcept override { return this->ex_; }
};

template <class T, class Target, class F, class Range>
std::shared_ptr<stream_source<T>> start_imap(Target target, F f, Range&& items, std::size_t chunk_size,
                                             std::size_t chunks_in_flight, bool ordered) {
  using run_type = imap_run<T, F, Range, Target>;
  return std::make_shared<run_type>(std::move(target), std::move(f), std::forward<Range>(items), true, chunk_size,
                                    chunks_in_flight, ordered ? map_output::in_order : map_output::as_completed);
}

template <bool Collect, class Target, class F, class Range, class CompletionToken>
auto start_pmap(Target target, F f, Range&& items, std::size_t chunk_size, std::size_t chunks_in_flight,
                diagnostics* diag, CompletionToken&& token) {
  using T = result_of<F>;
  using run_type = pmap_run<T, F, Range, Target>;
  auto ex = target.executor();
  auto run = std::make_shared<run_type>(std::move(target), std::move(f), std::forward<Range>(items), !Collect,
                                        chunk_size, chunks_in_flight);
  if constexpr (Collect)
    return coroutine_operation<std::vector<item_result<T>>>(
        std::move(ex), diag, [run] { return run_type::outcomes(run); }, std::forward<CompletionToken>(token));
  else if constexpr (std::is_void_v<T>)
    return coroutine_operation<void>(std::move(ex), diag, [run] { return run_type::all_done(run); },
                                     std::forward<CompletionToken>(token));
  else
    return coroutine_operation<std::vector<T>>(std::move(ex), diag, [run] { return run_type::values(run); },
                                               std::forward<CompletionToken>(token));
}

}  // namespace malt::detail

#endif
