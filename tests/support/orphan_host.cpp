// malt_orphan_host: a host with a busy worker that has a busy worker of its own. It prints
// "<worker pid> <grandchild pid>" and waits to be killed (tests/integration/orphan_test.cpp).
// With the argument "escaping", the grandchild is a process that left the worker by setsid
// and a double fork (tests/integration/containment_test.cpp).
#include "test_functions.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string_view>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  asio::io_context io;
  std::vector<malt::worker> keep;
  const bool escaping = argc > 1 && std::string_view(argv[1]) == "escaping";
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    int grandchild = escaping ? co_await malt::remote_call_fetch(w, malt_test::start_escaping_process)
                              : co_await malt::remote_call_fetch(w, malt_test::start_spinning_child);
    malt::remote_do(w, malt_test::spin_forever);
    std::cout << w.pid() << " " << grandchild << " "
              << (w.containment() == malt::containment::pid_namespace ? "pid_namespace" : "process_group") << std::endl;
    keep.push_back(w);
  }, asio::detached);
  io.run();  // the workers keep it running until it is killed
}
