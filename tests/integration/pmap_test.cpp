// Parallel map over ranges: std and range-v3 inputs, one worker and a pool, the failure
// policies, and cancellation of a running map with each type.
#include "run.hpp"
#include "test_functions.hpp"

#include <malt/pmap.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>
#include <range/v3/view/zip.hpp>

#include <list>
#include <numeric>

using namespace malt_test;
namespace asio = boost::asio;

namespace {
// Lists built outside the coroutines (g++ 12 cannot keep an initializer list's array
// alive across a co_await).
std::list<std::pair<int, int>> three_pairs() { return {{1, 2}, {3, 4}, {5, 6}}; }
std::vector<std::tuple<int, int>> one_tuple() { return {{10, 20}}; }
std::vector<int> ints(std::initializer_list<int> l) { return l; }
std::vector<double> roots_and_negatives() { return {4.0, -1.0, 9.0, -2.0, 16.0}; }
// 2000 inputs of checked_sqrt, of which item 1500 fails.
std::vector<double> fails_at_1500() {
  std::vector<double> values(2000, 4.0);
  values[1500] = -1.0;
  return values;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(pmap)

BOOST_AUTO_TEST_CASE(maps_an_iota_on_one_worker_and_on_a_pool) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<std::int64_t> squares = co_await malt::pmap(w, square, ranges::views::iota(0, 100000));
    BOOST_TEST(squares.size() == 100000u);
    bool all_right = true;
    for (std::int64_t i = 0; i < 100000; ++i) all_right = all_right && squares[i] == i * i;
    BOOST_TEST(all_right);
    co_await malt::stop(w);

    malt::pool_options options;
    options.size = 2;
    auto pool = co_await malt::worker_pool::start(options);
    squares = co_await malt::pmap(pool, square, ranges::views::iota(0, 100000));
    all_right = squares.size() == 100000u;
    for (std::int64_t i = 0; all_right && i < 100000; ++i) all_right = squares[i] == i * i;
    BOOST_TEST(all_right);
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(zipped_ranges_spread_into_arguments) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<int> xs(1000), ys(1000);
    std::iota(xs.begin(), xs.end(), 0);
    std::iota(ys.begin(), ys.end(), 1000);
    std::vector<int> sums = co_await malt::pmap(w, add, ranges::views::zip(xs, ys));
    BOOST_TEST(sums.size() == 1000u);
    BOOST_TEST(sums.front() == 1000);
    BOOST_TEST(sums.back() == 999 + 1999);
    // std::pair and std::tuple items, a list (not random access), small chunks.
    std::list<std::pair<int, int>> pairs = three_pairs();
    malt::pmap_options small;
    small.chunk_size = 2;
    auto from_pairs = co_await malt::pmap(w, add, pairs, small);
    const auto expected = ints({3, 7, 11});
    BOOST_TEST(from_pairs == expected, boost::test_tools::per_element());
    std::vector<std::tuple<int, int>> tuples = one_tuple();
    auto from_tuples = co_await malt::pmap(w, add, tuples);
    BOOST_TEST(from_tuples.size() == 1u);
    BOOST_TEST(from_tuples[0] == 30);
    // A view with no size: chunks of the automatic size for unsized ranges.
    auto doubled = ranges::views::iota(0, 300) | ranges::views::transform([](int i) { return 2 * i; });
    auto squared = co_await malt::pmap(w, square, doubled);
    BOOST_TEST(squared.size() == 300u);
    BOOST_TEST(squared[299] == 598 * 598);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(an_empty_range_gives_an_empty_result) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<std::int64_t> none;
    BOOST_TEST((co_await malt::pmap(w, square, none)).empty());
    BOOST_TEST((co_await malt::pmap_collect(w, square, ranges::views::iota(0, 0))).empty());
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(the_first_failure_stops_the_map_with_its_index) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<double> values = fails_at_1500();
    try {
      co_await malt::pmap(w, checked_sqrt, values);
      BOOST_ERROR("the map did not fail");
    } catch (const malt::item_error& e) {
      BOOST_TEST(e.index() == 1500u);
      BOOST_TEST(std::string(e.what()).find("item 1500: ") == 0u);
      BOOST_CHECK_THROW(e.rethrow_cause(), malt::remote_exception);
    }
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(collect_gives_every_item_its_own_outcome) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<double> values = roots_and_negatives();
    malt::pmap_options two;
    two.chunk_size = 2;
    auto results = co_await malt::pmap_collect(w, checked_sqrt, values, two);
    BOOST_TEST(results.size() == 5u);
    BOOST_TEST(results[0].value() == 4.0);  // checked_sqrt checks, and returns its argument
    BOOST_TEST(!results[1].has_value());
    BOOST_CHECK_THROW(results[1].value(), malt::remote_exception);
    BOOST_TEST(results[2].value() == 9.0);
    BOOST_TEST(!results[3]);
    BOOST_TEST(results[4].value() == 16.0);
    // A void function: outcomes only.
    std::vector<int> xs(3, 1);
    auto sets = co_await malt::pmap_collect(w, set_x, xs);
    BOOST_TEST(sets.size() == 3u);
    BOOST_TEST(sets[2].has_value());
    std::vector<int> seven(1, 7);
    co_await malt::pmap(w, set_x, seven);
    BOOST_TEST(co_await malt::remote_call_fetch(w, get_x) == 7);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_worker_that_dies_fails_its_items) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<std::tuple<int, bool>> items;
    for (int i = 0; i < 10; ++i) items.emplace_back(i, i == 6);
    malt::pmap_options one;
    one.chunk_size = 1;
    one.chunks_in_flight = 1;  // one at a time: items before the crash have answered
    auto results = co_await malt::pmap_collect(w, echo_or_abort, items, one);
    BOOST_TEST(results.size() == 10u);
    BOOST_TEST(results[5].value() == 5);
    BOOST_CHECK_THROW(results[6].value(), malt::terminated_worker_exception);
    BOOST_CHECK_THROW(results[9].value(), malt::terminated_worker_exception);
  });
}

