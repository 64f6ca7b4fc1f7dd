// Unit tests of functions meant for a worker, without starting a process: an
// in_process_worker runs them in the test's own process, over the same protocol, so
// arguments, results and exceptions cross exactly as they would to a worker process.
#define BOOST_TEST_MODULE in_process_worker example
#include <malt/malt.hpp>
#include <malt/serialization.hpp>  // a vector of strings travels as a Boost.Serialization archive

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;

// The functions under test.
std::vector<std::string> split(std::string text, char separator) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == separator)
      parts.emplace_back();
    else
      parts.back() += c;
  }
  return parts;
}
MALT_REMOTE(split);

int parse_port(std::string text) {
  const int port = std::stoi(text);
  if (port <= 0 || port > 65535) throw std::out_of_range("not a port: " + text);
  return port;
}
MALT_REMOTE(parse_port);

BOOST_AUTO_TEST_CASE(values_cross_as_to_a_worker) {
  asio::io_context io;
  const auto parts = malt::run(io, []() -> asio::awaitable<std::vector<std::string>> {
    malt::in_process_worker w = co_await malt::in_process_worker::start();
    auto r = co_await malt::remote_call_fetch(w, split, "a,b,,c", ',');
    co_await malt::stop(w);
    co_return r;
  });
  BOOST_TEST(parts == (std::vector<std::string>{"a", "b", "", "c"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(exceptions_arrive_as_remote_exceptions) {
  asio::io_context io;
  const auto failure = malt::run(io, []() -> asio::awaitable<std::string> {
    malt::in_process_worker w = co_await malt::in_process_worker::start();
    std::string what;
    try {
      co_await malt::remote_call_fetch(w, parse_port, "70000");
    } catch (const malt::remote_exception& e) {
      what = e.type_name() + ": " + e.message() + "\n" + e.stack_trace();
    }
    co_await malt::stop(w);
    co_return what;
  });
  BOOST_TEST(failure.find("std::out_of_range: not a port: 70000") == 0u, failure);
  BOOST_TEST(failure.find("parse_port") != std::string::npos, failure);
}
