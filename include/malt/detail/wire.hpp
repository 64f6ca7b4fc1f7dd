#ifndef MALT_DETAIL_WIRE_HPP
#define MALT_DETAIL_WIRE_HPP

// The few wire facts the call templates need: where a frame's payload starts, how a call
// request begins (src/protocol/messages.cpp), and what goes out with a frame.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace malt::detail {

/// Every frame starts with a header of this many bytes (see src/protocol/frame.hpp).
inline constexpr std::size_t frame_header_size = 16;

/// Appends a call request's head to frame: the function's name, its parameter types and
/// the result type the caller expects (empty: none wanted); the arguments' archive follows.
void encode_call_head(std::vector<char>& frame, std::string_view function, std::string_view parameter_types,
                      std::string_view result_type);

/// A batch request: one frame that runs the same function on many argument lists (pmap's
/// chunks), answered by one frame of outcomes. The head is a call head that announces its
/// items; each item's arguments are written between begin_batch_item and end_batch_item;
/// end_batch says how many there were.
class batch_writer {
 public:
  batch_writer(std::vector<char>& frame, std::string_view function, std::string_view parameter_types,
               std::string_view result_type);
  void begin_item();
  void end_item();
  std::uint32_t items() const noexcept { return items_; }
  /// Writes the count of items into the head.
  void end();

 private:
  std::vector<char>& frame_;
  std::size_t count_at_;
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
