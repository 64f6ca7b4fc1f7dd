#ifndef MALT_PMAP_HPP
#define MALT_PMAP_HPP

// Parallel map: f over every item of a range, in one worker or in a pool's workers, the
// results in input order.
//
//   std::vector<int> squares = co_await malt::pmap(pool, square, ranges::views::iota(0, 100000));
//   auto sums = co_await malt::pmap(w, add, ranges::views::zip(xs, ys));   // tuples spread into arguments
//   auto each = co_await malt::pmap_collect(pool, parse, lines);           // per-item values or errors
//
// Items travel in chunks: one frame carries many items' arguments and one frame brings
// back their results, so an item costs an encode, a call and a decode, not a message of
// its own. Each worker has a few chunks in flight, so one runs while the next travels.
//
// The range is any input range with begin() and end() (std or range-v3); it is read
// lazily, a chunk at a time, from the pmap's own coroutine. An item is the argument of a
// one-parameter function, or a tuple-like value (std::tuple, std::pair, range-v3's zip
// element) whose elements are the arguments. A range passed as an rvalue is moved into
// the operation; one passed as an lvalue must outlive it.

#include <malt/detail/coroutine_operation.hpp>
#include <malt/detail/pmap_run.hpp>
#include <malt/diagnostics.hpp>
#include <malt/item_result.hpp>
#include <malt/worker.hpp>
#include <malt/worker_pool.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace malt {

struct pmap_options {
  /// Items per chunk; 0 chooses from the range's size (when it has one) and the number of
  /// workers: at most 1024, at least enough for four chunks per lane. A chunk also ends at
  /// 1 MiB of arguments. All of a chunk's results must fit in one frame
  /// (worker_options::max_frame_size), or its items fail with error{frame_too_large}.
  std::size_t chunk_size = 0;
  /// Chunks each worker has in flight at once (at least 1).
  std::size_t chunks_in_flight = 2;
};

namespace detail {
inline map_destination target_of(const worker& w) { return map_destination(w); }
inline map_destination target_of(const worker_pool& pool) { return map_destination(pool.state()); }
/// What a map runs on: a worker (of any kind) or a worker_pool.
template <class On>
concept map_target = requires(const On& on) { target_of(on); };
}  // namespace detail

/// Runs f on every item of items in w (or in pool's workers) and gives the results in
/// input order: std::vector<T>, or nothing for a void f. The first item to fail stops the
/// map: chunks not yet sent are dropped, running ones are interrupted (partial
/// cancellation), and the failure is thrown as item_error with the item's index.
///
/// The default token is use_awaitable: co_await pmap(...) gives the vector and throws the
/// failure. Any other completion token gets void(boost::system::error_code,
/// std::vector<T>) (void(boost::system::error_code) for a void f), the failure's
/// exception going to a malt::diagnostics passed before the token.
/// Cancellation: every type, passed on to each chunk's call as for call_op (<malt/call.hpp>)
/// (queued chunks dropped; running ones interrupted under partial, abandoned under
/// terminal, left to finish under total); the map then completes with operation_aborted.
template <detail::map_target On, class F, class Range, class CompletionToken = boost::asio::use_awaitable_t<>>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto pmap(const On& on, F f, Range&& items, pmap_options options = {}, CompletionToken&& token = {}) {
  return detail::start_pmap<false>(detail::target_of(on), std::move(f), std::forward<Range>(items),
                                   options.chunk_size, options.chunks_in_flight, nullptr,
                                   std::forward<CompletionToken>(token));
}
template <detail::map_target On, class F, class Range, class CompletionToken>
auto pmap(const On& on, F f, Range&& items, pmap_options options, diagnostics& diag, CompletionToken&& token) {
  return detail::start_pmap<false>(detail::target_of(on), std::move(f), std::forward<Range>(items),
                                   options.chunk_size, options.chunks_in_flight, &diag,
                                   std::forward<CompletionToken>(token));
}

