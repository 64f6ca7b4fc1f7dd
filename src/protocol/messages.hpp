#ifndef MALT_SRC_PROTOCOL_MESSAGES_HPP
#define MALT_SRC_PROTOCOL_MESSAGES_HPP

// Every message host and worker exchange, as a frame's payload (frame.hpp carries the
// type and the call id): how each is written and read. One writer and one reader for all
// of them; the reader trusts no length it reads and says which message and which field is
// wrong. The values inside a call and a reply are archives (<malt/detail/payload.hpp>),
// opaque here.
//
//   hello          both ways, first: magic "MALT", the sender's pid, its build description
//   call           host -> worker: the function's id on this connection; the first call
//                  of a function (flag_defines_function) also its name, parameter types
//                  and the result type wanted (empty: none), which the id stands for
//                  from then on; batch item count (0: one call); arguments (or each
//                  item's, length first)
//   call_no_reply  the same, answered by nothing
//   result         worker -> host: the result's archive (a batch: each item's outcome,
//                  status and length first)
//   failure        worker -> host: errc, exception type, message, stack trace
//   interrupt      host -> worker: no payload (the call id is the frame's)
//   exit_request   host -> worker: no payload

#include "protocol/frame.hpp"

#include <malt/detail/registry.hpp>
#include <malt/error.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <unistd.h>
#include <vector>

namespace malt::detail {

/// A payload that is not the message it should be; what() names the message and the fault.
class malformed_message : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Appends the fields of a message to a payload (native byte order: both ends run on one
/// machine, and the hello checks they are the same build).
class byte_writer {
 public:
  explicit byte_writer(std::vector<char>& out) noexcept : out_(out) {}
  void u32(std::uint32_t v);
  void string(std::string_view s);  // its length as a u32, then its bytes

 private:
  std::vector<char>& out_;
};

/// Reads the fields of one message. Every read checks that the bytes are there; a failed
/// one throws malformed_message "<message>: <field> ...".
class byte_reader {
 public:
  byte_reader(std::span<const char> in, const char* message) noexcept : in_(in), message_(message) {}
  std::uint32_t u32(const char* field);
  std::string_view string(const char* field);
  /// What follows the fields read so far.
  std::span<const char> rest() const noexcept { return in_; }
  /// Throws unless every byte has been read.
  void expect_end() const;

 private:
  [[noreturn]] void fail(const std::string& what) const;
  std::span<const char> in_;
  const char* message_;
};

// --- hello ---------------------------------------------------------------------------

inline constexpr unsigned protocol_version = 4;

/// This process's hello, as a whole frame, giving pid as the sender's (a worker in a PID
/// namespace of its own gives the pid its host or launcher knows).
std::vector<char> make_hello_frame(pid_t pid = ::getpid());

struct hello_check {
  pid_t peer_pid = 0;
  std::string mismatch;  // empty when the peer is compatible
};
/// Whether the peer's hello shows the same protocol and build; never throws.
hello_check check_hello(std::span<const char> payload);

// --- call ----------------------------------------------------------------------------

/// A call request as the worker reads it; views into the payload. A batch request
/// (batch_items > 0) runs the function once per item, each item an argument archive.
struct call_message {
  std::uint32_t function_id = 0;
  bool defines = false;  // the fields below name the function the id stands for
  std::string_view function;
  std::string_view parameter_types;
  std::string_view result_type;  // empty: the host does not want the value
  std::uint32_t batch_items = 0;
  std::span<const char> arguments;  // the archive, or the batch's items
};

/// Throws malformed_message. flags: the frame's.
call_message decode_call_request(std::span<const char> payload, std::uint8_t flags);

/// The function id and arguments of the most common request, one that neither defines its
/// function nor carries a batch; false for any other (decode_call_request reads those).
inline bool read_plain_call(std::span<const char> payload, std::uint8_t flags, std::uint32_t& function_id,
                            std::span<const char>& arguments) noexcept {
  std::uint32_t batch_items = 0;
  if ((flags & flag_defines_function) || payload.size() < sizeof function_id + sizeof batch_items) return false;
  std::memcpy(&function_id, payload.data(), sizeof function_id);
  std::memcpy(&batch_items, payload.data() + sizeof function_id, sizeof batch_items);
  arguments = payload.subspan(sizeof function_id + sizeof batch_items);
  return batch_items == 0;
}

/// Appends a call request's head: the function's id, and its definition for the first
/// request of the function on the connection. The call's body follows.
void write_call_head(std::vector<char>& out, std::uint32_t function_id, const call_target* definition);
/// The head of a request of a function defined already on the connection: its id, in
/// short_call_head bytes at at.
inline constexpr std::size_t short_call_head = sizeof(std::uint32_t);
void put_short_call_head(char* at, std::uint32_t function_id) noexcept;

/// The argument archives of a batch request's items. Throws malformed_message.
std::vector<std::span<const char>> split_batch_items(const call_message& batch);

// (batch_writer, which writes a batch's body, is declared in <malt/detail/wire.hpp> for
// the call templates.)

// --- batch reply ---------------------------------------------------------------------

/// One item's outcome in the reply to a batch: its result's archive (empty when the
/// value was not wanted), or a failure report.
struct batch_outcome {
  bool failed = false;
  std::span<const char> bytes;
};

/// Appends an outcome to a batch reply's payload.
void append_batch_outcome(std::vector<char>& payload, bool failed, std::span<const char> bytes,
                          std::span<const char> tail = {});

/// The outcomes of a batch reply that must hold exactly items of them. Throws
/// malformed_message.
std::vector<batch_outcome> split_batch_reply(std::span<const char> payload, std::size_t items);

// --- failure -------------------------------------------------------------------------

/// The worker's answer to a call that did not produce a value.
struct failure_report {
  errc code = errc::remote_exception;
  std::string type, message, trace;
};

/// Appends the report to out in at most max_payload bytes, whatever the exception said:
/// when all does not fit, the trace keeps at most a quarter of the room and the message
/// the rest, and each cut says so.
void encode_failure_report(std::vector<char>& out, failure_report report, std::size_t max_payload);

/// Throws malformed_message.
failure_report decode_failure_report(std::span<const char> payload);

/// The code a report starts with, if it has one.
std::optional<std::uint32_t> failure_code(std::span<const char> payload) noexcept;

/// Whether a worker may answer a call with this code (the others are the host's own).
bool worker_may_report(std::uint32_t code) noexcept;

// --- interrupt, exit_request ---------------------------------------------------------

/// Throws malformed_message unless the payload of this message (named) is empty.
void expect_no_payload(std::span<const char> payload, const char* message);

}  // namespace malt::detail

#endif
