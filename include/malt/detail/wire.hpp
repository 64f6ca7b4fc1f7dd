#ifndef MALT_DETAIL_WIRE_HPP
#define MALT_DETAIL_WIRE_HPP

// The few wire facts the call templates need: where a frame's payload starts, how a call's
// body is laid out (src/protocol/messages.hpp), and what goes out with a frame.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace malt::detail {

/// Every frame starts with a header of this many bytes (see src/protocol/frame.hpp).
inline constexpr std::size_t frame_header_size = 16;

/// A payload this large goes out from where it lies rather than being copied into the
/// write (src/protocol/frame.hpp's write_batch).
inline constexpr std::size_t write_batch_large_payload = 64 * 1024;

/// A call's body starts with this many bytes: the count of its batch's items, 0 for a
/// single call, whose arguments' archive follows.
inline constexpr std::size_t call_body_head = 4;

/// A batch request: one frame that runs the same function on many argument lists (pmap's
/// chunks), answered by one frame of outcomes. It is written into a call's body (whose
/// head it fills in): each item's arguments between begin_item and end_item, length first.
class batch_writer {
 public:
  explicit batch_writer(std::vector<char>& body) noexcept : frame_(body) {}
  void begin_item();
  void end_item();
  std::uint32_t items() const noexcept { return items_; }
  /// Writes the count of items into the head.
  void end();

 private:
  std::vector<char>& frame_;
  std::size_t item_at_ = 0;
  std::uint32_t items_ = 0;
};

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
