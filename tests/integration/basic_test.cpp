// Port of Malt.jl's basic.jl ("Worker management", "Evaluating functions", "Async things"
// with calls instead of evals), plus the call forms, the three kinds of worker programs,
// worker_options and the bad inputs the host handles.
#include "run.hpp"
#include "test_functions.hpp"

#include <malt/builtins.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>

#include <future>
#include <optional>

#include <algorithm>
#include <cstring>
#include <sys/wait.h>

using namespace malt_test;
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {
int not_registered_anywhere(int v) { return v; }
}  // namespace

BOOST_AUTO_TEST_SUITE(basic)

BOOST_AUTO_TEST_CASE(worker_management) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(malt::isrunning(w));
    co_await probe(w);
    BOOST_TEST(malt::running_workers() == std::vector<pid_t>{w.pid()});

    const auto start = std::chrono::steady_clock::now();
    malt::task<void> sleeping = malt::remote_call(w, sleep_ms, 10'000);
    BOOST_TEST(co_await malt::stop(w));
    BOOST_CHECK_THROW(co_await std::move(sleeping), malt::terminated_worker_exception);
    // The pending call failed when the worker went, not after its 10 s sleep.
    BOOST_TEST(seconds_since(start) < 8.0);
    BOOST_TEST(!malt::isrunning(w));
    BOOST_TEST(malt::running_workers().empty());
    BOOST_TEST(!co_await malt::stop(w));  // already stopped
  });
}

// A default-constructed worker is empty: it answers as one that has ended, and takes a
// spawned worker by assignment. spawn_worker also runs with use_future, which needs that.
BOOST_AUTO_TEST_CASE(an_empty_worker_answers_as_an_ended_one) {
  run([]() -> asio::awaitable<void> {
    malt::worker w;
    BOOST_TEST(!malt::isrunning(w));
    BOOST_TEST(w.pid() == -1);
    BOOST_TEST(w.summary() == "an empty malt::worker");
    BOOST_TEST(w.calls_in_flight() == 0u);
    BOOST_TEST(!w.exit_status().has_value());
    BOOST_TEST(w.stdout_fd() == -1);
    malt::kill(w, SIGKILL);
    malt::interrupt(w);
    BOOST_TEST(co_await malt::stop(w));
    BOOST_CHECK_THROW(malt::remote_call_fetch(w, add, 1, 2), malt::terminated_worker_exception);
    BOOST_CHECK_THROW(malt::remote_eval_fetch(w, "1 + 1"), malt::terminated_worker_exception);
    BOOST_CHECK_THROW(malt::remote_do(w, add, 1, 2), malt::terminated_worker_exception);
    try {
      malt::remote_call_wait(w, add, 1, 2);
    } catch (const malt::terminated_worker_exception& e) {
      BOOST_TEST(std::string(e.what()).find("an empty malt::worker is not running: it was default-constructed") !=
                 std::string::npos, e.what());
    }
    w = co_await malt::spawn_worker();
    BOOST_TEST(malt::isrunning(w));
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 2) == 3);
    co_await malt::stop(w);
  });
  asio::io_context io;  // a running worker keeps work on it: run until what is wanted is done
  std::future<malt::worker> spawned = asio::co_spawn(io, malt::spawn_worker(), asio::use_future);
  while (spawned.wait_for(std::chrono::seconds(0)) != std::future_status::ready) io.run_one_for(std::chrono::seconds(10));
  malt::worker w = spawned.get();
  BOOST_TEST(malt::isrunning(w));
  bool stopped = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { stopped = co_await malt::stop(w); }, asio::detached);
  while (!stopped) io.run_one_for(std::chrono::seconds(10));
  BOOST_TEST(!malt::isrunning(w));
  BOOST_TEST(malt::running_workers().empty());
}

