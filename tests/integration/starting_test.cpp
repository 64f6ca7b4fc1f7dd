// Port of Malt.jl's starting.jl: a worker that cannot start is reported at once, with what
// it printed on stderr; only a worker that hangs waits for the startup timeout.
#include "run.hpp"
#include "test_functions.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <optional>

#include <filesystem>

using namespace malt_test;
namespace asio = boost::asio;

namespace {
// A worker that never answers the handshake.
malt::worker_options hanging_worker(std::chrono::milliseconds startup_timeout) {
  malt::worker_options o;
  o.executable = MALT_TEST_WORKER;
  o.args = {"--hang"};
  o.startup_timeout = startup_timeout;
  return o;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(starting)

BOOST_AUTO_TEST_CASE(an_invalid_option_fails_at_once_with_the_workers_stderr) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.executable = MALT_WORKER;
    o.args = {"--threads=invalid"};
    o.startup_timeout = 30s;
    const auto start = std::chrono::steady_clock::now();
    {
      const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
      const double elapsed = seconds_since(start);
      BOOST_TEST_MESSAGE("failed start reported after " << elapsed * 1000 << " ms");
      BOOST_TEST(elapsed < 1.0);  // when the child exits, not after the 30 s timeout
      BOOST_TEST(std::string(e.what()).find("exited during startup with code 2") != std::string::npos, e.what());
      BOOST_TEST(e.stderr_text().find("unknown option '--threads=invalid'") != std::string::npos);
      BOOST_TEST(std::string(e.what()).find("unknown option '--threads=invalid'") != std::string::npos);
    }
  });
}

BOOST_AUTO_TEST_CASE(the_generic_worker_takes_every_argument_the_library_gives) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.executable = MALT_WORKER;
    o.isolation = malt::locked_down({std::filesystem::temp_directory_path().string()});  // --malt-writable=
    o.limits.processes = 64;                                                             // --malt-cgroup=
    try {
      malt::worker w = co_await malt::spawn_worker(o);
      BOOST_TEST(co_await malt::remote_call_fetch(w, malt::builtin::pid) == w.pid());
      co_await malt::stop(w);
    } catch (const malt::spawn_error& e) {  // no lockdown or no cgroup here: not an argument refused
      BOOST_TEST(std::string(e.what()).find("unknown option") == std::string::npos, e.what());
      BOOST_TEST_MESSAGE("skipped: " << e.what());
    }
  });
}

BOOST_AUTO_TEST_CASE(a_program_that_is_no_worker_fails_at_once) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.executable = "/bin/true";  // a program that ignores the worker flag, as a main without maybe_run_worker does
    const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
    BOOST_TEST(std::string(e.what()).find("exited during startup with code 0 before the handshake") != std::string::npos,
               e.what());
    BOOST_TEST(std::string(e.what()).find("malt::maybe_run_worker(argc, argv)") != std::string::npos, e.what());
  });
}

BOOST_AUTO_TEST_CASE(a_hanging_worker_is_killed_after_the_startup_timeout) {
  run([]() -> asio::awaitable<void> {
    const malt::worker_options o = hanging_worker(300ms);
    {
      const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
      BOOST_TEST(std::string(e.what()).find("did not answer the handshake within 300 ms") != std::string::npos,
                 e.what());
    }
    BOOST_TEST(malt::running_workers().empty());  // killed and reaped before the error
  });
}

BOOST_AUTO_TEST_CASE(a_spawn_in_progress_can_be_cancelled) {
  run([]() -> asio::awaitable<void> {
    const malt::worker_options o = hanging_worker(30s);
    auto ex = co_await asio::this_coro::executor;
    asio::cancellation_signal cancel;
    std::optional<std::exception_ptr> outcome;
    asio::co_spawn(ex, [o]() -> asio::awaitable<void> { co_await malt::spawn_worker(o); },
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { outcome = e; }));
    co_await sleep_for(200ms);
    BOOST_TEST(!outcome);  // still starting: the child hangs before its handshake
    const auto start = std::chrono::steady_clock::now();
    cancel.emit(asio::cancellation_type::terminal);
    BOOST_TEST(co_await eventually([&] { return outcome.has_value(); }));
    BOOST_TEST(seconds_since(start) < 5.0);
    try {
      if (outcome && *outcome) std::rethrow_exception(*outcome);
      BOOST_ERROR("the cancelled spawn did not fail");
    } catch (const boost::system::system_error& e) {
      BOOST_TEST((e.code() == asio::error::operation_aborted), e.what());
    }
    BOOST_TEST(co_await eventually([] { return malt::running_workers().empty(); }));
  });
}

BOOST_AUTO_TEST_SUITE_END()
