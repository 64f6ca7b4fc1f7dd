// malt-worker: the general-purpose worker program. It serves the library's built-in
// functions and whatever a host reaches by name in it.
#include <malt/worker_main.hpp>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--malt-worker=", 14) != 0) {
      std::fprintf(stderr, "malt-worker: unknown option '%s'\n", argv[i]);
      return 2;
    }
  return malt::worker_main(argc, argv);
}
