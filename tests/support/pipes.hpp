#ifndef MALT_TESTS_PIPES_HPP
#define MALT_TESTS_PIPES_HPP

#include <chrono>
#include <poll.h>
#include <string>
#include <unistd.h>

namespace malt_test {

/// What a raw pipe delivers: waits up to first_wait for the first bytes, then takes what
/// follows closely.
inline std::string read_available(int fd, std::chrono::milliseconds first_wait = std::chrono::seconds(5)) {
  std::string out;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, out.empty() ? static_cast<int>(first_wait.count()) : 200) > 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace malt_test

#endif
