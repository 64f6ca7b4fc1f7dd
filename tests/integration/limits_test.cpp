// A worker's resource limits: each is set on the process, and each is hit: an allocation
// past the address space fails in the worker, which answers the next call; opening past
// the descriptor limit fails, and so does a fork past the processes limit; a worker past
// its CPU time, file size or resident memory is ended, and its pending call names the limit.
#include "run.hpp"
#include "test_functions.hpp"

#include <boost/asio/as_tuple.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

// The line of /proc/<pid>/limits that starts with name, e.g. "Max cpu time".
std::string limit_line(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with(name)) return line;
  return "";
}


// AddressSanitizer reserves terabytes of address space for its shadow memory: a worker
// built with it cannot start under an address-space limit.
#ifdef MALT_TEST_WITH_ASAN
constexpr bool address_space_limits_work = false;
#else
constexpr bool address_space_limits_work = true;
#endif

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_limits)

BOOST_AUTO_TEST_CASE(each_limit_is_set_on_the_worker_process) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    if (address_space_limits_work) o.limits.address_space = 2ull << 30;
    o.limits.cpu_time = std::chrono::seconds(30);
    o.limits.open_files = 64;
    o.limits.file_size = 1 << 20;
    malt::worker w = co_await malt::spawn_worker(o);
    std::istringstream cpu(limit_line(w.pid(), "Max cpu time").substr(26));
    std::string soft, hard;
    cpu >> soft >> hard;
    BOOST_TEST(soft == "30");
    BOOST_TEST(hard == "31");
    if (address_space_limits_work) BOOST_TEST(contains(limit_line(w.pid(), "Max address space"), "2147483648"));
    BOOST_TEST(contains(limit_line(w.pid(), "Max open files"), "64"));
    BOOST_TEST(contains(limit_line(w.pid(), "Max file size"), "1048576"));
    std::istringstream core(limit_line(w.pid(), "Max core file size").substr(26));
    core >> soft >> hard;
    BOOST_TEST(soft == "0");  // core dumps are off unless asked for
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(memory_past_the_address_space_fails_in_the_worker_which_carries_on) {
  if (!address_space_limits_work) {
    BOOST_TEST_MESSAGE("skipped: AddressSanitizer's shadow memory does not fit an address-space limit");
    return;
  }
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.address_space = 512ull << 20;
    malt::worker w = co_await malt::spawn_worker(o);
    auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, make_bytes, 1u << 30));
    BOOST_TEST(e.type_name() == "std::bad_alloc");
    auto lua = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "#string.rep('x', 2^30)"));
    BOOST_TEST(contains(lua.message(), "not enough memory"), lua.message());
    BOOST_TEST(co_await malt::remote_call_fetch(w, byte_sum, std::vector<std::uint8_t>(1000, 1)) == 1000u);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(files_past_the_descriptor_limit_do_not_open) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.open_files = 32;
    malt::worker w = co_await malt::spawn_worker(o);
    // The eval closes what it opened before it answers (UBSan, in the sanitized build, needs
    // a descriptor of its own to check the reply's encoding).
    const std::string why = co_await malt::remote_eval_fetch<std::string>(w, R"(
      local files, why = {}, 'all 64 opened'
      for i = 1, 64 do
        local f, err = io.open('/dev/null')
        if not f then why = err break end
        files[i] = f
      end
      for _, f in ipairs(files) do f:close() end
      return why)");
    BOOST_TEST(contains(why, "Too many open files"), why);
    co_await probe(w);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(a_worker_past_its_cpu_time_is_ended_and_its_call_names_the_limit) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.cpu_time = std::chrono::seconds(1);
    malt::worker w = co_await malt::spawn_worker(o);
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, spin_forever));
    BOOST_TEST(seconds_since(start) < 10.0);
    BOOST_TEST((e.signal() == SIGXCPU));
    BOOST_TEST(contains(e.what(), "SIGXCPU"), e.what());
    BOOST_TEST(contains(e.what(), "CPU limit 1 s"), e.what());
  });
}

BOOST_AUTO_TEST_CASE(a_worker_writing_past_its_file_size_is_ended_and_its_call_names_the_limit) {
  const std::string path = "/tmp/malt-limits-" + std::to_string(::getpid());
  run([&]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.file_size = 64 * 1024;
    malt::worker w = co_await malt::spawn_worker(o);
    auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_eval_wait(
        w, "local f = io.open('" + path + "', 'w'); f:setvbuf('no'); f:write(string.rep('x', 200000)); f:close()"));
    BOOST_TEST((e.signal() == SIGXFSZ));
    BOOST_TEST(contains(e.what(), "file size limit 65536 bytes"), e.what());
  });
  std::remove(path.c_str());
}

// The limits a cgroup holds start only where the host may create one (root, or a
// delegated subtree); elsewhere the start is refused, and the case says so and passes.
asio::awaitable<std::optional<malt::worker>> start_in_cgroup(malt::worker_options o) {
  // Completes with a code, not an exception: g++ 12 warns falsely about a try block here.
  const auto ex = co_await asio::this_coro::executor;
  malt::diagnostics diag;
  auto [ec, w] = co_await malt::spawn_worker(ex, std::move(o), diag, asio::as_tuple(asio::use_awaitable));
  if (!ec) co_return std::optional<malt::worker>(std::move(w));
  BOOST_TEST((ec == malt::errc::spawn_failed), ec.message());
  BOOST_TEST((contains(diag.message(), "cgroup")), diag.message());
  BOOST_TEST_MESSAGE("skipped: " << diag.message());
  co_return std::nullopt;
}

BOOST_AUTO_TEST_CASE(processes_past_the_limit_do_not_start_and_the_worker_carries_on) {
  run([]() -> asio::awaitable<void> {
    for (auto containment : {malt::containment::pid_namespace, malt::containment::process_group}) {
      malt::worker_options o;
      o.containment = containment;
      o.limits.processes = 32;
      auto w = co_await start_in_cgroup(o);
      if (!w) co_return;
      const int started = co_await malt::remote_call_fetch(*w, start_pausing_processes, 100);
      BOOST_TEST(started > 0);
      BOOST_TEST(started < 32, started << " processes started under a limit of 32");
      co_await probe(*w);
      co_await malt::stop(*w);
      BOOST_TEST(children_ended_within(std::chrono::seconds(1)), "processes the worker started outlived it");
    }
  });
}

BOOST_AUTO_TEST_CASE(a_worker_past_its_resident_memory_is_ended_and_its_call_names_the_limit) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.resident_memory = 160ull << 20;
    auto w = co_await start_in_cgroup(o);
    if (!w) co_return;
    BOOST_TEST(co_await malt::remote_call_fetch(*w, byte_sum, std::vector<std::uint8_t>(1000, 1)) == 1000u);
    auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(*w, make_bytes, 1u << 30));
    BOOST_TEST((e.signal() == SIGKILL));
    BOOST_TEST(contains(e.what(), "resident memory limit 167772160 bytes"), e.what());
  });
}

BOOST_AUTO_TEST_CASE(limits_that_cannot_work_are_refused) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.limits.cpu_time = std::chrono::seconds(-1);
    auto e = co_await thrown<malt::error>(malt::spawn_worker(o));
    BOOST_TEST((e.code() == malt::errc::invalid_options));
    BOOST_TEST(contains(e.what(), "limits.cpu_time"), e.what());
  });
}

BOOST_AUTO_TEST_SUITE_END()
