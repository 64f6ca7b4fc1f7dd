#ifndef MALT_DETAIL_AWAIT_EXCEPTION_PTR_FIX_HPP
#define MALT_DETAIL_AWAIT_EXCEPTION_PTR_FIX_HPP

// Asio before 1.27 cannot co_await an asynchronous operation that completes with
// void(std::exception_ptr, T): the handler it awaits through tests its result as if it
// were the exception itself, which does not compile (fixed in Asio 1.27, Boost 1.82).
// This gives that handler the behaviour of the fixed versions, for the signature's
// void-returning form only, so that a call operation is awaited directly: without a
// coroutine frame of its own, as every other Asio operation is.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/version.hpp>

#include <exception>
#include <utility>

#if BOOST_ASIO_VERSION < 102700
namespace boost::asio::detail {

template <typename T, typename Executor>
class awaitable_async_op_handler<void(std::exception_ptr, T), Executor> : public awaitable_thread<Executor> {
 public:
  struct result_type {
    std::exception_ptr* ex_;
    T* value_;
  };

  awaitable_async_op_handler(awaitable_thread<Executor>* h, result_type& result)
      : awaitable_thread<Executor>(std::move(*h)), result_(result) {}

  void operator()(std::exception_ptr ex, T value) {
    result_.ex_ = &ex;
    result_.value_ = &value;
    this->entry_point()->top_of_stack_->attach_thread(this);
    this->entry_point()->top_of_stack_->clear_cancellation_slot();
    this->pump();
  }

  static T resume(result_type& result) {
    if (*result.ex_) std::rethrow_exception(std::exchange(*result.ex_, nullptr));
    return std::move(*result.value_);
  }

 private:
  result_type& result_;
};

}  // namespace boost::asio::detail
#endif

#endif
