#ifndef MALT_DETAIL_REMOTE_CALL_HPP
#define MALT_DETAIL_REMOTE_CALL_HPP

// The compiled half of a call (src/remote_call.cpp): the templates of <malt/call.hpp>
// encode the request and decode the result; these functions move the bytes.

#include <malt/detail/registry.hpp>
#include <malt/detail/wire.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace malt::detail {

class worker_impl;
struct pending_call;
using call_ptr = std::shared_ptr<pending_call>;
using call_completion = boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<char>)>;

struct call_settings {
  bool send_value = true;                    // ship the function's value back
  std::chrono::milliseconds timeout{0};      // 0: none
};

/// Queues a call frame (payload after frame_header_size bytes); it is written at once when
/// nothing is queued before it. Throws terminated_worker_exception if the worker is not
/// running, error{frame_too_large} if the frame is over the limit. Past
/// worker_options::max_queued_bytes, a call that may wait is held until there is room;
/// one that may not (an eager call) throws error{queue_full}.
call_ptr start_call(worker_impl& w, std::vector<char> frame, bool send_value, bool may_wait);

/// Everything a call operation needs to start, shared by its ways of being awaited.
struct call_request {
  std::shared_ptr<worker_impl> w;
  call_ptr started;          // set by remote_call, which sends at once
  std::vector<char> frame;   // the request, if not started
  call_settings settings;
  std::string function;
  bool initiated = false;
};

std::shared_ptr<call_request> make_request(std::shared_ptr<worker_impl> w, call_ptr started, std::vector<char> frame,
                                           bool send_value, std::string function);

/// Starts the call unless started, and completes handler with the reply's archive bytes
/// or the failure, honouring the handler's cancellation slot and the timeout.
void async_call(call_request& request, call_completion handler);

boost::asio::any_io_executor executor_of(const worker_impl& w) noexcept;

/// How deep the values w's replies carry may nest (worker_options::max_decode_depth).
std::size_t max_decode_depth(const worker_impl& w) noexcept;

/// An empty frame to encode a request into. It may hold the memory of an earlier large
/// frame of w's connection: a large request then does not pay for fresh pages.
std::vector<char> request_buffer(worker_impl& w);

/// Gives a reply's bytes back to w's connection, for its next large frame.
void recycle(worker_impl& w, std::vector<char>&& reply) noexcept;

/// Queues a call the worker never answers; throws error{queue_full} past the limit.
void send_no_reply(worker_impl& w, std::vector<char> frame);

/// The decode_error for a result of function that did not decode.
std::exception_ptr decode_failure(const worker_impl& w, const std::string& function, const std::exception& e);

/// The name under which MALT_REMOTE registered f; throws error{not_registered}.
const std::string& registered_name(erased_function f);

}  // namespace malt::detail

#endif
