// Port of Malt.jl's exceptions.jl, every case that needs no evaluation: remote failures,
// values the host cannot decode, requests the worker cannot decode. After each, the same
// worker answers the next call.
#include "pipes.hpp"
#include "run.hpp"
#include "test_functions.hpp"


using namespace malt_test;
namespace asio = boost::asio;

namespace {

// Checks that catch, each in a coroutine of its own: g++ 12 warns falsely about a long
// coroutine with try blocks (README, Toolchain notes).
asio::awaitable<void> eager_call_throws_remote_exception(malt::task<double> eager) {
  BOOST_CHECK_THROW(co_await std::move(eager), malt::remote_exception);
}
asio::awaitable<void> eager_call_throws_remote_exception(malt::task<void> eager) {
  BOOST_CHECK_THROW(co_await std::move(eager), malt::remote_exception);
}

// The checks of the tests below, in coroutines of their own for the same reason.
asio::awaitable<void> a_remote_failure_is_described(const malt::worker& w) {
  const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_wait(w, checked_sqrt, -1.0));
  const std::string text = e.what();
  BOOST_TEST(contains(text, "Remote exception from " + w.summary()));
  BOOST_TEST(contains(text, "std::domain_error"));                    // the type
  BOOST_TEST(contains(text, "checked_sqrt of a negative number"));    // what()
  // Where it was thrown, in any build: the function, then the program.
  BOOST_TEST(contains(e.stack_trace(), " [0] malt_test::checked_sqrt(double)"), e.stack_trace());
  BOOST_TEST(contains(e.stack_trace(), "exceptions_test"), e.stack_trace());
  BOOST_TEST(e.type_name() == "std::domain_error");
  BOOST_TEST(e.code() == malt::errc::remote_exception);
  BOOST_TEST(!malt::is_fatal(e.code()));  // the worker answers the next call
}
asio::awaitable<void> unknown_exceptions_are_described(const malt::worker& w) {
  {
    const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, throw_secret));
    BOOST_TEST(contains(e.what(), "Remote exception"));
    BOOST_TEST(contains(e.what(), "secretttzz"));  // described by the worker, whose type it is
    BOOST_TEST(contains(e.type_name(), "secret_error"));
  }
  {
    const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, throw_int));
    BOOST_TEST(e.type_name() == "int");
    BOOST_TEST(contains(e.message(), "not a std::exception"));
  }
}
}  // namespace

BOOST_AUTO_TEST_SUITE(exceptions)

BOOST_AUTO_TEST_CASE(remote_failure) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.monitor_stderr = false;  // to read what remote_do logs
    malt::worker w = co_await malt::spawn_worker(o);
    co_await a_remote_failure_is_described(w);
    co_await eager_call_throws_remote_exception(malt::remote_call(w, checked_sqrt, -1.0));
    // Fire and forget: nothing reaches the host's caller; the worker logs it.
    BOOST_CHECK_NO_THROW(malt::remote_do(w, checked_sqrt, -1.0));
    const std::string logged = read_available(w.stderr_fd());
    BOOST_TEST(contains(logged, "remote_do failed: std::domain_error: checked_sqrt of a negative number"), logged);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(throwing_unknown_exceptions) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    co_await unknown_exceptions_are_described(w);
    co_await eager_call_throws_remote_exception(malt::remote_call(w, throw_secret));
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(values_the_host_cannot_decode) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST((co_await malt::remote_call_fetch(w, make_percent, 50)).value == 50);
    // The _wait form never ships the value, so it succeeds.
    co_await malt::remote_call_wait(w, make_percent, 150);
    {
      // A decode_error, which a remote_exception is not.
      const auto e = co_await thrown<malt::decode_error>(malt::remote_call_fetch(w, make_percent, 150));
      BOOST_TEST(e.code() == malt::errc::decode_failed);
      BOOST_TEST(contains(e.what(), "percent out of range: 150"));
      BOOST_TEST(contains(e.what(), "make_percent"));
    }
    BOOST_CHECK_THROW(co_await malt::remote_call(w, make_percent, 150), malt::decode_error);
    co_await probe(w);  // the stream is still in sync
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(requests_the_worker_cannot_decode) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    percent bad;
    bad.value = 150;  // encodes fine here, fails its check when decoded in the worker
    {
      const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, percent_value, bad));
      BOOST_TEST(e.code() == malt::errc::bad_request);
      BOOST_TEST(contains(e.what(), "could not decode the arguments"));
      BOOST_TEST(contains(e.what(), "percent out of range"));
    }
    co_await probe(w);
    BOOST_TEST(malt::isrunning(w));  // "the worker should be able to handle all that throwing"
    co_await malt::stop(w);
    BOOST_TEST(!malt::isrunning(w));
  });
}

BOOST_AUTO_TEST_SUITE_END()