BOOST_AUTO_TEST_CASE(evaluating_functions) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(malt::isrunning(w));
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(async_things) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    co_await malt::remote_call_wait(w, set_x, 2);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 2);

    // remote_call returns before the work is done; other calls run meanwhile.
    malt::task<void> later = malt::remote_call(w, sleep_then_set_x, 500, 900);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 2);
    co_await sleep_for(550ms);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 900);
    co_await std::move(later);

    malt::remote_do(w, sleep_then_set_x, 500, 400);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 900);
    co_await sleep_for(550ms);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 400);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(call_forms_and_coroutine_functions) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 2) == 3);
    co_await malt::remote_call_wait(w, add, 1, 2);
    malt::task<int> t = malt::remote_call(w, add, 20, 22);
    BOOST_TEST(co_await std::move(t) == 42);
    malt::remote_do(w, add, 1, 2);
    // Arguments convert to the parameter types, as in a local call.
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, short(1), 'a') == 98);
    // Declared by name and signature, as a host that does not link add() would.
    BOOST_TEST(co_await malt::remote_call_fetch(w, malt::remote<int(int, int)>{"add"}, 2, 3) == 5);
    // A coroutine function runs on the worker's io_context: many sleep at once.
    const auto start = std::chrono::steady_clock::now();
    std::vector<malt::task<void>> sleeps;
    for (int i = 0; i < 50; ++i) sleeps.push_back(malt::remote_call(w, async_sleep_ms, 300));
    for (auto& s : sleeps) co_await std::move(s);
    BOOST_TEST(seconds_since(start) < 10.0);  // not 50 x 300 ms one after another
    // Its parameters may be references: they live while it waits. Its result may be of any type.
    BOOST_TEST(co_await malt::remote_call_fetch(w, joined_later, std::string("left "), std::string("right")) ==
               "left right");
    BOOST_TEST(co_await malt::remote_call_fetch(w, length_later, std::string("four")) == 4u);
    // A call is an Asio operation: awaited directly (a named one too), through use_awaitable
    // (an awaitable for || and co_spawn), deferred, or with a callback; failures the same.
    malt::task<int> named = malt::remote_call(w, add, 1, 1);
    BOOST_TEST(co_await std::move(named) == 2);
    asio::steady_timer never(co_await asio::this_coro::executor, 1h);
    auto first = co_await (malt::remote_call_fetch(w, add, 2, 2)(asio::use_awaitable) || never.async_wait(asio::use_awaitable));
    BOOST_TEST(std::get<0>(first) == 4);
    BOOST_TEST(co_await asio::co_spawn(w.get_executor(), malt::remote_call_fetch(w, add, 3, 3)(asio::use_awaitable), asio::use_awaitable) == 6);
    auto deferred = malt::remote_call_fetch(w, add, 4, 4)(asio::deferred);
    BOOST_TEST(co_await std::move(deferred) == 8);
    auto failing = malt::remote_call_fetch(w, checked_sqrt, -1.0)(asio::use_awaitable);
    co_await thrown<malt::remote_exception>(std::move(failing));
    std::optional<int> called_back;
    malt::remote_call_fetch(w, add, 5, 5)([&](boost::system::error_code e, int v) { called_back = e ? -1 : v; });
    BOOST_TEST(co_await eventually([&] { return called_back.has_value(); }));
    BOOST_TEST(*called_back == 10);
    // Values of any size travel both ways.
    BOOST_TEST(co_await malt::remote_call_fetch(w, byte_sum, std::vector<std::uint8_t>(3'000'000, 2)) == 6'000'000u);
    BOOST_TEST((co_await malt::remote_call_fetch(w, make_bytes, 5'000'000u)).size() == 5'000'000u);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(many_calls_in_flight_from_many_coroutines) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    auto ex = co_await asio::this_coro::executor;
    int finished = 0, wrong = 0;
    for (int c = 0; c < 20; ++c)
      asio::co_spawn(ex, [&, c]() -> asio::awaitable<void> {
        std::vector<malt::task<int>> tasks;
        for (int i = 0; i < 50; ++i) tasks.push_back(malt::remote_call(w, add, c, i));
        for (int i = 0; i < 50; ++i)
          if (co_await std::move(tasks[i]) != c + i) ++wrong;
        ++finished;
      }, asio::detached);
    BOOST_TEST(co_await eventually([&] { return finished == 20; }, 30s));
    BOOST_TEST(wrong == 0);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(three_kinds_of_worker_programs) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options own;  // a program of the user's own, calling malt::worker_main
    own.executable = MALT_TEST_WORKER;
    malt::worker w1 = co_await malt::spawn_worker(own);
    BOOST_TEST(co_await malt::remote_call_fetch(w1, add, 2, 2) == 4);
    BOOST_TEST(co_await malt::remote_call_fetch(w1, malt::builtin::pid) == w1.pid());

    malt::worker_options generic;  // the library's malt-worker
    generic.executable = MALT_WORKER;
    malt::worker w2 = co_await malt::spawn_worker(generic);
    BOOST_TEST(co_await malt::remote_call_fetch(w2, malt::builtin::pid) == w2.pid());
    // It does not have the test functions.
    BOOST_CHECK_THROW(co_await malt::remote_call_fetch(w2, add, 1, 1), malt::remote_exception);

    malt::worker w3 = co_await malt::spawn_worker();  // this program, re-run
    BOOST_TEST(co_await malt::remote_call_fetch(w3, add, 3, 3) == 6);
    co_await malt::stop(w1);
    co_await malt::stop(w2);
    co_await malt::stop(w3);
  });
}

