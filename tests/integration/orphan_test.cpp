// No worker outlives its host: a host killed with SIGKILL while its worker and that
// worker's own worker are busy leaves neither running.
#include "run.hpp"

#include <csignal>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace malt_test;

namespace {

// Waits up to limit for pid (a child of this process, if only by re-parenting) to end.
bool reaped_within(pid_t pid, std::chrono::milliseconds limit) {
  for (auto end = std::chrono::steady_clock::now() + limit; std::chrono::steady_clock::now() < end;) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid || !process_exists(pid)) return true;
    ::usleep(2000);
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(orphans)

BOOST_AUTO_TEST_CASE(killing_a_host_with_sigkill_ends_its_busy_workers_at_every_depth) {
  // This process is a subreaper: orphans land here, where the test can see them.
  int out[2];
  BOOST_TEST_REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  char path[] = MALT_ORPHAN_HOST;
  char* argv[] = {path, nullptr};
  pid_t host = -1;
  BOOST_TEST_REQUIRE(::posix_spawn(&host, path, &actions, nullptr, argv, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);

  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;  // "<worker> <grandchild>", once both are busy
  ::close(out[0]);
  std::istringstream in(line);
  pid_t worker = 0, grandchild = 0;
  in >> worker >> grandchild;
  BOOST_TEST_REQUIRE(worker > 0);
  BOOST_TEST_REQUIRE(grandchild > 0);
  BOOST_TEST(process_exists(worker));
  BOOST_TEST(process_exists(grandchild));

  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
  BOOST_TEST(reaped_within(worker, 1000ms), "the worker outlived its host");
  BOOST_TEST(reaped_within(grandchild, 1000ms), "the worker's worker outlived the host");
  kill_children();
}

BOOST_AUTO_TEST_SUITE_END()
