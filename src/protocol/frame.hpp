#ifndef MALT_SRC_PROTOCOL_FRAME_HPP
#define MALT_SRC_PROTOCOL_FRAME_HPP

// Frames: a 16-byte header (payload size, type, flags, call id) and a payload. Native byte
// order: host and worker run on one machine and the handshake checks they are the same
// build. frame_decoder turns a byte stream into frames without doing I/O; it checks the
// size against the limit before allocating anything, and hands out small frames as views
// of its buffer, copying nothing. write_batch gathers frames on their way out.

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
  signal = 6,         // host -> worker: raise signal number call_id (a launched worker, kill())
  result = 16,        // worker -> host
  failure = 17,       // worker -> host
  output = 18,        // worker -> host: bytes a launched worker printed on fd call_id (1 or 2)
};

enum frame_flags : std::uint8_t {
  flag_none = 0,
  flag_send_value = 1,       // call: ship the function's value back
  flag_defines_function = 2,  // call: the first of its function on this connection (messages.hpp)
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
/// Writes a header for a payload of payload_size bytes at at.
void put_header(char* at, std::size_t payload_size, frame_type type, std::uint8_t flags, std::uint64_t call_id);

/// A frame as read: its payload is a view of the decoder's buffer, valid until the
/// decoder's next prepare(), or of owned, for a frame too large for that buffer.
struct frame {
  frame_header header;
  std::span<const char> payload;
  std::vector<char> owned;
};

/// Frames on their way out, in order, for one gather write: small frames are copied back
/// to back into bytes; a large payload stays where it lies (a part), sent between the
/// bytes before and after it. Cleared, it keeps its memory for the next batch.
class write_batch {
 public:
  /// A payload this large is not copied.
  static constexpr std::size_t large = write_batch_large_payload;

  struct part {
    std::size_t at;  // where in bytes it goes
    std::vector<char> data;
    std::span<const char> tail;  // or a value's own bytes, kept alive by owner
    std::shared_ptr<const void> owner;
    std::span<const char> view() const noexcept { return tail.empty() ? std::span<const char>(data) : tail; }
  };

  /// Appends a whole frame.
  void append(outgoing_frame&& f);
  /// Appends bytes of a frame (a header, a head, a small payload).
  void append(std::span<const char> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  /// Appends a payload's bytes, which it takes when large.
  void append(std::vector<char>&& b);
  /// Appends every frame of other, which it takes.
  void append(write_batch&& other);
  std::vector<char>& bytes() noexcept { return bytes_; }

  bool empty() const noexcept { return bytes_.empty() && parts_.empty(); }
  /// The buffers of one gather write, in order.
  template <class Buffers, class MakeBuffer>
  void gather(Buffers& out, MakeBuffer make) const {
    std::size_t from = 0;
    for (const auto& p : parts_) {
      if (p.at > from) out.push_back(make(bytes_.data() + from, p.at - from));
      out.push_back(make(p.view().data(), p.view().size()));
      from = p.at;
    }
    if (bytes_.size() > from) out.push_back(make(bytes_.data() + from, bytes_.size() - from));
  }
  /// Empties the batch; the memory of its large parts goes to spare (when it has any).
  void clear(spare_buffer* spare = nullptr) noexcept;

 private:
  std::vector<char> bytes_;
  std::vector<part> parts_;
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

  /// The next complete frame into out, or why there is none. A small frame's payload is
  /// a view of this decoder's buffer until the next prepare(). After too_large or
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
  // The large frame's paths, out of the small frames' way.
  decode_status next_large(frame& out);
  decode_status start_large(const frame_header& h, const char* payload, std::size_t buffered);

  std::optional<frame_header> large_;  // a frame bigger than the staging buffer, read in place
  std::vector<char> large_payload_;
  std::size_t large_filled_ = 0;
  frame_header bad_;
};

}  // namespace malt::detail

#endif
