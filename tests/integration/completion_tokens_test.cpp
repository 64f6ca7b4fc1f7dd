// Every operation with every kind of completion token: deferred, use_future, a callback,
// as_tuple and redirect_error complete with an error_code (the details in a
// malt::diagnostics), while co_await on the operation, and use_awaitable, throw the typed
// exceptions (the other tests).
#include "run.hpp"
#include "test_functions.hpp"

#include <malt/eval.hpp>
#include <malt/pmap.hpp>
#include <malt/worker_pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace malt_test;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// How one way of awaiting ended.
struct ending {
  std::string token;
  error_code ec;
  std::string details;  // the diagnostics' message
};

// Starts the operation initiate(diag, token) makes five ways, one after another, arm()
// before each (to set up what makes it fail), and says how each ended.
template <class Initiate, class Arm>
asio::awaitable<std::vector<ending>> every_way(Initiate initiate, Arm arm) {
  std::vector<ending> out;
  {
    malt::diagnostics diag;
    error_code ec;
    arm();
    try {
      co_await initiate(diag, asio::deferred);
    } catch (const boost::system::system_error& e) {  // Asio's way with a code and deferred
      ec = e.code();
    }
    out.push_back({"deferred", ec, diag.message()});
  }
  {
    malt::diagnostics diag;
    error_code ec;
    arm();
    auto future = initiate(diag, asio::use_future);
    BOOST_TEST(co_await eventually([&] { return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
                                   30s));
    try {
      future.get();
    } catch (const boost::system::system_error& e) {
      ec = e.code();
    }
    out.push_back({"use_future", ec, diag.message()});
  }
  {
    malt::diagnostics diag;
    std::optional<error_code> ec;
    arm();
    initiate(diag, [&](error_code e, auto&&...) { ec = e; });
    BOOST_TEST(co_await eventually([&] { return ec.has_value(); }, 30s));
    out.push_back({"callback", ec.value_or(error_code()), diag.message()});
  }
  {
    malt::diagnostics diag;
    arm();
    auto result = co_await initiate(diag, asio::as_tuple(asio::use_awaitable));
    out.push_back({"as_tuple", std::get<0>(result), diag.message()});
  }
  {
    malt::diagnostics diag;
    error_code ec;
    arm();
    co_await initiate(diag, asio::redirect_error(asio::use_awaitable, ec));
    out.push_back({"redirect_error", ec, diag.message()});
  }
  co_return out;
}

// Each way ended with want, its diagnostics saying says (nothing for a success).
void check(const std::vector<ending>& endings, error_code want, std::string_view says) {
  BOOST_TEST(endings.size() == 5u);
  for (const auto& e : endings) {
    BOOST_TEST(e.ec == want, e.token << ": " << e.ec.message() << " (" << e.details << ")");
    if (says.empty())
      BOOST_TEST(e.details.empty(), e.token << ": " << e.details);
    else
      BOOST_TEST(contains(e.details, says), e.token << ": " << e.details);
  }
}

const auto nothing = [] {};

}  // namespace

BOOST_AUTO_TEST_SUITE(completion_tokens)

