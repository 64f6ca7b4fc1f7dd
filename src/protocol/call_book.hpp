#ifndef MALT_SRC_PROTOCOL_CALL_BOOK_HPP
#define MALT_SRC_PROTOCOL_CALL_BOOK_HPP

// The host's record of one worker's calls and of every frame waiting to go to it: the
// single place where a call's state lives. It does no I/O and keeps no time. Each event
// (a call starts, a write ends, a reply arrives, a caller cancels, a grace period ends,
// the worker ends) returns the actions that follow from it, and a driver performs them
// (src/host/call_driver.cpp). DESIGN §5's cancellation table is on_cancel.
//
// A call is queued (its frame waits here and can be taken back), written (its frame has
// been handed to the transport: the worker may be running it), done (its caller has been
// given its outcome, and the worker owes it nothing) or abandoned (its caller has been
// given up on it; a late reply is dropped). Frames leave in the order they came, one batch
// at a time.

#include "protocol/frame.hpp"

#include <boost/asio/cancellation_type.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace malt::detail {

enum class call_state { queued, written, done, abandoned };

/// How a call ended for its caller.
enum class call_end : std::uint8_t {
  replied,     // the worker answered: a result or a failure report
  withdrawn,   // cancelled before it was written: nothing ran
  abandoned,   // given up on while it ran: terminal cancellation, or no answer to its interrupt
  terminated,  // the worker ended first
};

struct call_action {
  enum kind : std::uint8_t {
    write,         // frames wait and the transport is idle: take_writes()
    complete,      // the call is over for its caller: end, timed_out, reply_type, reply
    interrupt,     // an interrupt frame for id (0: every call) is queued; also signal the worker
    arm_grace,     // start the interrupt grace period of call id
    disarm_grace,  // the grace period of call id is no longer needed
    escalate,      // a call ignored its interrupt for the whole grace period: end the worker
    violation,     // the worker broke the protocol (reason): end it
  };
  kind what = write;
  std::uint64_t id = 0;
  call_end end = call_end::replied;
  bool timed_out = false;  // the call's deadline passed before it ended
  frame_type reply_type = frame_type::result;
  std::vector<char> reply;
  std::string reason;
};

using call_actions = boost::container::small_vector<call_action, 2>;

class call_book {
 public:
  /// escalate_ignored_interrupts: a call that does not answer its interrupt within the
  /// grace period ends the worker (interrupt_escalation::kill), rather than being abandoned.
  explicit call_book(bool escalate_ignored_interrupts) noexcept : escalate_(escalate_ignored_interrupts) {}

  // --- what goes out ----------------------------------------------------------------

  /// This host's hello; the first frame.
  call_actions on_open();
  struct started {
    std::uint64_t id;
    call_actions actions;
  };
  /// A call request (frame_header_size bytes of room, then its payload): it gets an id
  /// and its header, and waits to be written. Never refused: the driver decides first
  /// whether there is room (has_room).
  started on_start(std::vector<char> frame, bool send_value);
  /// A request the worker never answers (remote_do).
  call_actions on_start_no_reply(std::vector<char> frame);
  /// Asks the worker to interrupt every call it runs.
  call_actions on_interrupt_all();
  /// Asks the worker to exit. From now on a failure report is the worker's way out, not
  /// an answer: those calls end as terminated (on_worker_leaving).
  call_actions on_stop();
  /// The worker is on its way out (stopping, or its process has ended).
  void on_worker_leaving() noexcept { leaving_ = true; }

  /// Whether a frame of size bytes may be queued now without waiting: nothing waits, or
  /// all that waits, with it, stays within limit bytes.
  bool has_room(std::size_t size, std::size_t limit) const noexcept;
  /// Bytes waiting here or being written.
  std::size_t queued_bytes() const noexcept { return queued_bytes_ + writing_bytes_; }

  /// Hands every waiting frame to the transport (appended to out), unless a batch is
  /// still being written; their calls are written from now on.
  void take_writes(std::vector<outgoing_frame>& out);
  /// The batch taken last is on the wire (or the transport failed and dropped it).
  call_actions on_written();

  // --- what comes in ----------------------------------------------------------------

  /// A result or failure frame for call id. Anything but an answer to a call that awaits
  /// one is a violation.
  call_actions on_reply(std::uint64_t id, frame_type type, std::vector<char> payload);
  /// The caller's cancellation slot fired (DESIGN §5).
  call_actions on_cancel(std::uint64_t id, boost::asio::cancellation_type_t type);
  /// The call's deadline passed: it is interrupted as by partial cancellation, and ends
  /// as timed out unless its value comes first.
  call_actions on_timeout(std::uint64_t id);
  /// The grace period armed for call id is over.
  call_actions on_grace_expired(std::uint64_t id);
  /// The worker has ended: every call not over is terminated; nothing more is written.
  call_actions on_worker_end();

  /// The state of call id; done for a call the book has forgotten (or never had).
  call_state state(std::uint64_t id) const noexcept;
  /// Calls the book still tracks (queued, written, or abandoned with a reply owed).
  std::size_t size() const noexcept { return calls_.size(); }

 private:
  struct call {
    call_state state = call_state::queued;
    bool interrupt_sent = false;
    bool timed_out = false;
    bool grace_armed = false;
  };
  struct waiting_frame {
    std::vector<char> bytes;
    std::uint64_t call_id;  // the call it starts, or 0
  };

  void queue(std::vector<char> frame, std::uint64_t call_id, call_actions& out);
  bool withdraw(std::uint64_t id) noexcept;
  void interrupt(std::uint64_t id, call& c, call_actions& out);
  void arm_grace(std::uint64_t id, call& c, call_actions& out);
  static call_action completion(std::uint64_t id, call_end end, bool timed_out);

  bool escalate_;
  bool leaving_ = false;
  bool ended_ = false;
  bool writing_ = false;
  std::uint64_t next_id_ = 1;  // 0 names no call: the hello, or "every call"
  std::unordered_map<std::uint64_t, call> calls_;
  std::deque<waiting_frame> waiting_;
  std::size_t queued_bytes_ = 0;   // in waiting_
  std::size_t writing_bytes_ = 0;  // in the batch being written
};

}  // namespace malt::detail

#endif
