#ifndef MALT_TESTS_PROCESSES_HPP
#define MALT_TESTS_PROCESSES_HPP

// What every test program checks: it becomes a subreaper, so any process a test orphans
// is re-parented to it and shows up as its child; after each test no worker may be
// running and no child may be left.

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace malt_test {

/// This process's children (re-parented orphans included), zombies too.
std::vector<pid_t> child_processes();

/// True if pid names a process that has not been reaped.
bool process_exists(pid_t pid);

/// The pid this process knows for a process that worker (a worker's pid) sees as pid:
/// the same number unless the worker runs in a PID namespace of its own. -1 if none.
pid_t host_pid(pid_t worker, pid_t pid);

/// Whether pid (a child of this process, if only by re-parenting, or not) has ended within
/// limit; reaped, if it was a child.
bool ended_within(pid_t pid, std::chrono::milliseconds limit);

/// Whether every child of this process (orphans re-parented to it included) has ended and
/// been reaped within limit.
bool children_ended_within(std::chrono::milliseconds limit);

/// Kills and reaps every child; returns how many there were.
std::size_t kill_children();

/// A helper program started with its stdout on a pipe.
struct started_program {
  pid_t pid = -1;
  std::string first_line;  // what it printed first
  int output = -1;         // the rest of its stdout; keep it open while it runs (a closed
                           // pipe would kill it on its next line)
};
started_program start_program(const std::vector<std::string>& argv);

}  // namespace malt_test

#endif
