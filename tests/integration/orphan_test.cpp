// No worker outlives its host: a host killed with SIGKILL while its worker and that
// worker's own worker are busy leaves neither running.
#include "run.hpp"

#include <csignal>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

using namespace malt_test;

BOOST_AUTO_TEST_SUITE(orphans)

BOOST_AUTO_TEST_CASE(killing_a_host_with_sigkill_ends_its_busy_workers_at_every_depth) {
  // This process is a subreaper: orphans land here, where the test can see them.
  const started_program host_program = start_program({MALT_ORPHAN_HOST});
  const pid_t host = host_program.pid;
  const std::string& line = host_program.first_line;  // "<worker> <grandchild>", once both are busy
  std::istringstream in(line);
  pid_t worker = 0, grandchild = 0;
  in >> worker >> grandchild;
  BOOST_TEST_REQUIRE(worker > 0);
  grandchild = host_pid(worker, grandchild);  // the worker saw it from its PID namespace
  BOOST_TEST_REQUIRE(grandchild > 0);
  BOOST_TEST(process_exists(worker));
  BOOST_TEST(process_exists(grandchild));

  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
  BOOST_TEST(ended_within(worker, 1000ms), "the worker outlived its host");
  BOOST_TEST(ended_within(grandchild, 1000ms), "the worker's worker outlived the host");
  ::close(host_program.output);
  kill_children();
}

BOOST_AUTO_TEST_SUITE_END()
