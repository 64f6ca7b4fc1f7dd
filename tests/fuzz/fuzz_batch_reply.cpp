// The reply to a batch call (a pmap chunk) from a worker: the first byte says how many
// outcomes the host expects; the rest is split into them, or refused with an exception.
// What splits is written again to the same bytes.
#include "protocol/messages.hpp"

#include <algorithm>

using namespace malt::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t items = data[0];
  const std::span<const char> bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<batch_outcome> outcomes;
  try {
    outcomes = split_batch_reply(bytes, items);
  } catch (const malformed_message&) {
    return 0;
  }
  if (outcomes.size() != items) __builtin_trap();
  std::vector<char> again;
  for (const auto& o : outcomes) {
    if (o.bytes.data() < bytes.data() || o.bytes.data() + o.bytes.size() > bytes.data() + bytes.size()) __builtin_trap();
    append_batch_outcome(again, o.failed, o.bytes);
  }
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin())) __builtin_trap();
  return 0;
}
