#ifndef MALT_DETAIL_WIRE_HPP
#define MALT_DETAIL_WIRE_HPP

// The few wire facts the call templates need: where a frame's payload starts, and how
// the strings that open a call request are written.

#include <cstdint>
#include <cstring>
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

}  // namespace malt::detail

#endif
