#ifndef MALT_DETAIL_REPLY_HANDLER_HPP
#define MALT_DETAIL_REPLY_HANDLER_HPP

// The handler a call completes through, as the call driver stores it: type-erased, with
// room for it inside the call's record, so that a handler that fits (a coroutine's, a
// small callback) costs no allocation; a larger one is allocated with its own associated
// allocator. Completing it turns the worker's raw reply into the caller's value and runs
// the handler on its associated executor: at once when the reply came from the reader
// and that executor is the one running, which spares a read's worth of replies a post
// each; posted otherwise. A handler takes a failure as the typed exception
// (void(std::exception_ptr, T)) or as its code (void(error_code, T), the exception then
// going to the caller's diagnostics, if any).

#include <malt/detail/failure.hpp>
#include <malt/detail/payload.hpp>
#include <malt/diagnostics.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/recycling_allocator.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace malt::detail {

class worker_impl;

/// The decode_error for a result of function that did not decode.
failure decode_failure(const worker_impl& w, const std::string& function, const std::exception& e);
/// How deep the values w's replies carry may nest (worker_options::max_decode_depth).
std::size_t max_decode_depth(const worker_impl& w) noexcept;
/// Whether ex is an io_context's executor and this thread runs that io_context.
bool runs_in_this_thread(const boost::asio::any_io_executor& ex) noexcept;
/// Runs finish(record, true) on ex: where ex allows at once when from_reader, as post
/// would otherwise. finish(record, false) frees it unrun if ex drops the job.
void execute_erased(const boost::asio::any_io_executor& ex, bool from_reader, void (*finish)(void*, bool),
                    void* record);

/// What a reply is completed with, besides its bytes.
struct reply_context {
  const worker_impl& w;
  const std::string& function;          // for error messages
  const boost::asio::any_io_executor& executor;  // the worker's: the default for handlers without one
  bool from_reader;  // the reply came from the reader, not from within an initiating function
};


// A completion that waits for its executor: the handler and its values, in memory of the
// handler's associated allocator (recycled where it has none).
template <class H, class... V>
struct pending_completion {
  using alloc_t = typename std::allocator_traits<
      boost::asio::associated_allocator_t<H, boost::asio::recycling_allocator<void>>>::template rebind_alloc<
      pending_completion>;
  H handler;
  std::tuple<V...> values;

  // Frees the memory before the handler runs, so that it may be reused by what runs.
  static void finish(void* p, bool run) {
    auto* self = static_cast<pending_completion*>(p);
    alloc_t alloc(boost::asio::get_associated_allocator(self->handler, boost::asio::recycling_allocator<void>()));
    H h(std::move(self->handler));
    std::tuple<V...> v(std::move(self->values));
    std::allocator_traits<alloc_t>::destroy(alloc, self);
    std::allocator_traits<alloc_t>::deallocate(alloc, self, 1);
    if (run) std::apply(std::move(h), std::move(v));
  }
};

/// Runs h(v...) on h's associated executor (ex when it has none): at once when may_run_now
/// (not from within an initiating function) and that executor is an io_context's running
/// on this thread, else through the executor (possibly at once where it allows, when
/// may_run_now; as post would, otherwise).
template <class H, class... V>
void complete_on_executor(H&& h, const boost::asio::any_io_executor& default_ex, bool may_run_now, V&&... v) {
  namespace asio = boost::asio;
  auto ex = asio::get_associated_executor(h, default_ex);
  if constexpr (std::is_same_v<decltype(ex), asio::any_io_executor>) {
    // The common case, an io_context's executor whose thread this is: what dispatch
    // would do, without wrapping the call.
    if (may_run_now && runs_in_this_thread(ex)) {
      std::move(h)(std::forward<V>(v)...);
      return;
    }
    // Otherwise one untyped job through the executor, compiled once in the library: a
    // result type adds only its pending record.
    using record = pending_completion<std::decay_t<H>, std::decay_t<V>...>;
    typename record::alloc_t alloc(asio::get_associated_allocator(h, asio::recycling_allocator<void>()));
    record* p = std::allocator_traits<typename record::alloc_t>::allocate(alloc, 1);
    try {
      std::allocator_traits<typename record::alloc_t>::construct(
          alloc, p, record{std::move(h), std::tuple<std::decay_t<V>...>(std::forward<V>(v)...)});
    } catch (...) {
      std::allocator_traits<typename record::alloc_t>::deallocate(alloc, p, 1);
      throw;
    }
    execute_erased(ex, may_run_now, &record::finish, p);
  } else {
    auto invoke = [h = std::move(h), ... v = std::forward<V>(v)]() mutable { std::move(h)(std::move(v)...); };
    if (may_run_now)
      asio::prefer(ex, asio::execution::blocking.possibly).execute(std::move(invoke));
    else
      asio::post(ex, std::move(invoke));
  }
}

class reply_handler {
 public:
  static constexpr std::size_t inline_size = 64;

  reply_handler() noexcept = default;
  reply_handler(const reply_handler&) = delete;
  reply_handler& operator=(const reply_handler&) = delete;
  ~reply_handler() { reset(); }

  /// A handler of signature call_signature<T> (failure_as::exception) or code_signature<T>
  /// (failure_as::code, the exception going to the attached diagnostics), given the reply decoded as
  /// Wire (then converted to T).
  template <class T, class Wire, failure_as As, class Handler>
  void emplace_decoding(Handler&& h) {
    emplace<std::decay_t<Handler>, &complete_decoding<T, Wire, As, std::decay_t<Handler>>>(std::forward<Handler>(h));
  }
  /// Where a handler of failure_as::code puts the failure's exception (null: nowhere).
  void attach(diagnostics* diag) noexcept { diag_ = diag; }
  /// A handler of signature void(std::exception_ptr, std::vector<char>), given the raw reply.
  template <class Handler>
  void emplace_raw(Handler&& h) {
    emplace<std::decay_t<Handler>, &complete_raw<std::decay_t<Handler>>>(std::forward<Handler>(h));
  }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  boost::asio::cancellation_slot slot() const noexcept { return ops_ ? ops_->slot(*this) : boost::asio::cancellation_slot(); }

