// The worker pool: calls on the least loaded worker, crash replacement, recycling after a
// number of calls and above a resident size, init in every worker, leases with and without
// a deadline, retry of idempotent calls, and stop with work waiting.
#include "run.hpp"
#include "test_functions.hpp"

#include <malt/worker_pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>
#include <optional>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

malt::pool_options pool_of(std::size_t size) {
  malt::pool_options o;
  o.size = size;
  return o;
}

asio::awaitable<void> set_x_to_42(const malt::worker& w) { co_await malt::remote_call_wait(w, set_x, 42); }

}  // namespace

BOOST_AUTO_TEST_SUITE(pool)

BOOST_AUTO_TEST_CASE(a_pool_of_four_survives_calls_that_abort) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(4));
    BOOST_TEST(pool.size() == 4u);
    BOOST_TEST(pool.ready_workers() == 4u);
    BOOST_TEST(malt::running_workers().size() == 4u);
    int aborted = 0;
    for (int i = 0; i < 100; ++i) {
      const bool abort = i % 20 == 7;  // 5 %
      try {
        const int r = co_await pool.call(echo_or_abort, i, abort);
        BOOST_TEST(!abort);
        BOOST_TEST(r == i);
      } catch (const malt::terminated_worker_exception&) {
        BOOST_TEST(abort);
        ++aborted;
      }
      // Replacements start at once: never more processes than workers plus those starting.
      BOOST_TEST(malt::running_workers().size() <= 4u + (4u - pool.ready_workers()));
      if (abort) BOOST_TEST(co_await eventually([&] { return pool.ready_workers() == 4u; }));
    }
    BOOST_TEST(aborted == 5);
    BOOST_TEST(malt::running_workers().size() == 4u);
    co_await pool.stop();
    BOOST_TEST(malt::running_workers().empty());
  });
}

