#include "host/output_forwarder.hpp"

#include "process/output_sink.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <string>
#include <unistd.h>

namespace malt::detail {
namespace asio = boost::asio;
namespace {

// g++ 12 with sanitizers takes the coroutine frame's own operator delete for a mismatch
// (-Wmismatched-new-delete, a false positive fixed in later releases).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
asio::awaitable<void> forward(std::shared_ptr<asio::posix::stream_descriptor> pipe, int target_fd, std::string prefix) {
  std::string pending;
  char buf[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await pipe->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    pending.append(buf, n);
    std::string out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1)
      out.append(prefix).append(pending, start, nl - start + 1);
    pending.erase(0, start);
    if (pending.size() > max_forwarded_line) {  // a very long line goes out in pieces
      out.append(prefix).append(pending).push_back('\n');
      pending.clear();
    }
    if (!out.empty()) write_output(target_fd, out);
  }
  if (!pending.empty()) write_output(target_fd, prefix + pending + "\n");
}
#pragma GCC diagnostic pop

}  // namespace

std::shared_ptr<asio::posix::stream_descriptor> forward_output(const asio::any_io_executor& ex, int pipe_fd,
                                                              int target_fd, pid_t pid, color_mode color) {
  const bool coloured = color == color_mode::always || (color == color_mode::automatic && ::isatty(target_fd));
  std::string label = "[Worker " + std::to_string(pid) + "]:";
  std::string prefix = coloured ? (target_fd == 1 ? "\033[34m" : "\033[33m") + label + "\033[0m " : label + " ";
  auto pipe = std::make_shared<asio::posix::stream_descriptor>(ex, pipe_fd);
  asio::co_spawn(ex, forward(pipe, target_fd, std::move(prefix)), asio::detached);
  return pipe;
}

}  // namespace malt::detail
