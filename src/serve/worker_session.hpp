#ifndef MALT_SRC_SERVE_WORKER_SESSION_HPP
#define MALT_SRC_SERVE_WORKER_SESSION_HPP

// The worker's side of the connection: it answers the handshake, looks each function up in
// the registry once (the first call of it names it; later calls name its id), checks its
// signature, runs each call (synchronous functions on the thread pool unless registered
// inline, coroutines on the io_context) and sends exactly one reply per call. It reads on,
// whatever the calls do, so the host can always reach it. Calls' records and the
// coroutines that run coroutine functions are reused: a steady stream of calls allocates
// nothing.

#include "protocol/messages.hpp"
#include "serve/call_context.hpp"
#include "serve/thread_pool.hpp"
#include "transport/connection.hpp"
#include "transport/handler_memory.hpp"

#include "lua/evaluator.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <malt/detail/registry.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unistd.h>
#include <vector>

namespace malt::detail {

struct call_job;
struct job_runner;

class worker_session : public std::enable_shared_from_this<worker_session> {
 public:
  /// on_exit ends things when the host asks the worker to exit or goes away: a worker
  /// process stops its own workers and exits; an in-process worker only stops serving.
  using exit_hook = std::function<void(worker_session&, int code)>;
  /// own_process: the host may ask it to raise a signal on itself (a launched worker's
  /// kill()); never an in-process worker, whose process is the host.
  worker_session(boost::asio::any_io_executor ex, std::shared_ptr<connection> conn, const evaluator_settings& lua,
                 exit_hook on_exit, bool own_process);
  ~worker_session();
  void start();
  /// The pid the hello gives: the process its host or launcher started, when this one is
  /// the worker proper in a PID namespace of its own.
  void announce_pid(pid_t pid) noexcept { announced_pid_ = pid; }
  /// Called once the handshake is answered: what is sent from then on follows the hello.
  void on_greeted(std::function<void()> f) { on_greeted_ = std::move(f); }
  /// Runs io on this thread until it stops, lending the thread to synchronous calls (a
  /// worker process; an in-process worker runs on the host's threads and uses the pool).
  void run(boost::asio::io_context& io) { pool_.run_io(io); }
  /// Stops reading and answering; on the I/O thread. While pool threads still run calls,
  /// the connection closes (and the host sees the worker gone) when the last is out: an
  /// in-process worker's session, whose sockets are the host's io_context's, must not be
  /// released by a pool thread once the host may have destroyed that io_context.
  void close();

 private:
  /// What a function id stands for on this connection.
  struct interned_function {
    const function_entry* entry = nullptr;  // null: its calls fail with problem
    bool wants_value = false;               // the host named a result type
    failure_report problem;
  };

  void on_frame(frame& f);
  void dispatch(frame& f);
  /// A call of an inline function already named on this connection: run at once, its reply
  /// written straight into the read's replies, with no call record. False: the general path.
  bool answer_inline(frame& f);
  /// Reads the request, finds its function and checks the signature the host expects; a
  /// request that fails any of these is answered with the failure and never runs.
  void admit(call_job& job, frame& f);
  void define(const call_message& request);
  void run_sync(call_job& job);
  void run_on_runner(call_job* job);
  /// Coroutine functions' calls of a read start after its frames, on runners that take one
  /// after another as long as each finishes without waiting.
  void start_coroutines();
  call_job* next_waiting_coroutine() noexcept;
  static boost::asio::awaitable<void> runner_loop(std::shared_ptr<worker_session> self, job_runner* r, call_job* job);
  /// Sends the reply and recycles the job; on the I/O thread or the pool thread that ran the call.
  void finish(call_job* job, bool on_pool_thread);
  call_job* take_job();
  void recycle(call_job* job, bool on_pool_thread) noexcept;
  static void unlink(call_job* job, call_job*& head) noexcept;
  /// Replies sent on the I/O thread while a read's frames are handled go out together.
  void end_of_read();
  /// From a pool thread: alone, the call answers from there, without waking the I/O thread.
  /// In a burst, the I/O thread answers it with the others that finish meanwhile, in one
  /// write after one wake-up.
  void finish_from_pool(call_job* job);
  /// A pool thread's last touch of the session.
  void left_pool() noexcept;
  void finish_posted();
  void interrupt(std::uint64_t id);
  void raise_signal(std::uint64_t signo);
  void exit(int code);

  boost::asio::any_io_executor ex_;
  exit_hook on_exit_;
  std::function<void()> on_greeted_;
  std::shared_ptr<evaluator> evaluator_;
  std::shared_ptr<connection> conn_;
  thread_pool pool_;
  std::vector<interned_function> functions_;  // by id - 1; the I/O thread's
  std::vector<std::unique_ptr<job_runner>> runners_;  // the I/O thread's
  std::vector<job_runner*> idle_runners_;
  std::vector<call_job*> waiting_coroutines_;  // the I/O thread's; taken from next_coroutine_ on
  std::size_t next_coroutine_ = 0;
  // Jobs, and the running ones by thread, for interrupts by id (a call run inline cannot
  // see an interrupt frame): those of the I/O thread need no lock.
  std::vector<std::unique_ptr<call_job>> jobs_;  // every job, free or not; the I/O thread's
  std::vector<call_job*> free_jobs_;             // the I/O thread's
  call_job* running_here_ = nullptr;             // coroutine functions' calls
  std::mutex pool_m_;                            // guards the two below
  std::vector<call_job*> returned_jobs_;         // recycled by pool threads
  call_job* running_on_pool_ = nullptr;
  std::vector<call_job*> finished_on_pool_;  // to be answered by the I/O thread
  std::size_t on_pool_ = 0;                  // jobs posted to the pool and not yet out of it
  std::shared_ptr<worker_session> closing_;  // set while close() waits for them
  bool finish_posted_ = false;
  std::vector<call_job*> finishing_;  // the I/O thread's
  handler_memory finish_memory_;      // for the one post that answers them
  write_batch replies_;  // sent on the I/O thread during a read
  call_context inline_context_;  // of the inline call answer_inline runs
  outgoing_frame inline_reply_;  // its reply; its bytes are the batch's while it runs
  bool in_read_ = false;
  bool greeted_ = false;
  bool exiting_ = false;
  bool own_process_;
  pid_t announced_pid_ = ::getpid();
};

}  // namespace malt::detail

#endif
