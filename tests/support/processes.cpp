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

std::size_t kill_children() {
  auto children = child_processes();
  for (pid_t p : children) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
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
