#ifndef MALT_SRC_HANDSHAKE_HPP
#define MALT_SRC_HANDSHAKE_HPP

// The first frame each way. Payloads are native binary archives without their own header
// checks, so both sides must be the same kind of build: the hello carries a description
// of this build (protocol, Boost, archive version, compiler, type sizes) and the pid.

#include <span>
#include <string>
#include <sys/types.h>
#include <vector>

namespace malt::detail {

inline constexpr unsigned protocol_version = 1;

std::vector<char> make_hello_frame();

struct hello_check {
  pid_t peer_pid = 0;
  std::string mismatch;  // empty when the peer is compatible
};
hello_check check_hello(std::span<const char> payload);

}  // namespace malt::detail

#endif
