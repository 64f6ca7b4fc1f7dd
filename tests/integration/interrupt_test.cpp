// Port of Malt.jl's interrupt.jl, and the cancellation of DESIGN §5: every cancellation
// type in every state of a call, races with timers, timeouts, many calls cancelled at
// random, and stop against code that never checks for interrupts.
#include "run.hpp"
#include "test_functions.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

#include <deque>
#include <random>
#include <span>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

enum class ending { value, aborted, interrupted, timed_out, terminated, other };

ending classify(boost::system::error_code e) {
  if (!e) return ending::value;
  if (e == malt::errc::interrupted) return ending::interrupted;
  if (e == malt::errc::worker_terminated) return ending::terminated;
  if (e == malt::errc::timed_out) return ending::timed_out;
  if (e == asio::error::operation_aborted) return ending::aborted;
  return ending::other;
}

std::ostream& operator<<(std::ostream& os, ending e) {
  const char* names[] = {"value", "aborted", "interrupted", "timed_out", "terminated", "other"};
  return os << names[static_cast<int>(e)];
}

// How a call launched with a callback ended, and how often (it must be once).
struct outcome {
  int completions = 0;
  ending how = ending::other;
  int value = 0;
  std::chrono::steady_clock::time_point at;
};

void launch(malt::call_op<void> op, asio::cancellation_signal& signal, outcome& out) {
  std::move(op)(asio::bind_cancellation_slot(signal.slot(), [&out](boost::system::error_code e) {
    ++out.completions;
    out.how = classify(e);
    out.at = std::chrono::steady_clock::now();
  }));
}

void launch(malt::call_op<int> op, asio::cancellation_signal& signal, outcome& out) {
  std::move(op)(asio::bind_cancellation_slot(signal.slot(), [&out](boost::system::error_code e, int v) {
    ++out.completions;
    out.how = classify(e);
    out.value = v;
    out.at = std::chrono::steady_clock::now();
  }));
}

asio::awaitable<bool> completes(const outcome& out, std::chrono::milliseconds limit = 10'000ms) {
  co_return co_await eventually([&] { return out.completions > 0; }, limit);
}

// Interrupts every call of w: each of calls ends as interrupted, and w answers the next.
asio::awaitable<void> interrupt_expecting_each_interrupted(const malt::worker& w, std::span<outcome> calls) {
  malt::interrupt(w);
  for (auto& o : calls) {
    BOOST_TEST(co_await completes(o));
    BOOST_TEST(o.how == ending::interrupted);
  }
  co_await probe(w);
}

constexpr int call_ms = 600;  // the length of the calls that get interrupted

}  // namespace

BOOST_AUTO_TEST_SUITE(interrupts)

BOOST_AUTO_TEST_CASE(single_interrupts_end_sleeping_and_cooperative_calls) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(malt::isrunning(w));
    co_await probe(w);
    struct kind {
      const char* name;
      malt::call_op<void> (*make)(const malt::worker&);
    };
    const kind kinds[] = {
        {"coroutine sleep", [](const malt::worker& w) { return malt::remote_call_wait(w, echo_after_ms, 0, call_ms); }},
        {"synchronous sleep", [](const malt::worker& w) { return malt::remote_call_wait(w, interruptible_sleep_ms, call_ms); }},
        {"cooperative CPU-bound", [](const malt::worker& w) { return malt::remote_call_wait(w, spin_for_ms, call_ms); }},
        // On the I/O thread, which reads no interrupt frame meanwhile: the signal reaches it.
        {"inline synchronous sleep",
         [](const malt::worker& w) { return malt::remote_call_wait(w, interruptible_sleep_ms_inline, call_ms); }},
        {"inline cooperative CPU-bound",
         [](const malt::worker& w) { return malt::remote_call_wait(w, spin_for_ms_inline, call_ms); }},
    };
    for (int round = 0; round < 2; ++round)  // twice, "because interrupts should be reliable"
      for (const auto& k : kinds) {
        BOOST_TEST_CONTEXT(k.name << ", round " << round) {
          auto start = std::chrono::steady_clock::now();
          co_await k.make(w);
          const double t1 = seconds_since(start);
          start = std::chrono::steady_clock::now();
          co_await k.make(w);
          const double t2 = seconds_since(start);
          double t4 = 0;
          for (int i = 0; i < 2; ++i) {  // t3, then t4
            asio::cancellation_signal unused;
            outcome out;
            start = std::chrono::steady_clock::now();
            launch(k.make(w), unused, out);
            BOOST_TEST(out.completions == 0);  // sent, not done
            co_await sleep_for(100ms);
            malt::interrupt(w);
            BOOST_TEST(co_await completes(out));
            BOOST_TEST(out.how == ending::interrupted);
            t4 = std::chrono::duration<double>(out.at - start).count();
          }
          BOOST_TEST_MESSAGE(k.name << ": uninterrupted " << t1 << " s and " << t2 << " s, interrupted " << t4 << " s");
          BOOST_TEST(t4 < 0.8 * std::min(t1, t2));  // the interrupt really shortened the call
          BOOST_TEST(malt::isrunning(w));
          co_await probe(w);
        }
      }
    co_await malt::stop(w);
    BOOST_TEST(!malt::isrunning(w));
  });
}

