#ifndef MALT_DETAIL_PMAP_RUN_HPP
#define MALT_DETAIL_PMAP_RUN_HPP

// The typed part of one parallel map (<malt/pmap.hpp>): the range being read, each item's
// arguments encoded into its chunk, each value decoded, the results. The lanes and chunks
// in flight are the untyped part, compiled in the library (detail/map_engine.hpp).

#include <malt/detail/coroutine_operation.hpp>
#include <malt/detail/make_call.hpp>
#include <malt/detail/map_engine.hpp>
#include <malt/detail/payload.hpp>
#include <malt/detail/remote_call.hpp>
#include <malt/detail/reply_handler.hpp>
#include <malt/item_result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include <cstddef>
#include <exception>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
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

/// What an item_result is made of, for the typed part of a map.
struct item_outcome_access {
  template <class T>
  static void set_error(item_result<T>& r, std::exception_ptr e) noexcept {
    r.error_ = std::move(e);
  }
  template <class T, class V>
  static void set_value(item_result<T>& r, V&& v) {
    r.value_.emplace(std::forward<V>(v));
  }
  template <class T>
  static T&& value(item_result<T>& r) noexcept {
    return std::move(*r.value_);
  }
};

template <class R>
std::optional<std::size_t> size_if_known(R& r) {
  if constexpr (requires { std::size(r); })
    return static_cast<std::size_t>(std::size(r));
  else
    return std::nullopt;
}

/// The typed part of a map: reads the range, encodes each item's arguments, decodes each
/// value and keeps the results (all of them for pmap, the unread chunks for imap).
template <class T, class F, class Range>
class pmap_run : public map_engine {
 protected:
  using chunk_type = result_chunk<std::conditional_t<std::is_void_v<T>, char, T>>;
  using sig = typename callee_of<F>::sig;
  using params = typename sig::params;
  using range_type = std::remove_reference_t<Range>;
  using access = item_outcome_access;

 public:
  pmap_run(map_destination destination, F f, Range&& range, bool fail_fast, std::size_t chunk_size,
           std::size_t chunks_in_flight, map_output output = map_output::all)
      : map_engine(std::move(destination), callee_of<F>::target(f), fail_fast, chunk_size, size_if_known(range),
                   chunks_in_flight, output),
        range_(std::forward<Range>(range)),
        it_(range_begin(range_)),
        end_(range_end(range_)) {}

  /// Once the lanes are done: every item's outcome, in input order.
  std::vector<item_result<T>> take_outcomes() noexcept { return std::move(results_); }

  /// Once the lanes are done without a failure: every item's value, in input order.
  auto take_values() {
    std::vector<T> values;
    values.reserve(results_.size());
    for (auto& r : results_) values.push_back(access::value(r));
    return values;
  }

 protected:
  bool range_done() const override { return it_ == end_; }

  void encode_next(std::vector<char>& frame) override {
    constexpr std::size_t arity = sig::arity;
    if constexpr (arity == 1) {
      encode_arguments<params>(frame, std::index_sequence<0>{}, *it_);
    } else {
      std::apply([&](auto&&... a) {
        static_assert(sizeof...(a) == arity, "an item must hold one value for each parameter of the function");
        encode_arguments<params>(frame, std::make_index_sequence<arity>{}, std::forward<decltype(a)>(a)...);
      }, *it_);
    }
    ++it_;
  }

  chunk_failure store(std::size_t first, std::size_t count, std::exception_ptr failure,
                      const std::vector<item_reply>& items, const worker_impl& w) override {
    const bool all = output() == map_output::all;
    if (all && results_.size() < first + count) results_.resize(first + count);
    std::vector<item_result<T>> streamed(all ? 0 : count);
    chunk_failure first_failed{count, nullptr};
    for (std::size_t i = 0; i < count; ++i) {
      auto& r = all ? results_[first + i] : streamed[i];
      access::set_error(r, failure ? failure : items[i].failure);
      if constexpr (!std::is_void_v<T>) {
        if (!r.error()) {
          try {
            T value{};
            decode_values(items[i].bytes, decode_limits{max_decode_depth(w)}, value);
            access::set_value(r, std::move(value));
          } catch (const std::exception& e) {
            access::set_error(r, decode_failure(w, function_name(), e).exception);
          }
        }
      }
      if (r.error() && first_failed.index == count) first_failed = {i, r.error()};
    }
    if (all || (fail_fast() && first_failed.index < count)) return first_failed;
    chunk_type out{first, {}};
    out.values.reserve(count);
    if constexpr (!std::is_void_v<T>)
      for (auto& r : streamed) out.values.push_back(access::value(r));
    done_.emplace(first, std::move(out));
    notify();
    return first_failed;
  }

  std::size_t unread_chunks() const noexcept override { return done_.size(); }

  Range range_;  // a reference for an lvalue range, the range itself for an rvalue
  decltype(range_begin(std::declval<range_type&>())) it_;
  decltype(range_end(std::declval<range_type&>())) end_;
  std::vector<item_result<T>> results_;  // map_output::all
  // Streaming: chunks done and not yet read, by first index; the reader's progress.
  std::map<std::size_t, chunk_type> done_;
  std::size_t next_out_ = 0;
};

