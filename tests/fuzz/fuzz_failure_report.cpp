// A failure report from a worker: decoded, or refused with an exception; what decodes
// encodes again to the same bytes.
#include "protocol/messages.hpp"

#include <stdexcept>

using namespace malt::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const char> bytes(reinterpret_cast<const char*>(data), size);
  (void)worker_may_report(failure_code(bytes).value_or(0));
  failure_report r;
  try {
    r = decode_failure_report(bytes);
  } catch (const malformed_message&) {
    return 0;
  }
  if (r.type.size() <= 1024) {
    std::vector<char> again;
    encode_failure_report(again, r, size);
    if (again.size() != size || !std::equal(again.begin(), again.end(), bytes.begin())) __builtin_trap();
  }
  return 0;
}
