#ifndef MALT_TESTS_MEMORY_HPP
#define MALT_TESTS_MEMORY_HPP

// What the memory bounds of the hostile-worker tests measure.

#include <cstddef>
#include <fstream>
#include <string>

namespace malt_test {

/// The highest resident set size this process has had, in bytes (VmHWM).
inline std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

}  // namespace malt_test

#endif