BOOST_AUTO_TEST_CASE(calls_complete_with_a_code_and_diagnostics) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    const auto success = [&](malt::diagnostics& d, auto&& token) { return malt::remote_call_fetch(w, add, 1, 2)(d, token); };
    check(co_await every_way(success, nothing), {}, "");
    const auto waited = [&](malt::diagnostics& d, auto&& token) { return malt::remote_call_wait(w, add, 1, 2)(d, token); };
    check(co_await every_way(waited, nothing), {}, "");

    // The function threw.
    const auto threw = [&](malt::diagnostics& d, auto&& token) {
      return malt::remote_call_fetch(w, checked_sqrt, -1.0)(d, token);
    };
    check(co_await every_way(threw, nothing), malt::errc::remote_exception, "std::domain_error");
    // The same in Lua.
    const auto eval_threw = [&](malt::diagnostics& d, auto&& token) {
      return malt::remote_eval_fetch<int>(w, "error('no such thing')")(d, token);
    };
    check(co_await every_way(eval_threw, nothing), malt::errc::remote_exception, "no such thing");

    // Interrupted while it ran: a timer interrupts every call 200 ms after each start.
    asio::steady_timer interrupter(co_await asio::this_coro::executor);
    const auto arm_interrupt = [&] {
      interrupter.expires_after(200ms);
      interrupter.async_wait([&](error_code e) {
        if (!e) malt::interrupt(w);
      });
    };
    const auto sleeps = [&](malt::diagnostics& d, auto&& token) {
      return malt::remote_call_wait(w, interruptible_sleep_ms, 20'000)(d, token);
    };
    check(co_await every_way(sleeps, arm_interrupt), malt::errc::interrupted, "interrupted");

    // Timed out, interrupted by its deadline.
    const auto late = [&](malt::diagnostics& d, auto&& token) {
      return malt::remote_call_wait(w, interruptible_sleep_ms, 20'000).with_timeout(100ms)(d, token);
    };
    check(co_await every_way(late, nothing), malt::errc::timed_out, "timed out");

    // A value the host cannot decode.
    const auto undecodable = [&](malt::diagnostics& d, auto&& token) {
      return malt::remote_call_fetch(w, make_percent, 150)(d, token);
    };
    check(co_await every_way(undecodable, nothing), malt::errc::decode_failed, "percent out of range");

    co_await probe(w);
    co_await malt::stop(w);
    // The worker is gone.
    check(co_await every_way(success, nothing), malt::errc::worker_terminated, "exited with code 0");
  });
}

BOOST_AUTO_TEST_CASE(starting_and_stopping_complete_with_a_code_and_diagnostics) {
  run([]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    malt::worker_options missing;
    missing.executable = "/nonexistent/malt-worker";
    const auto fails = [&](malt::diagnostics& d, auto&& token) { return malt::spawn_worker(ex, missing, d, token); };
    check(co_await every_way(fails, nothing), malt::errc::spawn_failed, "/nonexistent/malt-worker");

    malt::diagnostics diag;
    auto [ec, w] = co_await malt::spawn_worker(ex, {}, diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(malt::isrunning(w));
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 2, 3) == 5);
    const auto stops = [&](malt::diagnostics& d, auto&& token) { return malt::stop(w, d, token); };
    check(co_await every_way(stops, nothing), {}, "");  // the first stops it, the others find it ended
    BOOST_TEST(!malt::isrunning(w));

    // The in-process worker.
    auto [ec2, in] = co_await malt::in_process_worker::start(ex, {}, diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec2);
    BOOST_TEST(co_await malt::remote_call_fetch(in, add, 4, 5) == 9);
    auto [ec3, was_running] = co_await malt::stop(in, diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec3);
    BOOST_TEST(was_running);
    // Through use_awaitable, the typed exception as ever.
    co_await thrown<malt::spawn_error>(malt::spawn_worker(ex, missing, asio::use_awaitable));
    BOOST_TEST(co_await eventually([] { return malt::running_workers().empty(); }));
  });
}