BOOST_AUTO_TEST_CASE(an_idempotent_call_is_retried_on_a_fresh_worker) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(2));
    // Calls that run beside a crash on the same worker die with it; marked idempotent,
    // they run again elsewhere.
    auto ex = co_await asio::this_coro::executor;
    int right = 0, done = 0;
    for (int i = 0; i < 40; ++i) {
      asio::co_spawn(ex, [&, i]() -> asio::awaitable<void> {
        try {
          if (i % 10 == 3) {
            co_await pool.call(echo_or_abort, i, true);
          } else {
            co_await sleep_for(std::chrono::milliseconds(i));
            if (co_await pool.call(malt::retry{3}, echo_or_abort, i, false) == i) ++right;
          }
        } catch (const malt::terminated_worker_exception&) {
        }
        ++done;
      }, asio::detached);
    }
    BOOST_TEST(co_await eventually([&] { return done == 40; }, 20000ms));
    BOOST_TEST(right == 36);
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_worker_is_recycled_after_max_calls) {
  run([]() -> asio::awaitable<void> {
    auto options = pool_of(1);
    options.max_calls_per_worker = 3;
    auto pool = co_await malt::worker_pool::start(options);
    std::vector<int> seen;
    for (int i = 0; i < 7; ++i) seen.push_back(co_await pool.call(count_calls));
    BOOST_TEST(seen == (std::vector<int>{1, 2, 3, 1, 2, 3, 1}), boost::test_tools::per_element());
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_worker_is_recycled_above_max_rss) {
  run([]() -> asio::awaitable<void> {
    auto options = pool_of(1);
    options.max_worker_rss = std::size_t(384) << 20;
    auto pool = co_await malt::worker_pool::start(options);
    BOOST_TEST(co_await pool.call(count_calls) == 1);
    BOOST_TEST(co_await pool.call(count_calls) == 2);
    co_await pool.call(hold_megabytes, 512);
    BOOST_TEST(co_await pool.call(count_calls) == 1);  // a fresh worker
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(init_runs_in_every_worker_including_replacements) {
  run([]() -> asio::awaitable<void> {
    auto options = pool_of(2);
    options.init = set_x_to_42;
    auto pool = co_await malt::worker_pool::start(options);
    pid_t killed = 0;
    for (int round = 0; round < 2; ++round) {
      auto a = co_await pool.lease();
      auto b = co_await pool.lease();
      BOOST_TEST(a->pid() != b->pid());
      BOOST_TEST(co_await malt::remote_call_fetch(*a, get_x) == 42);
      BOOST_TEST(co_await malt::remote_call_fetch(*b, get_x) == 42);
      if (round == 0) {
        killed = a->pid();
        malt::kill(*a);  // replaced, with init again
      }
      a.release();
      b.release();
      BOOST_TEST(co_await eventually([&] {
        auto pids = malt::running_workers();
        return pool.ready_workers() == 2u && std::find(pids.begin(), pids.end(), killed) == pids.end();
      }));
    }
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_failing_init_fails_start_and_leaves_nothing) {
  run([]() -> asio::awaitable<void> {
    auto options = pool_of(2);
    options.init = [](const malt::worker& w) -> asio::awaitable<void> {
      co_await malt::remote_call_fetch(w, checked_sqrt, -1.0);
    };
    auto e = co_await thrown<malt::remote_exception>(malt::worker_pool::start(options));
    BOOST_TEST(std::string(e.what()).find("domain_error") != std::string::npos);
    BOOST_TEST(malt::running_workers().empty());
  });
}

BOOST_AUTO_TEST_CASE(leases_wait_and_time_out) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(1));
    auto first = co_await pool.lease();
    // All busy: a bounded lease gives up.
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::error>(pool.lease(100ms));
    BOOST_TEST((e.code() == malt::errc::timed_out));
    BOOST_TEST(seconds_since(start) >= 0.09);
    BOOST_TEST(seconds_since(start) < 5.0);
    // An unbounded one waits until the worker comes back, and so does a call.
    auto ex = co_await asio::this_coro::executor;
    bool leased = false, called = false;
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      auto second = co_await pool.lease();
      leased = true;
      BOOST_TEST(co_await malt::remote_call_fetch(*second, add, 1, 2) == 3);
    }, asio::detached);
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      BOOST_TEST(co_await pool.call(add, 2, 2) == 4);
      called = true;
    }, asio::detached);
    co_await sleep_for(50ms);
    BOOST_TEST(!leased);
    BOOST_TEST(!called);
    first.release();
    BOOST_TEST(co_await eventually([&] { return leased && called; }));
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_lease_returned_with_a_call_still_running_is_replaced) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(1));
    pid_t first_pid = 0;
    {
      auto lease = co_await pool.lease();
      first_pid = lease->pid();
      malt::remote_do(*lease, sleep_ms, 0);  // nothing owed
      auto running = malt::remote_call(*lease, sleep_ms, 10'000);
      (void)running;  // dropped: its reply is still owed when the lease goes back
    }
    BOOST_TEST(co_await eventually([&] {
      auto pids = malt::running_workers();
      return pool.ready_workers() == 1u && pids.size() == 1u && pids[0] != first_pid;
    }, 10000ms));
    BOOST_TEST(co_await pool.call(add, 1, 1) == 2);
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(stop_fails_what_waits_and_what_runs) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(1));
    auto lease = co_await pool.lease();
    auto ex = co_await asio::this_coro::executor;
    std::string waiting_call, running_call;
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      try {
        co_await pool.call(add, 1, 2);
        waiting_call = "completed";
      } catch (const malt::error& e) {
        waiting_call = e.code() == malt::errc::pool_stopped ? "pool_stopped" : e.what();
      }
    }, asio::detached);
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      try {
        co_await malt::remote_call_fetch(*lease, sleep_ms, 10'000);
        running_call = "completed";
      } catch (const malt::terminated_worker_exception&) {
        running_call = "terminated";
      }
    }, asio::detached);
    co_await sleep_for(50ms);
    const auto start = std::chrono::steady_clock::now();
    co_await pool.stop();
    BOOST_TEST(seconds_since(start) < 8.0);
    BOOST_TEST(co_await eventually([&] { return !waiting_call.empty() && !running_call.empty(); }));
    BOOST_TEST(waiting_call == "pool_stopped");
    BOOST_TEST(running_call == "terminated");
    BOOST_TEST(malt::running_workers().empty());
    auto e = co_await thrown<malt::error>(pool.call(add, 1, 1));
    BOOST_TEST((e.code() == malt::errc::pool_stopped));
  });
}

BOOST_AUTO_TEST_CASE(evals_waits_and_fire_and_forget_go_to_the_pool) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(1));
    BOOST_TEST((co_await pool.eval("1 + 1")).as<int>() == 2);
    co_await pool.call_wait(set_x, 5);
    BOOST_TEST(co_await pool.call(get_x) == 5);
    co_await pool.call_do(set_x, 6);
    BOOST_TEST(co_await pool.call(get_x) == 6);  // one worker: in order after the remote_do
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(a_worker_killed_while_idle_is_replaced_at_once) {
  run([]() -> asio::awaitable<void> {
    auto pool = co_await malt::worker_pool::start(pool_of(2));
    const auto before = malt::running_workers();
    BOOST_TEST_REQUIRE(before.size() == 2u);
    std::optional<malt::worker> idle;
    {
      auto lease = co_await pool.lease();
      idle = *lease;
    }
    malt::kill(*idle);  // back in the pool and idle: nobody asks the pool anything
    const pid_t killed = idle->pid();
    BOOST_TEST(co_await eventually([&] {
      const auto now = malt::running_workers();
      return pool.ready_workers() == 2u && now.size() == 2u && std::find(now.begin(), now.end(), killed) == now.end();
    }));
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_SUITE_END()
