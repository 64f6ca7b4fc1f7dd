// A program of another project, built against the installed library.
#include <malt/malt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string_view>

static_assert(MALT_VERSION == MALT_VERSION_MAJOR * 10000 + MALT_VERSION_MINOR * 100 + MALT_VERSION_PATCH);

int twice(int v) { return 2 * v; }
MALT_REMOTE(twice);

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  boost::asio::io_context io;
  int result = 0;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    result = co_await malt::remote_call_fetch(w, twice, 21);
    co_await malt::stop(w);
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  std::cout << "malt " << MALT_VERSION_STRING << ": twice(21) = " << result << std::endl;
#ifdef MALT_PACKAGE_VERSION  // built against an installed package
  if (std::string_view(MALT_VERSION_STRING) != MALT_PACKAGE_VERSION) {
    std::cerr << "the header says " << MALT_VERSION_STRING << ", the package " << MALT_PACKAGE_VERSION << "\n";
    return 1;
  }
#endif
  return result == 42 ? 0 : 1;
}