  /// Completes the handler with failure or the reply (its bytes need only live through
  /// this call) and leaves this empty. this is not touched once the handler runs: it may
  /// be reused by then.
  void complete(failure f, std::span<const char> reply, const reply_context& c) {
    ops_->complete(*this, std::move(f), reply, c);
  }

  void reset() noexcept {
    if (ops_) ops_->destroy(*this);
    ops_ = nullptr;
    diag_ = nullptr;
  }

 private:
  struct operations {
    void (*complete)(reply_handler&, failure, std::span<const char>, const reply_context&);
    void (*destroy)(reply_handler&) noexcept;
    boost::asio::cancellation_slot (*slot)(const reply_handler&) noexcept;
  };

  template <class H>
  static constexpr bool fits = sizeof(H) <= inline_size && alignof(H) <= alignof(std::max_align_t) &&
                               std::is_nothrow_move_constructible_v<H>;

  template <class H>
  H* get() const noexcept {
    if constexpr (fits<H>)
      return std::launder(reinterpret_cast<H*>(const_cast<unsigned char*>(storage_)));
    else
      return *reinterpret_cast<H* const*>(storage_);
  }

  template <class H>
  static void destroy(reply_handler& self) noexcept {
    H* h = self.get<H>();
    if constexpr (fits<H>) {
      h->~H();
    } else {
      using alloc_t = typename std::allocator_traits<boost::asio::associated_allocator_t<H>>::template rebind_alloc<H>;
      alloc_t alloc(boost::asio::get_associated_allocator(*h));
      std::allocator_traits<alloc_t>::destroy(alloc, h);
      std::allocator_traits<alloc_t>::deallocate(alloc, h, 1);
    }
  }

  template <class H>
  static boost::asio::cancellation_slot slot_of(const reply_handler& self) noexcept {
    return boost::asio::get_associated_cancellation_slot(*self.get<H>());
  }

  template <class H, auto Complete, class Arg>
  void emplace(Arg&& h) {
    reset();
    if constexpr (fits<H>) {
      ::new (static_cast<void*>(storage_)) H(std::forward<Arg>(h));
    } else {
      using alloc_t = typename std::allocator_traits<boost::asio::associated_allocator_t<H>>::template rebind_alloc<H>;
      alloc_t alloc(boost::asio::get_associated_allocator(h));
      H* p = std::allocator_traits<alloc_t>::allocate(alloc, 1);
      try {
        std::allocator_traits<alloc_t>::construct(alloc, p, std::forward<Arg>(h));
      } catch (...) {
        std::allocator_traits<alloc_t>::deallocate(alloc, p, 1);
        throw;
      }
      *reinterpret_cast<H**>(storage_) = p;
    }
    static constexpr operations ops{Complete, &destroy<H>, &slot_of<H>};
    ops_ = &ops;
  }

  // Moves the handler out and leaves this empty.
  template <class H>
  H take() {
    H h(std::move(*get<H>()));
    reset();
    return h;
  }

  template <failure_as As, class H, class... V>
  static void complete_as(H&& h, const reply_context& c, failure&& f, diagnostics* diag, V&&... v) {
    if constexpr (As == failure_as::exception) {
      complete_on_executor(std::move(h), c.executor, c.from_reader, std::move(f.exception), std::forward<V>(v)...);
    } else {
      if (diag) set_diagnostics(*diag, std::move(f.exception));
      complete_on_executor(std::move(h), c.executor, c.from_reader, f.code, std::forward<V>(v)...);
    }
  }

  template <class T, class Wire, failure_as As, class H>
  static void complete_decoding(reply_handler& self, failure f, std::span<const char> reply, const reply_context& c) {
    diagnostics* const diag = self.diag_;
    H h = self.take<H>();
    if constexpr (std::is_void_v<T>) {
      complete_as<As>(std::move(h), c, std::move(f), diag);
    } else {
      T result{};
      if (!f) {
        try {
          const decode_limits limits{max_decode_depth(c.w)};
          if constexpr (std::is_same_v<T, Wire>) {
            decode_values(reply, limits, result);
          } else {  // e.g. an eval's malt::value, converted to what the caller asked for
            Wire wire{};
            decode_values(reply, limits, wire);
            result = wire.template as<T>();
          }
        } catch (const std::exception& e) {
          f = decode_failure(c.w, c.function, e);
        }
      }
      complete_as<As>(std::move(h), c, std::move(f), diag, std::move(result));
    }
  }

  template <class H>
  static void complete_raw(reply_handler& self, failure f, std::span<const char> reply, const reply_context& c) {
    H h = self.take<H>();
    complete_on_executor(std::move(h), c.executor, c.from_reader, std::move(f.exception),
                         std::vector<char>(reply.begin(), reply.end()));
  }

  alignas(std::max_align_t) unsigned char storage_[inline_size];
  const operations* ops_ = nullptr;
  diagnostics* diag_ = nullptr;
};

/// What a call's initiation gives the call driver: puts the handler at h into to, to
/// complete with the reply decoded as Wire and converted to T. Not inline: the common
/// awaited types are compiled in the library (<malt/call.hpp> lists them).
template <class T, class Wire, failure_as As, class Handler>
void place_decoding(reply_handler& to, void* h) {
  to.emplace_decoding<T, Wire, As>(std::move(*static_cast<Handler*>(h)));
}

}  // namespace malt::detail

#endif
