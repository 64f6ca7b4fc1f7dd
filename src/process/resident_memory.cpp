#include "process/resident_memory.hpp"

#include <dirent.h>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace malt::detail {
namespace {

std::size_t resident_bytes(pid_t pid) {
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  std::size_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// The children of every thread of pid (a child belongs to the thread that started it).
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> children;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (!dir) return children;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream list(tasks + "/" + entry->d_name + "/children");
    pid_t child = 0;
    while (list >> child) children.push_back(child);
  }
  ::closedir(dir);
  return children;
}

}  // namespace

std::size_t resident_bytes_of_tree(pid_t root) {
  std::size_t total = 0;
  std::vector<pid_t> pending{root};
  // A process tree is a tree; the bound only guards against pid reuse making a loop.
  for (std::size_t seen = 0; !pending.empty() && seen < 4096; ++seen) {
    const pid_t pid = pending.back();
    pending.pop_back();
    total += resident_bytes(pid);
    for (pid_t child : children_of(pid)) pending.push_back(child);
  }
  return total;
}

}  // namespace malt::detail