/// A map read as a stream (imap): the reader's side of pmap_run, apart so that a plain
/// pmap does not compile it.
template <class T, class F, class Range>
class imap_run final : public pmap_run<T, F, Range>, public stream_source<T> {
  using base = pmap_run<T, F, Range>;
  using typename base::chunk_type;

 public:
  using base::base;

  boost::asio::awaitable<std::optional<chunk_type>> next() override {
    namespace asio = boost::asio;
    auto self = this->shared_from_this();  // alive while the reader waits
    if (!this->started()) this->start();
    for (;;) {
      if (this->failure()) std::rethrow_exception(this->failure());
      auto it = this->output() == map_output::in_order ? this->done_.find(this->next_out_) : this->done_.begin();
      if (it != this->done_.end()) {
        chunk_type chunk = std::move(it->second);
        this->done_.erase(it);
        if (this->output() == map_output::in_order) this->next_out_ += chunk.values.size();
        this->notify();  // a lane held back by the bound may go on
        co_return chunk;
      }
      if (this->map_engine::finished()) co_return std::nullopt;
      co_await this->wait_for_change();
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        cancel(state.cancelled());
        throw boost::system::system_error(asio::error::operation_aborted);
      }
    }
  }

  void cancel(boost::asio::cancellation_type type) override { map_engine::cancel(type); }
  bool finished() const noexcept override { return map_engine::finished(); }
  boost::asio::any_io_executor executor() const noexcept override { return map_engine::executor(); }
};

template <class T, class F, class Range>
std::shared_ptr<stream_source<T>> start_imap(map_destination destination, F f, Range&& items, std::size_t chunk_size,
                                             std::size_t chunks_in_flight, bool ordered) {
  using run_type = imap_run<T, F, Range>;
  return std::make_shared<run_type>(std::move(destination), std::move(f), std::forward<Range>(items), true,
                                    chunk_size, chunks_in_flight,
                                    ordered ? map_output::in_order : map_output::as_completed);
}

/// A map's caller waiting for the end of its lanes, with what it completes with (R).
template <bool Collect, class R, failure_as As, class Handler, class Run>
struct map_completion {
  Handler handler;
  std::shared_ptr<Run> run;
  diagnostics* diag;

  static void done(void* p, std::exception_ptr failure) {
    std::unique_ptr<map_completion> self(static_cast<map_completion*>(p));
    Handler h(std::move(self->handler));
    const auto run = std::move(self->run);
    diagnostics* const diag = self->diag;
    self.reset();
    if constexpr (std::is_void_v<R>) {
      finish(std::move(h), *run, diag, std::move(failure));
    } else {
      R result{};
      if constexpr (Collect)
        result = run->take_outcomes();  // every outcome, failures included
      else if (!failure)
        result = run->take_values();
      finish(std::move(h), *run, diag, std::move(failure), std::move(result));
    }
  }

  template <class... V>
  static void finish(Handler&& h, const Run& run, diagnostics* diag, std::exception_ptr failure, V&&... v) {
    if constexpr (As == failure_as::exception) {
      complete_on_executor(std::move(h), run.executor(), true, std::move(failure), std::forward<V>(v)...);
    } else {
      const auto code = code_of(failure);
      if (diag) set_diagnostics(*diag, std::move(failure));
      complete_on_executor(std::move(h), run.executor(), true, code, std::forward<V>(v)...);
    }
  }
};

template <bool Collect, class F, class Range, class CompletionToken>
auto start_pmap(map_destination destination, F f, Range&& items, std::size_t chunk_size, std::size_t chunks_in_flight,
                diagnostics* diag, CompletionToken&& token) {
  using T = result_of<F>;
  using run_type = pmap_run<T, F, Range>;
  using R = std::conditional_t<Collect, std::vector<item_result<T>>,
                               std::conditional_t<std::is_void_v<T>, void, std::vector<T>>>;
  constexpr auto as = failure_as_for<CompletionToken>;
  auto run = std::make_shared<run_type>(std::move(destination), std::move(f), std::forward<Range>(items), !Collect,
                                        chunk_size, chunks_in_flight);
  // The lanes run in the library's coroutine; only the typed end is compiled here.
  return boost::asio::async_initiate<CompletionToken, signature_for<R, as>>(
      [](auto handler, std::shared_ptr<run_type> run, diagnostics* diag) {
        using completion = map_completion<Collect, R, as, decltype(handler), run_type>;
        if (diag) diag->clear();
        auto slot = boost::asio::get_associated_cancellation_slot(handler);
        auto waiting = std::make_unique<completion>(completion{std::move(handler), run, diag});
        map_engine::run_detached(std::move(run), slot, &completion::done, waiting.get());
        waiting.release();
      },
      token, std::move(run), diag);
}

}  // namespace malt::detail

#endif
