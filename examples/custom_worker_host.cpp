// The host of custom_worker.cpp: it does not link thumbnail_size, it declares it.
// Usage: malt_custom_worker_host /path/to/malt_custom_worker
#include <malt/malt.hpp>
#include <malt/serialization.hpp>  // std::pair travels as a Boost.Serialization archive

#include <boost/asio/io_context.hpp>

#include <iostream>
#include <utility>

namespace asio = boost::asio;

// Declared by name and signature; the worker checks both at the first call.
const malt::remote<std::pair<int, int>(int, int, int)> thumbnail_size{"thumbnail_size"};

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " /path/to/malt_custom_worker\n";
    return 2;
  }
  asio::io_context io;
  malt::worker_options options;
  options.executable = argv[1];
  const auto size = malt::run(io, [&]() -> asio::awaitable<std::pair<int, int>> {
    malt::worker w = co_await malt::spawn_worker(options);
    const auto s = co_await malt::remote_call_fetch(w, thumbnail_size, 4000, 3000, 200);
    co_await malt::stop(w);
    co_return s;
  });
  std::cout << "a 4000 x 3000 image fits in 200 x 200 as " << size.first << " x " << size.second << "\n";
  return size == std::pair(200, 150) ? 0 : 1;
}
