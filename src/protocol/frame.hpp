#ifndef MALT_SRC_PROTOCOL_FRAME_HPP
#define MALT_SRC_PROTOCOL_FRAME_HPP

// Frames: a 16-byte header (payload size, type, flags, call id) and a payload. Native byte
// order: host and worker run on one machine and the handshake checks they are the same
// build. frame_decoder turns a byte stream into frames without doing I/O; it checks the
// size against the limit before allocating anything.

#include "protocol/spare_buffer.hpp"

#include <malt/detail/wire.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace malt::detail {

enum class frame_type : std::uint8_t {
  hello = 1,          // both ways, first frame: the handshake
  call = 2,           // host -> worker, one reply follows
  call_no_reply = 3,  // host -> worker, remote_do
  exit_request = 4,   // host -> worker
  interrupt = 5,      // host -> worker: interrupt call_id, or every running call if 0
  result = 16,        // worker -> host
  failure = 17,       // worker -> host
};

enum frame_flags : std::uint8_t {
  flag_none = 0,
  flag_send_value = 1,  // call: ship the function's value back
};

struct frame_header {
  std::uint32_t payload_size = 0;
  frame_type type = frame_type::hello;
  std::uint8_t flags = 0;
  std::uint16_t reserved = 0;
  std::uint64_t call_id = 0;
};
static_assert(sizeof(frame_header) == frame_header_size);

bool is_known(frame_type t) noexcept;
const char* to_string(frame_type t) noexcept;

/// Writes the header into the first frame_header_size bytes of frame, whose payload
/// follows; the payload size is taken from the vector (and the tail).
void write_header(std::vector<char>& frame, frame_type type, std::uint8_t flags, std::uint64_t call_id);
void write_header(outgoing_frame& frame, frame_type type, std::uint8_t flags, std::uint64_t call_id);

struct frame {
  frame_header header;
  std::vector<char> payload;
};

enum class decode_status { frame, need_more, too_large, unknown_type };

/// Frames that fit are read many at a time into a staging buffer of this size.
inline constexpr std::size_t default_staging_size = 64 * 1024;
/// A larger frame's buffer starts at this size and doubles as its bytes arrive.
inline constexpr std::size_t first_large_chunk = 1024 * 1024;

class frame_decoder {
 public:
  /// A frame larger than the staging buffer is read into spare's buffer, if there is one.
  explicit frame_decoder(std::uint32_t max_payload, std::size_t staging_size = default_staging_size,
                         spare_buffer* spare = nullptr);

  /// Where the next read should put its bytes.
  std::span<char> prepare();
  void commit(std::size_t n);

  /// The next complete frame into out, or why there is none. After too_large or
  /// unknown_type the stream cannot be resynchronised.
  decode_status next(frame& out);
  /// The header that caused the last too_large / unknown_type.
  const frame_header& bad_header() const noexcept { return bad_; }

  /// True when bytes of an unfinished frame are buffered (EOF now means truncation).
  bool mid_frame() const noexcept;

 private:
  std::uint32_t max_;
  spare_buffer* spare_;
  std::vector<char> staging_;
  std::size_t begin_ = 0, end_ = 0;
  std::optional<frame> large_;  // a frame bigger than the staging buffer, read in place
  std::size_t large_filled_ = 0;
  frame_header bad_;
};

}  // namespace malt::detail

#endif
