// malt_hostile_worker: a worker that speaks the real handshake and then misbehaves on
// purpose, as a worker running untrusted code could. Its arguments after the library's
// own name the misbehaviour:
//
//   reply result|failure FILE  answer the first call with a frame of that type whose payload
//                              is FILE's bytes; every later call gets `true` (the probe)
//   reply_to_unknown_id        answer the first call under an id the host never issued
//   header_only SIZE           answer the first call with a header claiming SIZE bytes, send
//                              100 of them, wait 1 s and exit
//   die_keeping_socket FILE    on the first call, leave a descendant (setsid) holding the
//                              socket and the output pipes, write its pid to FILE, exit 3
//   exit_keeping_socket_at_startup FILE   the same before the handshake, exit 4
//   hang_keeping_socket_at_startup FILE   the same before the handshake, then hang
//   never_read                 after the handshake, read nothing more
//   output STREAM              answer the first call with an output frame for STREAM
//                              ("a line\n") before its reply, `true`
//
// Started through a launcher, its channel is fd 0 and 1, one socket; else fd 3.
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"
#include "process/spawn.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <sys/prctl.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace malt::detail;

namespace {

int sock = worker_socket_fd;

void read_exactly(void* to, std::size_t n) {
  auto* p = static_cast<char*>(to);
  while (n > 0) {
    const ssize_t got = ::read(sock, p, n);
    if (got <= 0) std::_Exit(0);  // the host has gone
    p += got;
    n -= static_cast<std::size_t>(got);
  }
}

void write_all(const void* from, std::size_t n) {
  const auto* p = static_cast<const char*>(from);
  while (n > 0) {
    const ssize_t put = ::write(sock, p, n);
    if (put <= 0) std::_Exit(0);
    p += put;
    n -= static_cast<std::size_t>(put);
  }
}

frame read_frame() {
  frame f;
  read_exactly(&f.header, sizeof f.header);
  f.owned.resize(f.header.payload_size);
  if (!f.owned.empty()) read_exactly(f.owned.data(), f.owned.size());
  f.payload = f.owned;
  return f;
}

void send(frame_type type, std::uint64_t id, const std::vector<char>& payload) {
  frame_header h;
  h.payload_size = static_cast<std::uint32_t>(payload.size());
  h.type = type;
  h.call_id = id;
  write_all(&h, sizeof h);
  write_all(payload.data(), payload.size());
}

// A call that expects a reply; exit requests end this worker, other frames are ignored.
frame next_call() {
  for (;;) {
    frame f = read_frame();
    if (f.header.type == frame_type::exit_request) std::_Exit(0);
    if (f.header.type == frame_type::call) return f;
  }
}

// A process of this worker's that outlives it, holding its socket and pipes.
void leave_descendant(const char* pid_file) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::setsid();
    for (int i = 0; i < 300; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::_Exit(0);
  }
  std::ofstream(pid_file) << child << std::endl;
}

}  // namespace

int main(int argc, char** argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.size() < 2 || !args[0].starts_with(worker_flag)) {
    std::fprintf(stderr, "malt_hostile_worker: started by the tests only\n");
    return 2;
  }
  const std::string_view mode = args[1];
  if (args[0].find("stdio=1") != std::string_view::npos) sock = 0;
  const char* param = args.size() > 2 ? argv[3] : "";

  if (mode == "exit_keeping_socket_at_startup") {
    leave_descendant(param);
    std::_Exit(4);
  }
  if (mode == "hang_keeping_socket_at_startup") {
    leave_descendant(param);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  read_frame();  // the host's hello
  auto hello = make_hello_frame();
  write_all(hello.data(), hello.size());

  if (mode == "never_read")
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));

  const frame first = next_call();
  const auto id = first.header.call_id;
  if (mode == "reply") {
    std::ifstream in(argv[4], std::ios::binary);
    std::vector<char> payload((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    send(std::string_view(param) == "failure" ? frame_type::failure : frame_type::result, id, payload);
  } else if (mode == "reply_to_unknown_id") {
    send(frame_type::result, id + 1000, {1});
  } else if (mode == "header_only") {
    frame_header h;
    h.payload_size = static_cast<std::uint32_t>(std::strtoul(param, nullptr, 10));
    h.type = frame_type::result;
    h.call_id = id;
    write_all(&h, sizeof h);
    const std::vector<char> some(100, 'x');
    write_all(some.data(), some.size());
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::_Exit(0);
  } else if (mode == "output") {
    const std::string line = "a line\n";
    send(frame_type::output, std::strtoull(param, nullptr, 10), std::vector<char>(line.begin(), line.end()));
    send(frame_type::result, id, {1});
  } else if (mode == "die_keeping_socket") {
    leave_descendant(param);
    std::_Exit(3);
  } else {
    std::fprintf(stderr, "malt_hostile_worker: unknown mode\n");
    return 2;
  }
  for (;;) send(frame_type::result, next_call().header.call_id, {1});  // `true`, for the probe
}
