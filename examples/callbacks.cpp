// A program without coroutines: the same operations with callbacks that take an error
// code, with futures from a thread of its own, and with malt::run.
#include <malt/malt.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <cmath>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace asio = boost::asio;
using boost::system::error_code;

int add(int a, int b) { return a + b; }
MALT_REMOTE(add);

double checked_sqrt(double x) {
  if (x < 0) throw std::domain_error("the square root of a negative number");
  return std::sqrt(x);
}
MALT_REMOTE(checked_sqrt);

// Callbacks: each operation completes with an error_code (and the value), the details of
// a failure in a malt::diagnostics. The io_context runs on this thread.
bool with_callbacks() {
  asio::io_context io;
  malt::worker w;
  malt::diagnostics diag;
  bool ok = false;
  malt::spawn_worker(io.get_executor(), {}, diag, [&](error_code ec, malt::worker started) {
    if (ec) {
      std::cerr << "could not start a worker: " << diag.message() << "\n";
      return;
    }
    w = std::move(started);
    malt::remote_call_fetch(w, add, 1, 2)([&](error_code ec, int sum) {
      std::cout << "callbacks: add(1, 2) = " << sum << " (" << ec.message() << ")\n";
      malt::remote_call_fetch(w, checked_sqrt, -1.0)(diag, [&, sum](error_code ec, double) {
        std::cout << "callbacks: checked_sqrt(-1) failed: " << ec.message() << "\n" << diag.message() << "\n";
        ok = sum == 3 && ec == malt::errc::remote_exception;
        malt::stop(w, [](error_code, bool) {});
      });
    });
  });
  io.run();  // returns when the worker has stopped: nothing is left to wait for
  return ok;
}

// Futures: the io_context runs on a thread of its own, which spawns the worker, and lives as
// long as it (the worker ends with the thread that spawned it). A failure is a
// system_error carrying the code.
bool with_futures() {
  asio::io_context io;
  auto busy = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  malt::worker w = malt::spawn_worker(io.get_executor(), {}, asio::use_future).get();
  const int sum = malt::remote_call_fetch(w, add, 20, 22)(asio::use_future).get();
  std::cout << "futures: add(20, 22) = " << sum << "\n";
  bool failed = false;
  try {
    malt::remote_call_fetch(w, checked_sqrt, -4.0)(asio::use_future).get();
  } catch (const boost::system::system_error& e) {
    failed = e.code() == malt::errc::remote_exception;
    std::cout << "futures: checked_sqrt(-4) failed: " << e.code().message() << "\n";
  }
  malt::stop(w, asio::use_future).get();
  busy.reset();
  runner.join();
  return sum == 42 && failed;
}

// malt::run: one coroutine, run to its end from an ordinary function.
bool with_run() {
  asio::io_context io;
  const double root = malt::run(io, []() -> asio::awaitable<double> {
    malt::worker w = co_await malt::spawn_worker();
    const double r = co_await malt::remote_call_fetch(w, checked_sqrt, 2.0);
    co_await malt::stop(w);
    co_return r;
  });
  std::cout << "run: checked_sqrt(2) = " << root << "\n";
  return std::abs(root - std::sqrt(2.0)) < 1e-12;
}

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  const bool ok = with_callbacks() && with_futures() && with_run();
  return ok ? 0 : 1;
}
