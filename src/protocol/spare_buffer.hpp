#ifndef MALT_SRC_PROTOCOL_SPARE_BUFFER_HPP
#define MALT_SRC_PROTOCOL_SPARE_BUFFER_HPP

// The memory of a large frame, kept by a connection for its next large frame. Fresh pages
// cost more than the copy into them (100 MB: ~55 ms page faults and zeroing against
// ~12 ms of copying into touched memory), so a request is encoded into, and a large frame
// read into, the buffer of the one before. It holds one buffer, the largest given, until
// the connection goes: like a database client's read buffer, it stays as large as the
// largest message (at most max_frame_size).

#include <cstddef>
#include <mutex>
#include <vector>

namespace malt::detail {

class spare_buffer {
 public:
  /// Smaller buffers are not worth keeping: a frame this small is read into the staging
  /// buffer, and fresh small allocations come from memory the allocator has kept.
  static constexpr std::size_t min_capacity = 64 * 1024;

  /// The kept buffer, its bytes as they were (the taker resizes or clears it), or an
  /// empty vector.
  std::vector<char> take() noexcept {
    std::lock_guard lock(m_);
    return std::move(kept_);  // leaves kept_ empty
  }

  /// Keeps b if it is the largest offered since the last take; frees it otherwise.
  void give(std::vector<char>&& b) noexcept {
    if (b.capacity() < min_capacity) return;
    std::vector<char> dropped;  // freed outside the lock
    std::lock_guard lock(m_);
    if (b.capacity() > kept_.capacity()) {
      dropped = std::move(kept_);
      kept_ = std::move(b);
    }
  }

 private:
  std::mutex m_;
  std::vector<char> kept_;
};

}  // namespace malt::detail

#endif
