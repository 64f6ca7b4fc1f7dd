#include "protocol/messages.hpp"

#include "protocol/frame.hpp"

#include <malt/detail/wire.hpp>

#include <boost/archive/basic_archive.hpp>
#include <boost/version.hpp>

#include <algorithm>
#include <bit>
#include <cstring>
#include <unistd.h>

namespace malt::detail {

void byte_writer::u32(std::uint32_t v) {
  const auto at = out_.size();
  out_.resize(at + sizeof v);
  std::memcpy(out_.data() + at, &v, sizeof v);
}

void byte_writer::string(std::string_view s) {
  u32(static_cast<std::uint32_t>(s.size()));
  out_.insert(out_.end(), s.begin(), s.end());
}

void byte_reader::fail(const std::string& what) const { throw malformed_message(std::string(message_) + ": " + what); }

std::uint32_t byte_reader::u32(const char* field) {
  std::uint32_t v;
  if (in_.size() < sizeof v)
    fail(std::string(field) + " is cut short (" + std::to_string(in_.size()) + " of 4 bytes)");
  std::memcpy(&v, in_.data(), sizeof v);
  in_ = in_.subspan(sizeof v);
  return v;
}

std::string_view byte_reader::string(const char* field) {
  const std::uint32_t n = u32(field);
  if (in_.size() < n)
    fail(std::string(field) + " claims " + std::to_string(n) + " bytes; " + std::to_string(in_.size()) + " follow");
  const std::string_view s(in_.data(), n);
  in_ = in_.subspan(n);
  return s;
}

void byte_reader::expect_end() const {
  if (!in_.empty()) fail(std::to_string(in_.size()) + " bytes left over");
}

// --- hello ---------------------------------------------------------------------------

namespace {

constexpr std::uint32_t magic = 0x544c414d;  // "MALT"

std::string build_description() {
  return "protocol " + std::to_string(protocol_version) + ", Boost " + std::to_string(BOOST_VERSION) +
         ", archive " + std::to_string(static_cast<unsigned>(boost::archive::BOOST_ARCHIVE_VERSION())) +
         ", compiler " __VERSION__ ", sizes " + std::to_string(sizeof(short)) + std::to_string(sizeof(int)) +
         std::to_string(sizeof(long)) + std::to_string(sizeof(long long)) + std::to_string(sizeof(void*)) +
         std::to_string(sizeof(long double)) + std::to_string(sizeof(wchar_t)) +
         (std::endian::native == std::endian::little ? ", little-endian" : ", big-endian");
}

}  // namespace

std::vector<char> make_hello_frame(pid_t pid) {
  std::vector<char> f(frame_header_size);
  byte_writer out(f);
  out.u32(magic);
  out.u32(static_cast<std::uint32_t>(pid));
  out.string(build_description());
  write_header(f, frame_type::hello, 0, 0);
  return f;
}

hello_check check_hello(std::span<const char> payload) {
  hello_check r;
  try {
    byte_reader in(payload, "hello");
    if (in.u32("magic number") != magic) {
      r.mismatch = "the peer is not a malt worker (bad magic number)";
      return r;
    }
    r.peer_pid = static_cast<pid_t>(in.u32("pid"));
    const std::string theirs(in.string("build description"));
    in.expect_end();
    const std::string ours = build_description();
    if (theirs != ours) r.mismatch = "this side is built with " + ours + "; the peer with " + theirs;
  } catch (const malformed_message& e) {
    r.mismatch = std::string("malformed handshake: ") + e.what();
  }
  return r;
}

// --- call ----------------------------------------------------------------------------

void put_short_call_head(char* at, std::uint32_t function_id) noexcept {
  std::memcpy(at, &function_id, sizeof function_id);
}

void write_call_head(std::vector<char>& out, std::uint32_t function_id, const call_target* definition) {
  byte_writer w(out);
  w.u32(function_id);
  if (!definition) return;
  w.string(definition->name);
  w.string(definition->parameter_types);
  w.string(definition->result_type);
}

void batch_writer::begin_item() {
  item_at_ = frame_.size();
  byte_writer(frame_).u32(0);
}

void batch_writer::end_item() {
  const auto size = static_cast<std::uint32_t>(frame_.size() - item_at_ - sizeof(std::uint32_t));
  std::memcpy(frame_.data() + item_at_, &size, sizeof size);
  ++items_;
}

void batch_writer::end() { std::memcpy(frame_.data(), &items_, sizeof items_); }

call_message decode_call_request(std::span<const char> payload, std::uint8_t flags) {
  byte_reader in(payload, "call request");
  call_message r;
  r.function_id = in.u32("function id");
  r.defines = (flags & flag_defines_function) != 0;
  if (r.defines) {
    r.function = in.string("function name");
    r.parameter_types = in.string("parameter types");
    r.result_type = in.string("result type");
  }
  r.batch_items = in.u32("batch item count");
  r.arguments = in.rest();
  return r;
}

namespace {
// Cuts n length-prefixed parts off in; the count is checked against the bytes before
// anything is reserved for it.
std::vector<std::span<const char>> split_parts(byte_reader& in, std::size_t n, std::size_t bytes, const char* part) {
  if (n > bytes / sizeof(std::uint32_t))
    throw malformed_message(std::string(part) + "s: " + std::to_string(n) + " claimed in " + std::to_string(bytes) +
                            " bytes");
  std::vector<std::span<const char>> parts;
  parts.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::string_view s = in.string(part);
    parts.emplace_back(s.data(), s.size());
  }
  in.expect_end();
  return parts;
}
}  // namespace