BOOST_AUTO_TEST_CASE(environment_and_working_directory) {
  ::setenv("MALT_TEST_HOST_VARIABLE", "from the host", 1);
  run([]() -> asio::awaitable<void> {
    malt::worker_options clean;
    clean.env = {{"GREETING", "hello"}};
    malt::worker w = co_await malt::spawn_worker(clean);
    BOOST_TEST(*co_await malt::remote_call_fetch(w, malt::builtin::getenv, std::string("GREETING")) == "hello");
    // The worker gets exactly these variables: nothing of the host's.
    BOOST_TEST(!(co_await malt::remote_call_fetch(w, malt::builtin::getenv, std::string("MALT_TEST_HOST_VARIABLE"))));
    BOOST_TEST(!(co_await malt::remote_call_fetch(w, malt::builtin::getenv, std::string("PATH"))));
    co_await malt::stop(w);

    malt::worker_options inherit;
    inherit.inherit_env = true;
    inherit.env = {{"GREETING", "hi"}};
    inherit.working_directory = "/tmp";
    malt::worker w2 = co_await malt::spawn_worker(inherit);
    BOOST_TEST(*co_await malt::remote_call_fetch(w2, malt::builtin::getenv, std::string("MALT_TEST_HOST_VARIABLE")) ==
               "from the host");
    BOOST_TEST(*co_await malt::remote_call_fetch(w2, malt::builtin::getenv, std::string("GREETING")) == "hi");
    BOOST_TEST(co_await malt::remote_call_fetch(w2, malt::builtin::working_directory) == "/tmp");
    co_await malt::stop(w2);
  });
}

BOOST_AUTO_TEST_CASE(dead_worker_fails_calls_at_once_saying_how_it_ended) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    malt::task<void> pending = malt::remote_call(w, sleep_ms, 60'000);
    co_await malt::remote_call_wait(w, add, 0, 0);  // the sleep is running
    malt::kill(w);
    {
      const auto e = co_await thrown<malt::terminated_worker_exception>(std::move(pending));
      BOOST_TEST(e.signal().value_or(-1) == SIGKILL);
      BOOST_TEST(std::string(e.what()).find("signal 9") != std::string::npos);
      BOOST_TEST(e.code() == malt::errc::worker_terminated);
      BOOST_TEST(malt::is_fatal(e.code()));
    }
    BOOST_TEST(!malt::isrunning(w));
    BOOST_CHECK_THROW(malt::remote_call(w, add, 1, 1), malt::terminated_worker_exception);
    BOOST_CHECK_THROW(malt::remote_do(w, add, 1, 1), malt::terminated_worker_exception);
    BOOST_CHECK_THROW(co_await malt::remote_call_fetch(w, add, 1, 1), malt::terminated_worker_exception);
    malt::kill(w);  // harmless on a dead worker

    malt::worker w2 = co_await malt::spawn_worker();
    {
      const auto e = co_await thrown<malt::terminated_worker_exception>(
          malt::remote_call_wait(w2, print_then_exit, std::string("bye"), 3));
      BOOST_TEST(e.exit_code().value_or(-1) == 3);
    }
    malt::worker w3 = co_await malt::spawn_worker();
    {
      const auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_wait(w3, crash));
      BOOST_TEST(e.signal().value_or(-1) == SIGABRT);
    }
  });
}

BOOST_AUTO_TEST_CASE(dropping_the_last_handle_stops_the_worker) {
  run([]() -> asio::awaitable<void> {
    pid_t pid;
    {
      malt::worker w = co_await malt::spawn_worker();
      pid = w.pid();
      malt::worker copy = w;
      BOOST_TEST(co_await malt::remote_call_fetch(copy, add, 1, 1) == 2);
    }
    BOOST_TEST(co_await eventually([&] { return malt::running_workers().empty(); }));
    BOOST_TEST(!process_exists(pid));
  });
}

