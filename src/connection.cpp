#include "connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace malt::detail {

namespace asio = boost::asio;

connection::connection(stream_socket socket, std::uint32_t max_frame_size)
    : socket_(std::move(socket)), max_(max_frame_size) {}

void connection::send(outgoing_frame frame, std::uint64_t notify_id) {
  queue_.push_back({std::move(frame), notify_id});
  if (in_flight_ == 0) start_write();
}

void connection::start_write() {
  if (!socket_.is_open()) {
    queue_.clear();
    return;
  }
  in_flight_ = queue_.size();
  buffers_.clear();
  for (const auto& q : queue_) {
    buffers_.emplace_back(asio::buffer(q.frame.bytes));
    if (!q.frame.tail.empty()) buffers_.emplace_back(asio::buffer(q.frame.tail));
  }
  // Asio tries a reactive socket's write at once, so the first frame usually leaves here.
  asio::async_write(socket_, buffers_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
    if (ec) {
      self->in_flight_ = 0;
      self->queue_.clear();
      self->close();  // the reader sees the end and the owner fails what is pending
      return;
    }
    for (std::size_t i = 0; i < self->in_flight_; ++i) {
      auto& sent = self->queue_.front();
      if (sent.notify_id != 0 && self->written_) self->written_(sent.notify_id);
      self->spare_.give(std::move(sent.frame.bytes));
      self->queue_.pop_front();
    }
    self->in_flight_ = 0;
    if (!self->queue_.empty()) self->start_write();
  });
}

bool connection::withdraw(std::uint64_t notify_id) noexcept {
  for (auto it = queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_); it != queue_.end(); ++it)
    if (it->notify_id == notify_id) {
      queue_.erase(it);
      return true;
    }
  return false;
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
  boost::system::error_code ignored;
  socket_.shutdown(stream_socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace malt::detail
