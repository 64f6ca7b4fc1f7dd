#include "handshake.hpp"

#include "frame.hpp"

#include <boost/archive/basic_archive.hpp>
#include <boost/version.hpp>

#include <bit>
#include <unistd.h>

namespace malt::detail {
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

std::vector<char> make_hello_frame() {
  std::vector<char> f(frame_header_size);
  put_u32(f, magic);
  put_u32(f, static_cast<std::uint32_t>(::getpid()));
  put_string(f, build_description());
  write_header(f, frame_type::hello, 0, 0);
  return f;
}

hello_check check_hello(std::span<const char> payload) {
  hello_check r;
  try {
    payload_reader in(payload);
    if (in.u32() != magic) {
      r.mismatch = "the peer is not a malt worker (bad magic number)";
      return r;
    }
    r.peer_pid = static_cast<pid_t>(in.u32());
    const std::string theirs(in.string());
    const std::string ours = build_description();
    if (theirs != ours) r.mismatch = "this side is built with " + ours + "; the peer with " + theirs;
  } catch (const std::exception& e) {
    r.mismatch = std::string("malformed handshake: ") + e.what();
  }
  return r;
}

}  // namespace malt::detail
