#ifndef MALT_SRC_TRANSPORT_CONNECTION_HPP
#define MALT_SRC_TRANSPORT_CONNECTION_HPP

// One end of a host <-> worker byte stream, the same on both sides: a socket both ways (the
// socketpair of a worker the host starts), or a pipe each way (a launched worker's stdin
// and stdout, as ssh gives them). A writer that gathers
// frames into a batch and sends it in one write, at once when the socket is idle, and a
// reader loop that cuts what it reads into frames. While the reader hands out the frames
// of one read, what is sent waits, and goes out in one write after them: a worker answers
// a read's worth of requests together. Two batches take turns (one filling, one being
// written) and keep their memory, so steady traffic allocates nothing. It does not know
// what frames mean; its owner does.

#include "protocol/frame.hpp"
#include "transport/handler_memory.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
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

/// The descriptors of a stream made of two pipes: what is read, what is written.
struct pipe_ends {
  int in = -1;
  int out = -1;
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(stream_socket socket, std::uint32_t max_frame_size);
  /// Takes both descriptors over. A pipe has no MSG_NOSIGNAL: writing after its reader
  /// has gone raises SIGPIPE, which ends a worker whose host has gone, as it should.
  connection(const boost::asio::any_io_executor& ex, pipe_ends pipes, std::uint32_t max_frame_size);

  /// On the I/O thread: fill(batch) appends frames to the batch being filled, under the
  /// writer's lock. Unless a write is under way or (but at_once) the reader is handing
  /// out a read's frames, the write starts before send_with returns; otherwise the frames
  /// go out with the next write.
  template <class Fill>
  void send_with(Fill&& fill, bool at_once = false) {
    std::lock_guard lock(m_);
    fill(filling_);
    if (!writing_ && (!reading_ || at_once) && !filling_.empty()) start_write();
  }
  /// Queues a frame (header included), on the I/O thread, as send_with does.
  void send(outgoing_frame&& frame) {
    send_with([&](write_batch& b) { b.append(std::move(frame)); });
  }
  void send(std::vector<char>&& frame) { send(outgoing_frame{std::move(frame), {}, {}}); }
  /// From any thread: writes the frame before returning when nothing is being written or
  /// waits to be, and the socket takes it all; else queues it for the I/O thread. A
  /// worker's pool thread answers a call this way without waking the I/O thread. The
  /// frame's memory stays with it.
  void send_at_once(outgoing_frame& frame);
  /// Called on the I/O thread, unlocked, each time a write has ended (also when it failed:
  /// the connection is closed then).
  void on_write_end(std::function<void()> f) { write_end_ = std::move(f); }

  /// Reads and decodes frames until the stream ends, calling on_frame for each (its
  /// payload is valid until on_frame returns, unless it takes the frame's owned bytes),
  /// then on_read_end once the frames of a read are handled.
  boost::asio::awaitable<read_end> read_frames(std::function<void(frame&)> on_frame,
                                               std::function<void()> on_read_end = {});

  /// On the I/O thread.
  void close() noexcept;
  bool is_open() const {
    std::lock_guard lock(m_);
    return open_;
  }
  /// Nothing waits to be written, nothing is being written (a worker about to exit waits
  /// for its last frames this way).
  bool idle() const {
    std::lock_guard lock(m_);
    return !writing_ && filling_.empty();
  }
  std::uint32_t max_frame_size() const noexcept { return max_; }

  /// The buffer of an earlier large frame, for the next one. Sent frames and frames read
  /// into it come back to it; so should a received frame once its payload is consumed.
  spare_buffer& spare() noexcept { return spare_; }

 private:
  std::size_t write_now(const outgoing_frame& frame) noexcept;
  void start_write();  // m_ held
  void on_write_done(boost::system::error_code ec);

  stream_socket socket_;                            // unless over pipes
  boost::asio::posix::stream_descriptor pipe_in_, pipe_out_;  // if over pipes
  bool over_pipes_ = false;
  std::uint32_t max_;
  mutable std::mutex m_;  // guards the writer's state and the socket's closing
  bool open_ = true;
  bool writing_ = false;  // the I/O thread writes writing_batch_; a write is under way or posted
  bool reading_ = false;  // the reader is handing out the frames of one read
  write_batch filling_, being_written_;
  std::vector<boost::asio::const_buffer> buffers_;
  std::function<void()> write_end_;
  spare_buffer spare_;
  handler_memory write_memory_, read_memory_, kick_memory_;  // kick: send_at_once's post of a write
};

}  // namespace malt::detail

#endif
