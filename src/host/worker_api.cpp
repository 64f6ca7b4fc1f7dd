// The lifecycle functions of <malt/worker.hpp>, on the host's worker_impl.
#include "host/live_workers.hpp"
#include "host/worker_impl.hpp"

#include <malt/detail/worker_access.hpp>

#include <boost/asio/this_coro.hpp>

namespace malt {
namespace asio = boost::asio;

// An empty (default-constructed) worker has no process: it answers as one that has ended.
pid_t worker::pid() const noexcept { return impl_ ? impl_->pid() : -1; }
pid_t worker::launcher_pid() const noexcept { return impl_ ? impl_->launcher_pid() : -1; }
std::string worker::summary() const { return impl_ ? impl_->summary() : std::string(detail::empty_worker_summary); }
containment worker::containment() const noexcept { return impl_ ? impl_->containment() : containment::process_group; }
asio::any_io_executor worker::get_executor() const noexcept { return impl_ ? impl_->executor() : asio::any_io_executor(); }
int worker::stdout_fd() const noexcept { return impl_ ? impl_->raw_stdout() : -1; }
int worker::stderr_fd() const noexcept { return impl_ ? impl_->raw_stderr() : -1; }
std::optional<exit_status> worker::exit_status() const { return impl_ ? impl_->exit_status() : std::nullopt; }
std::size_t worker::calls_in_flight() const noexcept { return impl_ ? impl_->calls().in_flight() : 0; }

namespace detail {

void wait_exit(const std::shared_ptr<worker_impl>& w, exit_handler handler) {
  if (!w) throw_empty_worker();
  w->wait_exit(std::move(handler));
}

void throw_empty_worker() {
  throw terminated_worker_exception(std::string(empty_worker_summary), std::nullopt, std::nullopt,
                                    "it was default-constructed; spawn_worker gives a worker");
}

namespace {
asio::awaitable<worker> spawn(worker_options options) {
  if (started_as_unserved_worker())
    throw spawn_error(errc::spawn_failed,
                      "this program was started as a malt worker, but its main() does not call "
                      "malt::maybe_run_worker(argc, argv) first");
  auto ex = co_await asio::this_coro::executor;
  auto child = spawn_child(options);
  auto impl = std::make_shared<worker_impl>(ex, std::move(child), std::move(options));
  impl->start();
  co_await impl->finish_startup();
  co_return worker_access::make(user_handle(std::move(impl)));
}
}  // namespace
}  // namespace detail

// Not a coroutine itself: g++ 12 copies a prvalue argument of a coroutine bitwise when the
// call stands in another coroutine's co_await, so options reach the coroutine as an xvalue.
asio::awaitable<worker> spawn_worker(const worker_options& options) { return detail::spawn(options); }

bool isrunning(const worker& w) noexcept {
  const auto& impl = detail::worker_access::impl(w);
  return impl && impl->running();
}

asio::awaitable<bool> stop(worker& w) {
  const auto impl = detail::worker_access::impl(w);
  if (!impl) co_return true;  // nothing runs
  co_return co_await impl->stop();
}

void kill(const worker& w, int signo) noexcept {
  if (const auto& impl = detail::worker_access::impl(w)) impl->signal(signo);
}

void interrupt(const worker& w) {
  if (const auto& impl = detail::worker_access::impl(w)) impl->interrupt_all();
}

std::vector<pid_t> running_workers() { return detail::live_pids(); }

}  // namespace malt
