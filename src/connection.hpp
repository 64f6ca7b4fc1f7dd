#ifndef MALT_SRC_CONNECTION_HPP
#define MALT_SRC_CONNECTION_HPP

// One end of a host <-> worker byte stream, the same on both sides: a writer that sends a
// frame at once when the socket is idle and otherwise queues it, sending queued frames
// together in one gather write; and a reader loop that decodes every frame a read brought
// in. It does not know what frames mean; its owner does.

#include "protocol/frame.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace malt::detail {

using stream_socket = boost::asio::local::stream_protocol::socket;

/// Why a reader loop ended.
struct read_end {
  enum kind { eof, truncated, too_large, unknown_type, io_error } what = eof;
  std::string message;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(stream_socket socket, std::uint32_t max_frame_size);

  /// Queues a frame (header included), on the I/O thread. When nothing is being written the
  /// write starts before send returns; frames queued while a write is under way go out
  /// together next. written(notify_id) is called once the frame is on the wire, if
  /// notify_id != 0, on the I/O thread with the writer locked: it must not send.
  void send(outgoing_frame frame, std::uint64_t notify_id = 0);
  /// From any thread: writes the frame before returning when nothing is being written and
  /// the socket takes it all, else queues it for the I/O thread. A worker's pool thread
  /// answers a call this way without waking the I/O thread.
  void send_at_once(outgoing_frame frame);
  void send(std::vector<char> frame, std::uint64_t notify_id = 0) { send(outgoing_frame{std::move(frame), {}, {}}, notify_id); }
  /// Sends frame as send does if the queue is empty or stays within limit bytes with it;
  /// else leaves frame as it is and returns false.
  bool send_if_room(std::vector<char>& frame, std::uint64_t notify_id, std::size_t limit);
  void on_written(std::function<void(std::uint64_t)> f) { written_ = std::move(f); }
  /// Called on the I/O thread, unlocked, each time a write has made room in the queue.
  void on_room(std::function<void()> f) { room_ = std::move(f); }
  /// Bytes handed to send and not yet written.
  std::size_t queued_bytes() const noexcept;

  /// Reads and decodes frames until the stream ends, calling on_frame for each.
  boost::asio::awaitable<read_end> read_frames(std::function<void(frame&&)> on_frame);

  /// Takes back a queued frame that no write has started on. False if it is (being) sent.
  bool withdraw(std::uint64_t notify_id) noexcept;

  /// On the I/O thread.
  void close() noexcept;
  std::uint32_t max_frame_size() const noexcept { return max_; }

  /// The buffer of an earlier large frame, for the next one. Sent frames and frames read
  /// into it come back to it; so should a received frame once its payload is consumed.
  spare_buffer& spare() noexcept { return spare_; }

 private:
  struct queued {
    outgoing_frame frame;
    std::uint64_t notify_id;
    std::size_t sent;  // bytes already written by send
  };
  std::size_t write_now(const outgoing_frame& frame) noexcept;
  void queue(outgoing_frame frame, std::uint64_t notify_id);  // m_ held
  void start_write();  // m_ held
  void on_write_done(boost::system::error_code ec);

  stream_socket socket_;
  std::uint32_t max_;
  mutable std::mutex m_;  // guards the writer's state and the socket's closing
  bool open_ = true;
  bool writing_ = false;  // the I/O thread writes queue_; a write is under way or posted
  std::deque<queued> queue_;
  std::size_t in_flight_ = 0;  // frames at the front of queue_ being written
  std::size_t queued_bytes_ = 0;
  std::vector<boost::asio::const_buffer> buffers_;
  std::function<void(std::uint64_t)> written_;
  std::function<void()> room_;
  spare_buffer spare_;
};

}  // namespace malt::detail

#endif
