#ifndef MALT_SRC_TRANSPORT_CONNECTION_HPP
#define MALT_SRC_TRANSPORT_CONNECTION_HPP

// One end of a host <-> worker byte stream, the same on both sides: a writer that sends a
// frame at once when the socket is idle and otherwise queues it, sending queued frames
// together in one gather write; and a reader loop that cuts what it reads into frames. It
// does not know what frames mean; its owner does.

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
  /// together next.
  void send(outgoing_frame frame);
  void send(std::vector<char> frame) { send(outgoing_frame{std::move(frame), {}, {}}); }
  /// Queues every frame of batch (leaving it empty), to go out in one write.
  void send(std::vector<outgoing_frame>& batch);
  /// From any thread: writes the frame before returning when nothing is being written and
  /// the socket takes it all, else queues it for the I/O thread. A worker's pool thread
  /// answers a call this way without waking the I/O thread.
  void send_at_once(outgoing_frame frame);
  /// Called on the I/O thread, unlocked, each time a write has ended (also when it failed:
  /// the connection is closed then).
  void on_write_end(std::function<void()> f) { write_end_ = std::move(f); }

  /// Reads and decodes frames until the stream ends, calling on_frame for each.
  boost::asio::awaitable<read_end> read_frames(std::function<void(frame&&)> on_frame);

  /// On the I/O thread.
  void close() noexcept;
  std::uint32_t max_frame_size() const noexcept { return max_; }

  /// The buffer of an earlier large frame, for the next one. Sent frames and frames read
  /// into it come back to it; so should a received frame once its payload is consumed.
  spare_buffer& spare() noexcept { return spare_; }

 private:
  struct queued {
    outgoing_frame frame;
    std::size_t sent;  // bytes already written by send_at_once
  };
  std::size_t write_now(const outgoing_frame& frame) noexcept;
  void queue(outgoing_frame frame);  // m_ held
  void start_write();  // m_ held
  void on_write_done(boost::system::error_code ec);

  stream_socket socket_;
  std::uint32_t max_;
  mutable std::mutex m_;  // guards the writer's state and the socket's closing
  bool open_ = true;
  bool writing_ = false;  // the I/O thread writes queue_; a write is under way or posted
  std::deque<queued> queue_;
  std::size_t in_flight_ = 0;  // frames at the front of queue_ being written
  std::vector<boost::asio::const_buffer> buffers_;
  std::function<void()> write_end_;
  spare_buffer spare_;
};

}  // namespace malt::detail

#endif
