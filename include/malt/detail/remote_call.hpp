#ifndef MALT_DETAIL_REMOTE_CALL_HPP
#define MALT_DETAIL_REMOTE_CALL_HPP

// The compiled half of a call (src/host/remote_call.cpp): the templates of <malt/call.hpp>
// encode the request and decode the result; these functions move the bytes.

#include <malt/detail/registry.hpp>
#include <malt/detail/wire.hpp>

#include <boost/asio/any_completion_handler.hpp>
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
using call_completion = boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<char>)>;

/// When a request goes out, and whether anything comes back.
enum class call_mode : std::uint8_t {
  fetch,     // sent when the operation is initiated; the value comes back
  wait,      // sent when the operation is initiated; the value stays in the worker
  eager,     // sent at once; the value comes back (remote_call, remote_eval)
  no_reply,  // sent at once; nothing ever comes back (remote_do)
};

/// One call from its encoding to its completion, shared by the ways it can be awaited.
struct call_request {
  std::shared_ptr<worker_impl> w;
  call_mode mode = call_mode::fetch;
  std::string function;      // for error messages
  std::vector<char> frame;   // the request, until it is sent
  std::uint64_t id = 0;      // once it is sent
  std::chrono::milliseconds timeout{0};  // from when the call is awaited; 0: none
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::optional<std::chrono::milliseconds> grace;  // else worker_options::interrupt_grace
  bool initiated = false;

  call_request() = default;
  call_request(const call_request&) = delete;
  call_request& operator=(const call_request&) = delete;
  ~call_request();  // an eager call nobody awaited: its outcome is dropped when it comes
};

/// An empty frame to encode a request into, with room for the frame's header. It may hold
/// the memory of an earlier large frame of w's connection: a large request then does not
/// pay for fresh pages.
std::vector<char> request_buffer(worker_impl& w);

/// Takes an encoded request. eager and no_reply send it before returning, and throw
/// terminated_worker_exception if the worker is not running, error{frame_too_large} over
/// the size limit, or error{queue_full} past worker_options::max_queued_bytes; fetch and
/// wait keep it until the operation is initiated. Returns nullptr for no_reply.
std::shared_ptr<call_request> issue(std::shared_ptr<worker_impl> w, std::vector<char> frame, call_mode mode,
                                    std::string function);

/// Sends the request unless it is out, and completes handler with the reply's archive
/// bytes or the failure, honouring the handler's cancellation slot and the timeout.
void async_call(call_request& request, call_completion handler);

boost::asio::any_io_executor executor_of(const worker_impl& w) noexcept;

/// How deep the values w's replies carry may nest (worker_options::max_decode_depth).
std::size_t max_decode_depth(const worker_impl& w) noexcept;

/// The largest frame w's connection carries (worker_options::max_frame_size).
std::size_t max_frame_size(const worker_impl& w) noexcept;

/// Gives a reply's bytes back to w's connection, for its next large frame.
void recycle(worker_impl& w, std::vector<char>&& reply) noexcept;

/// One item of a batch call's reply: its result's archive, or its failure.
struct item_reply {
  std::span<const char> bytes;
  std::exception_ptr failure;
};

/// The items of the reply to a batch call of function with items items. Throws decode_error
/// when the reply is not one.
std::vector<item_reply> split_batch_reply(const worker_impl& w, const std::string& function,
                                          std::span<const char> reply, std::size_t items);

/// The decode_error for a result of function that did not decode.
std::exception_ptr decode_failure(const worker_impl& w, const std::string& function, const std::exception& e);

}  // namespace malt::detail

#endif