BOOST_AUTO_TEST_CASE(pools_maps_and_channels_complete_with_a_code_and_diagnostics) {
  run([]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    malt::pool_options broken;
    broken.size = 2;
    broken.worker.executable = "/nonexistent/malt-worker";
    const auto fails = [&](malt::diagnostics& d, auto&& token) { return malt::worker_pool::start(ex, broken, d, token); };
    check(co_await every_way(fails, nothing), malt::errc::spawn_failed, "/nonexistent/malt-worker");

    malt::pool_options options;
    options.size = 2;
    malt::diagnostics diag;
    auto [ec, pool] = co_await malt::worker_pool::start(ex, options, diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST(pool.size() == 2u);

    const auto call = [&](malt::diagnostics& d, auto&& token) { return pool.call(add, 1, 2)(d, token); };
    check(co_await every_way(call, nothing), {}, "");
    const auto threw = [&](malt::diagnostics& d, auto&& token) { return pool.call(checked_sqrt, -1.0)(d, token); };
    check(co_await every_way(threw, nothing), malt::errc::remote_exception, "std::domain_error");
    const auto retried = [&](malt::diagnostics& d, auto&& token) {
      return pool.call(malt::retry{2}, checked_sqrt, -1.0)(d, token);
    };
    check(co_await every_way(retried, nothing), malt::errc::remote_exception, "std::domain_error");
    const auto waited = [&](malt::diagnostics& d, auto&& token) { return pool.call_wait(add, 1, 2)(d, token); };
    check(co_await every_way(waited, nothing), {}, "");
    const auto done = [&](malt::diagnostics& d, auto&& token) { return pool.call_do(add, 1, 2)(d, token); };
    check(co_await every_way(done, nothing), {}, "");
    const auto eval = [&](malt::diagnostics& d, auto&& token) { return pool.eval("error('no such thing')")(d, token); };
    check(co_await every_way(eval, nothing), malt::errc::remote_exception, "no such thing");

    // A map: its first failing item's code, the item named in the diagnostics.
    const std::vector<double> items{4.0, -1.0, 9.0};
    const auto mapped = [&](malt::diagnostics& d, auto&& token) {
      return malt::pmap(pool, checked_sqrt, items, {}, d, token);
    };
    check(co_await every_way(mapped, nothing), malt::errc::remote_exception, "item 1: ");
    const auto collected = [&](malt::diagnostics& d, auto&& token) {
      return malt::pmap_collect(pool, checked_sqrt, items, {}, d, token);
    };
    check(co_await every_way(collected, nothing), {}, "");
    const std::vector<double> squares{4.0, 9.0};
    auto [map_ec, roots] = co_await malt::pmap(pool, checked_sqrt, squares, {}, diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!map_ec);
    BOOST_TEST(roots == squares);  // checked_sqrt only checks
    const std::vector<double> sixteen{16.0};
    auto stream = malt::imap(pool, checked_sqrt, sixteen);
    auto [next_ec, chunk] = co_await stream.next()(diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!next_ec);
    BOOST_TEST((chunk && chunk->values == sixteen));

    // Partial cancellation reaches the call in the worker, which ends interrupted.
    asio::cancellation_signal signal;
    asio::steady_timer canceller(ex, 200ms);
    canceller.async_wait([&](error_code) { signal.emit(asio::cancellation_type::partial); });
    auto [cancel_ec] = co_await pool.call_wait(interruptible_sleep_ms, 20'000)(
        diag, asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
    BOOST_TEST(cancel_ec == malt::errc::interrupted, cancel_ec.message());

    // Leases: both workers held, a third waits in vain.
    auto [lease_ec, first] = co_await pool.lease()(diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!lease_ec);
    auto second = co_await pool.lease();
    const auto no_room = [&](malt::diagnostics& d, auto&& token) { return pool.lease(50ms)(d, token); };
    check(co_await every_way(no_room, nothing), malt::errc::timed_out, "no worker of the pool was free");
    first.release();
    second.release();

    const auto stops = [&](malt::diagnostics& d, auto&& token) { return pool.stop()(d, token); };
    check(co_await every_way(stops, nothing), {}, "");
    check(co_await every_way(call, nothing), malt::errc::pool_stopped, "stopped");

    malt::worker_pool empty;
    BOOST_TEST(empty.size() == 0u);
    BOOST_CHECK_THROW(empty.call(add, 1, 2), malt::error);

    // A channel.
    malt::worker w = co_await malt::spawn_worker();
    auto [open_ec, channel] =
        co_await malt::worker_channel<int>(w, "rc = malt.channel(2)")(diag, asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!open_ec);
    co_await channel.put(7);
    BOOST_TEST(co_await channel.take() == 7);
    const auto not_a_channel = [&](malt::diagnostics& d, auto&& token) {
      return malt::worker_channel<int>(w, "return 1")(d, token);
    };
    check(co_await every_way(not_a_channel, nothing), malt::errc::remote_exception, "channel");
    co_await malt::stop(w);
    BOOST_TEST(co_await eventually([] { return malt::running_workers().empty(); }));
  });
}

BOOST_AUTO_TEST_SUITE_END()
