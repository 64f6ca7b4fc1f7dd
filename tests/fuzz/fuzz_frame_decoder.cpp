// The frame decoder over any byte stream, cut into reads of sizes the input chooses: it
// must hand out frames whose payload is exactly what the header claimed, report a bad
// header, or ask for more, and never read or allocate beyond what arrived.
#include "protocol/frame.hpp"

#include <algorithm>
#include <cstring>

using namespace malt::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t read_size = 1 + data[0] * 97u;  // how much one read brings in
  spare_buffer spare;
  frame_decoder decoder(1u << 20, 4096, data[1] % 2 ? &spare : nullptr);
  const auto* in = reinterpret_cast<const char*>(data + 2);
  std::size_t left = size - 2;
  frame f;
  while (left > 0) {
    auto space = decoder.prepare();
    const std::size_t n = std::min({space.size(), left, read_size});
    std::memcpy(space.data(), in, n);
    decoder.commit(n);
    in += n;
    left -= n;
    for (;;) {
      const auto status = decoder.next(f);
      if (status == decode_status::frame) {
        if (f.payload.size() != f.header.payload_size) __builtin_trap();
        spare.give(std::move(f.owned));  // a large frame's own bytes; a small one is a view
        f.owned = {};
        continue;
      }
      if (status == decode_status::need_more) break;
      return 0;  // a bad header ends the stream
    }
  }
  return 0;
}
