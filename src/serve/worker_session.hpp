#ifndef MALT_SRC_SERVE_WORKER_SESSION_HPP
#define MALT_SRC_SERVE_WORKER_SESSION_HPP

// The worker's side of the connection: it answers the handshake, looks each call up in
// the registry, checks its signature, runs it (synchronous functions on the thread pool,
// coroutines on the io_context) and sends exactly one reply per call. It reads on, whatever
// the calls do, so the host can always reach it.

#include "serve/call_context.hpp"
#include "transport/connection.hpp"
#include "serve/thread_pool.hpp"

#include "lua/evaluator.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <functional>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace malt::detail {

struct call_job;

class worker_session : public std::enable_shared_from_this<worker_session> {
 public:
  /// on_exit ends things when the host asks the worker to exit or goes away: a worker
  /// process stops its own workers and exits; an in-process worker only stops serving.
  using exit_hook = std::function<void(worker_session&, int code)>;
  worker_session(boost::asio::any_io_executor ex, stream_socket socket, std::uint32_t max_frame_size,
                 const evaluator_settings& lua, exit_hook on_exit);
  void start();
  /// Stops reading and answering.
  void close() noexcept { conn_->close(); }

 private:
  void on_frame(frame&& f);
  void dispatch(frame&& f);
  void run_sync(const std::shared_ptr<call_job>& job);
  /// Sends the reply; on the I/O thread or the pool thread that ran the call.
  void finish(const std::shared_ptr<call_job>& job, bool on_pool_thread);
  void interrupt(std::uint64_t id);
  void exit(int code);

  boost::asio::any_io_executor ex_;
  exit_hook on_exit_;
  std::shared_ptr<evaluator> evaluator_;
  std::shared_ptr<connection> conn_;
  thread_pool pool_;
  std::mutex running_m_;  // pool threads finish calls too
  std::unordered_map<std::uint64_t, std::shared_ptr<call_job>> running_;  // by call id
  bool greeted_ = false;
  bool exiting_ = false;
};

}  // namespace malt::detail

#endif
