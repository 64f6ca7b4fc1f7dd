// malt-worker: the general-purpose worker program. It serves the library's built-in
// functions and whatever a host reaches by name in it.
#include <malt/worker_main.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (!malt::is_worker_argument(argv[i])) {
      std::fprintf(stderr, "malt-worker: unknown option '%s'\n", argv[i]);
      return 2;
    }
  return malt::worker_main(argc, argv);
}
