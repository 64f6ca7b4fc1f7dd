// Ports of Malt.jl's basic.jl "Evaluating expressions", "Async things" and "Worker
// channels", exceptions.jl's evaluation cases and interrupt.jl with evals, in Lua.
#include "run.hpp"
#include "test_functions.hpp"

#include <random>

using namespace malt_test;
namespace asio = boost::asio;

namespace {


// Every case runs against a worker process and an in-process worker.
constexpr const char* kinds[] = {"malt::worker", "malt::in_process_worker"};
asio::awaitable<malt::worker> start(int kind) {
  if (kind == 1) co_return co_await malt::in_process_worker::start();
  co_return co_await malt::spawn_worker();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(evaluation)

BOOST_AUTO_TEST_CASE(evaluating_expressions) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    BOOST_TEST((co_await malt::remote_eval_fetch(w, "1 + 1")) == malt::value(2));
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "1 + 1") == 2);
    BOOST_TEST((co_await malt::remote_eval_fetch(w, "nil")).is_nil());
    co_await malt::remote_eval_wait(w, "nil");
    co_await malt::remote_eval_wait(w, "Stub = {}");  // a table defined in one eval...
    co_await malt::remote_eval_wait(w, "Stub.x = 'x is in Stub'");
    BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "Stub.x") == "x is in Stub");  // ...read by the next
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(values_cross_as_malt_value_or_converted) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    const malt::value v = co_await malt::remote_eval_fetch(w, "{1, 2.5, 'three', true, {a = {1, 2}}, {}}");
    const auto& a = std::get<malt::value::array>(v.get());
    BOOST_TEST_REQUIRE(a.size() == 6u);
    BOOST_TEST(a[0] == malt::value(1));
    BOOST_TEST(a[1] == malt::value(2.5));
    BOOST_TEST(a[2] == malt::value(std::string("three")));
    BOOST_TEST(a[3] == malt::value(true));
    const std::map<std::string, std::vector<int>> nested{{"a", {1, 2}}};
    BOOST_TEST((a[4].as<std::map<std::string, std::vector<int>>>() == nested));
    BOOST_TEST(a[5].as<std::vector<int>>().empty());
    const std::vector<double> expected{1, 2, 3.5};  // (an initializer list in a co_await expression trips g++ 12)
    BOOST_TEST((co_await malt::remote_eval_fetch<std::vector<double>>(w, "{1, 2, 3.5}") == expected));
    BOOST_TEST(!(co_await malt::remote_eval_fetch<std::optional<int>>(w, "nil")));
    std::ostringstream text;
    text << co_await malt::remote_eval_fetch(w, "{x = 1, y = 'z'}");
    BOOST_TEST(text.str() == "{x = 1, y = \"z\"}");
    // Registered C++ functions are callable from Lua, their arguments converted.
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "malt.call('add', 1, 2)") == 3);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "malt.fn.add(20, 22)") == 42);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "malt.fn.echo_after_ms(7, 10)") == 7);  // a coroutine
    BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "malt.fn.joined_later('left ', 'right')") ==
               "left right");  // a coroutine taking references
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "malt.fn.length_later('four')") == 4);
    BOOST_TEST(co_await malt::remote_eval_fetch<bool>(w, "malt.fn.logical_and(true, true)"));
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(async_things) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    co_await malt::remote_eval_wait(w, "x = 1 + 1");
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x") == 2);

    auto later = malt::remote_eval(w, "malt.sleep(0.5); x = 900");  // sent, not awaited
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x") == 2);
    co_await sleep_for(550ms);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x") == 900);
    co_await std::move(later);

    malt::remote_do(w, malt::builtin::exec, std::string("malt.sleep(0.5); x = 400"));
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x") == 900);
    co_await sleep_for(550ms);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x") == 400);
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(worker_channels) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    auto lc = co_await malt::worker_channel<std::int64_t>(w, "rc = malt.channel(20)");
    std::mt19937_64 random(7);
    for (int i = 0; i < 10; ++i) {
      const auto n = static_cast<std::int64_t>(random() >> 2);
      co_await malt::remote_eval_wait(w, "rc:put(" + std::to_string(n) + ")");  // put in the worker
      BOOST_TEST(co_await lc.take() == n);
      co_await lc.put(n);
      BOOST_TEST(co_await lc.take() == n);
      co_await lc.put(n);
      co_await lc.put(n);
      BOOST_TEST(co_await lc.take() == n);
      BOOST_TEST(co_await lc.take() == n);
    }
    // 40 items through 20 places: puts block in the worker and never block the takes.
    auto ex = co_await asio::this_coro::executor;
    bool taken_in_order = true, taker_done = false;
    asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
      for (std::int64_t i = 1; i <= 40; ++i)
        if (co_await lc.take() != i) taken_in_order = false;
      BOOST_TEST(!co_await lc.is_ready());
      taker_done = true;
    }, asio::detached);
    for (std::int64_t i = 1; i <= 40; ++i) co_await lc.put(i);
    BOOST_TEST(co_await eventually([&] { return taker_done; }));
    BOOST_TEST(taken_in_order);
    // Closing wakes every waiter with a clear error.
    auto waiting = malt::remote_eval(w, "return rc:take()");
    co_await sleep_for(50ms);
    co_await lc.close();
    const auto e = co_await thrown<malt::remote_exception>(std::move(waiting));
    BOOST_TEST(contains(e.what(), "take on a closed channel"), e.what());
    const auto e2 = co_await thrown<malt::remote_exception>(lc.put(1));
    BOOST_TEST(contains(e2.what(), "put on a closed channel"));
    co_await probe(w);
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(evaluation_failures) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    {
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_wait(w, "error('boom')"));
      BOOST_TEST(contains(e.what(), "Remote exception from " + w.summary()));
      BOOST_TEST(e.type_name() == "malt::lua_error");
      BOOST_TEST(contains(e.message(), "boom"));
      BOOST_TEST(contains(e.message(), "stack traceback"));
    }
    BOOST_CHECK_THROW(co_await malt::remote_eval(w, "error('boom')"), malt::remote_exception);
    {  // a C++ exception raised from Lua
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "malt.fn.checked_sqrt(-1)"));
      BOOST_TEST(contains(e.message(), "std::domain_error: checked_sqrt of a negative number"), e.message());
      BOOST_TEST(contains(e.message(), "stack traceback"));
    }
    {  // syntax errors name the place
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_wait(w, "x = = 1"));
      BOOST_TEST(contains(e.message(), "eval:1:"), e.message());
    }
    {  // a value the host cannot convert: the distinct decode error
      const auto e = co_await thrown<malt::decode_error>(malt::remote_eval_fetch<int>(w, "'text'"));
      BOOST_TEST(contains(e.what(), "cannot convert a Lua string"), e.what());
    }
    BOOST_CHECK_THROW(co_await malt::remote_eval_fetch<int>(w, "2^70"), malt::decode_error);
    co_await malt::remote_eval_wait(w, "function() end");  // not sent back: fine
    {  // a value with no host equivalent cannot be sent
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "function() end"));
      BOOST_TEST(contains(e.message(), "a Lua function has no host equivalent"), e.message());
    }
    {  // arguments that do not convert to the C++ parameters, or too few of them
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "malt.fn.add('x', 1)"));
      BOOST_TEST(contains(e.message(), "cannot convert a Lua string to an integer type"), e.message());
      const auto e2 = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "malt.call('add', 1)"));
      BOOST_TEST(contains(e2.message(), "expects 2 arguments, got 1"), e2.message());
      const auto e3 = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "malt.fn.nope()"));
      BOOST_TEST(contains(e3.message(), "no C++ function named 'nope'"), e3.message());
    }
    {  // a C++ function whose types have no Lua equivalent
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "malt.fn.make_percent(5)"));
      BOOST_TEST(contains(e.message(), "cannot be called from Lua"), e.message());
    }
    {
      const auto e = co_await thrown<malt::remote_exception>(malt::worker_channel<int>(w, "123"));
      BOOST_TEST(contains(e.message(), "gave a number, not a channel"), e.message());
    }
    BOOST_CHECK_THROW(co_await malt::worker_channel<int>(w, "error('no channel')"), malt::remote_exception);
    co_await probe(w);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "1 + 1") == 2);
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(interrupting_evals) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    co_await malt::remote_eval_wait(w, "kept = 'still here'");
    const std::string busy_second = "local t = os.clock(); while os.clock() - t < 1 do end; return 1";
    auto start = std::chrono::steady_clock::now();
    co_await malt::remote_eval_wait(w, busy_second);
    const double uninterrupted = seconds_since(start);
    for (const std::string& code : {busy_second, std::string("while true do end")}) {
      auto running = malt::remote_eval(w, code);
      co_await sleep_for(100ms);
      start = std::chrono::steady_clock::now();
      malt::interrupt(w);
      BOOST_CHECK_THROW(co_await std::move(running), malt::interrupted_exception);
      BOOST_TEST_MESSAGE(code << ": ended " << seconds_since(start) * 1000 << " ms after the interrupt");
      BOOST_TEST(seconds_since(start) < 0.5 * uninterrupted);
      BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "kept") == "still here");  // globals intact
    }
    // A busy eval never keeps the worker from running other calls meanwhile.
    auto spinning = malt::remote_eval(w, "while true do end");
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 2) == 3);
    BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "2 + 2") == 4);
    malt::interrupt(w);
    BOOST_CHECK_THROW(co_await std::move(spinning), malt::interrupted_exception);
    // Deadlines work on evals as on calls.
    const auto e = co_await thrown<malt::error>(malt::remote_eval_wait(w, "while true do end").with_timeout(100ms));
    BOOST_TEST(e.code() == malt::errc::timed_out);
    co_await probe(w);
    co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(stopping_ends_running_evals) {
  run([]() -> asio::awaitable<void> {
    for (int kind = 0; kind < 2; ++kind) BOOST_TEST_CONTEXT(kinds[kind]) {
    malt::worker w = co_await start(kind);
    auto spinning = malt::remote_eval(w, "while true do end");
    auto sleeping = malt::remote_eval(w, "malt.sleep(3600)");
    co_await probe(w);
    BOOST_TEST(co_await malt::stop(w));
    BOOST_CHECK_THROW(co_await std::move(spinning), malt::error);  // interrupted, or ended with the worker
    BOOST_CHECK_THROW(co_await std::move(sleeping), malt::error);
    BOOST_TEST(!malt::isrunning(w));
    }
  });  // and run() returns: nothing is left running on this io_context
}

BOOST_AUTO_TEST_SUITE_END()
