#ifndef MALT_RUN_HPP
#define MALT_RUN_HPP

// For a program without a coroutine main: runs one coroutine on an io_context until it
// completes, and gives its value or throws its exception.
//
//   int main(int argc, char** argv) {
//     if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
//     boost::asio::io_context io;
//     int r = malt::run(io, [&]() -> boost::asio::awaitable<int> {
//       malt::worker w = co_await malt::spawn_worker();
//       int v = co_await malt::remote_call_fetch(w, add, 1, 2);
//       co_await malt::stop(w);
//       co_return v;
//     });
//   }

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace malt {

/// Runs the coroutine f() returns on io, running io (from this thread, which must be the
/// only one running it) until it completes,
/// and returns its value or rethrows its exception. io may have other work; what the
/// coroutine leaves running (a worker it did not stop, for example) stays on io, which is
/// left ready to run again.
template <class F>
auto run(boost::asio::io_context& io, F f) -> typename std::invoke_result_t<F&>::value_type {
  using T = typename std::invoke_result_t<F&>::value_type;
  std::exception_ptr failure;
  bool done = false;
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value{};
  if constexpr (std::is_void_v<T>) {
    boost::asio::co_spawn(io, std::move(f), [&](std::exception_ptr e) {
      failure = std::move(e);
      done = true;
    });
  } else {
    boost::asio::co_spawn(io, std::move(f), [&](std::exception_ptr e, T v) {
      failure = std::move(e);
      if (!failure) value.emplace(std::move(v));
      done = true;
    });
  }
  // run_one: a worker keeps io busy while it lives, so io.run() would not return.
  io.restart();
  while (!done && io.run_one()) {
  }
  if (!done) throw std::logic_error("malt::run: the io_context was stopped before the coroutine completed");
  if (failure) std::rethrow_exception(failure);
  if constexpr (!std::is_void_v<T>) return std::move(*value);
}

}  // namespace malt

#endif
