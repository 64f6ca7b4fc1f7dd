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
// Where the lines go: the host's stream, prefixed, in one write per read; or a callback.
struct line_sink {
  int target_fd;
  std::string prefix;
  output_stream stream;
  pid_t pid;
  std::function<void(output_stream, pid_t, std::string_view)> on_output;
  std::string out;

  void line(std::string_view text) {
    if (!on_output) {
      out.append(prefix).append(text).push_back('\n');
      return;
    }
    try {
      on_output(stream, pid, text);
    } catch (const std::exception& e) {
      write_output(2, std::string("malt: worker_options::on_output threw: ") + e.what() + "\n");
    } catch (...) {
      write_output(2, "malt: worker_options::on_output threw\n");
    }
  }
  void flush() {
    if (!out.empty()) write_output(target_fd, out);
    out.clear();
  }
};

asio::awaitable<void> forward(std::shared_ptr<asio::posix::stream_descriptor> pipe, line_sink sink) {
  std::string pending;
  char buf[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await pipe->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    pending.append(buf, n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      sink.line(std::string_view(pending).substr(start, nl - start));
    pending.erase(0, start);
    if (pending.size() > max_forwarded_line) {  // a very long line goes out in pieces
      sink.line(pending);
      pending.clear();
    }
    sink.flush();
  }
  if (!pending.empty()) sink.line(pending);
  sink.flush();
}
#pragma GCC diagnostic pop

}  // namespace

std::shared_ptr<asio::posix::stream_descriptor> forward_output(const asio::any_io_executor& ex, int pipe_fd,
                                                              output_stream stream, pid_t pid,
                                                              const worker_options& options) {
  const int target_fd = stream == output_stream::out ? 1 : 2;
  const bool coloured = options.color == color_mode::always ||
                        (options.color == color_mode::automatic && ::isatty(target_fd));
  std::string label = "[Worker " + std::to_string(pid) + "]:";
  std::string prefix = coloured ? (target_fd == 1 ? "\033[34m" : "\033[33m") + label + "\033[0m " : label + " ";
  auto pipe = std::make_shared<asio::posix::stream_descriptor>(ex, pipe_fd);
  asio::co_spawn(ex, forward(pipe, line_sink{target_fd, std::move(prefix), stream, pid, options.on_output, {}}),
                 asio::detached);
  return pipe;
}

}  // namespace malt::detail