/// The same, but every item runs whatever the others do, and each gets its own outcome:
/// std::vector<item_result<T>>. A cancelled map still completes with operation_aborted.
template <detail::map_target On, class F, class Range, class CompletionToken = boost::asio::use_awaitable_t<>>
  requires(!std::is_same_v<std::decay_t<CompletionToken>, diagnostics>)
auto pmap_collect(const On& on, F f, Range&& items, pmap_options options = {}, CompletionToken&& token = {}) {
  return detail::start_pmap<true>(detail::target_of(on), std::move(f), std::forward<Range>(items),
                                  options.chunk_size, options.chunks_in_flight, nullptr,
                                  std::forward<CompletionToken>(token));
}
template <detail::map_target On, class F, class Range, class CompletionToken>
auto pmap_collect(const On& on, F f, Range&& items, pmap_options options, diagnostics& diag,
                  CompletionToken&& token) {
  return detail::start_pmap<true>(detail::target_of(on), std::move(f), std::forward<Range>(items),
                                  options.chunk_size, options.chunks_in_flight, &diag,
                                  std::forward<CompletionToken>(token));
}

/// The results of a streaming map (imap), a chunk at a time; each chunk's values is a
/// std::vector, a range. At most two chunks per lane are sent or done and unread: a reader
/// that stops reading stops the map from sending more.
template <class T>
class result_stream {
 public:
  explicit result_stream(std::shared_ptr<detail::stream_source<T>> source) noexcept : source_(std::move(source)) {}
  result_stream(result_stream&&) noexcept = default;
  result_stream& operator=(result_stream&& other) noexcept {
    if (this != &other) {
      end();
      source_ = std::move(other.source_);
    }
    return *this;
  }
  /// A stream given up before its end cancels the map (terminal).
  ~result_stream() { end(); }

  /// The next chunk (in input order for imap, as completed for imap_unordered), or
  /// std::nullopt after the last. The map starts at the first call. Throws item_error
  /// once an item has failed (the map stops as pmap does).
  /// Cancellation: any type, passed on to the map as pmap does; then operation_aborted.
  /// An awaitable and an operation, as the pool's are: co_await it, or call it with a
  /// completion token (void(boost::system::error_code, std::optional<result_chunk<T>>)).
  auto next() {
    return detail::coroutine_op<std::optional<result_chunk<T>>>(source_->executor(), source_->next());
  }

  /// Cancels the map with type, as cancelling a pmap does; next() then ends it.
  void cancel(boost::asio::cancellation_type type = boost::asio::cancellation_type::partial) { source_->cancel(type); }

 private:
  void end() noexcept {
    if (source_ && !source_->finished()) source_->cancel(boost::asio::cancellation_type::terminal);
  }
  std::shared_ptr<detail::stream_source<T>> source_;
};

namespace detail {
template <class On, class F, class Range>
result_stream<result_of<F>> make_stream(const On& on, F f, Range&& items, pmap_options options, bool ordered) {
  static_assert(!std::is_void_v<result_of<F>>, "imap streams values: use pmap for a void function");
  return result_stream<result_of<F>>(start_imap<result_of<F>>(target_of(on), std::move(f), std::forward<Range>(items),
                                                              options.chunk_size, options.chunks_in_flight, ordered));
}
}  // namespace detail

/// Like pmap, but the results come as a stream of chunks, in input order, while the map
/// goes on:
///
///   auto results = malt::imap(pool, square, ranges::views::iota(0, 1'000'000));
///   while (auto chunk = co_await results.next())
///     for (int v : chunk->values) use(v);
template <detail::map_target On, class F, class Range>
result_stream<detail::result_of<F>> imap(const On& on, F f, Range&& items, pmap_options options = {}) {
  return detail::make_stream(on, std::move(f), std::forward<Range>(items), options, true);
}

/// The same, each chunk as soon as it completes (result_chunk::first tells where it goes).
template <detail::map_target On, class F, class Range>
result_stream<detail::result_of<F>> imap_unordered(const On& on, F f, Range&& items, pmap_options options = {}) {
  return detail::make_stream(on, std::move(f), std::forward<Range>(items), options, false);
}

}  // namespace malt

#endif