// An in-process worker runs a synchronous function on a thread of its own pool, which
// sends the reply and then lets go of the session. A host that stops the worker and
// destroys its io_context as soon as the reply is in must not leave that thread to
// release the session (and its sockets) after the io_context (the sanitizer build reports
// it if it does).
BOOST_AUTO_TEST_CASE(an_in_process_worker_is_gone_before_its_io_context) {
  const auto start = std::chrono::steady_clock::now();
  int rounds = 0, answered = 0;
  for (; rounds < 200 && seconds_since(start) < 30; ++rounds) {
    asio::io_context io;
    answered += malt::run(io, []() -> asio::awaitable<int> {
      malt::in_process_worker w = co_await malt::in_process_worker::start();
      const int sum = co_await malt::remote_call_fetch(w, add, 1, 1);
      co_await malt::stop(w);
      co_return sum == 2;
    });
  }
  BOOST_TEST(answered == rounds);
  BOOST_TEST(malt::running_workers().empty());
  BOOST_TEST(kill_children() == 0u, "the test left child processes");
}

BOOST_AUTO_TEST_CASE(frames_over_the_limit_fail_clearly_and_the_worker_carries_on) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.max_frame_size = 64 * 1024;
    malt::worker w = co_await malt::spawn_worker(o);
    {
      const auto e = co_await thrown<malt::error>(
          malt::remote_call_fetch(w, byte_sum, std::vector<std::uint8_t>(100'000, 1)));
      BOOST_TEST(e.code() == malt::errc::frame_too_large);
      BOOST_TEST(std::string(e.what()).find("max_frame_size") != std::string::npos);
    }
    co_await probe(w);
    {
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, make_bytes, 100'000u));
      BOOST_TEST(e.code() == malt::errc::frame_too_large);
    }
    co_await malt::remote_call_wait(w, make_bytes, 100'000u);  // not sent back: fine
    co_await probe(w);
    co_await malt::stop(w);
  });
}

// Large values travel in buffers reused from frame to frame and, from the worker, straight
// from the result; sizes that grow and shrink around the thresholds, and several calls in
// flight, must not mix them up.
BOOST_AUTO_TEST_CASE(large_values_arrive_intact_whatever_their_order_and_size) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    for (std::uint32_t n : {70'000u, 3'000'000u, 65'535u, 65'536u, 1'000'000u, 10u, 2'500'000u}) {
      const std::uint32_t seed = n % 13;
      BOOST_TEST((co_await malt::remote_call_fetch(w, numbered_text, n, seed) == numbered_text(n, seed)));
      BOOST_TEST((co_await malt::remote_call_fetch(w, numbered_text_later, n, seed + 1) == numbered_text(n, seed + 1)));
      std::vector<double> v(n / sizeof(double));
      for (std::size_t i = 0; i < v.size(); ++i) v[i] = double(i) + 0.25;
      const auto back = co_await malt::remote_call_fetch(w, scaled, v, 2.0);
      BOOST_TEST_REQUIRE(back.size() == v.size());
      bool all_doubled = true;
      for (std::size_t i = 0; i < v.size(); ++i) all_doubled = all_doubled && back[i] == 2 * v[i];
      BOOST_TEST(all_doubled);
    }
    std::vector<malt::task<std::string>> in_flight;
    for (std::uint32_t i = 0; i < 8; ++i) in_flight.push_back(malt::remote_call(w, numbered_text, 400'000 + i * 100'000, i));
    for (std::uint32_t i = 0; i < 8; ++i)
      BOOST_TEST((co_await std::move(in_flight[i]) == numbered_text(400'000 + i * 100'000, i)));
    co_await malt::stop(w);
  });
}

