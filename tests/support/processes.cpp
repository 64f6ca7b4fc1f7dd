#include "processes.hpp"

#include <malt/worker.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace malt_test {

started_program start_program(const std::vector<std::string>& argv) {
  int out[2];
  BOOST_TEST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  std::vector<std::string> strings = argv;
  std::vector<char*> args;
  for (auto& a : strings) args.push_back(a.data());
  args.push_back(nullptr);
  started_program p;
  const int rc = ::posix_spawn(&p.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  BOOST_TEST_REQUIRE(rc == 0);
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') p.first_line += c;
  p.output = out[0];
  return p;
}

std::vector<pid_t> child_processes() {
  std::vector<pid_t> out;
  DIR* tasks = ::opendir("/proc/self/task");
  if (!tasks) return out;
  while (dirent* t = ::readdir(tasks)) {
    if (t->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + t->d_name + "/children");
    pid_t pid;
    while (in >> pid) out.push_back(pid);
  }
  ::closedir(tasks);
  return out;
}

bool process_exists(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

namespace {
std::string link_target(const std::string& path) {
  char buf[128];
  const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}
}  // namespace

pid_t host_pid(pid_t worker, pid_t pid) {
  const std::string worker_children = link_target("/proc/" + std::to_string(worker) + "/ns/pid_for_children");
  if (worker_children.empty() || worker_children == link_target("/proc/self/ns/pid")) return pid;
  // "NSpid: <here> ... <there>": the last number is the pid in the process's own namespace.
  DIR* proc = ::opendir("/proc");
  pid_t found = -1;
  while (dirent* d = proc ? ::readdir(proc) : nullptr) {
    if (d->d_name[0] < '0' || d->d_name[0] > '9') continue;
    const std::string dir = std::string("/proc/") + d->d_name;
    if (link_target(dir + "/ns/pid") != worker_children) continue;
    std::ifstream in(dir + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.starts_with("NSpid:")) continue;
      std::istringstream numbers(line.substr(6));
      pid_t n = -1, last = -1;
      while (numbers >> n) last = n;
      if (last == pid) found = static_cast<pid_t>(std::stol(d->d_name));
    }
    if (found > 0) break;
  }
  if (proc) ::closedir(proc);
  return found;
}

bool ended_within(pid_t pid, std::chrono::milliseconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid || !process_exists(pid)) return true;
    ::usleep(2000);
  }
  return false;
}

bool children_ended_within(std::chrono::milliseconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (child_processes().empty()) return true;
    ::usleep(2000);
  }
  return false;
}

std::size_t kill_children() {
  auto children = child_processes();
  for (pid_t p : children) ::kill(p, SIGKILL);
  // In any order: a PID namespace's reaper ends only once its members are reaped.
  auto left = children;
  for (int i = 0; i < 5000 && !left.empty(); ++i) {
    std::erase_if(left, [](pid_t p) { return ::waitpid(p, nullptr, WNOHANG) != 0; });
    if (!left.empty()) ::usleep(1000);
  }
  return children.size();
}

struct leftover_check {
  leftover_check() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  void teardown() {
    BOOST_TEST(malt::running_workers().empty(), "workers still running after the tests");
    BOOST_TEST(kill_children() == 0u, "child processes left after the tests");
  }
};

}  // namespace malt_test

using malt_test::leftover_check;
BOOST_TEST_GLOBAL_FIXTURE(leftover_check);
