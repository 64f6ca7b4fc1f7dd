#ifndef MALT_SRC_PROTOCOL_CALL_BOOK_HPP
#define MALT_SRC_PROTOCOL_CALL_BOOK_HPP

// The host's record of one worker's calls and of every frame waiting to go to it: the
// single place where a call's state lives. It does no I/O and keeps no time. Each event
// (a call starts, a write ends, a reply arrives, a caller cancels, a grace period ends,
// the worker ends) returns the actions that follow from it, and a driver performs them
// (src/host/call_driver.cpp). DESIGN §5's cancellation table is on_cancel.
//
// A call is prepared (its arguments are being encoded, nothing is sent), queued (its
// request waits here and can be taken back), written (its request has been handed to the
// transport: the worker may be running it), done (its caller has been given its outcome,
// and the worker owes it nothing) or abandoned (its caller has been given up on it; a late
// reply is dropped). Frames leave in the order they came, one batch at a time.
//
// Calls live in slots that are reused, and so do their buffers: in steady state a call
// costs the book no allocation. A call id names its slot and when it was issued, so a
// stale or forged id matches nothing.
//
// The book also interns functions for the connection: the first request written for a
// call target carries its name and signature and gives it a small id; later requests carry
// the id only (messages.hpp). Which request is first is decided when requests are written,
// so a call taken back before its write defines nothing.

#include "protocol/frame.hpp"

#include <malt/detail/registry.hpp>

#include <boost/asio/cancellation_type.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace malt::detail {

enum class call_state { prepared, queued, written, done, abandoned };

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
  std::span<const char> reply;  // valid while the event that returned it is handled
  std::string_view reason;      // the same
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
  /// A new call of target: it gets an id and a slot, whose body the caller fills with the
  /// call's body (call_body_head bytes, already there, then the arguments). Nothing is
  /// sent until on_start.
  std::uint64_t prepare(const call_target& target);
  /// The body of prepared call id.
  std::vector<char>& body(std::uint64_t id) noexcept { return slots_[slot_of(id)].body; }
  const std::vector<char>& body(std::uint64_t id) const noexcept { return slots_[slot_of(id)].body; }
  /// A prepared call that will not be started.
  void discard(std::uint64_t id) noexcept;
  /// The prepared call id waits to be written. Never refused: the driver decides first
  /// whether there is room (has_room).
  call_actions on_start(std::uint64_t id, bool send_value);
  /// The prepared call id is a request the worker never answers (remote_do).
  call_actions on_start_no_reply(std::uint64_t id);
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
  void take_writes(write_batch& out);
  /// The batch taken last is on the wire (or the transport failed and dropped it).
  call_actions on_written();

  // --- what comes in ----------------------------------------------------------------

  /// A result or failure frame for call id. Anything but an answer to a call that awaits
  /// one is a violation.
  call_actions on_reply(std::uint64_t id, frame_type type, std::span<const char> payload);
  /// on_reply's common case, decided without building actions: a result for a written
  /// call with nothing else pending. True: the call is done, and its caller gets the
  /// result; false: nothing changed, and on_reply decides.
  bool on_plain_result(std::uint64_t id, frame_type type) noexcept;
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
  std::size_t size() const noexcept { return in_flight_; }

  /// The slot call id lives in: slots are numbered densely from 0, for a driver's own
  /// per-call records.
  static std::uint32_t slot_of(std::uint64_t id) noexcept { return static_cast<std::uint32_t>(id); }

 private:
  enum class slot_kind : std::uint8_t { free, call, no_reply, control };
  struct slot {
    std::uint64_t id = 0;  // 0: free
    slot_kind kind = slot_kind::free;
    call_state state = call_state::prepared;
    bool send_value = false;
    bool withdrawn = false;  // taken back while queued: skipped when the batch is taken
    bool interrupt_sent = false;
    bool timed_out = false;
    bool grace_armed = false;
    const call_target* target = nullptr;
    std::vector<char> body;  // a call's body, or a control frame's whole bytes
  };

  std::uint32_t allocate(slot_kind kind);
  void release(std::uint32_t index) noexcept;
  slot* find(std::uint64_t id) noexcept;
  const slot* find(std::uint64_t id) const noexcept;
  void queue(std::uint32_t index, call_actions& out);
  void queue_control(frame_type type, std::uint64_t id, call_actions& out);
  void finish(slot& c) noexcept;  // the call is over: its slot is free again
  bool withdraw(slot& c) noexcept;
  void interrupt(slot& c, call_actions& out);
  void arm_grace(slot& c, call_actions& out);
  static call_action completion(std::uint64_t id, call_end end, bool timed_out);
  call_action violation(std::uint64_t id, std::string reason);
  void write_request(slot& c, write_batch& out);

  bool escalate_;
  bool leaving_ = false;
  bool ended_ = false;
  bool writing_ = false;
  std::uint32_t sequence_ = 0;  // the high half of ids, so that none is 0 and a reused slot gets a new one
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> waiting_;  // slots, in the order they were queued
  std::size_t in_flight_ = 0;
  std::size_t queued_bytes_ = 0;   // in waiting_
  std::size_t writing_bytes_ = 0;  // in the batch being written
  std::vector<std::uint32_t> function_ids_;  // by call_target::index; 0: not yet defined here
  std::uint32_t next_function_id_ = 1;
  std::string violation_;  // the reason of the last violation action
};

}  // namespace malt::detail

#endif
