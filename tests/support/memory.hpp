#ifndef MALT_TESTS_MEMORY_HPP
#define MALT_TESTS_MEMORY_HPP

// What the memory bounds of the hostile-worker tests measure.

#include <cstddef>
#include <fstream>
#include <string>

namespace malt_test {

/// Whether peak memory says what the code allocates. Under AddressSanitizer it does not:
/// freed memory stays in quarantine (256 MiB by default) and every block has red zones,
/// so the memory bounds are checked by the plain build only.
#ifdef MALT_TEST_WITH_ASAN
inline constexpr bool memory_is_measured = false;
#else
inline constexpr bool memory_is_measured = true;
#endif

/// The hostile-worker tests bound peak memory by twice what is legitimately in flight; for
/// replies of a few bytes that is this floor, which a spawn and a call cost by themselves.
inline constexpr std::size_t small_growth = std::size_t(2) << 20;

/// True if this process's peak memory grew by less than limit since before (always true
/// where memory is not measured).
inline bool grew_less_than(std::size_t before, std::size_t limit);

/// The highest resident set size this process (or process, a pid) has had, in bytes (VmHWM).
inline std::size_t peak_rss(const std::string& process = "self") {
  std::ifstream status("/proc/" + process + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

/// Resets the peak to the present resident set size (Linux's clear_refs, 5), so that what
/// an earlier test allocated does not hide what the next one does; returns it.
inline std::size_t reset_peak_rss() {
  std::ofstream("/proc/self/clear_refs") << "5";
  return peak_rss();
}

inline bool grew_less_than(std::size_t before, std::size_t limit) {
  return !memory_is_measured || peak_rss() - before < limit;
}

}  // namespace malt_test

#endif
