// A worker program of its own: it links the functions it serves (here one, thumbnail_size)
// and nothing of the host. A host names it with worker_options::executable and calls its
// functions by name and signature (custom_worker_host.cpp).
#include <malt/remote.hpp>
#include <malt/serialization.hpp>  // std::pair travels as a Boost.Serialization archive
#include <malt/worker_main.hpp>

#include <algorithm>
#include <utility>

// The size of a thumbnail of an image of width x height that fits in box x box.
std::pair<int, int> thumbnail_size(int width, int height, int box) {
  const double scale = std::min(1.0, std::min(double(box) / width, double(box) / height));
  return {int(width * scale), int(height * scale)};
}
MALT_REMOTE(thumbnail_size);

int main(int argc, char** argv) { return malt::worker_main(argc, argv); }
