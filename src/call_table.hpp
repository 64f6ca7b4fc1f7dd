#ifndef MALT_SRC_CALL_TABLE_HPP
#define MALT_SRC_CALL_TABLE_HPP

// The host's table of calls awaiting a reply, as a plain data structure: no sockets, no
// coroutines. A call moves queued -> written -> done, or to abandoned when nobody waits
// for it any more (its late reply is then dropped). The connection drives it: the writer
// reports written frames, the reader hands in replies, the exit watcher ends everything.

#include "protocol/frame.hpp"

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace malt::detail {

enum class call_state { queued, written, done, abandoned };

using call_completion = boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<char>)>;

struct pending_call {
  std::uint64_t id = 0;
  call_state state = call_state::queued;
  bool terminated = false;  // done because the worker ended, not by a reply
  frame_type reply_type = frame_type::result;
  std::vector<char> reply;

  // The caller's side while it waits (src/remote_call.cpp). optional<>: Asio 1.26
  // mis-assigns any_completion_handler.
  std::optional<call_completion> handler;
  boost::asio::cancellation_slot slot;              // the caller's, while it is connected to this call
  std::optional<boost::asio::steady_timer> timer;  // the call's timeout, then the interrupt grace
  bool interrupt_sent = false;
  bool timed_out = false;
  std::vector<char> held_frame;  // its request, while it waits for room in the write queue
};
using call_ptr = std::shared_ptr<pending_call>;

class call_table {
 public:
  /// A new call in state queued, with a fresh id.
  call_ptr add();
  /// An id for a frame that gets no reply.
  std::uint64_t reserve_id() noexcept { return next_id_++; }
  /// The call's frame is on the wire.
  void mark_written(std::uint64_t id) noexcept;
  /// A reply arrived. Returns the call, now done, for its waiter to be resumed; nullptr
  /// when the id is unknown or the call was abandoned (the reply is dropped).
  call_ptr complete(std::uint64_t id, frame_type type, std::vector<char> payload);
  /// Whether a reply to id is expected: a call issued and not answered yet (an abandoned
  /// call's late reply included).
  bool awaits_reply(std::uint64_t id) const noexcept { return calls_.contains(id); }
  /// Takes back a call that was never written: it leaves the table, abandoned.
  void withdraw(pending_call& call) noexcept;
  /// Nobody will wait for this call; its reply, if any, is dropped on arrival.
  void abandon(pending_call& call) noexcept;
  /// The worker ended: every call not yet done is done and terminated. Returns them.
  std::vector<call_ptr> terminate_all();

  std::size_t size() const noexcept { return calls_.size(); }

 private:
  std::unordered_map<std::uint64_t, call_ptr> calls_;
  std::uint64_t next_id_ = 1;  // 0 is the handshake
};

}  // namespace malt::detail

#endif
