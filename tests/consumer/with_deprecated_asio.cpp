// A program with Asio's whole interface, deprecated parts included (io_context::work):
// the library's own Asio settings stay its own.
#include <malt/malt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#if defined(BOOST_ASIO_NO_DEPRECATED) || defined(BOOST_ASIO_SEPARATE_COMPILATION)
#error "the library's Asio configuration reached a program that links it"
#endif

int fail(int) { throw std::out_of_range("far"); }
MALT_REMOTE(fail);

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  boost::asio::io_context io;
  std::optional<boost::asio::io_context::work> work(std::in_place, io);  // deprecated in Asio, not removed here
  std::string failure;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    try {
      co_await malt::remote_call_fetch(w, fail, 1);
    } catch (const malt::remote_exception& e) {
      failure = e.what();
    }
    co_await malt::stop(w);
    work.reset();
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  std::cout << "the failure: " << failure << std::endl;
  const bool ok = failure.find("std::out_of_range: far") != std::string::npos &&
                  failure.find("Stack trace:") != std::string::npos && failure.find("fail(int)") != std::string::npos;
  return ok ? 0 : 1;
}
