#include "worker_impl.hpp"

#include <malt/detail/remote_call.hpp>

namespace malt::detail {
namespace {

// The failure payload a worker sends: the errc, then type, message and stack trace.
[[noreturn]] void throw_failure(const worker_impl& w, std::span<const char> payload) {
  try {
    payload_reader in(payload);
    const auto code = static_cast<errc>(in.u32());
    std::string type(in.string()), message(in.string()), trace(in.string());
    throw remote_exception(code, w.summary(), std::move(type), std::move(message), std::move(trace));
  } catch (const remote_exception&) {
    throw;
  } catch (const std::exception& e) {
    throw decode_error(errc::decode_failed, "could not decode a failure report from " + w.summary() + ": " + e.what());
  }
}

// A call whose awaiting coroutine is destroyed before the reply is abandoned: its reply
// will be dropped on arrival.
struct abandon_unless_done {
  worker_impl& w;
  pending_call& c;
  ~abandon_unless_done() {
    if (c.state != call_state::done) w.calls().abandon(c);
  }
};

void check_size(const worker_impl& w, const std::vector<char>& frame) {
  const auto size = frame.size() - frame_header_size;
  if (size > w.max_frame_size())
    throw error(errc::frame_too_large, "the request is " + std::to_string(size) + " bytes, over the limit of " +
                                           std::to_string(w.max_frame_size()) +
                                           " bytes (worker_options::max_frame_size)");
}

}  // namespace

call_ptr start_call(worker_impl& w, std::vector<char> frame, bool send_value) {
  w.check_running();
  check_size(w, frame);
  auto c = w.calls().add();
  write_header(frame, frame_type::call, send_value ? flag_send_value : flag_none, c->id);
  w.conn().send(std::move(frame), c->id);
  return c;
}

boost::asio::awaitable<std::vector<char>> finish_call(std::shared_ptr<worker_impl> w, call_ptr call) {
  abandon_unless_done guard{*w, *call};
  co_await wait_done(*call);
  if (call->terminated) throw w->terminated_error();
  if (call->reply_type == frame_type::failure) throw_failure(*w, call->reply);
  co_return std::move(call->reply);
}

void send_no_reply(worker_impl& w, std::vector<char> frame) {
  w.check_running();
  check_size(w, frame);
  write_header(frame, frame_type::call_no_reply, flag_none, w.calls().reserve_id());
  w.conn().send(std::move(frame));
}

void throw_decode_error(const worker_impl& w, const std::string& function, const std::exception& e) {
  throw decode_error(errc::decode_failed,
                     "could not decode the result of '" + function + "' from " + w.summary() + ": " + e.what());
}

}  // namespace malt::detail
