#ifndef MALT_DETAIL_REMOTE_CALL_HPP
#define MALT_DETAIL_REMOTE_CALL_HPP

// The compiled half of a call (src/host/remote_call.cpp): the templates of <malt/call.hpp>
// encode the arguments into the call's body and decode the result; these functions move
// the bytes. A call's state lives in its worker's call book, by id: the handle the caller
// holds is a worker and an id, and costs no allocation.

#include <malt/detail/registry.hpp>
#include <malt/detail/reply_handler.hpp>
#include <malt/detail/wire.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace malt::detail {

class worker_impl;

/// When a request goes out, and whether anything comes back.
enum class call_mode : std::uint8_t {
  fetch,     // sent when the operation is initiated; the value comes back
  wait,      // sent when the operation is initiated; the value stays in the worker
  eager,     // sent at once; the value comes back (remote_call, remote_eval)
  no_reply,  // sent at once; nothing ever comes back (remote_do)
};

/// Owns one call until it is initiated. Destroyed before that, a call not yet sent is
/// dropped, and an eager call's outcome is dropped when it comes.
class call_handle {
 public:
  call_handle() noexcept = default;
  call_handle(std::shared_ptr<worker_impl> w, std::uint64_t id) noexcept : w_(std::move(w)), id_(id) {}
  call_handle(call_handle&& o) noexcept : w_(std::move(o.w_)), id_(std::exchange(o.id_, 0)) {}
  call_handle& operator=(call_handle&& o) noexcept {
    if (this != &o) {
      release();
      w_ = std::move(o.w_);
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  ~call_handle() {
    if (id_ != 0) release();
  }

  worker_impl& worker() const noexcept { return *w_; }
  const std::shared_ptr<worker_impl>& worker_ptr() const noexcept { return w_; }
  std::uint64_t id() const noexcept { return id_; }
  explicit operator bool() const noexcept { return id_ != 0; }
  /// The call has been awaited: its driver owns it now, and nothing is left to release.
  void awaited() noexcept { id_ = 0; }

 private:
  void release() noexcept;
  std::shared_ptr<worker_impl> w_;
  std::uint64_t id_ = 0;
};

/// A new call of target on w: its body (call_body_head bytes, then the arguments) is
/// filled in by the caller through call_body(), then the call is issued.
call_handle prepare_call(const std::shared_ptr<worker_impl>& w, const call_target& target);
/// The body of a prepared call.
std::vector<char>& call_body(const call_handle& call) noexcept;
/// Makes room in a prepared call's body for about n more bytes. A large body is encoded
/// into the memory of an earlier large frame of the connection: it does not pay for
/// fresh pages.
void reserve_body(const call_handle& call, std::size_t n);

/// eager and no_reply send the request before returning, and throw
/// terminated_worker_exception if the worker is not running, error{frame_too_large} over
/// the size limit, or error{queue_full} past worker_options::max_queued_bytes; fetch and
/// wait keep it until the operation is initiated. A no_reply call's handle is empty after.
void issue(call_handle& call, call_mode mode);

/// Call id's deadline: timeout from when it is awaited, or a time point.
void set_timeout(worker_impl& w, std::uint64_t id, std::chrono::milliseconds timeout,
                 std::optional<std::chrono::milliseconds> grace);
void set_deadline(worker_impl& w, std::uint64_t id, std::chrono::steady_clock::time_point deadline,
                  std::optional<std::chrono::milliseconds> grace);

/// Puts the caller's handler into the reply_handler the call completes through.
using place_handler = void (*)(reply_handler& to, void* handler);

/// Sends call id's request unless it is out, and completes the handler place puts in
/// place with the reply or the failure, honouring the handler's cancellation slot and the
/// timeout.
/// A failure's exception also goes to diag, if given, for a handler of failure_as::code.
void async_call(worker_impl& w, std::uint64_t id, place_handler place, void* handler, diagnostics* diag = nullptr);

boost::asio::any_io_executor executor_of(const worker_impl& w) noexcept;

/// The largest frame w's connection carries (worker_options::max_frame_size).
std::size_t max_frame_size(const worker_impl& w) noexcept;

/// One item of a batch call's reply: its result's archive, or its failure.
struct item_reply {
  std::span<const char> bytes;
  std::exception_ptr failure;
};

/// The items of the reply to a batch call of function with items items. Throws
/// decode_error when the reply is not one.
std::vector<item_reply> split_batch_reply(const worker_impl& w, const std::string& function,
                                          std::span<const char> reply, std::size_t items);

}  // namespace malt::detail

#endif
