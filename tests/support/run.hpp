#ifndef MALT_TESTS_RUN_HPP
#define MALT_TESTS_RUN_HPP

// Runs a test coroutine on a fresh io_context with a time limit, and checks afterwards
// that the test stopped every worker it started and left no process behind.

#include "processes.hpp"
#include "test_functions.hpp"

#include <malt/worker.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace malt_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

/// Runs the coroutine made by make() to completion within limit; rethrows its exception.
template <class Make>
void run(Make make, std::chrono::seconds limit = std::chrono::seconds(60)) {
  asio::io_context io;
  std::optional<std::exception_ptr> outcome;
  asio::co_spawn(io, make(), [&](std::exception_ptr e) { outcome = e; });
  io.run_for(limit);
  if (!outcome) {
    BOOST_ERROR("the test did not finish within " << limit.count() << " s");
    kill_children();
    return;
  }
  // Let workers dropped by the test finish stopping.
  for (int i = 0; i < 500 && !malt::running_workers().empty(); ++i) io.run_for(std::chrono::milliseconds(10));
  BOOST_TEST(malt::running_workers().empty(), "the test left workers running");
  BOOST_TEST(kill_children() == 0u, "the test left child processes");
  if (*outcome) std::rethrow_exception(*outcome);
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

/// Awaits op (an awaitable, or an operation such as a call) that must fail with E, and
/// returns the exception for the test to inspect. Any other outcome fails the test.
// Not inlined: g++ 12 then warns falsely (-Wmismatched-new-delete) about its frame.
template <class E, class Op>
[[gnu::noinline]] asio::awaitable<E> thrown(Op op) {
  try {
    co_await std::move(op);
  } catch (const E& e) {
    co_return e;
  }
  throw std::logic_error("the awaited operation did not fail");
}

inline bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

/// Malt.jl's "&(true, true)" probe: the worker is alive and the stream in sync.
inline asio::awaitable<void> probe(const malt::worker& w) {
  BOOST_TEST(co_await malt::remote_call_fetch(w, logical_and, true, true));
}

/// Polls cond every 5 ms for at most limit; true if it held.
template <class Cond>
asio::awaitable<bool> eventually(Cond cond, std::chrono::milliseconds limit = 5000ms) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (cond()) co_return true;
    co_await sleep_for(5ms);
  }
  co_return cond();
}

}  // namespace malt_test

#endif
