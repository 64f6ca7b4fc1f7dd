#ifndef MALT_DETAIL_REMOTE_CALL_HPP
#define MALT_DETAIL_REMOTE_CALL_HPP

// The compiled half of a call (src/remote_call.cpp): the templates of <malt/call.hpp>
// encode the request and decode the result; these functions move the bytes.

#include <malt/detail/registry.hpp>
#include <malt/detail/wire.hpp>

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>
#include <vector>

namespace malt::detail {

class worker_impl;
struct pending_call;
using call_ptr = std::shared_ptr<pending_call>;

/// Queues a call frame (payload after frame_header_size bytes) and writes it at once when
/// nothing is queued before it. Throws terminated_worker_exception if the worker is not
/// running, error{frame_too_large} if the frame is over the limit.
call_ptr start_call(worker_impl& w, std::vector<char> frame, bool send_value);

/// Waits for the reply of a started call. Returns the result's archive bytes; throws
/// remote_exception or terminated_worker_exception.
boost::asio::awaitable<std::vector<char>> finish_call(std::shared_ptr<worker_impl> w, call_ptr call);

/// Queues a call the worker never answers.
void send_no_reply(worker_impl& w, std::vector<char> frame);

[[noreturn]] void throw_decode_error(const worker_impl& w, const std::string& function, const std::exception& e);

/// The name under which MALT_REMOTE registered f; throws error{not_registered}.
const std::string& registered_name(erased_function f);

}  // namespace malt::detail

#endif
