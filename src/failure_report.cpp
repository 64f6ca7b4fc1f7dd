#include "failure_report.hpp"

#include "frame.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace malt::detail {
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
  put_u32(out, static_cast<std::uint32_t>(r.code));
  put_string(out, r.type);
  put_string(out, r.message);
  put_string(out, r.trace);
}

failure_report decode_failure_report(std::span<const char> payload) {
  payload_reader in(payload);
  failure_report r;
  r.code = static_cast<errc>(in.u32());
  r.type = in.string();
  r.message = in.string();
  r.trace = in.string();
  if (!in.rest().empty()) throw std::runtime_error(std::to_string(in.rest().size()) + " bytes left over");
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

}  // namespace malt::detail
