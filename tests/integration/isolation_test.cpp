// worker_options::isolation: a locked-down worker cannot open a TCP connection to
// 127.0.0.1 where the host can, nor write outside its writable paths, nor use the system
// calls the filter refuses, and still answers calls. Where the kernel refuses a part, the
// spawn fails with a spawn_error naming it, and the case says so and passes.
#include "run.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <cstdlib>
#include <filesystem>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

asio::awaitable<std::optional<malt::worker>> start_locked_down(const std::string& writable) {
  malt::worker_options options;
  options.isolation = malt::locked_down({writable});
  std::optional<malt::worker> started;
  try {
    started = co_await malt::spawn_worker(options);
  } catch (const malt::spawn_error& e) {
    BOOST_TEST(std::string(e.what()).find("isolation refused by the kernel") != std::string::npos, e.what());
    BOOST_TEST_MESSAGE("skipped: " << e.what());
  }
  co_return started;
}

asio::awaitable<void> check_an_open_worker(int port, std::string outside) {
  malt::worker open = co_await malt::spawn_worker();
  BOOST_TEST(co_await malt::remote_call_fetch(open, try_connect, port) == "connected");
  BOOST_TEST(co_await malt::remote_call_fetch(open, try_write_file, outside) == "written");
  BOOST_TEST(co_await malt::remote_call_fetch(open, try_read_own_memory) == "read");
  BOOST_TEST(co_await malt::remote_call_fetch(open, sees_process, ::getpid()));  // the host's /proc
  co_await malt::stop(open);
}

asio::awaitable<void> check_a_locked_down_worker(int port, std::string outside, std::string writable) {
  auto w = co_await start_locked_down(writable);
  if (!w) co_return;
  BOOST_TEST(co_await malt::remote_call_fetch(*w, try_connect, port) != "connected");
  BOOST_TEST(co_await malt::remote_call_fetch(*w, try_write_file, outside) == std::strerror(EROFS));
  BOOST_TEST(co_await malt::remote_call_fetch(*w, try_write_file, writable + "/inside.txt") == "written");
  BOOST_TEST(co_await malt::remote_call_fetch(*w, try_read_own_memory) == std::strerror(EPERM));  // filtered
  if (w->containment() == malt::containment::pid_namespace)  // a /proc of its own
    BOOST_TEST(!co_await malt::remote_call_fetch(*w, sees_process, ::getpid()));
  BOOST_TEST(co_await malt::remote_call_fetch(*w, add, 1, 2) == 3);  // and it still serves
  const auto refused = co_await malt::remote_eval_fetch<std::string>(*w, "return select(2, io.open('/etc/passwd', 'a'))");
  BOOST_TEST(refused.find("Read-only file system") != std::string::npos, refused);
  BOOST_TEST(co_await malt::remote_call_fetch(*w, nested_add, 1) == 2);  // its own workers start
  co_await malt::stop(*w);
}

asio::awaitable<void> compare_an_open_and_a_locked_down_worker() {
  asio::ip::tcp::acceptor listener(co_await asio::this_coro::executor, {asio::ip::address_v4::loopback(), 0});
  const int port = listener.local_endpoint().port();
  const auto dir = std::filesystem::temp_directory_path() / ("malt-isolation-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "writable");
  co_await check_an_open_worker(port, (dir / "outside.txt").string());
  co_await check_a_locked_down_worker(port, (dir / "outside.txt").string(), (dir / "writable").string());
  std::filesystem::remove_all(dir);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(isolation)

BOOST_AUTO_TEST_CASE(a_locked_down_worker_reaches_no_network_and_writes_only_where_allowed) {
  run(compare_an_open_and_a_locked_down_worker);
}

BOOST_AUTO_TEST_CASE(bad_writable_paths_are_refused_before_anything_starts) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options options;
    options.isolation = malt::locked_down({"relative/path"});
    const auto e = co_await thrown<malt::error>(malt::spawn_worker(options));
    BOOST_TEST((e.code() == malt::errc::invalid_options));
    options.isolation = malt::locked_down({"/no/such/directory/here"});
    const auto f = co_await thrown<malt::error>(malt::spawn_worker(options));
    BOOST_TEST(std::string(f.what()).find("does not exist") != std::string::npos);
  });
}

BOOST_AUTO_TEST_SUITE_END()