namespace {
// A map of 8 interruptible 3 s sleeps, two at a time, cancelled after 200 ms with type;
// how long it took and what it threw.
asio::awaitable<std::pair<double, std::string>> cancelled_map(const malt::worker& w, asio::cancellation_type type) {
  auto ex = co_await asio::this_coro::executor;
  asio::cancellation_signal signal;
  asio::steady_timer timer(ex, 200ms);
  timer.async_wait([&](boost::system::error_code) { signal.emit(type); });
  malt::pmap_options one;
  one.chunk_size = 1;
  const auto start = std::chrono::steady_clock::now();
  std::string outcome = "completed";
  try {
    co_await malt::pmap(w, interruptible_sleep_ms, std::vector<int>(8, 3000), one,
                        asio::bind_cancellation_slot(signal.slot(), asio::use_awaitable));
  } catch (const boost::system::system_error& e) {
    outcome = e.code() == asio::error::operation_aborted ? "operation_aborted" : e.what();
  } catch (const std::exception& e) {
    outcome = e.what();
  }
  co_return std::pair{seconds_since(start), outcome};
}
}  // namespace

BOOST_AUTO_TEST_CASE(cancelling_a_running_map_with_each_type) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    // Partial: running chunks are interrupted and answer; queued ones are dropped.
    auto [partial_s, partial] = co_await cancelled_map(w, asio::cancellation_type::partial);
    BOOST_TEST(partial == "operation_aborted");
    BOOST_TEST(partial_s < 2.0);
    co_await probe(w);
    // Terminal: the same, without waiting for the interrupted chunks' answers.
    auto [terminal_s, terminal] = co_await cancelled_map(w, asio::cancellation_type::terminal);
    BOOST_TEST(terminal == "operation_aborted");
    BOOST_TEST(terminal_s < 2.0);
    BOOST_TEST(co_await eventually([&] { return w.calls_in_flight() == 0u; }));
    co_await probe(w);
    // Total: running chunks are left to finish (they have effects); queued ones dropped.
    auto [total_s, total] = co_await cancelled_map(w, asio::cancellation_type::total);
    BOOST_TEST(total == "operation_aborted");
    BOOST_TEST(total_s > 2.5);
    BOOST_TEST(total_s < 8.0);
    co_await probe(w);
    BOOST_TEST(w.calls_in_flight() == 0u);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(imap_streams_chunks_in_order_and_as_completed) {
  run([]() -> asio::awaitable<void> {
    malt::pool_options options;
    options.size = 2;
    auto pool = co_await malt::worker_pool::start(options);
    {
      auto stream = malt::imap(pool, square, ranges::views::iota(0, 50000));
      std::size_t expected_first = 0;
      bool right = true;
      while (auto chunk = co_await stream.next()) {
        right = right && chunk->first == expected_first;
        for (std::size_t i = 0; i < chunk->values.size(); ++i) {
          const auto x = static_cast<std::int64_t>(chunk->first + i);
          right = right && chunk->values[i] == x * x;
        }
        expected_first += chunk->values.size();
      }
      BOOST_TEST(right);
      BOOST_TEST(expected_first == 50000u);
    }
    {
      malt::pmap_options small;
      small.chunk_size = 7;
      auto stream = malt::imap_unordered(pool, square, ranges::views::iota(0, 1000), small);
      std::vector<int> seen(1000, 0);
      while (auto chunk = co_await stream.next())
        for (std::size_t i = 0; i < chunk->values.size(); ++i) seen[chunk->first + i] += 1;
      BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == 1000);
    }
    co_await pool.stop();
  });
}

