// malt_test_worker: a worker program of the user's own kind (worker_options::executable),
// serving the test functions through malt::worker_main.
#include <malt/worker_main.hpp>

#include <chrono>
#include <cstring>
#include <thread>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--hang") == 0)  // a worker that never answers the handshake
      for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  return malt::worker_main(argc, argv);
}
