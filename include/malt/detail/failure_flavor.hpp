#ifndef MALT_DETAIL_FAILURE_FLAVOR_HPP
#define MALT_DETAIL_FAILURE_FLAVOR_HPP

// Which completion signature an operation of the library takes. The operation itself
// completes with void(std::exception_ptr, T): co_await on it throws the typed exceptions,
// and so does a parallel_group given it as it is; use_awaitable (alone, or bound to a
// cancellation slot) is co_await's token and does the same. Every other completion token
// (deferred, use_future, a callback, as_tuple, redirect_error, ...) gets
// void(boost::system::error_code, T). Asio 1.26 probes the operation and hands it its
// own handlers for co_await and parallel groups: those are recognised here by type.

#include <malt/detail/failure.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstddef>
#include <type_traits>

namespace boost::asio::experimental::detail {
template <std::size_t I, typename Condition, typename Handler, typename... Ops>
struct parallel_group_op_handler;
template <typename Executor, std::size_t I, typename Condition, typename Handler, typename... Ops>
struct parallel_group_op_handler_with_executor;
template <typename Condition, typename Handler, typename Op, typename Allocator>
struct ranged_parallel_group_op_handler;
template <typename Executor, typename Condition, typename Handler, typename Op, typename Allocator>
struct ranged_parallel_group_op_handler_with_executor;
}  // namespace boost::asio::experimental::detail

namespace malt::detail {

template <class Token>
struct throws_typed : std::false_type {};
template <class Executor>
struct throws_typed<boost::asio::use_awaitable_t<Executor>> : std::true_type {};
template <class Token, class Slot>
struct throws_typed<boost::asio::cancellation_slot_binder<Token, Slot>> : throws_typed<Token> {};
template <>
struct throws_typed<boost::asio::detail::async_operation_probe> : std::true_type {};
template <>
struct throws_typed<boost::asio::detail::completion_signature_probe> : std::true_type {};
template <class Signature, class Executor>
struct throws_typed<boost::asio::detail::awaitable_async_op_handler<Signature, Executor>> : std::true_type {};
template <std::size_t I, class Condition, class Handler, class... Ops>
struct throws_typed<boost::asio::experimental::detail::parallel_group_op_handler<I, Condition, Handler, Ops...>>
    : std::true_type {};
template <class Executor, std::size_t I, class Condition, class Handler, class... Ops>
struct throws_typed<
    boost::asio::experimental::detail::parallel_group_op_handler_with_executor<Executor, I, Condition, Handler, Ops...>>
    : std::true_type {};
template <class Condition, class Handler, class Op, class Allocator>
struct throws_typed<boost::asio::experimental::detail::ranged_parallel_group_op_handler<Condition, Handler, Op, Allocator>>
    : std::true_type {};
template <class Executor, class Condition, class Handler, class Op, class Allocator>
struct throws_typed<boost::asio::experimental::detail::ranged_parallel_group_op_handler_with_executor<
    Executor, Condition, Handler, Op, Allocator>> : std::true_type {};

template <class Token>
inline constexpr failure_as failure_as_for = throws_typed<std::decay_t<Token>>::value ? failure_as::exception
                                                                                      : failure_as::code;

template <class T, failure_as As>
using signature_for = std::conditional_t<As == failure_as::exception, call_signature<T>, code_signature<T>>;

}  // namespace malt::detail

#endif
