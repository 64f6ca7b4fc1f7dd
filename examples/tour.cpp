// A tour of Malt for C++: spawn a worker, the four call forms, Lua evaluation and a
// channel, a remote exception, nesting, a deadline, a pool with a parallel map, and stop. The program is its own worker: main() hands over to the library
// when it was started as one.

#include <malt/malt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cmath>
#include <iostream>
#include <stdexcept>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Functions the worker can run. Plain functions run on a worker thread...
int add(int a, int b) { return a + b; }
MALT_REMOTE(add);

double checked_sqrt(double x) {
  if (x < 0) throw std::domain_error("checked_sqrt of a negative number");
  return std::sqrt(x);
}
MALT_REMOTE(checked_sqrt);

void say(std::string text) { std::cout << text << std::endl; }
MALT_REMOTE(say);

// ...coroutines run on the worker's io_context.
asio::awaitable<std::string> slow_echo(std::string text, int milliseconds) {
  asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(milliseconds));
  co_await timer.async_wait(asio::use_awaitable);
  co_return text;
}
MALT_REMOTE(slow_echo);

// A worker is a host of its own: this one starts a worker, calls it, and stops it.
asio::awaitable<int> add_in_a_child(int a, int b) {
  malt::worker child = co_await malt::spawn_worker();
  std::cout << "worker " << ::getpid() << " started its own worker " << child.pid() << std::endl;
  int sum = co_await malt::remote_call_fetch(child, add, a, b);
  co_await malt::stop(child);
  co_return sum;
}
MALT_REMOTE(add_in_a_child);

asio::awaitable<void> show_lua(const malt::worker& w) {
  co_await malt::remote_eval_wait(w, "greeting = 'hello from Lua'");
  std::cout << "   " << co_await malt::remote_eval_fetch<std::string>(w, "greeting") << ", "
            << co_await malt::remote_eval_fetch(w, "{1 + 1, malt.fn.add(20, 22), x = 'y'}") << "\n";
  auto numbers = co_await malt::worker_channel<int>(w, "numbers = malt.channel(10)");
  co_await malt::remote_eval_wait(w, "for i = 1, 3 do numbers:put(i * i) end");
  std::cout << "   through a channel: " << co_await numbers.take() << " " << co_await numbers.take() << " "
            << co_await numbers.take() << "\n";
}

asio::awaitable<void> show_deadline(const malt::worker& w) {
  const auto start = std::chrono::steady_clock::now();
  try {
    co_await malt::remote_call_fetch(w, slow_echo, std::string("too late"), 5000).with_timeout(100ms);
  } catch (const malt::error& e) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::cout << "   after " << ms.count() << " ms: " << e.what() << "\n";
  }
  std::cout << "   the worker carries on: add(2, 2) = " << co_await malt::remote_call_fetch(w, add, 2, 2) << "\n";
}

asio::awaitable<void> show_failures(const malt::worker& w) {
  std::cout << "7. a function that throws: the host gets malt::remote_exception\n";
  try {
    co_await malt::remote_call_fetch(w, checked_sqrt, -1.0);
  } catch (const malt::remote_exception& e) {
    std::cout << "   caught " << e.type_name() << ": " << e.message() << "\n   full text:\n" << e.what() << "\n";
  }
  std::cout << "   the worker carries on: checked_sqrt(2) = " << co_await malt::remote_call_fetch(w, checked_sqrt, 2.0)
            << "\n";

  std::cout << "8. a function unknown to this program, called by name and signature\n";
  try {
    co_await malt::remote_call_fetch(w, malt::remote<int(int)>{"not_there"}, 1);
  } catch (const malt::remote_exception& e) {
    std::cout << "   " << e.message() << "\n";
  }
}

asio::awaitable<void> show_pmap(const malt::worker_pool& pool) {
  std::vector<double> squares{1, 4, 9, 16, 25, 36};
  std::vector<double> roots = co_await malt::pmap(pool, checked_sqrt, squares);
  std::cout << "   pmap(checked_sqrt):";
  for (double r : roots) std::cout << " " << r;
  std::cout << "\n";
}

asio::awaitable<void> show_pool() {
  malt::pool_options options;
  options.size = 2;
  auto pool = co_await malt::worker_pool::start(options);
  const int sum = co_await pool.call(add, 40, 2);
  std::cout << "   a pool of " << pool.size() << " workers: add(40, 2) = " << sum << "\n";
  co_await show_pmap(pool);
  co_await pool.stop();
}

asio::awaitable<void> show_stop(malt::worker& w) {
  bool was_running = co_await malt::stop(w);
  std::cout << "   stop returned " << was_running << ", running: " << malt::isrunning(w) << "\n";
  try {
    co_await malt::remote_call_fetch(w, add, 1, 2);
  } catch (const malt::terminated_worker_exception& e) {
    std::cout << "   terminated_worker_exception: " << e.what() << "\n";
  }
}

asio::awaitable<void> tour() {
  std::cout << "1. spawn_worker starts a worker process (this program, re-run as a worker)\n";
  malt::worker w = co_await malt::spawn_worker();
  std::cout << "   " << w.summary() << ", running: " << std::boolalpha << malt::isrunning(w) << "\n";

  std::cout << "2. remote_call_fetch runs a function there and returns its value\n";
  std::cout << "   add(1, 2) = " << co_await malt::remote_call_fetch(w, add, 1, 2) << "\n";

  std::cout << "3. remote_call_wait runs it and drops the value\n";
  co_await malt::remote_call_wait(w, say, std::string("   (printed by the worker; its output is forwarded)"));

  std::cout << "4. remote_call sends the request at once and gives a task to await later\n";
  malt::task<std::string> slow = malt::remote_call(w, slow_echo, std::string("slow hello"), 200);
  malt::task<std::string> fast = malt::remote_call(w, slow_echo, std::string("fast hello"), 10);
  std::cout << "   both calls run concurrently in the worker: " << co_await std::move(fast) << ", then "
            << co_await std::move(slow) << "\n";

  std::cout << "5. remote_do is fire and forget\n";
  malt::remote_do(w, say, std::string("   (said by remote_do)"));

  std::cout << "6. evaluating Lua in the worker's global state\n";
  co_await show_lua(w);

  co_await show_failures(w);

  std::cout << "9. nesting: the worker starts a worker of its own\n";
  std::cout << "   add_in_a_child(20, 22) = " << co_await malt::remote_call_fetch(w, add_in_a_child, 20, 22) << "\n";

  std::cout << "10. a deadline: a call that takes too long is interrupted in the worker\n";
  co_await show_deadline(w);

  std::cout << "11. a worker pool, and a parallel map over a range in batched frames\n";
  co_await show_pool();

  std::cout << "12. stop: the worker exits (stopping its own workers first); calls then fail at once\n";
  co_await show_stop(w);
  std::cout << "workers still running: " << malt::running_workers().size() << "\n";
}

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  std::cout << std::unitbuf;  // keep our lines in order with the workers' forwarded ones
  asio::io_context io;
  asio::co_spawn(io, tour(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}
