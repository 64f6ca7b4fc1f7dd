#include "process/cgroup.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace malt::detail {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int write_text(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = ok ? 0 : errno;
  ::close(fd);
  return err;
}

bool has_word(const std::string& list, const std::string& word, char separator) {
  std::stringstream s(list);
  for (std::string item; std::getline(s, item, separator);)
    if (item == word) return true;
  return false;
}

// Where this process's group for controller is, as a directory: a cgroup v1 hierarchy that
// has the controller, else the v2 hierarchy if it offers it. Empty when neither.
struct hierarchy {
  std::string dir;
  bool v2 = false;
};

hierarchy find_hierarchy(const std::string& controller) {
  // /proc/self/cgroup: "id:controllers:path", the v2 line being "0::path".
  std::string v1_path, v2_path;
  bool in_v2 = false;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);) {
      const auto a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string::npos || b == std::string::npos) continue;
      const std::string controllers = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (controllers.empty() && line.compare(0, a, "0") == 0) {
        v2_path = path;
        in_v2 = true;
      } else if (has_word(controllers, controller, ',')) {
        v1_path = path;
      }
    }
  }
  // /proc/self/mountinfo: "id parent dev root mountpoint options [tags] - fstype source super".
  std::ifstream in("/proc/self/mountinfo");
  std::string v2_mount;
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    std::string id, parent, dev, root, mountpoint, options;
    f >> id >> parent >> dev >> root >> mountpoint >> options;
    std::string word;
    while (f >> word && word != "-") {
    }
    std::string fstype, source, super;
    f >> fstype >> source >> super;
    auto under = [&](const std::string& path) {  // path is relative to the hierarchy's root
      const std::string rest = root == "/" ? path : path.substr(std::min(path.size(), root.size()));
      return mountpoint + (rest == "/" ? "" : rest);
    };
    if (fstype == "cgroup" && !v1_path.empty() && has_word(super, controller, ',')) return {under(v1_path), false};
    if (fstype == "cgroup2" && in_v2 && v2_mount.empty()) {
      v2_mount = under(v2_path);
    }
  }
  if (!v2_mount.empty() && has_word(read_text(v2_mount + "/cgroup.controllers"), controller, ' '))
    return {v2_mount, true};
  return {};
}

// The groups of this process's live workers, which removing stale groups must leave alone.
std::mutex registry_mutex;
std::set<std::string>& registry() {
  static std::set<std::string> dirs;
  return dirs;
}

// Groups "malt-<pid>-<n>" under parent that a host that has died left behind (empty ones
// only: rmdir refuses the rest), and this process's own that it could not remove earlier.
void remove_stale_groups(const std::string& parent) {
  DIR* d = ::opendir(parent.c_str());
  if (!d) return;
  const std::string own = "malt-" + std::to_string(::getpid()) + "-";
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (!name.starts_with("malt-")) continue;
    const pid_t owner = static_cast<pid_t>(std::atol(name.c_str() + 5));
    const std::string path = parent + "/" + name;
    const bool owner_gone = owner > 0 && ::kill(owner, 0) != 0 && errno == ESRCH;
    bool ours_unused = false;
    if (name.starts_with(own)) {
      std::lock_guard lock(registry_mutex);
      ours_unused = !registry().contains(path);
    }
    if (owner_gone || ours_unused) ::rmdir(path.c_str());
  }
  ::closedir(d);
}

[[noreturn]] void refuse(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

void kill_members(const std::string& dir) {
  std::ifstream in(dir + "/cgroup.procs");
  for (pid_t pid; in >> pid;) ::kill(pid, SIGKILL);
}

}  // namespace

worker_cgroup worker_cgroup::create(const worker_limits& limits) {
  worker_cgroup group;
  if (limits.processes == 0 && limits.resident_memory == 0) return group;
  static std::atomic<unsigned> serial{0};
  const std::string name = "malt-" + std::to_string(::getpid()) + "-" + std::to_string(serial++);
  auto make = [&](const char* controller, const char* field) -> std::pair<std::string, bool> {
    const hierarchy h = find_hierarchy(controller);
    if (h.dir.empty())
      throw std::runtime_error(std::string("worker_options::limits.") + field + " needs the cgroup '" + controller +
                               "' controller, which this system does not offer this process");
    const std::string dir = h.dir + "/" + name;
    for (const auto& made : group.dirs_)
      if (made == dir) return {dir, h.v2};
    remove_stale_groups(h.dir);
    if (h.v2 && !has_word(read_text(h.dir + "/cgroup.subtree_control"), controller, ' '))
      if (int err = write_text(h.dir + "/cgroup.subtree_control", std::string("+") + controller); err != 0)
        refuse(std::string("worker_options::limits.") + field + ": cannot enable the cgroup '" + controller +
                   "' controller in " + h.dir,
               err);
    if (::mkdir(dir.c_str(), 0755) != 0)
      refuse(std::string("worker_options::limits.") + field + " needs a cgroup the host may create: mkdir " + dir,
             errno);
    {
      std::lock_guard lock(registry_mutex);
      registry().insert(dir);
    }
    group.dirs_.push_back(dir);
    return {dir, h.v2};
  };
  if (limits.processes != 0) {
    const auto [dir, v2] = make("pids", "processes");
    (void)v2;
    if (int err = write_text(dir + "/pids.max", std::to_string(limits.processes)); err != 0)
      refuse("worker_options::limits.processes: writing " + dir + "/pids.max", err);
  }
  if (limits.resident_memory != 0) {
    const auto [dir, v2] = make("memory", "resident_memory");
    const std::string bytes = std::to_string(limits.resident_memory);
    if (int err = write_text(dir + (v2 ? "/memory.max" : "/memory.limit_in_bytes"), bytes); err != 0)
      refuse("worker_options::limits.resident_memory: writing the limit in " + dir, err);
    if (v2) write_text(dir + "/memory.swap.max", "0");  // resident means resident: no swapping out instead
    group.memory_dir_ = dir;
  }
  return group;
}

worker_cgroup::worker_cgroup(worker_cgroup&& o) noexcept
    : dirs_(std::move(o.dirs_)), memory_dir_(std::move(o.memory_dir_)) {
  o.dirs_.clear();
}

worker_cgroup& worker_cgroup::operator=(worker_cgroup&& o) noexcept {
  if (this != &o) {
    remove();
    dirs_ = std::move(o.dirs_);
    memory_dir_ = std::move(o.memory_dir_);
    o.dirs_.clear();
  }
  return *this;
}

worker_cgroup::~worker_cgroup() { remove(); }

bool worker_cgroup::oom_killed() const {
  if (memory_dir_.empty()) return false;
  // v2: memory.events; v1: memory.oom_control. Both have a line "oom_kill N".
  for (const char* file : {"/memory.events", "/memory.oom_control"}) {
    std::istringstream in(read_text(memory_dir_ + file));
    for (std::string key; in >> key;) {
      long long n = 0;
      if (!(in >> n)) break;
      if (key == "oom_kill") return n > 0;
    }
  }
  return false;
}

void worker_cgroup::remove() noexcept {
  for (const auto& dir : dirs_) {
    // A process can still be leaving: killed, it is out of the group at once, but rmdir
    // may see it for a moment.
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (::rmdir(dir.c_str()) == 0 || errno != EBUSY) break;
      kill_members(dir);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::lock_guard lock(registry_mutex);
    registry().erase(dir);  // one left behind is removed by a later create()
  }
  dirs_.clear();
  memory_dir_.clear();
}

int join_cgroup(const std::string& dir) noexcept { return write_text(dir + "/cgroup.procs", "0"); }

}  // namespace malt::detail
