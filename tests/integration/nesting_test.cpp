// Port of Malt.jl's nesting.jl: a worker is a host of its own workers, to any depth, and
// stopping a worker stops its workers first.
#include "run.hpp"
#include "test_functions.hpp"

using namespace malt_test;
namespace asio = boost::asio;

BOOST_AUTO_TEST_SUITE(nesting)

BOOST_AUTO_TEST_CASE(two_and_three_levels_compute_one_plus_one) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(co_await malt::remote_call_fetch(w, nested_add, 1) == 2);  // host -> worker -> worker
    BOOST_TEST(co_await malt::remote_call_fetch(w, nested_add, 2) == 2);  // host -> worker -> worker -> worker
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(stopping_a_worker_stops_its_workers_first) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    const pid_t child = host_pid(w.pid(), co_await malt::remote_call_fetch(w, spawn_child_and_keep));
    const pid_t busy_child = host_pid(w.pid(), co_await malt::remote_call_fetch(w, start_spinning_child));
    BOOST_TEST(process_exists(child));
    BOOST_TEST(process_exists(busy_child));
    co_await malt::stop(w);
    // The worker reaped its own workers before it exited; nothing was orphaned (an orphan
    // would be re-parented to this test process and still exist).
    BOOST_TEST(!process_exists(child));
    BOOST_TEST(!process_exists(busy_child));
  });
}

BOOST_AUTO_TEST_SUITE_END()
