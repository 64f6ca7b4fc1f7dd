// A program of another project, built against the installed library: dynamically, with a
// static libstdc++ (-static-libstdc++) and fully static (-static). A failure in the worker
// carries its stack at the throw in each.
#include <malt/malt.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>

static_assert(MALT_VERSION == MALT_VERSION_MAJOR * 10000 + MALT_VERSION_MINOR * 100 + MALT_VERSION_PATCH);

int twice(int v) { return 2 * v; }
MALT_REMOTE(twice);

int refuse_odd(int v) {
  if (v % 2) throw std::domain_error("odd");
  return v;
}
MALT_REMOTE(refuse_odd);

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  boost::asio::io_context io;
  int result = 0;
  std::string trace;
  bool worker_pid_matches = true;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    result = co_await malt::remote_call_fetch(w, twice, 21);
    try {
      co_await malt::remote_call_fetch(w, refuse_odd, 1);
    } catch (const malt::remote_exception& e) {
      trace = e.stack_trace();
    }
    co_await malt::stop(w);
#ifdef MALT_WORKER_PROGRAM  // the package's malt-worker, by its imported target
    malt::worker_options options;
    options.executable = MALT_WORKER_PROGRAM;
    malt::worker general = co_await malt::spawn_worker(options);
    worker_pid_matches = co_await malt::remote_call_fetch(general, malt::builtin::pid) == general.pid();
    co_await malt::stop(general);
#endif
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  std::cout << "malt " << MALT_VERSION_STRING << ": twice(21) = " << result << "; where refuse_odd(1) threw:\n"
            << trace << std::flush;
  if (trace.find("refuse_odd(int)") == std::string::npos) {
    std::cerr << "the remote failure has no stack trace naming refuse_odd\n";
    return 1;
  }
#ifdef MALT_PACKAGE_VERSION  // built against an installed package
  if (std::string_view(MALT_VERSION_STRING) != MALT_PACKAGE_VERSION) {
    std::cerr << "the header says " << MALT_VERSION_STRING << ", the package " << MALT_PACKAGE_VERSION << "\n";
    return 1;
  }
#endif
  if (!worker_pid_matches) {
    std::cerr << "the package's malt-worker did not answer\n";
    return 1;
  }
  return result == 42 ? 0 : 1;
}
