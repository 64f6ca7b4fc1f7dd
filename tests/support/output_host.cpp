// malt_output_host: a host whose worker floods the output it monitors, for a test that
// runs it with its own stdout on a pipe nobody reads, or on a pipe whose reader has gone
// (tests/integration/hostile_worker_test.cpp). It exits 0 if every call completed, with
// its peak memory bounded; it must neither hang nor die of SIGPIPE.
#include "memory.hpp"
#include "test_functions.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <string>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  asio::io_context io;
  int result = 1;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    co_await malt::remote_call_wait(w, malt_test::print_unbroken, 64u << 20);  // one 64 MiB line
    for (int i = 0; i < 200; ++i) co_await malt::remote_call_wait(w, malt_test::print_line, std::string(4096, 'x'), i % 2 == 0);
    const bool ok = co_await malt::remote_call_fetch(w, malt_test::logical_and, true, true);
    co_await malt::stop(w);
    result = ok ? 0 : 1;
  }, [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::fprintf(stderr, "malt_output_host: %s\n", x.what());
      result = 1;
    }
  });
  io.run();
  const std::size_t peak = malt_test::peak_rss();
  if (peak > (std::size_t(48) << 20)) {
    std::fprintf(stderr, "malt_output_host: peak memory %zu bytes\n", peak);
    return 3;
  }
  return result;
}
