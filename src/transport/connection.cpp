#include "transport/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

namespace malt::detail {

namespace asio = boost::asio;

connection::connection(stream_socket socket, std::uint32_t max_frame_size)
    : socket_(std::move(socket)), max_(max_frame_size) {}

void connection::send(outgoing_frame frame) {
  std::lock_guard lock(m_);
  queue(std::move(frame));
}

void connection::send(std::vector<outgoing_frame>& batch) {
  std::lock_guard lock(m_);
  for (auto& f : batch) queue_.push_back({std::move(f), 0});
  batch.clear();
  if (!writing_ && !queue_.empty()) {
    writing_ = true;
    start_write();
  }
}

void connection::queue(outgoing_frame frame) {
  queue_.push_back({std::move(frame), 0});
  if (!writing_) {
    writing_ = true;
    start_write();
  }
}

void connection::send_at_once(outgoing_frame frame) {
  std::unique_lock lock(m_);
  if (!open_) return;  // the reader has seen or will see the end
  std::size_t sent = 0;
  if (!writing_) {
    sent = write_now(frame);
    if (sent == frame.bytes.size() + frame.tail.size()) {
      lock.unlock();
      spare_.give(std::move(frame.bytes));
      return;
    }
  }
  queue_.push_back({std::move(frame), sent});
  if (!writing_) {  // the socket is full (or failed): the I/O thread waits until it can write
    writing_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      std::lock_guard lock(self->m_);
      self->start_write();
    });
  }
}

std::size_t connection::write_now(const outgoing_frame& frame) noexcept {
  iovec parts[2] = {{const_cast<char*>(frame.bytes.data()), frame.bytes.size()},
                    {const_cast<char*>(frame.tail.data()), frame.tail.size()}};
  msghdr msg{};
  msg.msg_iov = parts;
  msg.msg_iovlen = frame.tail.empty() ? 1 : 2;
  const ssize_t n = ::sendmsg(socket_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  return n > 0 ? static_cast<std::size_t>(n) : 0;  // an error shows again in the queued write
}

void connection::start_write() {
  if (!open_) {
    queue_.clear();
    writing_ = false;
    return;
  }
  in_flight_ = queue_.size();
  buffers_.clear();
  for (const auto& q : queue_) {
    std::size_t skip = q.sent;
    for (auto part : {asio::buffer(q.frame.bytes), asio::buffer(q.frame.tail)}) {
      if (part.size() > skip) buffers_.push_back(part + skip);
      skip -= std::min(skip, part.size());
    }
  }
  // Asio tries a reactive socket's write at once, so the first frame usually leaves here.
  asio::async_write(socket_, buffers_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    self->on_write_done(ec);
  });
}

void connection::on_write_done(boost::system::error_code ec) {
  {
    std::lock_guard lock(m_);
    if (ec) {
      queue_.clear();
    } else {
      for (std::size_t i = 0; i < in_flight_; ++i) {
        spare_.give(std::move(queue_.front().frame.bytes));
        queue_.pop_front();
      }
    }
    in_flight_ = 0;
    if (queue_.empty())
      writing_ = false;
    else
      start_write();
  }
  if (ec) close();  // the reader sees the end and the owner fails what is pending
  if (write_end_) write_end_();
}

asio::awaitable<read_end> connection::read_frames(std::function<void(frame&&)> on_frame) {
  frame_decoder decoder(max_, default_staging_size, &spare_);
  frame f;
  for (;;) {
    auto space = decoder.prepare();
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(space.data(), space.size()),
                                                    asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::eof)
        co_return decoder.mid_frame() ? read_end{read_end::truncated, "the stream ended inside a frame"}
                                      : read_end{read_end::eof, {}};
      co_return read_end{read_end::io_error, ec.message()};
    }
    decoder.commit(n);
    for (;;) {
      switch (decoder.next(f)) {
        case decode_status::frame: on_frame(std::move(f)); continue;
        case decode_status::need_more: break;
        case decode_status::too_large:
          co_return read_end{read_end::too_large, "a frame of " + std::to_string(decoder.bad_header().payload_size) +
                                                      " bytes is over the limit of " + std::to_string(max_)};
        case decode_status::unknown_type:
          co_return read_end{read_end::unknown_type,
                             "unknown frame type " + std::to_string(int(decoder.bad_header().type))};
      }
      break;
    }
  }
}

void connection::close() noexcept {
  std::lock_guard lock(m_);  // no thread writes to the descriptor while it closes
  open_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(stream_socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace malt::detail
