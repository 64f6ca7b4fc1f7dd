#ifndef MALT_DETAIL_WIRE_HPP
#define MALT_DETAIL_WIRE_HPP

// The few wire facts the call templates need: where a frame's payload starts, how the
// strings that open a call request are written, and what a reply is made of.

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace malt::detail {

/// Every frame starts with a header of this many bytes (see src/frame.hpp).
inline constexpr std::size_t frame_header_size = 16;

inline void put_string(std::vector<char>& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  const auto at = out.size();
  out.resize(at + sizeof n);
  std::memcpy(out.data() + at, &n, sizeof n);
  out.insert(out.end(), s.begin(), s.end());
}

/// A frame on its way out: its bytes (header first), then, for a large value, the value's
/// own bytes, sent from where they lie without a copy; owner keeps them alive until written.
struct outgoing_frame {
  std::vector<char> bytes;
  std::span<const char> tail;
  std::shared_ptr<const void> owner;

  std::size_t payload_size() const noexcept { return bytes.size() - frame_header_size + tail.size(); }
};

}  // namespace malt::detail

#endif
