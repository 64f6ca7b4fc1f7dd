// A TCP server (loopback) that runs every request in a malt::worker_pool, one request per
// leased worker at a time, each call with a deadline. A request that hangs is interrupted in its worker at the
// deadline; one that crashes its worker gets an error reply while the server starts a new
// worker; the other clients never notice.
//
//   malt_sandboxed_server [--port N] [--workers N] [--deadline-ms N]
//
// One request per line, one reply per line:
//   fib N       ok <the Nth Fibonacci number>, computed the slow way (N <= 40)
//   sleep MS    ok slept MS ms
//   hang        never finishes by itself
//   crash       kills its worker
//   quit        stops the server

#include <malt/malt.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <optional>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

// --- What the workers run -------------------------------------------------------------

std::uint64_t slow_fib(int n) {
  static thread_local unsigned steps = 0;
  if (++steps % 4096 == 0) malt::this_call::interruption_point();  // deadlines reach it
  return n < 2 ? std::uint64_t(n) : slow_fib(n - 1) + slow_fib(n - 2);
}
std::uint64_t fib(int n) {
  if (n < 0 || n > 40) throw std::out_of_range("fib takes 0 <= N <= 40");
  return slow_fib(n);
}
MALT_REMOTE(fib);

asio::awaitable<int> nap(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
  co_return ms;
}
MALT_REMOTE(nap);

void hang() { malt::this_call::sleep_for(std::chrono::hours(24)); }
MALT_REMOTE(hang);

void crash() { std::abort(); }
MALT_REMOTE(crash);

// --- The server -----------------------------------------------------------------------

struct settings {
  unsigned short port = 0;
  int workers = 2;
  std::chrono::milliseconds deadline{1000};
};

// Runs one request in a worker.
asio::awaitable<std::string> run_request(const malt::worker& w, const settings& s, const std::string& verb, int arg) {
  if (verb == "fib") co_return "ok " + std::to_string(co_await malt::remote_call_fetch(w, fib, arg).with_timeout(s.deadline));
  if (verb == "sleep")
    co_return "ok slept " + std::to_string(co_await malt::remote_call_fetch(w, nap, arg).with_timeout(s.deadline)) + " ms";
  if (verb == "hang") co_await malt::remote_call_wait(w, hang).with_timeout(s.deadline);
  else if (verb == "crash") co_await malt::remote_call_wait(w, crash).with_timeout(s.deadline);
  else co_return "error unknown request";
  co_return "ok";
}

// The reply for a request that failed.
std::string describe(std::exception_ptr failure) {
  try {
    std::rethrow_exception(failure);
  } catch (const malt::remote_exception& e) {
    return "error " + e.type_name() + ": " + e.message();
  } catch (const malt::error& e) {
    // timed_out_running: the call ignored its interrupt; its worker is still busy with it, and
    // the pool replaces a leased worker that comes back so.
    const bool late = e.code() == malt::errc::timed_out || e.code() == malt::errc::timed_out_running;
    return late ? "error deadline exceeded" : std::string("error ") + e.what();
  } catch (const std::exception& e) {
    return std::string("error ") + e.what();
  }
}

// Each request leases a worker for itself, so a crash takes down no one else's request;
// requests wait while every worker is busy. The pool replaces a worker that dies.
asio::awaitable<std::string> handle(malt::worker_pool& pool, const settings& s, const std::string& line) {
  std::istringstream in(line);
  std::string verb;
  int arg = 0;
  in >> verb >> arg;
  malt::worker_lease lease = co_await pool.lease();
  const pid_t pid = lease->pid();
  try {
    co_return co_await run_request(*lease, s, verb, arg);
  } catch (const malt::terminated_worker_exception&) {
    std::cout << "worker " << pid << " died; the pool replaces it" << std::endl;
    co_return "error the worker crashed; it was replaced";
  } catch (...) {
    co_return describe(std::current_exception());
  }
}

asio::awaitable<void> serve_client(tcp::socket socket, malt::worker_pool& pool, const settings& s, asio::io_context& io) {
  asio::streambuf buffer;
  for (;;) {
    auto [ec, n] = co_await asio::async_read_until(socket, buffer, '\n', asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::string line(asio::buffers_begin(buffer.data()), asio::buffers_begin(buffer.data()) + n - 1);
    buffer.consume(n);
    if (line == "quit") {
      co_await pool.stop();
      const std::string bye = "ok bye\n";
      co_await asio::async_write(socket, asio::buffer(bye), asio::as_tuple(asio::use_awaitable));
      io.stop();
      co_return;
    }
    const std::string reply = co_await handle(pool, s, line) + "\n";
    co_await asio::async_write(socket, asio::buffer(reply), asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<malt::worker_pool> start_pool(const settings& s) {
  malt::pool_options options;
  options.size = static_cast<std::size_t>(s.workers);
  co_return co_await malt::worker_pool::start(options);
}

asio::awaitable<void> server(settings s, std::optional<malt::worker_pool>& pool, asio::io_context& io) {
  pool = co_await start_pool(s);
  tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), s.port});
  std::cout << "listening on 127.0.0.1:" << acceptor.local_endpoint().port() << " with " << s.workers
            << " workers, deadline " << s.deadline.count() << " ms" << std::endl;
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    asio::co_spawn(io, serve_client(std::move(socket), *pool, s, io), asio::detached);
  }
}

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long v = std::strtol(argv[i + 1], nullptr, 10);
    if (flag == "--port") s.port = static_cast<unsigned short>(v);
    else if (flag == "--workers" && v > 0) s.workers = int(v);
    else if (flag == "--deadline-ms" && v > 0) s.deadline = std::chrono::milliseconds(v);
    else {
      std::cerr << "usage: " << argv[0] << " [--port N] [--workers N] [--deadline-ms N]\n";
      return 2;
    }
  }
  asio::io_context io;
  std::optional<malt::worker_pool> pool;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      if (pool) co_await pool->stop();
      io.stop();
    }, asio::detached);
  });
  asio::co_spawn(io, server(s, pool, io), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
}
