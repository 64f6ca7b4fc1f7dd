#ifndef MALT_SRC_HOST_CALL_DRIVER_HPP
#define MALT_SRC_HOST_CALL_DRIVER_HPP

// Performs what the call book decides (src/protocol/call_book.hpp), with Asio: hands
// batches of frames to the connection, resumes callers on their own executors, holds
// their cancellation slots and deadlines, and times interrupt grace periods. It decides
// nothing itself. One per worker, used on the worker's executor.

#include "protocol/call_book.hpp"
#include "transport/connection.hpp"

#include <malt/detail/remote_call.hpp>
#include <malt/error.hpp>
#include <malt/worker_options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace malt::detail {

class call_driver : public std::enable_shared_from_this<call_driver> {
 public:
  /// What the driver asks of the worker it drives.
  struct worker_hooks {
    std::function<void(std::uint64_t id)> interrupting;  // an interrupt frame is on its way (0: every call)
    std::function<void(std::string reason)> violated;    // the worker broke the protocol
    std::function<void(std::string reason)> escalated;   // a call ignored its interrupt
    std::function<terminated_worker_exception()> terminated;
  };

  call_driver(boost::asio::any_io_executor ex, std::shared_ptr<connection> conn, const worker_options& options,
              bool can_kill, std::string summary, worker_hooks hooks);

  /// Sends the hello. Before anything else.
  void open();

  /// Queues a call request (frame_header_size bytes of room, then its payload) and returns
  /// its id. Throws error{frame_too_large}; and error{queue_full} when it may not wait
  /// and worker_options::max_queued_bytes already wait.
  std::uint64_t start(std::vector<char> frame, bool send_value, bool may_wait);
  /// Queues a request the worker never answers; throws as start does when it may not wait.
  void start_no_reply(std::vector<char> frame);
  /// Completes handler once call id is over, honouring its cancellation slot, and
  /// interrupting the call at deadline (time_point::max(): none), then waiting grace (else
  /// worker_options::interrupt_grace) for its answer to any interrupt.
  void await(std::uint64_t id, call_completion handler, std::chrono::steady_clock::time_point deadline,
             std::optional<std::chrono::milliseconds> grace);
  /// Nobody will await call id (an eager call whose task was dropped): its outcome is
  /// dropped when it comes.
  void forget(std::uint64_t id) noexcept;

  /// A result or failure frame from the worker.
  void on_reply(frame&& f);
  void interrupt_all();
  /// Sends the exit request.
  void stop();
  /// The worker is on its way out: failure reports no longer count as answers.
  void leaving() noexcept { book_.on_worker_leaving(); }
  /// The worker has ended: everything not over fails.
  void ended();
  /// Calls not over (queued, written, or abandoned with a reply owed).
  std::size_t in_flight() const noexcept { return book_.size(); }

 private:
  struct waiter {
    std::optional<call_completion> handler;  // optional<>: Asio 1.26 mis-assigns any_completion_handler
    boost::asio::cancellation_slot slot;
    std::optional<boost::asio::steady_timer> deadline;
    std::optional<std::pair<std::exception_ptr, std::vector<char>>> outcome;  // in before anyone waited
    std::optional<std::chrono::milliseconds> grace;
    bool forgotten = false;
  };
  struct cancel_handler;

  void perform(call_actions actions);
  void write();
  void complete(call_action& done);
  void deliver(std::unordered_map<std::uint64_t, waiter>::iterator it, std::exception_ptr failure,
               std::vector<char> reply);
  void arm_grace(std::uint64_t id);
  std::chrono::milliseconds grace_of(std::uint64_t id) const;
  std::exception_ptr failure_of(call_action& done) const;
  void check_size(const std::vector<char>& frame) const;
  void check_room(std::size_t size) const;

  boost::asio::any_io_executor ex_;
  std::shared_ptr<connection> conn_;
  std::uint32_t max_frame_size_;
  std::size_t max_queued_bytes_;
  std::chrono::milliseconds grace_;
  std::string summary_;
  worker_hooks hooks_;
  call_book book_;
  std::unordered_map<std::uint64_t, waiter> waiters_;
  std::unordered_map<std::uint64_t, boost::asio::steady_timer> graces_;
  std::vector<outgoing_frame> batch_;
};

}  // namespace malt::detail

#endif