std::vector<std::span<const char>> split_batch_items(const call_message& batch) {
  byte_reader in(batch.arguments, "batch request");
  return split_parts(in, batch.batch_items, batch.arguments.size(), "item");
}

void append_batch_outcome(std::vector<char>& payload, bool failed, std::span<const char> bytes,
                          std::span<const char> tail) {
  byte_writer out(payload);
  out.u32(failed ? 1 : 0);
  out.u32(static_cast<std::uint32_t>(bytes.size() + tail.size()));
  payload.insert(payload.end(), bytes.begin(), bytes.end());
  payload.insert(payload.end(), tail.begin(), tail.end());
}

std::vector<batch_outcome> split_batch_reply(std::span<const char> payload, std::size_t items) {
  byte_reader in(payload, "batch reply");
  if (items > payload.size() / (2 * sizeof(std::uint32_t)))
    throw malformed_message("batch reply: " + std::to_string(payload.size()) + " bytes cannot hold " +
                            std::to_string(items) + " outcomes");
  std::vector<batch_outcome> outcomes(items);
  for (auto& o : outcomes) {
    const std::uint32_t status = in.u32("outcome status");
    if (status > 1) throw malformed_message("batch reply: outcome status " + std::to_string(status) + " is neither 0 nor 1");
    o.failed = status == 1;
    const std::string_view s = in.string("outcome");
    o.bytes = {s.data(), s.size()};
  }
  in.expect_end();
  return outcomes;
}

// --- failure -------------------------------------------------------------------------

namespace {

constexpr std::size_t fixed_size = 4 * sizeof(std::uint32_t);  // the code and three lengths
constexpr std::size_t max_type_size = 1024;

// Cuts text to at most size bytes, ending with a note of what went.
void cut(std::string& text, std::size_t size) {
  if (text.size() <= size) return;
  std::string note = "\n[... " + std::to_string(text.size()) + " bytes, cut to fit worker_options::max_frame_size]";
  if (note.size() > size) note.clear();
  text.resize(size - note.size());
  text += note;
}

}  // namespace

void encode_failure_report(std::vector<char>& out, failure_report r, std::size_t max_payload) {
  std::size_t room = max_payload > fixed_size ? max_payload - fixed_size : 0;
  cut(r.type, std::min(room, max_type_size));
  room -= r.type.size();
  cut(r.trace, room > r.message.size() ? room - r.message.size() : std::min(room / 4, r.trace.size()));
  room -= r.trace.size();
  cut(r.message, room);
  byte_writer w(out);
  w.u32(static_cast<std::uint32_t>(r.code));
  w.string(r.type);
  w.string(r.message);
  w.string(r.trace);
}

failure_report decode_failure_report(std::span<const char> payload) {
  byte_reader in(payload, "failure report");
  failure_report r;
  r.code = static_cast<errc>(in.u32("error code"));
  r.type = in.string("exception type");
  r.message = in.string("message");
  r.trace = in.string("stack trace");
  in.expect_end();
  return r;
}

std::optional<std::uint32_t> failure_code(std::span<const char> payload) noexcept {
  if (payload.size() < sizeof(std::uint32_t)) return std::nullopt;
  std::uint32_t code;
  std::memcpy(&code, payload.data(), sizeof code);
  return code;
}

bool worker_may_report(std::uint32_t code) noexcept {
  switch (static_cast<errc>(code)) {
    case errc::remote_exception:
    case errc::bad_request:
    case errc::unknown_function:
    case errc::signature_mismatch:
    case errc::interrupted:
    case errc::frame_too_large: return true;
    default: return false;
  }
}

// --- interrupt, exit_request ---------------------------------------------------------

void expect_no_payload(std::span<const char> payload, const char* message) {
  byte_reader(payload, message).expect_end();
}

}  // namespace malt::detail
