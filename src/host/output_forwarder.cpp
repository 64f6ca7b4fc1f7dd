#include "host/output_forwarder.hpp"

#include "process/output_sink.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace malt::detail {
namespace asio = boost::asio;
namespace {

// g++ 12 with sanitizers takes the coroutine frame's own operator delete for a mismatch
// (-Wmismatched-new-delete, a false positive fixed in later releases).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
asio::awaitable<void> forward(std::shared_ptr<asio::posix::stream_descriptor> pipe, forwarded_lines lines) {
  char buf[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await pipe->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    lines.feed(std::span<const char>(buf, n));
  }
  lines.finish();
}
#pragma GCC diagnostic pop

}  // namespace

forwarded_lines::forwarded_lines(output_stream stream, pid_t pid, const worker_options& options)
    : target_fd_(stream == output_stream::out ? 1 : 2), stream_(stream), pid_(pid), on_output_(options.on_output) {
  const bool coloured = options.color == color_mode::always ||
                        (options.color == color_mode::automatic && ::isatty(target_fd_));
  std::string label = "[Worker " + std::to_string(pid) + "]:";
  prefix_ = coloured ? (target_fd_ == 1 ? "\033[34m" : "\033[33m") + label + "\033[0m " : label + " ";
}

void forwarded_lines::feed(std::span<const char> bytes) {
  pending_.append(bytes.data(), bytes.size());
  std::size_t start = 0;
  for (std::size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1)
    line(std::string_view(pending_).substr(start, nl - start));
  pending_.erase(0, start);
  if (pending_.size() > max_forwarded_line) {  // a very long line goes out in pieces
    line(pending_);
    pending_.clear();
  }
  flush();
}

void forwarded_lines::finish() {
  if (!pending_.empty()) line(pending_);
  pending_.clear();
  flush();
}

// To the host's stream, prefixed, in one write per read; or to the callback.
void forwarded_lines::line(std::string_view text) {
  if (!on_output_) {
    out_.append(prefix_).append(text).push_back('\n');
    return;
  }
  try {
    on_output_(stream_, pid_, text);
  } catch (const std::exception& e) {
    write_output(2, std::string("malt: worker_options::on_output threw: ") + e.what() + "\n");
  } catch (...) {
    write_output(2, "malt: worker_options::on_output threw\n");
  }
}

void forwarded_lines::flush() {
  if (!out_.empty()) write_output(target_fd_, out_);
  out_.clear();
}

std::shared_ptr<asio::posix::stream_descriptor> forward_output(const asio::any_io_executor& ex, int pipe_fd,
                                                              output_stream stream, pid_t pid,
                                                              const worker_options& options) {
  auto pipe = std::make_shared<asio::posix::stream_descriptor>(ex, pipe_fd);
  asio::co_spawn(ex, forward(pipe, forwarded_lines(stream, pid, options)), asio::detached);
  return pipe;
}

}  // namespace malt::detail