BOOST_AUTO_TEST_CASE(interrupting_a_long_sleep_leaves_the_worker_running) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    malt::interrupt(w);  // idle: harmless
    auto sleeping = malt::remote_call(w, echo_after_ms, 1, 1'000'000);
    co_await sleep_for(50ms);
    malt::interrupt(w);
    BOOST_CHECK_THROW(co_await std::move(sleeping), malt::interrupted_exception);
    BOOST_TEST(malt::isrunning(w));
    co_await probe(w);
    co_await malt::stop(w);
    BOOST_TEST(!malt::isrunning(w));
    malt::interrupt(w);  // ended: harmless
  });
}

BOOST_AUTO_TEST_CASE(interrupt_reaches_every_running_call) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    asio::cancellation_signal unused[3];
    outcome out[3];
    launch(malt::remote_call_wait(w, echo_after_ms, 0, 60'000), unused[0], out[0]);
    launch(malt::remote_call_wait(w, interruptible_sleep_ms, 60'000), unused[1], out[1]);
    launch(malt::remote_call_wait(w, spin_for_ms, 60'000), unused[2], out[2]);
    co_await sleep_for(100ms);
    co_await interrupt_expecting_each_interrupted(w, out);
    co_await malt::stop(w);
  });
}

// A worker whose reading is held up by an inline call reads a coroutine call and the
// interrupt behind it together: the call ends as interrupted without starting, and so does
// the inline call the interrupt's signal reached.
BOOST_AUTO_TEST_CASE(an_interrupt_read_with_its_call_ends_the_call_before_it_starts) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    asio::cancellation_signal unused[2];
    outcome out[2];
    launch(malt::remote_call_wait(w, spin_for_ms_inline, 10'000), unused[0], out[0]);
    co_await sleep_for(50ms);
    launch(malt::remote_call_wait(w, echo_after_ms, 0, 60'000), unused[1], out[1]);
    co_await interrupt_expecting_each_interrupted(w, out);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(not_yet_written_any_type_takes_the_request_back) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    for (auto type : {asio::cancellation_type::total, asio::cancellation_type::partial, asio::cancellation_type::terminal}) {
      co_await malt::remote_call_wait(w, set_x, 0);
      // A large request is being written; the next one waits behind it.
      auto big = malt::remote_call(w, byte_sum, std::vector<std::uint8_t>(64 << 20, 1));
      asio::cancellation_signal signal;
      outcome out;
      launch(malt::remote_call_wait(w, set_x, 99), signal, out);
      signal.emit(type);
      BOOST_TEST(co_await completes(out));
      BOOST_TEST(out.how == ending::aborted);
      BOOST_TEST(co_await std::move(big) == std::uint64_t(64) << 20);
      BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 0);  // it never ran
      BOOST_TEST(out.completions == 1);
    }
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(running_total_cancellation_is_not_honoured) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    asio::cancellation_signal signal;
    outcome out;
    const auto start = std::chrono::steady_clock::now();
    launch(malt::remote_call_fetch(w, echo_after_ms, 7, 300), signal, out);
    co_await probe(w);  // the call is running
    signal.emit(asio::cancellation_type::total);
    BOOST_TEST(co_await completes(out));
    BOOST_TEST(out.how == ending::value);
    BOOST_TEST(out.value == 7);
    BOOST_TEST(std::chrono::duration<double>(out.at - start).count() >= 0.29);  // it ran to its end
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(running_partial_cancellation_interrupts_and_waits_for_the_worker) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    for (bool coroutine : {true, false}) {
      asio::cancellation_signal signal;
      outcome out;
      if (coroutine)
        launch(malt::remote_call_fetch(w, echo_after_ms, 7, 60'000), signal, out);
      else
        launch(malt::remote_call_wait(w, interruptible_sleep_ms, 60'000), signal, out);
      co_await probe(w);
      signal.emit(asio::cancellation_type::partial);
      BOOST_TEST(co_await completes(out));
      BOOST_TEST(out.how == ending::interrupted);  // the worker's answer
      co_await probe(w);
    }
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(partial_cancellation_gives_up_after_the_grace_if_the_call_ignores_it) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.interrupt_grace = 200ms;
    malt::worker w = co_await malt::spawn_worker(o);
    asio::cancellation_signal signal;
    outcome out;
    launch(malt::remote_call_wait(w, sleep_ms, 1'000), signal, out);  // never checks
    co_await probe(w);
    const auto start = std::chrono::steady_clock::now();
    signal.emit(asio::cancellation_type::partial);
    BOOST_TEST(co_await completes(out));
    BOOST_TEST(out.how == ending::aborted);
    BOOST_TEST(seconds_since(start) < 0.9);  // after the grace, not after the call
    co_await sleep_for(1'000ms);  // the late reply arrives and is dropped
    BOOST_TEST(out.completions == 1);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(running_terminal_cancellation_completes_at_once_and_drops_the_late_reply) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    asio::cancellation_signal signal;
    outcome out;
    launch(malt::remote_call_fetch(w, echo_after_ms, 7, 300), signal, out);
    co_await probe(w);
    signal.emit(asio::cancellation_type::terminal);
    BOOST_TEST(co_await completes(out, 100ms));  // at once: no round trip to the worker
    BOOST_TEST(out.how == ending::aborted);
    // A call that ignores the interrupt also completes at once; its reply comes later.
    asio::cancellation_signal signal2;
    outcome out2;
    launch(malt::remote_call_wait(w, sleep_ms, 300), signal2, out2);
    co_await probe(w);
    signal2.emit(asio::cancellation_type::terminal);
    BOOST_TEST(co_await completes(out2, 100ms));
    BOOST_TEST(out2.how == ending::aborted);
    co_await sleep_for(500ms);
    BOOST_TEST(out.completions == 1);
    BOOST_TEST(out2.completions == 1);
    co_await probe(w);  // the connection is in sync
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_reply_already_in_wins_over_cancellation) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    for (auto type : {asio::cancellation_type::total, asio::cancellation_type::partial, asio::cancellation_type::terminal}) {
      auto done = malt::remote_call(w, add, 1, 2);
      co_await probe(w);
      co_await sleep_for(50ms);  // the reply is in
      asio::cancellation_signal signal;
      outcome out;
      launch(std::move(done), signal, out);
      signal.emit(type);
      BOOST_TEST(co_await completes(out));
      BOOST_TEST(out.how == ending::value);
      BOOST_TEST(out.value == 3);
    }
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(racing_a_call_against_a_timer_in_a_parallel_group) {
  run([]() -> asio::awaitable<void> {
    using asio::experimental::make_parallel_group;
    using asio::experimental::wait_for_one;
    malt::worker w = co_await malt::spawn_worker();
    auto ex = co_await asio::this_coro::executor;
    {  // the timer wins: the call is interrupted in the worker (deferred: it completes with a code)
      asio::steady_timer timer(ex, 100ms);
      auto call = malt::remote_call_fetch(w, echo_after_ms, 7, 60'000)(asio::deferred);
      auto [order, failed, value, timer_ec] =
          co_await make_parallel_group(std::move(call), timer.async_wait(asio::deferred))
              .async_wait(wait_for_one(), asio::use_awaitable);
      BOOST_TEST(order[0] == 1u);
      BOOST_TEST(!timer_ec);
      BOOST_TEST(classify(failed) == ending::interrupted);
    }
    {  // the call fails at once: that is what the group reports, without waiting for the timer
       // (the operation itself: it completes with the exception)
      asio::steady_timer timer(ex, 60s);
      const auto start = std::chrono::steady_clock::now();
      auto [order, failed, value, timer_ec] =
          co_await make_parallel_group(malt::remote_call_fetch(w, checked_sqrt, -1.0), timer.async_wait(asio::deferred))
              .async_wait(wait_for_one(), asio::use_awaitable);
      BOOST_TEST(order[0] == 0u);
      BOOST_CHECK_THROW(std::rethrow_exception(failed), malt::remote_exception);
      BOOST_TEST(timer_ec == asio::error::operation_aborted);
      BOOST_TEST(seconds_since(start) < 30.0);
    }
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(per_call_timeouts) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.interrupt_grace = 200ms;
    malt::worker w = co_await malt::spawn_worker(o);
    BOOST_TEST(co_await malt::remote_call_fetch(w, echo_after_ms, 5, 10).with_timeout(10s) == 5);
    for (bool cooperative : {true, false}) {
      // A named call: g++ 12 destroys a ?: temporary in a co_await expression twice.
      auto call = cooperative ? malt::remote_call_wait(w, interruptible_sleep_ms, 60'000)
                              : malt::remote_call_wait(w, sleep_ms, 1'000);
      const auto start = std::chrono::steady_clock::now();
      const auto e = co_await thrown<malt::error>(std::move(call).with_timeout(100ms));
      // Interrupted and over, or still running after the grace: told apart by code.
      BOOST_TEST((e.code() == (cooperative ? malt::errc::timed_out : malt::errc::timed_out_running)), e.what());
      BOOST_TEST(seconds_since(start) < 0.9);
    }
    co_await sleep_for(1'000ms);  // the ignored call's late reply is dropped
    co_await probe(w);
    // A deadline as a time point.
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::error>(
        malt::remote_call_wait(w, interruptible_sleep_ms, 60'000).with_timeout(start + 100ms));
    BOOST_TEST((e.code() == malt::errc::timed_out));
    BOOST_TEST(seconds_since(start) < 0.9);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_call_can_have_a_grace_of_its_own) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.interrupt_grace = 5s;  // the worker's: far longer than the call's own
    malt::worker w = co_await malt::spawn_worker(o);
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::error>(malt::remote_call_wait(w, sleep_ms, 3'000).with_timeout(100ms, 50ms));
    BOOST_TEST((e.code() == malt::errc::timed_out_running));
    BOOST_TEST(seconds_since(start) < 2.5);  // not after the worker's 5 s grace, nor the 3 s sleep
    BOOST_TEST(malt::isrunning(w));
    co_await sleep_for(3'000ms);  // the ignored call ends; its late reply is dropped
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_thousand_calls_half_cancelled_at_random_moments) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    auto ex = co_await asio::this_coro::executor;
    constexpr int n = 1000;
    std::deque<asio::cancellation_signal> signals(n);
    std::vector<outcome> out(n);
    std::vector<std::unique_ptr<asio::steady_timer>> cancellers;
    std::mt19937 random(12345);
    const asio::cancellation_type types[] = {asio::cancellation_type::total, asio::cancellation_type::partial,
                                             asio::cancellation_type::terminal};
    for (int i = 0; i < n; ++i) {
      launch(malt::remote_call_fetch(w, echo_after_ms, i, int(random() % 50)), signals[i], out[i]);
      if (random() % 2) {
        auto& t = *cancellers.emplace_back(
            std::make_unique<asio::steady_timer>(ex, std::chrono::milliseconds(random() % 60)));
        t.async_wait([&signal = signals[i], type = types[random() % 3]](boost::system::error_code) { signal.emit(type); });
      }
    }
    BOOST_TEST(co_await eventually([&] {
      return std::all_of(out.begin(), out.end(), [](const outcome& o) { return o.completions > 0; });
    }, 30s));
    co_await sleep_for(200ms);  // nothing completes twice, late
    int values = 0, cancelled = 0, wrong = 0;
    for (int i = 0; i < n; ++i) {
      BOOST_TEST(out[i].completions == 1);
      if (out[i].how == ending::value)
        ++values, wrong += out[i].value != i;
      else if (out[i].how == ending::aborted || out[i].how == ending::interrupted)
        ++cancelled;
    }
    BOOST_TEST_MESSAGE(values << " calls returned their value, " << cancelled << " were cancelled");
    BOOST_TEST(values + cancelled == n);
    BOOST_TEST(wrong == 0);
    BOOST_TEST(cancelled > 0);
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 20, 22) == 42);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(stop_ends_calls_that_never_check_for_interrupts) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    auto spinning = malt::remote_call(w, spin_forever);
    co_await probe(w);
    malt::interrupt(w);  // not honoured by spin_forever
    BOOST_TEST(co_await malt::stop(w));  // the exit request still gets through
    BOOST_CHECK_THROW(co_await std::move(spinning), malt::terminated_worker_exception);

    // A coroutine that never yields holds the worker's I/O thread: stop escalates.
    malt::worker_options o;
    o.exit_timeout = 200ms;
    malt::worker w2 = co_await malt::spawn_worker(o);
    asio::cancellation_signal unused;
    outcome out;
    launch(malt::remote_call_wait(w2, block_io_thread), unused, out);
    co_await sleep_for(100ms);
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(co_await malt::stop(w2));
    BOOST_TEST(seconds_since(start) < 4.0);  // SIGTERM after 200 ms, not the default 5 s
    BOOST_TEST(co_await completes(out, 100ms));  // failed as the process went
    BOOST_TEST(out.how == ending::terminated);
  });
}

BOOST_AUTO_TEST_SUITE_END()