BOOST_AUTO_TEST_CASE(imap_holds_back_while_nobody_reads) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    malt::pmap_options small;
    small.chunk_size = 10;
    {
      // An endless range: only the bound on chunks sent and unread keeps this finite.
      auto stream = malt::imap(w, tally_square, ranges::views::iota(0), small);
      for (int i = 0; i < 3; ++i) {
        auto chunk = co_await stream.next();
        BOOST_TEST_REQUIRE(chunk.has_value());
        BOOST_TEST(chunk->first == std::size_t(i) * 10);
      }
      co_await sleep_for(200ms);
      // Three chunks read, at most four more sent or waiting: not an endless stream.
      const int computed = co_await malt::remote_call_fetch(w, tally);
      BOOST_TEST(computed <= 70, computed);
      BOOST_TEST(computed >= 30);
    }  // dropped: the map is cancelled
    BOOST_TEST(co_await eventually([&] { return w.calls_in_flight() == 0u; }));
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(imap_stops_at_a_failure_and_can_be_cancelled) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<double> values = fails_at_1500();
    {
      auto stream = malt::imap(w, checked_sqrt, values);
      std::size_t read = 0;
      try {
        while (auto chunk = co_await stream.next()) read += chunk->values.size();
        BOOST_ERROR("the stream did not fail");
      } catch (const malt::item_error& e) {
        BOOST_TEST(e.index() == 1500u);
      }
      BOOST_TEST(read <= 1500u);
    }
    {
      malt::pmap_options one;
      one.chunk_size = 1;
      auto stream = malt::imap(w, echo_after_ms, std::vector<std::tuple<int, int>>(6, {1, 3000}), one);
      auto ex = co_await asio::this_coro::executor;
      asio::steady_timer timer(ex, 200ms);
      timer.async_wait([&](boost::system::error_code) { stream.cancel(asio::cancellation_type::terminal); });
      const auto start = std::chrono::steady_clock::now();
      BOOST_CHECK_THROW(co_await stream.next(), boost::system::system_error);
      BOOST_TEST(seconds_since(start) < 2.0);
    }
    BOOST_TEST(co_await eventually([&] { return w.calls_in_flight() == 0u; }));
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_SUITE_END()
