#include "protocol/frame.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace malt::detail {

bool is_known(frame_type t) noexcept {
  switch (t) {
    case frame_type::hello:
    case frame_type::call:
    case frame_type::call_no_reply:
    case frame_type::exit_request:
    case frame_type::interrupt:
    case frame_type::signal:
    case frame_type::result:
    case frame_type::failure:
    case frame_type::output: return true;
  }
  return false;
}

const char* to_string(frame_type t) noexcept {
  switch (t) {
    case frame_type::hello: return "hello";
    case frame_type::call: return "call";
    case frame_type::call_no_reply: return "call_no_reply";
    case frame_type::exit_request: return "exit_request";
    case frame_type::interrupt: return "interrupt";
    case frame_type::signal: return "signal";
    case frame_type::result: return "result";
    case frame_type::failure: return "failure";
    case frame_type::output: return "output";
  }
  return "unknown";
}

void put_header(char* at, std::size_t payload_size, frame_type type, std::uint8_t flags, std::uint64_t call_id) {
  frame_header h;
  h.payload_size = static_cast<std::uint32_t>(payload_size);
  h.type = type;
  h.flags = flags;
  h.call_id = call_id;
  std::memcpy(at, &h, sizeof h);
}

void write_batch::append(outgoing_frame&& f) {
  if (f.bytes.size() >= large) {
    parts_.push_back({bytes_.size(), std::move(f.bytes), {}, {}});
  } else {
    append(std::span<const char>(f.bytes));
    f.bytes.clear();
  }
  if (f.tail.empty()) return;
  if (f.tail.size() >= large)
    parts_.push_back({bytes_.size(), {}, f.tail, std::move(f.owner)});
  else
    append(f.tail);
  f.tail = {};
  f.owner.reset();
}

void write_batch::append(std::vector<char>&& b) {
  if (b.size() >= large)
    parts_.push_back({bytes_.size(), std::move(b), {}, {}});
  else
    append(std::span<const char>(b));
}

void write_batch::append(write_batch&& other) {
  const std::size_t base = bytes_.size();
  append(std::span<const char>(other.bytes_));
  for (auto& p : other.parts_) {
    p.at += base;
    parts_.push_back(std::move(p));
  }
  other.bytes_.clear();
  other.parts_.clear();
}

void write_batch::clear(spare_buffer* spare) noexcept {
  bytes_.clear();
  if (spare)
    for (auto& p : parts_) spare->give(std::move(p.data));
  parts_.clear();
}

void write_header(std::vector<char>& frame, frame_type type, std::uint8_t flags, std::uint64_t call_id) {
  put_header(frame.data(), frame.size() - frame_header_size, type, flags, call_id);
}

void write_header(outgoing_frame& frame, frame_type type, std::uint8_t flags, std::uint64_t call_id) {
  put_header(frame.bytes.data(), frame.payload_size(), type, flags, call_id);
}

frame_decoder::frame_decoder(std::uint32_t max_payload, std::size_t staging_size, spare_buffer* spare)
    : max_(max_payload), spare_(spare), staging_(staging_size) {}

std::span<char> frame_decoder::prepare() {
  if (large_) {
    auto& p = large_payload_;
    if (large_filled_ == p.size()) {  // the bytes so far back the claim: room for as many more
      const std::size_t claimed = large_->payload_size;
      p.resize(std::min<std::size_t>(claimed, std::max(2 * p.size(), first_large_chunk)));
    }
    return {p.data() + large_filled_, p.size() - large_filled_};
  }
  if (begin_ != 0) {  // keep the unread bytes at the front so a frame is contiguous
    std::memmove(staging_.data(), staging_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return {staging_.data() + end_, staging_.size() - end_};
}

void frame_decoder::commit(std::size_t n) {
  if (large_)
    large_filled_ += n;
  else
    end_ += n;
}

decode_status frame_decoder::next(frame& out) {
  if (large_) return next_large(out);
  const std::size_t available = end_ - begin_;
  if (available < frame_header_size) return decode_status::need_more;
  frame_header h;
  std::memcpy(&h, staging_.data() + begin_, sizeof h);
  if (!is_known(h.type)) {
    bad_ = h;
    return decode_status::unknown_type;
  }
  if (h.payload_size > max_) {
    bad_ = h;
    return decode_status::too_large;
  }
  const char* payload = staging_.data() + begin_ + frame_header_size;
  const std::size_t buffered = available - frame_header_size;
  if (buffered >= h.payload_size) {
    // From the buffer, not from h: a 16-byte load of h's two 8-byte stores would stall.
    std::memcpy(&out.header, staging_.data() + begin_, sizeof out.header);
    out.payload = {payload, h.payload_size};
    begin_ += frame_header_size + h.payload_size;
    if (begin_ == end_) begin_ = end_ = 0;
    return decode_status::frame;
  }
  if (frame_header_size + h.payload_size <= staging_.size()) return decode_status::need_more;
  return start_large(h, payload, buffered);
}

[[gnu::noinline]] decode_status frame_decoder::next_large(frame& out) {
  if (large_filled_ < large_->payload_size) return decode_status::need_more;
  out.header = *large_;
  out.owned = std::move(large_payload_);
  large_payload_ = {};
  out.payload = out.owned;
  large_.reset();
  return decode_status::frame;
}

// Too big for the staging buffer: the frame gets its own vector, read into directly. The
// spare buffer is memory this side already has; otherwise the vector grows as bytes
// arrive, so a header claiming much and followed by little costs little.
[[gnu::noinline]] decode_status frame_decoder::start_large(const frame_header& h, const char* payload,
                                                           std::size_t buffered) {
  large_ = h;
  large_payload_ = {};
  if (spare_) {
    large_payload_ = spare_->take();
    // Growing it would copy its old bytes; a fresh buffer costs the same without that.
    if (large_payload_.capacity() < h.payload_size) large_payload_ = {};
  }
  const std::size_t first = large_payload_.capacity() >= h.payload_size
                                ? h.payload_size
                                : std::min<std::size_t>(h.payload_size, std::max(buffered, first_large_chunk));
  large_payload_.resize(first);  // only bytes beyond the reused ones are zeroed
  std::memcpy(large_payload_.data(), payload, buffered);
  large_filled_ = buffered;
  begin_ = end_ = 0;
  return decode_status::need_more;
}

bool frame_decoder::mid_frame() const noexcept { return large_.has_value() || end_ != begin_; }

}  // namespace malt::detail
