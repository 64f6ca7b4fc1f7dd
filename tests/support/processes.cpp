#include "processes.hpp"

#include <malt/worker.hpp>

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace malt_test {

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
