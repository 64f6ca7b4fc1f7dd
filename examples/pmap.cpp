// A range pipeline on a pool of workers: which numbers below two million are prime, the
// test run in parallel in batches, the results counted with range-v3; then a map that
// keeps going past the items that fail.
//
//   malt_pmap [--workers N]

#include <malt/malt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <range/v3/algorithm/count.hpp>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/zip.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
namespace views = ranges::views;

bool is_prime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}
MALT_REMOTE(is_prime);

double ratio(int a, int b) {
  if (b == 0) throw std::domain_error("division by zero");
  return double(a) / b;
}
MALT_REMOTE(ratio);

asio::awaitable<void> pipeline(std::size_t workers) {
  malt::pool_options options;
  options.size = workers;
  auto pool = co_await malt::worker_pool::start(options);

  const auto start = std::chrono::steady_clock::now();
  std::vector<bool> prime = co_await malt::pmap(pool, is_prime, views::iota(0, 2'000'000));
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::cout << ranges::count(prime, true) << " primes below 2 000 000, tested on " << workers << " workers in "
            << took.count() << " s\n";

  // Two ranges zipped give the arguments; pmap_collect gives each item its own outcome.
  std::vector<int> numerators{1, 2, 3, 4}, denominators{2, 0, 3, 0};
  auto ratios = co_await malt::pmap_collect(pool, ratio, views::zip(numerators, denominators));
  for (std::size_t i = 0; i < ratios.size(); ++i) {
    std::cout << "  " << numerators[i] << "/" << denominators[i];
    try {
      const double r = ratios[i].value();
      std::cout << " = " << r << "\n";
    } catch (const malt::remote_exception& e) {
      std::cout << ": " << e.message() << "\n";
    }
  }

  // Without collect, the first failure stops the map and names its item.
  try {
    co_await malt::pmap(pool, ratio, views::zip(numerators, denominators));
  } catch (const malt::item_error& e) {
    try {
      e.rethrow_cause();
    } catch (const malt::remote_exception& cause) {
      std::cout << "pmap stopped at item " << e.index() << ": " << cause.message() << "\n";
    }
  }
  co_await pool.stop();
}

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  std::size_t workers = 2;
  if (argc == 3 && std::string(argv[1]) == "--workers") workers = std::strtoul(argv[2], nullptr, 10);
  asio::io_context io;
  asio::co_spawn(io, pipeline(workers), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}
