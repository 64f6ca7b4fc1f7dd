#include "serve/launched_streams.hpp"

#include "protocol/frame.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

namespace malt::detail {
namespace asio = boost::asio;

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("malt worker: " + what + ": " + std::strerror(errno));
}

int duplicate(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) fail("cannot take over descriptor " + std::to_string(fd));
  return copy;
}

bool same_socket(int a, int b) {
  struct stat sa {}, sb {};
  return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && S_ISSOCK(sa.st_mode) && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

// The pipe whose write end becomes fd; returns the read end.
int capture(int fd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) fail("pipe");
  if (::dup2(p[1], fd) < 0) fail("dup2");
  ::close(p[1]);
  return p[0];
}

// Polls for nothing but the hang-up, which poll always reports: a thread that sleeps until
// the channel's other end has gone. The normal way out (end of stream, exit) gets a moment
// first; a worker whose I/O thread is held by a call never takes it.
void watch_for_hangup(int fd) {
  std::thread([fd] {
    pollfd p{fd, 0, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::_exit(1);
  }).detach();
}

}  // namespace

// One captured stream: what is read from its pipe goes to the host as output frames. It
// reads on only once the channel has taken what it sent, so that a worker printing faster
// than the channel carries is held at its write, as a terminal holds a process, and its
// memory does not fill with frames.
struct launched_streams::relay : std::enable_shared_from_this<relay> {
  asio::posix::stream_descriptor pipe;
  int stream;  // 1 or 2
  std::shared_ptr<connection> channel;
  std::vector<char> buffer;  // at most a frame's payload
  bool held = false;         // waits for the channel's write to end
  bool reading = false;      // a read is under way, or has read and waits to run its handler
  bool stopped = false;      // the process is leaving: no more reads of the relay's own

  relay(const asio::any_io_executor& ex, int fd, int which, std::shared_ptr<connection> c)
      : pipe(ex, fd), stream(which), channel(std::move(c)), buffer(std::min<std::size_t>(64 * 1024, channel->max_frame_size())) {}

  void send(std::size_t n) {
    std::vector<char> f(frame_header_size + n);
    std::memcpy(f.data() + frame_header_size, buffer.data(), n);
    write_header(f, frame_type::output, 0, static_cast<std::uint64_t>(stream));
    channel->send(std::move(f));
  }
  void read() {
    reading = true;
    pipe.async_read_some(asio::buffer(buffer), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      self->reading = false;
      if (ec) return;
      self->send(n);
      if (self->stopped) return;
      if (self->channel->idle())
        self->read();
      else
        self->held = true;
    });
  }
  void resume() {
    if (!stopped && std::exchange(held, false)) read();
  }
  // A read can have taken bytes from the pipe and still wait for its handler to send them
  // (Asio reads at once when it can, and queues the handler): cancelling does not lose those,
  // it only ends a read that has taken nothing. Once `reading` is false, the pipe is drain's.
  void stop() {
    stopped = true;
    boost::system::error_code ignored;
    pipe.cancel(ignored);
  }
  // What is in the pipe now, without waiting; after stop() and its read's end, so that what
  // the relay read goes first and nobody else writes into the buffer.
  void drain() {
    pipe.non_blocking(true);
    for (;;) {
      const ssize_t n = ::read(pipe.native_handle(), buffer.data(), buffer.size());
      if (n <= 0) return;
      send(static_cast<std::size_t>(n));
    }
  }
};

launched_streams::launched_streams(const asio::any_io_executor& ex, std::uint32_t max_frame_size) {
  const int in = duplicate(0), out = duplicate(1);
  if (same_socket(in, out)) {
    ::close(out);
    channel_ = std::make_shared<connection>(stream_socket(ex, asio::local::stream_protocol(), in), max_frame_size);
  } else {
    channel_ = std::make_shared<connection>(ex, pipe_ends{in, out}, max_frame_size);
  }
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null < 0 || ::dup2(null, 0) < 0) fail("cannot open /dev/null as stdin");
  ::close(null);
  std::fflush(nullptr);
  out_ = std::make_shared<relay>(ex, capture(1), 1, channel_);
  err_ = std::make_shared<relay>(ex, capture(2), 2, channel_);
  channel_->on_write_end([out = std::weak_ptr<relay>(out_), err = std::weak_ptr<relay>(err_)] {
    for (const auto& r : {out.lock(), err.lock()})
      if (r) r->resume();
  });
  watch_for_hangup(in);
}

void launched_streams::start_relay() {
  out_->read();
  err_->read();
}

asio::awaitable<void> launched_streams::flush(std::chrono::milliseconds limit) {
  asio::steady_timer pause(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  auto wait_while = [&](auto busy) -> asio::awaitable<void> {
    while (busy() && std::chrono::steady_clock::now() < deadline) {
      pause.expires_after(std::chrono::milliseconds(1));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
  const auto relays_reading = [&] { return out_->reading || err_->reading; };
  const auto channel_writing = [&] { return !channel_->idle(); };
  out_->stop();
  err_->stop();
  co_await wait_while(relays_reading);
  out_->drain();
  err_->drain();
  co_await wait_while(channel_writing);
}

}  // namespace malt::detail
