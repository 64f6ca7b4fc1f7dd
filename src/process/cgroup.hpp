#ifndef MALT_SRC_PROCESS_CGROUP_HPP
#define MALT_SRC_PROCESS_CGROUP_HPP

// The control groups that hold a worker's process and resident-memory limits
// (worker_limits::processes, resident_memory). rlimits cannot do either: RLIMIT_NPROC counts
// every process of the user and does not bind root, and RLIMIT_RSS is not enforced. The
// host makes one group per worker under its own (cgroup v1 per controller, or v2), the
// worker joins it before it starts anything, so every descendant is in it too, and the host
// removes it once the worker has been reaped, killing whatever is left in it first.

#include <malt/worker_options.hpp>

#include <string>
#include <vector>

namespace malt::detail {

class worker_cgroup {
 public:
  /// None: no limit needs one.
  worker_cgroup() = default;
  /// Makes the groups limits needs, with the limits written. Throws std::runtime_error
  /// naming what the system refused (no cgroup hierarchy with the controller, or one the
  /// host may not write).
  static worker_cgroup create(const worker_limits& limits);
  worker_cgroup(worker_cgroup&& o) noexcept;
  worker_cgroup& operator=(worker_cgroup&& o) noexcept;
  ~worker_cgroup();

  /// The directories the worker joins.
  const std::vector<std::string>& directories() const noexcept { return dirs_; }
  /// Whether the kernel's out-of-memory killer killed a process of the group.
  bool oom_killed() const;
  /// Kills every process left in the groups and removes them.
  void remove() noexcept;

 private:
  std::vector<std::string> dirs_;
  std::string memory_dir_;  // the one holding the memory controller, if any
};

/// In the worker: moves the calling process into the group at dir. Returns 0 or an errno.
int join_cgroup(const std::string& dir) noexcept;

}  // namespace malt::detail

#endif
