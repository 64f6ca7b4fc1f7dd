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
              bool can_kill, std::string summary, const worker_impl& owner, worker_hooks hooks);

  /// The worker's name in messages, once it is known better (a launched worker's pid).
  void rename(std::string summary) { summary_ = std::move(summary); }

  /// Sends the hello. Before anything else.
  void open();

  /// A new call of target; its body is filled in next (call_body_head bytes are there).
  std::uint64_t prepare(const call_target& target);
  std::vector<char>& body(std::uint64_t id) noexcept { return book_.body(id); }
  /// Makes room in call id's body for n more bytes, in the connection's spare buffer
  /// when that is large enough.
  void reserve(std::uint64_t id, std::size_t n);
  /// Whether prepared call id wants its value back (fetch) or not (wait), when it starts.
  void want_value(std::uint64_t id, bool send_value) noexcept {
    if (waiter* w = find(id)) w->send_value = send_value;
  }
  /// Queues prepared call id. Throws error{frame_too_large}; and error{queue_full} when it
  /// may not wait and worker_options::max_queued_bytes already wait. eager: nobody has to
  /// await it.
  void start(std::uint64_t id, bool send_value, bool may_wait, bool eager);
  /// Queues prepared call id as a request the worker never answers; throws as start does
  /// when it may not wait.
  void start_no_reply(std::uint64_t id);
  /// The handle of call id has gone: a call never initiated is dropped if it was not sent,
  /// and its outcome dropped when it comes if it was.
  void release(std::uint64_t id) noexcept;
  /// Call id's deadline: timeout from when it is awaited, or deadline.
  void set_deadline(std::uint64_t id, std::chrono::milliseconds timeout,
                    std::chrono::steady_clock::time_point deadline, std::optional<std::chrono::milliseconds> grace);
  /// Starts call id unless it is out, and completes the handler place puts in place once
  /// the call is over, honouring its cancellation slot, and interrupting the call at its
  /// deadline, then waiting its grace (else worker_options::interrupt_grace) for its
  /// answer to any interrupt.
  void await(std::uint64_t id, place_handler place, void* handler, diagnostics* diag);

  /// A result or failure frame from the worker. Replies of one read complete their
  /// callers at once, on the callers' executors; the calls those start go out together
  /// when the read's frames are done (end_of_read).
  void on_reply(const frame& f);
  void end_of_read();
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
  // What the driver keeps of a call besides the book's record, in a slot of the same
  // number; reused, like the book's.
  struct waiter {
    std::uint64_t id = 0;  // 0: free
    const call_target* target = nullptr;
    bool initiated = false;
    bool eager = false;
    bool forgotten = false;  // an eager call nobody will await: its outcome is dropped
    bool send_value = true;
    bool timed = false;  // its deadline timer (in deadline_timers_, by the same slot) waits
    std::chrono::milliseconds timeout{0};
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    std::optional<std::chrono::milliseconds> grace;
    boost::asio::cancellation_slot slot;
    reply_handler handler;
  };
  // The outcome of an eager call that came before anyone awaited it; its slot is free.
  struct unclaimed {
    const call_target* target;
    failure outcome;
    std::vector<char> reply;
  };
  struct cancel_handler;

  waiter* find(std::uint64_t id) noexcept;
  void free(waiter& w) noexcept;
  void perform(call_actions&& actions, bool from_reader = false);
  void write();
  void complete(call_action& done, bool from_reader);
  void complete(std::uint64_t id, failure f, std::span<const char> reply, bool from_reader);
  void deliver(waiter& w, failure f, std::span<const char> reply, bool from_reader);
  void fail_now(place_handler place, void* handler, diagnostics* diag, failure f);
  void arm_grace(std::uint64_t id);
  std::chrono::milliseconds grace_of(std::uint64_t id);
  failure outcome_of(const call_action& done) const;
  void check_size(std::uint64_t id) const;
  [[noreturn, gnu::cold]] void throw_too_large(std::size_t size) const;
  void check_room(std::uint64_t id) const;

  boost::asio::any_io_executor ex_;
  std::shared_ptr<connection> conn_;
  std::uint32_t max_frame_size_;
  std::size_t max_queued_bytes_;
  std::chrono::milliseconds grace_;
  std::string summary_;
  const worker_impl& owner_;  // for decoding replies
  worker_hooks hooks_;
  call_book book_;
  // By slot, in chunks that stay in place as more are added.
  static constexpr std::size_t chunk_bits = 6;
  std::vector<std::unique_ptr<waiter[]>> waiters_;
  waiter& waiter_at(std::size_t index) noexcept {
    return waiters_[index >> chunk_bits][index & ((std::size_t(1) << chunk_bits) - 1)];
  }
  std::size_t waiter_count() const noexcept { return waiters_.size() << chunk_bits; }
  // Deadline timers by slot, apart from the waiters, which every call touches; a chunk
  // exists once one of its calls has had a deadline.
  std::vector<std::unique_ptr<std::optional<boost::asio::steady_timer>[]>> deadline_timers_;
  std::optional<boost::asio::steady_timer>& deadline_timer_at(std::size_t index);
  void cancel_deadline(waiter& w) noexcept;
  std::unordered_map<std::uint64_t, unclaimed> unclaimed_;
  std::unordered_map<std::uint64_t, boost::asio::steady_timer> graces_;
  bool in_read_ = false;       // replies of one read are being handled
  bool in_await_ = false;      // a call is being started by its awaiting
  bool write_wanted_ = false;  // a write was asked for meanwhile
};

}  // namespace malt::detail

#endif
