// Evaluated Lua code cannot escape an interrupt, under either library set: code that
// removes the hook, loops in a coroutine of its own, in a table.sort comparator or a gsub
// callback, catches the interrupt with pcall, or runs a long C function of the string
// library ends within interrupt_grace of its deadline, and the worker answers the next eval.
// lua_memory_limit fails allocations in Lua; interrupt_escalation::kill ends a worker
// whose call ignores its interrupt.
#include "run.hpp"

using namespace malt_test;
namespace asio = boost::asio;

namespace {


const char* const escapes[] = {
    "debug.sethook(); while true do end",
    "coroutine.wrap(function() while true do end end)()",
    "table.sort({3, 2, 1}, function(a, b) while true do end end)",
    "string.gsub('abc', '%w', function(c) while true do end end)",
    "string.find(string.rep('a', 100000), '.-.-.-.-b')",
    "string.rep('x', 2^31 - 1)",
    "table.sort({3, 2, 1}, function(a, b) while true do pcall(function() while true do end end) end end)",
    "coroutine.wrap(function() while true do coroutine.resume(coroutine.create(function() while true do end end)) end end)()",
    "table.move({}, 1, math.maxinteger - 1, 2)",
};

// Time an escape may take beyond interrupt_grace that is not the library's: under
// AddressSanitizer, mapping and unmapping the 2 GiB buffer string.rep asks for take about a
// second each inside the sanitizer's allocator (measured on a 2-vCPU machine), before the
// first byte is written and after the interrupt has ended the eval.
double outside_the_library(std::string_view code) {
#ifdef MALT_TEST_WITH_ASAN
  if (code.starts_with("string.rep('x', 2^31")) return 4.0;
#endif
  (void)code;
  return 0.0;
}

// How long an interrupted eval may take to answer: a C function of Lua's (string.rep of
// 2 GiB) is interrupted when it returns, which under AddressSanitizer on a loaded machine
// can take longer than the default grace.
#ifdef MALT_TEST_WITH_ASAN
const std::chrono::milliseconds grace = std::chrono::seconds(10);
#else
const std::chrono::milliseconds grace = malt::worker_options().interrupt_grace;
#endif

asio::awaitable<malt::worker> start(malt::lua_libraries libraries) {
  malt::worker_options options;
  options.lua_libraries = libraries;
  options.interrupt_grace = grace;
  co_return co_await malt::spawn_worker(options);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_sandbox)

BOOST_AUTO_TEST_CASE(no_eval_escapes_its_deadline) {
  run([]() -> asio::awaitable<void> {
    for (auto libraries : {malt::lua_libraries::full, malt::lua_libraries::safe}) {
      BOOST_TEST_CONTEXT((libraries == malt::lua_libraries::full ? "full" : "safe")) {
        malt::worker w = co_await start(libraries);
        for (const char* code : escapes) {
          const auto begin = std::chrono::steady_clock::now();
          bool failed = false;
          try {
            co_await malt::remote_eval_wait(w, code).with_timeout(200ms);
          } catch (const malt::error& e) {
            failed = true;
            // Timed out, or refused at once (debug.sethook).
            BOOST_TEST((e.code() == malt::errc::timed_out || contains(e.what(), "sethook") ||
                        contains(e.what(), "debug is not available")),
                       code << ": " << e.what());
          }
          BOOST_TEST(failed, code);
          const double took = seconds_since(begin);
          BOOST_TEST_MESSAGE(code << ": ended after " << took * 1000 << " ms");
          BOOST_TEST(took < 0.2 + std::chrono::duration<double>(grace).count() + outside_the_library(code), code);
          BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "1 + 1") == 2, code);
        }
        // An interrupt reaches a coroutine of the eval's own just as a deadline does.
        auto spinning = malt::remote_eval(w, "coroutine.wrap(function() while true do end end)()");
        co_await sleep_for(100ms);
        malt::interrupt(w);
        BOOST_CHECK_THROW(co_await std::move(spinning), malt::interrupted_exception);
        BOOST_TEST(co_await malt::stop(w));
      }
    }
  });
}

BOOST_AUTO_TEST_CASE(the_safe_set_refuses_what_reaches_outside_by_name) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await start(malt::lua_libraries::safe);
    const std::pair<const char*, const char*> refused[] = {{"io.open('/etc/passwd')", "io"},
                                                           {"os.execute('true')", "os.execute"},
                                                           {"package.loadlib('libc.so.6', 'fork')", "package"},
                                                           {"debug.traceback()", "debug"}};
    for (const auto& [code, name] : refused) {
      const auto e = co_await thrown<malt::error>(malt::remote_eval_wait(w, code));
      BOOST_TEST(contains(e.what(), std::string(name) + " is not available to evals under lua_libraries::safe"),
                 e.what());
      BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "1 + 1") == 2);
    }
    BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "type(os.time())") == "number");
    co_await malt::stop(w);
  });
}

namespace {
// Its own coroutine: g++ 12 warns falsely (-Wmismatched-new-delete) about a longer one.
asio::awaitable<void> runs_out_of_memory_and_recovers(const malt::worker& w, const char* code) {
  const auto e = co_await thrown<malt::error>(malt::remote_eval_wait(w, code));
  BOOST_TEST(contains(e.what(), "not enough memory"), e.what());
  BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "#string.rep('x', 2^20)") == 1 << 20);
}
}  // namespace

BOOST_AUTO_TEST_CASE(the_lua_memory_limit_fails_allocations_in_lua) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options options;
    options.lua_memory_limit = 32u << 20;
    malt::worker w = co_await malt::spawn_worker(options);
    for (const char* code : {"string.rep('x', 64 * 2^20)", "local t = {} for i = 1, 1e8 do t[i] = i end"})
      co_await runs_out_of_memory_and_recovers(w, code);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(kill_escalation_ends_a_worker_that_ignores_its_interrupt) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options options;
    options.interrupt_escalation = malt::interrupt_escalation::kill;
    options.interrupt_grace = 300ms;
    malt::worker w = co_await malt::spawn_worker(options);
    const auto begin = std::chrono::steady_clock::now();
    const auto e = co_await thrown<malt::terminated_worker_exception>(
        malt::remote_call_wait(w, spin_forever).with_timeout(100ms));
    BOOST_TEST(contains(e.what(), "ignored its interrupt"), e.what());
    BOOST_TEST(seconds_since(begin) < 5.0);
    BOOST_TEST(!malt::isrunning(w));
  });
}

BOOST_AUTO_TEST_SUITE_END()
