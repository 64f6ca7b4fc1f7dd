// The worker's thread pool, without processes: every job runs, and a blocked job never
// holds up the others for long.
#include "serve/thread_pool.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
