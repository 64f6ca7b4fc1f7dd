// Instructions per round trip, counted under valgrind --tool=callgrind (scripts/bench
// --instructions): host and worker in one process (an in-process worker: the same
// protocol, connection and code as a worker process), against a raw Asio echo of 16 bytes
// arranged the same way. Usage: call_instructions MODE N, where MODE is one of
//   raw        the echo: async_write + async_read of 16 bytes over a socketpair
//   inline     one call at a time to an inline function
//   coroutine  one call at a time to a coroutine function
//   sync       one call at a time to a synchronous function (the pool thread)
//   flight     64 calls in flight to an inline function
//   flightco   64 calls in flight to a coroutine function
// The script runs each mode with two N and divides the difference, so start-up and
// shut-down cancel out.
#include <malt/malt.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;

namespace {

int add(int a, int b) { return a + b; }
int add_inline(int a, int b) { return a + b; }
asio::awaitable<int> add_coroutine(int a, int b) { co_return a + b; }

}  // namespace

MALT_REMOTE(add);
MALT_REMOTE_INLINE(add_inline);
MALT_REMOTE(add_coroutine);

namespace {

asio::awaitable<void> raw_echo(int n) {
  auto ex = co_await asio::this_coro::executor;
  asio::local::stream_protocol::socket a(ex), b(ex);
  asio::local::connect_pair(a, b);
  asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
    char buf[16];
    for (;;) {
      auto [ec, k] = co_await asio::async_read(b, asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      co_await asio::async_write(b, asio::buffer(buf), asio::use_awaitable);
    }
  }, asio::detached);
  char buf[16] = {};
  for (int i = 0; i < n; ++i) {
    co_await asio::async_write(a, asio::buffer(buf), asio::use_awaitable);
    co_await asio::async_read(a, asio::buffer(buf), asio::use_awaitable);
  }
  a.close();
}

template <class F>
asio::awaitable<void> one_at_a_time(malt::in_process_worker& w, const F& f, int n) {
  for (int i = 0; i < n; ++i) co_await malt::remote_call_fetch(w, f, 1, 2);
}

template <class F>
asio::awaitable<void> in_flight(malt::in_process_worker& w, const F& f, int n) {
  auto ex = co_await asio::this_coro::executor;
  int done = 0, lanes = 0;
  for (int lane = 0; lane < 64; ++lane)
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      while (done < n) {
        ++done;
        co_await malt::remote_call_fetch(w, f, 1, 2);
      }
      ++lanes;
    }, asio::detached);
  asio::steady_timer t(ex);
  while (lanes < 64) {
    t.expires_after(std::chrono::milliseconds(1));
    co_await t.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> run(std::string mode, int n) {
  if (mode == "raw") co_return co_await raw_echo(n);
  malt::in_process_worker w = co_await malt::in_process_worker::start();
  if (mode == "inline") co_await one_at_a_time(w, add_inline, n);
  else if (mode == "coroutine") co_await one_at_a_time(w, add_coroutine, n);
  else if (mode == "sync") co_await one_at_a_time(w, add, n);
  else if (mode == "flight") co_await in_flight(w, add_inline, n);
  else if (mode == "flightco") co_await in_flight(w, add_coroutine, n);
  else std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  co_await malt::stop(w);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s raw|inline|coroutine|sync|flight|flightco N\n", argv[0]);
    return 2;
  }
  asio::io_context io;
  asio::co_spawn(io, run(argv[1], std::atoi(argv[2])), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}
