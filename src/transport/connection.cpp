#include "transport/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <tuple>
#include <sys/socket.h>
#include <sys/uio.h>

namespace malt::detail {

namespace asio = boost::asio;

connection::connection(stream_socket socket, std::uint32_t max_frame_size)
    : socket_(std::move(socket)),
      pipe_in_(socket_.get_executor()),
      pipe_out_(socket_.get_executor()),
      max_(max_frame_size) {}

connection::connection(const asio::any_io_executor& ex, pipe_ends pipes, std::uint32_t max_frame_size)
    : socket_(ex), pipe_in_(ex, pipes.in), pipe_out_(ex, pipes.out), over_pipes_(true), max_(max_frame_size) {
  // write_now writes from any thread without waiting.
  ::fcntl(pipes.out, F_SETFL, ::fcntl(pipes.out, F_GETFL) | O_NONBLOCK);
}

void connection::send_at_once(outgoing_frame& frame) {
  std::unique_lock lock(m_);
  if (!open_) return;  // the reader has seen or will see the end
  const bool idle = !writing_ && filling_.empty();
  if (idle) {
    const std::size_t sent = write_now(frame);
    if (sent == frame.bytes.size() + frame.tail.size()) return;
    // The socket is full (or failed): the rest goes from the I/O thread, when it can.
    const std::size_t from_bytes = std::min(sent, frame.bytes.size());
    filling_.append(std::span<const char>(frame.bytes).subspan(from_bytes));
    const std::size_t from_tail = sent - from_bytes;
    if (from_tail < frame.tail.size()) {
      outgoing_frame rest{{}, frame.tail.subspan(from_tail), std::move(frame.owner)};
      filling_.append(std::move(rest));
    }
  } else {
    outgoing_frame copy{{}, frame.tail, frame.owner};
    filling_.append(std::span<const char>(frame.bytes));
    if (!copy.tail.empty()) filling_.append(std::move(copy));
  }
  if (!writing_ && !reading_) {  // the I/O thread starts the write; a reader starts it when its read is done
    writing_ = true;
    post_in(kick_memory_, socket_.get_executor(), [self = shared_from_this()] {
      std::lock_guard lock(self->m_);
      self->writing_ = false;
      if (!self->filling_.empty()) self->start_write();
    });
  }
}

std::size_t connection::write_now(const outgoing_frame& frame) noexcept {
  iovec parts[2] = {{const_cast<char*>(frame.bytes.data()), frame.bytes.size()},
                    {const_cast<char*>(frame.tail.data()), frame.tail.size()}};
  const int count = frame.tail.empty() ? 1 : 2;
  ssize_t n = 0;
  if (over_pipes_) {
    n = ::writev(pipe_out_.native_handle(), parts, count);
  } else {
    msghdr msg{};
    msg.msg_iov = parts;
    msg.msg_iovlen = static_cast<std::size_t>(count);
    n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  return n > 0 ? static_cast<std::size_t>(n) : 0;  // an error shows again in the queued write
}

void connection::start_write() {
  if (!open_) {
    filling_.clear();
    writing_ = false;
    return;
  }
  writing_ = true;
  std::swap(filling_, being_written_);
  buffers_.clear();
  being_written_.gather(buffers_, [](const char* p, std::size_t n) { return asio::const_buffer(p, n); });
  // Asio tries a reactive socket's write at once, so the batch usually leaves here. The
  // operation keeps a copy of the buffer sequence: a span's costs nothing.
  auto done = asio::bind_allocator(handler_allocator<void>(write_memory_),
                                   [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                     self->on_write_done(ec);
                                   });
  const std::span<const asio::const_buffer> buffers(buffers_);
  if (over_pipes_)
    asio::async_write(pipe_out_, buffers, std::move(done));
  else
    asio::async_write(socket_, buffers, std::move(done));
}

void connection::on_write_done(boost::system::error_code ec) {
  {
    std::lock_guard lock(m_);
    being_written_.clear(&spare_);
    if (ec) filling_.clear();
    writing_ = false;
    if (!filling_.empty() && !reading_) start_write();
  }
  if (ec) close();  // the reader sees the end and the owner fails what is pending
  if (write_end_) write_end_();
}

asio::awaitable<read_end> connection::read_frames(std::function<void(frame&)> on_frame,
                                                 std::function<void()> on_read_end) {
  frame_decoder decoder(max_, default_staging_size, &spare_);
  frame f;
  // What is sent while a read's frames are handled goes out in one write after them.
  auto read_done = [&] {
    if (on_read_end) on_read_end();
    std::lock_guard lock(m_);
    reading_ = false;
    if (!writing_ && !filling_.empty()) start_write();
  };
  for (;;) {
    auto space = decoder.prepare();
    const auto into = asio::buffer(space.data(), space.size());
    auto token = asio::bind_allocator(handler_allocator<void>(read_memory_), asio::as_tuple(asio::use_awaitable));
    boost::system::error_code ec;
    std::size_t n = 0;
    if (over_pipes_)
      std::tie(ec, n) = co_await pipe_in_.async_read_some(into, token);
    else
      std::tie(ec, n) = co_await socket_.async_read_some(into, token);
    if (ec) {
      if (ec == asio::error::eof)
        co_return decoder.mid_frame() ? read_end{read_end::truncated, "the stream ended inside a frame"}
                                      : read_end{read_end::eof, {}};
      co_return read_end{read_end::io_error, ec.message()};
    }
    decoder.commit(n);
    {
      std::lock_guard lock(m_);
      reading_ = true;
    }
    for (;;) {
      const auto status = decoder.next(f);
      if (status == decode_status::frame) {
        on_frame(f);
        if (!f.owned.empty()) spare_.give(std::move(f.owned));  // unless on_frame took it
        f.owned = {};
        continue;
      }
      read_done();
      if (status == decode_status::need_more) break;
      if (status == decode_status::too_large)
        co_return read_end{read_end::too_large, "a frame of " + std::to_string(decoder.bad_header().payload_size) +
                                                    " bytes is over the limit of " + std::to_string(max_)};
      co_return read_end{read_end::unknown_type,
                         "unknown frame type " + std::to_string(int(decoder.bad_header().type))};
    }
  }
}

void connection::close() noexcept {
  std::lock_guard lock(m_);  // no thread writes to the descriptor while it closes
  open_ = false;
  boost::system::error_code ignored;
  if (over_pipes_) {
    pipe_in_.close(ignored);
    pipe_out_.close(ignored);
    return;
  }
  socket_.shutdown(stream_socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace malt::detail
