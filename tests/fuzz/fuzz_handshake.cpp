// The handshake a worker answers with: any bytes are a match or a mismatch, never a crash.
#include "protocol/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto check = malt::detail::check_hello({reinterpret_cast<const char*>(data), size});
  if (check.mismatch.empty() && size < 12) __builtin_trap();  // too short to be a real hello
  return 0;
}