namespace {
asio::awaitable<void> unknown_and_mismatched_calls_fail_clearly(const malt::worker& w) {
  {
    const auto e = co_await thrown<malt::remote_exception>(
        malt::remote_call_fetch(w, malt::remote<int(int)>{"no_such_function"}, 1));
    BOOST_TEST(e.code() == malt::errc::unknown_function);
    BOOST_TEST(e.message().find("no_such_function") != std::string::npos);
  }
  {
    const auto e = co_await thrown<malt::remote_exception>(
        malt::remote_call_fetch(w, malt::remote<int(double, int)>{"add"}, 1.5, 1));
    BOOST_TEST(e.code() == malt::errc::signature_mismatch);
    BOOST_TEST(e.message().find("int(int, int)") != std::string::npos);
    BOOST_TEST(e.message().find("int(double, int)") != std::string::npos);
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(unknown_functions_and_wrong_signatures_fail_clearly) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    co_await unknown_and_mismatched_calls_fail_clearly(w);
    {
      const auto e = co_await thrown<malt::remote_exception>(
          malt::remote_call_fetch(w, malt::remote<long(int, int)>{"add"}, 1, 1));
      BOOST_TEST(e.code() == malt::errc::signature_mismatch);
    }
    // A void result accepts whatever the function returns.
    co_await malt::remote_call_wait(w, malt::remote<void(int, int)>{"add"}, 1, 1);
    // Refused before anything is sent.
    BOOST_CHECK_EXCEPTION(malt::remote_call_fetch(w, not_registered_anywhere, 1), malt::error,
                          [](const malt::error& e) { return e.code() == malt::errc::not_registered; });
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_function_is_named_once_per_connection_and_its_faults_stay_the_same) {
  // The first call of a function carries its name and signature, later ones its id on the
  // connection: whatever the first call met, the later ones meet again.
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    for (int i = 0; i < 3; ++i) {
      co_await unknown_and_mismatched_calls_fail_clearly(w);
      BOOST_TEST(co_await malt::remote_call_fetch(w, add, i, 1) == i + 1);
      // The same function with no value wanted is a call target of its own.
      co_await malt::remote_call_wait(w, malt::remote<void(int, int)>{"add"}, i, 1);
      BOOST_TEST(co_await malt::remote_call_fetch(w, malt::remote<int(int, int)>{" ::add "}, i, 2) == i + 2);
    }
    // A call taken back before it was written names nothing: the next one names it.
    {
      asio::cancellation_signal signal;
      auto op = malt::remote_call_fetch(w, get_x);
      std::move(op)(asio::bind_cancellation_slot(signal.slot(), [](boost::system::error_code, int) {}));
      signal.emit(asio::cancellation_type::terminal);
    }
    co_await malt::remote_call_wait(w, set_x, 5);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 5);
    co_await malt::stop(w);
    // A new worker, a new connection: every function is named again.
    malt::worker again = co_await malt::spawn_worker();
    BOOST_TEST(co_await malt::remote_call_fetch(again, add, 2, 2) == 4);
    co_await malt::stop(again);
  });
}

BOOST_AUTO_TEST_CASE(inline_functions_run_on_the_io_thread_and_fail_as_any_other) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(co_await malt::remote_call_fetch(w, add_inline, 20, 22) == 42);
    {
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, checked_sqrt_inline, -1.0));
      BOOST_TEST(e.type_name() == "std::domain_error");
      BOOST_TEST(e.message().find("checked_sqrt of a negative number") != std::string::npos);
    }
    BOOST_TEST(co_await malt::remote_call_fetch(w, checked_sqrt_inline, 4.0) == 4.0);  // the worker answers the next call
    // Many at once, mixed with calls on the pool and coroutines: each gets its own answer.
    std::vector<malt::task<int>> tasks;
    for (int i = 0; i < 200; ++i)
      tasks.push_back(i % 2 ? malt::remote_call(w, add_inline, i, 1) : malt::remote_call(w, add, i, 1));
    for (int i = 0; i < 200; ++i) BOOST_TEST(co_await std::move(tasks[i]) == i + 1);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(bad_options_are_refused_before_anything_starts) {
  run([]() -> asio::awaitable<void> {
    auto refuses = [](malt::worker_options o, malt::errc code, const char* text) -> asio::awaitable<void> {
      {
        const auto e = co_await thrown<malt::error>(malt::spawn_worker(std::move(o)));
        BOOST_TEST(e.code() == code);
        BOOST_TEST(std::string(e.what()).find(text) != std::string::npos, e.what());
      }
    };
    malt::worker_options small;
    small.max_frame_size = 10;
    co_await refuses(small, malt::errc::invalid_options, "max_frame_size");
    malt::worker_options missing;
    missing.executable = "/nonexistent/worker";
    co_await refuses(missing, malt::errc::spawn_failed, "/nonexistent/worker");
    malt::worker_options bad_env;
    bad_env.env = {{"A=B", "c"}};
    co_await refuses(bad_env, malt::errc::invalid_options, "A=B");
    malt::worker_options bad_dir;
    bad_dir.working_directory = "/nonexistent/dir";
    co_await refuses(bad_dir, malt::errc::invalid_options, "/nonexistent/dir");
    malt::worker_options not_exe;
    not_exe.executable = "/etc/hostname";
    co_await refuses(not_exe, malt::errc::spawn_failed, "/etc/hostname");
  });
}

BOOST_AUTO_TEST_CASE(spawning_from_a_host_holding_1_gib) {
  std::vector<char> ballast(std::size_t(1) << 30);
  std::memset(ballast.data(), 1, ballast.size());  // touched, so really resident
  run([]() -> asio::awaitable<void> {
    const auto start = std::chrono::steady_clock::now();
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 1) == 2);
    const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST_MESSAGE("spawn to first result with 1 GiB resident in the host: " << ms << " ms");
    co_await malt::stop(w);
  });
  BOOST_TEST(ballast[12345] == 1);
}

BOOST_AUTO_TEST_SUITE_END()
