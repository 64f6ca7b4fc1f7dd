// in_process_worker::start: the host's worker_impl and a worker session in this one
// process, joined by a socketpair. The one file of host/ that includes serve/: an
// in-process worker is both ends.
#include "host/worker_impl.hpp"
#include "serve/worker_session.hpp"

#include <malt/detail/worker_access.hpp>

#include <boost/asio/this_coro.hpp>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace malt {
namespace asio = boost::asio;

namespace detail {
void register_builtins();

namespace {
asio::awaitable<in_process_worker> start_in_process(worker_options options) {
  register_builtins();  // this process serves the worker's built-in functions too
  auto ex = co_await asio::this_coro::executor;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    throw spawn_error(errc::spawn_failed, std::string("socketpair: ") + std::strerror(errno));
  child_process none;  // no process: the session below is the worker
  none.pid = ::getpid();
  none.socket = unique_fd(sv[0]);
  auto conn = std::make_shared<connection>(stream_socket(ex, asio::local::stream_protocol(), sv[1]),
                                           options.max_frame_size);
  auto session = std::make_shared<worker_session>(
      ex, std::move(conn),
      evaluator_settings{options.lua_libraries == lua_libraries::safe, options.lua_memory_limit},
      [](worker_session& s, int) { s.close(); }, false);
  session->start();
  auto impl = std::make_shared<worker_impl>(ex, std::move(none), std::move(options));
  impl->start();
  co_await impl->finish_startup();
  co_return worker_access::make<in_process_worker>(user_handle(std::move(impl)));
}
}  // namespace
}  // namespace detail

asio::awaitable<in_process_worker> in_process_worker::start(const worker_options& options) {
  return detail::start_in_process(options);
}

}  // namespace malt
