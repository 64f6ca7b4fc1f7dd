// malt_output_host: a host whose worker floods the output it monitors, for a test that
// runs it with its own stdout on a pipe nobody reads, or on a pipe whose reader has gone
// (tests/integration/hostile_worker_test.cpp). It exits 0 if every call completed, 1 if one
// failed, 3 if its peak memory grew past twice its output backlog; it must neither hang nor die of
// SIGPIPE. It prints nothing itself: its streams are the ones under test.
#include "memory.hpp"
#include "process/output_sink.hpp"
#include "test_functions.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

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
    if (e) result = 1;
  });
  const std::size_t before = malt_test::reset_peak_rss();
  io.run();
  // Twice what may legitimately wait: each stream's backlog.
  if (!malt_test::grew_less_than(before, 2 * 2 * malt::detail::output_backlog_limit)) return 3;
  return result;
}
