// Entry point of every test program: it is also its own worker (the default executable),
// so it hands over to the library first when started as one.
#define BOOST_TEST_MODULE malt
#define BOOST_TEST_NO_MAIN
#include <boost/test/unit_test.hpp>

#include <malt/worker_main.hpp>

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  return boost::unit_test::unit_test_main([] { return true; }, argc, argv);
}
