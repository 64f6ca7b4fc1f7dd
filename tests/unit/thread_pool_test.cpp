// The worker's thread pool, without processes: every job runs, and a blocked job never
// holds up the others for long.
#include "serve/thread_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <memory>
#include <thread>

using namespace malt::detail;
using namespace std::chrono_literals;

namespace {

// Polls cond until it holds or limit passes.
template <class Cond>
bool wait_until(Cond cond, std::chrono::milliseconds limit = 10s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_thread_pool)

// The jobs own what they touch (shared): the pool's threads may still be leaving a job when
// a test has seen its effect and returns.

BOOST_AUTO_TEST_CASE(a_burst_of_jobs_all_run) {
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto done = std::make_shared<std::latch>(10'000);
  {
    thread_pool pool;
    for (int i = 0; i < 10'000; ++i) pool.post([=] {
      ++*ran;
      done->count_down();
    });
    BOOST_TEST(wait_until([&] { return done->try_wait(); }));
  }
  BOOST_TEST(*ran == 10'000);
}

BOOST_AUTO_TEST_CASE(jobs_queued_behind_a_blocked_job_still_run) {
  auto release = std::make_shared<std::latch>(1), later_ran = std::make_shared<std::latch>(1);
  thread_pool pool(2ms);
  pool.post([release] { release->wait(); });  // blocks until a job posted after it has run
  pool.post([later_ran] { later_ran->count_down(); });
  BOOST_TEST(wait_until([&] { return later_ran->try_wait(); }));
  release->count_down();
}

BOOST_AUTO_TEST_CASE(many_blocking_jobs_run_together) {
  // Each waits for all the others, so all 200 must run at once, on 200 threads.
  constexpr int n = 200;
  auto all_in = std::make_shared<std::latch>(n), done = std::make_shared<std::latch>(n);
  thread_pool pool(2ms);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) pool.post([=] {
    all_in->arrive_and_wait();
    done->count_down();
  });
  BOOST_TEST(wait_until([&] { return done->try_wait(); }));
  BOOST_TEST_MESSAGE("200 mutually waiting jobs done after "
                     << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
}

BOOST_AUTO_TEST_CASE(queued_jobs_finish_after_the_pool_is_gone) {
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto release = std::make_shared<std::latch>(1);
  {
    thread_pool pool;
    pool.post([=] { release->wait(); ++*ran; });
    pool.post([=] { ++*ran; });
  }
  release->count_down();
  BOOST_TEST(wait_until([&] { return *ran == 2; }));
}

// A worker process's I/O thread runs the jobs its handlers post (no thread switch for a
// short call), and another thread takes over the handlers while a job blocks.
BOOST_AUTO_TEST_CASE(the_io_thread_lends_itself_and_the_lead_moves_on_while_a_job_blocks) {
  auto pool = std::make_shared<thread_pool>(2ms);
  boost::asio::io_context io(1);
  auto work = boost::asio::make_work_guard(io);
  auto release = std::make_shared<std::latch>(1), later_ran = std::make_shared<std::latch>(1);
  auto short_job_thread = std::make_shared<std::thread::id>();
  auto handler_thread = std::make_shared<std::thread::id>();
  std::thread io_thread([&] { pool->run_io(io); });
  boost::asio::post(io, [=] {
    *handler_thread = std::this_thread::get_id();
    pool->post([=] { *short_job_thread = std::this_thread::get_id(); });
  });
  BOOST_TEST(wait_until([&] { return *short_job_thread != std::thread::id(); }));
  BOOST_TEST((*short_job_thread == *handler_thread));  // ran where the handler that posted it ran
  boost::asio::post(io, [=] { pool->post([release] { release->wait(); }); });
  std::this_thread::sleep_for(20ms);  // the blocking job is running by now
  boost::asio::post(io, [later_ran] { later_ran->count_down(); });
  BOOST_TEST(wait_until([&] { return later_ran->try_wait(); }));  // handlers run meanwhile
  release->count_down();
  work.reset();
  io_thread.join();  // run_io returns once the io_context has no more work
}

BOOST_AUTO_TEST_SUITE_END()
