// Drives examples/sandboxed_server with concurrent clients: requests that hang are cut at
// their deadline, a request that crashes its worker gets an error while the worker is
// replaced, and every other client gets its answers undisturbed.
#include "pipes.hpp"
#include "run.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <csignal>
#include <sys/wait.h>

using namespace malt_test;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct server_process {
  pid_t pid = -1;
  unsigned short port = 0;
  int output = -1;
};

// Starts the example and reads the port from its first line.
server_process start_server() {
  const started_program p = start_program({MALT_SANDBOXED_SERVER, "--workers", "2", "--deadline-ms", "300"});
  const auto colon = p.first_line.find("127.0.0.1:");  // "listening on 127.0.0.1:PORT ..."
  BOOST_TEST_REQUIRE(colon != std::string::npos, p.first_line);
  return {p.pid, static_cast<unsigned short>(std::stoi(p.first_line.substr(colon + 10))), p.output};
}

class client {
 public:
  static asio::awaitable<client> connect(unsigned short port) {
    client c{tcp::socket(co_await asio::this_coro::executor)};
    co_await c.socket_.async_connect({asio::ip::address_v4::loopback(), port}, asio::use_awaitable);
    co_return c;
  }
  asio::awaitable<std::string> ask(std::string request) {
    request += '\n';
    co_await asio::async_write(socket_, asio::buffer(request), asio::use_awaitable);
    const std::size_t n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), '\n', asio::use_awaitable);
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    co_return line;
  }

 private:
  explicit client(tcp::socket s) : socket_(std::move(s)) {}
  tcp::socket socket_;
  std::string buffer_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(sandboxed_server)

namespace {
// A request that hangs, one that crashes its worker, then a good one. Its own coroutine:
// g++ 12 warns falsely (-Wmismatched-new-delete) about a longer one.
asio::awaitable<void> make_trouble(client& troublemaker) {
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(co_await troublemaker.ask("hang") == "error deadline exceeded");
  BOOST_TEST(seconds_since(start) < 5.0);  // cut at the 300 ms deadline, not left hanging
  BOOST_TEST(co_await troublemaker.ask("crash") == "error the worker crashed; it was replaced");
  BOOST_TEST(co_await troublemaker.ask("fib 10") == "ok 55");  // served by the pool as before
}
}  // namespace

BOOST_AUTO_TEST_CASE(hangs_and_crashes_do_not_disturb_other_clients) {
  const server_process server = start_server();
  run([&server]() -> asio::awaitable<void> {
    const unsigned short port = server.port;
    auto ex = co_await asio::this_coro::executor;
    int good_clients_done = 0, wrong_answers = 0;
    for (int c = 0; c < 6; ++c)  // well-behaved clients, all the while
      asio::co_spawn(ex, [&, port]() -> asio::awaitable<void> {
        client cl = co_await client::connect(port);
        for (int i = 0; i < 15; ++i) {
          if (co_await cl.ask("fib 20") != "ok 6765") ++wrong_answers;
          if (co_await cl.ask("sleep 20") != "ok slept 20 ms") ++wrong_answers;
        }
        ++good_clients_done;
      }, asio::detached);

    client troublemaker = co_await client::connect(port);
    for (int round = 0; round < 3; ++round) co_await make_trouble(troublemaker);
    BOOST_TEST(co_await troublemaker.ask("fib 99") == "error std::out_of_range: fib takes 0 <= N <= 40");
    BOOST_TEST(co_await troublemaker.ask("bogus") == "error unknown request");

    BOOST_TEST(co_await eventually([&] { return good_clients_done == 6; }, 30s));
    BOOST_TEST(wrong_answers == 0);
    BOOST_TEST(co_await troublemaker.ask("quit") == "ok bye");
    // The server stops its workers and exits by itself.
    int status = -1;
    BOOST_TEST(co_await eventually([&] { return ::waitpid(server.pid, &status, WNOHANG) == server.pid; }));
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  });
  const std::string log = read_available(server.output, 100ms);
  BOOST_TEST(log.find("died; the pool replaces it") != std::string::npos, log);
  ::close(server.output);
}

BOOST_AUTO_TEST_SUITE_END()
