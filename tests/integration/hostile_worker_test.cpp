// The host survives any worker: replies crafted to exhaust its memory or stack, lying
// frame headers, protocol violations, a death hidden by a descendant that keeps the socket,
// output floods into a host stream nobody reads. Each time the host lives on, the call
// fails with an error that names the problem within a bound, the host's peak memory stays
// small, and no process is left behind.
#include "hostile_bytes.hpp"
#include "memory.hpp"
#include "run.hpp"
#include "test_functions.hpp"
#include "protocol/frame.hpp"
#include "host/worker_impl.hpp"

#include <malt/detail/worker_access.hpp>

#include <malt/detail/payload.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

// A scratch file that is removed when the test is over.
struct temp_file {
  std::string path;
  explicit temp_file(const std::string& name)
      : path("/tmp/malt-hostile-" + std::to_string(::getpid()) + "-" + name) {}
  ~temp_file() { std::remove(path.c_str()); }
  void write(const std::vector<char>& bytes) const {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  pid_t read_pid() const {
    pid_t pid = -1;
    std::ifstream(path) >> pid;
    return pid;
  }
};

// The options of a hostile worker doing mode (with up to two parameters). Not a braced list:
// g++ 12 cannot hold an initializer list's array in a coroutine frame.
malt::worker_options hostile(std::string mode, std::string a = {}, std::string b = {}) {
  malt::worker_options o;
  o.executable = MALT_HOSTILE_WORKER;
  o.args.push_back(std::move(mode));
  for (auto* p : {&a, &b})
    if (!p->empty()) o.args.push_back(std::move(*p));
  return o;
}

// What the tests call: the hostile worker answers whatever name it is called by.
const malt::remote<int()> some_int{"some_int"};
const malt::remote<bool()> some_bool{"some_bool"};

// Ends a descendant a hostile worker left behind (this process is its subreaper).
void end_descendant(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}


// The reply the worker sends to the first call, and what the host made of it.
template <class T>
asio::awaitable<std::string> decode_failure_for(std::vector<char> reply, std::string name) {
  temp_file file(name);
  file.write(reply);
  malt::worker w = co_await malt::spawn_worker(hostile("reply", "result", file.path));
  const malt::remote<T()> f(std::string("anything"));
  const auto start = std::chrono::steady_clock::now();
  auto e = co_await thrown<malt::decode_error>(malt::remote_call_fetch(w, f));
  BOOST_TEST(seconds_since(start) < 2.0);
  co_await probe(w);  // the worker answers the next call
  co_await malt::stop(w);
  co_return std::string(e.what());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_worker)

BOOST_AUTO_TEST_CASE(a_value_nested_thousands_deep_fails_the_call_not_the_host) {
  run([]() -> asio::awaitable<void> {
    const auto bytes = deep_value_bytes(9500);
    BOOST_TEST(bytes.size() > 150'000u);
    const auto why = co_await decode_failure_for<malt::value>(bytes, std::string("deep"));
    BOOST_TEST(contains(why, "deeper than 64 levels"), why);
  });
}

// Built outside the coroutine: g++ 12 cannot hold an initializer list's array in a
// coroutine frame.
struct lying_replies {
  std::vector<char> map = with_lying_count(std::map<std::string, int>{{"a", 1}, {"b", 2}, {"c", 3}}, std::size_t(1) << 40);
  std::vector<char> strings = with_lying_count(std::vector<std::string>{"a", "b", "c"}, std::size_t(4) << 30);
  std::vector<char> string = with_lying_count(std::optional<std::string>("abc"), std::size_t(4) << 30);
  std::vector<char> tuple = with_lying_count(std::tuple<int, std::string>(1, "abc"), std::size_t(1) << 30);
  std::vector<char> bad_bool = std::vector<char>(1, 2);
};

BOOST_AUTO_TEST_CASE(replies_whose_lengths_lie_cost_no_memory) {
  run([]() -> asio::awaitable<void> {
    const lying_replies replies;
    const auto before = reset_peak_rss();
    auto why = co_await decode_failure_for<std::map<std::string, int>>(replies.map, std::string("map"));
    BOOST_TEST(contains(why, "claims 1099511627776 elements"), why);
    why = co_await decode_failure_for<std::vector<std::string>>(replies.strings, std::string("strings"));
    BOOST_TEST(contains(why, "claims 4294967296 elements"), why);
    why = co_await decode_failure_for<std::optional<std::string>>(replies.string, std::string("string"));
    BOOST_TEST(contains(why, "claims a string of 4294967296 bytes"), why);
    why = co_await decode_failure_for<std::tuple<int, std::string>>(replies.tuple, std::string("tuple"));
    BOOST_TEST(contains(why, "claims a string of 1073741824 bytes"), why);
    why = co_await decode_failure_for<bool>(replies.bad_bool, std::string("bool"));
    BOOST_TEST(contains(why, "a bool holds 2"), why);
    BOOST_TEST(grew_less_than(before, small_growth));  // the replies are a few bytes each
  });
}

BOOST_AUTO_TEST_CASE(a_frame_header_claiming_the_limit_costs_only_the_bytes_sent) {
  run([]() -> asio::awaitable<void> {
    const auto before = reset_peak_rss();
    malt::worker w = co_await malt::spawn_worker(hostile("header_only", std::to_string(256u << 20)));
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_int));
    BOOST_TEST(seconds_since(start) < 5.0);
    BOOST_TEST(contains(e.what(), "ended inside a frame"), e.what());
    // What arrived fits the first chunk of a large frame's buffer, not the 256 MiB claimed.
    BOOST_TEST(grew_less_than(before, 2 * malt::detail::first_large_chunk));
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(protocol_violations_end_the_worker_with_an_error_naming_them) {
  run([]() -> asio::awaitable<void> {
    {
      malt::worker w = co_await malt::spawn_worker(hostile("reply_to_unknown_id"));
      auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(contains(e.what(), "protocol violation: a reply to call id"), e.what());
      BOOST_TEST(!malt::isrunning(w));
    }
    {
      temp_file file("errc");
      std::vector<char> report(16, 0);  // code 6, then three empty strings
      report[0] = static_cast<char>(malt::errc::worker_terminated);
      file.write(report);
      malt::worker w = co_await malt::spawn_worker(hostile("reply", "failure", file.path));
      auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(contains(e.what(), "protocol violation: a failure report with code 6"), e.what());
      BOOST_TEST(!malt::isrunning(w));
      BOOST_TEST(!co_await malt::stop(w));
    }
    {  // a report that does not decode is the call's problem, not the worker's
      temp_file file("garbled");
      std::vector<char> garbled(6, 0);  // code 1, then a length of 100 with no bytes behind it
      garbled[0] = 1;
      garbled[4] = 100;
      file.write(garbled);
      malt::worker w = co_await malt::spawn_worker(hostile("reply", "failure", file.path));
      auto e = co_await thrown<malt::decode_error>(malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(contains(e.what(), "could not decode a failure report"), e.what());
      co_await probe(w);
      co_await malt::stop(w);
    }
  });
}

// Output frames carry a launched worker's stdout and stderr: from a worker on its
// socketpair (it has pipes) or for a third stream they are violations.
malt::worker_options launched_hostile(std::string stream) {
  auto o = hostile("output", std::move(stream));
  o.launcher.push_back("env");
  return o;
}

BOOST_AUTO_TEST_CASE(output_frames_count_only_from_a_launched_worker_and_for_its_two_streams) {
  run([]() -> asio::awaitable<void> {
    {
      malt::worker w = co_await malt::spawn_worker(hostile("output", "1"));
      auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(contains(e.what(), "unexpected frame 'output' from the worker"), e.what());
    }
    {
      malt::worker w = co_await malt::spawn_worker(launched_hostile("7"));
      auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(contains(e.what(), "an output frame for stream 7, which is not 1 or 2"), e.what());
      BOOST_TEST(!malt::isrunning(w));
    }
    {
      auto o = launched_hostile("2");
      auto lines = std::make_shared<std::vector<std::string>>();
      o.on_output = [lines](malt::output_stream s, pid_t, std::string_view text) {
        if (s == malt::output_stream::err) lines->emplace_back(text);
      };
      malt::worker w = co_await malt::spawn_worker(o);
      BOOST_TEST(co_await malt::remote_call_fetch(w, some_bool));
      BOOST_TEST(co_await eventually([&] { return !lines->empty(); }));
      BOOST_TEST((lines->empty() || lines->front() == "a line"));
      co_await malt::stop(w);
    }
  });
}

BOOST_AUTO_TEST_CASE(a_death_hidden_by_a_descendant_holding_the_socket_is_seen) {
  temp_file pid_file("descendant");
  asio::io_context io;
  bool done = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker(hostile("die_keeping_socket", pid_file.path));
    const auto start = std::chrono::steady_clock::now();
    auto e = co_await thrown<malt::terminated_worker_exception>(malt::remote_call_fetch(w, some_int));
    BOOST_TEST(seconds_since(start) < 2.0);
    BOOST_TEST((e.exit_code() == 3));
    BOOST_TEST(!malt::isrunning(w));
    BOOST_REQUIRE(w.exit_status().has_value());
    BOOST_TEST((w.exit_status()->code == 3));
    auto [ec, status] = co_await w.async_wait_exit(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST((status.code == 3));
    BOOST_TEST(!co_await malt::stop(w));  // it had ended: false, and no stop_failed
    BOOST_TEST(malt::running_workers().empty());
    done = true;
  }, asio::detached);
  // io.run() itself returns, though the descendant still holds the socket and the pipes.
  std::thread watchdog([&] {
    for (int i = 0; i < 100 && !io.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!io.stopped()) end_descendant(pid_file.read_pid());
  });
  const auto start = std::chrono::steady_clock::now();
  io.run();
  BOOST_TEST(seconds_since(start) < 5.0);
  watchdog.join();
  BOOST_TEST(done);
  end_descendant(pid_file.read_pid());
  BOOST_TEST(kill_children() == 0u);
}

BOOST_AUTO_TEST_CASE(an_eval_that_leaves_a_background_process_does_not_hold_the_host) {
  asio::io_context io;
  pid_t worker_pid = -1;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    worker_pid = w.pid();
    // The shell's background job inherits the worker's stdout and stderr pipes.
    co_await malt::remote_eval_wait(w, "os.execute('sleep 30 &')");
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST(co_await malt::stop(w));
    BOOST_TEST(seconds_since(start) < 2.0);
  }, asio::detached);
  const auto start = std::chrono::steady_clock::now();
  io.run_for(std::chrono::seconds(20));
  BOOST_TEST(io.stopped(), "the host's io_context still had work: the background job's pipes");
  BOOST_TEST(seconds_since(start) < 5.0);
  // Containment of a worker's descendants is not this test's: end the job here.
  for (pid_t p : child_processes()) end_descendant(p);
  BOOST_TEST(worker_pid > 0);
  BOOST_TEST(kill_children() == 0u);
}

BOOST_AUTO_TEST_CASE(startup_ends_at_the_exit_or_the_timeout_whatever_holds_the_socket) {
  run([]() -> asio::awaitable<void> {
    {
      temp_file pid_file("startup-exit");
      const auto start = std::chrono::steady_clock::now();
      auto e = co_await thrown<malt::spawn_error>(
          malt::spawn_worker(hostile("exit_keeping_socket_at_startup", pid_file.path)));
      BOOST_TEST(seconds_since(start) < 2.0);
      BOOST_TEST(contains(e.what(), "code 4"), e.what());
      end_descendant(pid_file.read_pid());
    }
    {
      temp_file pid_file("startup-hang");
      auto o = hostile("hang_keeping_socket_at_startup", pid_file.path);
      o.startup_timeout = std::chrono::milliseconds(500);
      const auto start = std::chrono::steady_clock::now();
      auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
      BOOST_TEST(seconds_since(start) < 2.0);
      BOOST_TEST(contains(e.what(), "within 500 ms"), e.what());
      end_descendant(pid_file.read_pid());
    }
  });
}

BOOST_AUTO_TEST_CASE(a_failure_longer_than_the_frame_limit_arrives_cut) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.max_frame_size = 64 * 1024;
    malt::worker w = co_await malt::spawn_worker(o);
    auto e = co_await thrown<malt::remote_exception>(malt::remote_call_fetch(w, throw_long_message, 300u * 1024));
    BOOST_TEST(e.code() == malt::errc::remote_exception);
    BOOST_TEST(e.message().size() < 64u * 1024);
    BOOST_TEST(contains(e.message(), "307200 bytes, cut to fit worker_options::max_frame_size"));
    co_await probe(w);
    auto l = co_await thrown<malt::remote_exception>(malt::remote_eval_fetch(w, "error(string.rep('E', 300*1024))"));
    BOOST_TEST(contains(l.message(), "cut to fit"));
    co_await probe(w);
    BOOST_TEST(malt::isrunning(w));
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(calls_pending_at_stop_are_terminated_whatever_the_worker_answers) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    std::vector<malt::task<void>> calls;
    for (int i = 0; i < 20; ++i) calls.push_back(malt::remote_call(w, interruptible_sleep_ms, 10'000));
    auto in_child = malt::remote_call(w, sleep_in_child_ms, 10'000);
    co_await sleep_for(300ms);  // running, the child spawned
    BOOST_TEST(co_await malt::stop(w));
    int terminated = 0;
    for (auto& c : calls) {
      try {
        co_await std::move(c);
      } catch (const malt::terminated_worker_exception&) {
        ++terminated;
      }
    }
    BOOST_TEST(terminated == 20);
    co_await thrown<malt::terminated_worker_exception>(std::move(in_child));
    BOOST_TEST(w.exit_status().has_value());
  });
}

BOOST_AUTO_TEST_CASE(a_wake_without_an_exit_leaves_the_worker_running_and_known) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    BOOST_TEST(!malt::detail::worker_access::impl(w)->check_exit());  // the pidfd's wait completing while the process lives
    BOOST_TEST(malt::isrunning(w));
    BOOST_TEST(!w.exit_status().has_value());
    BOOST_TEST((malt::running_workers() == std::vector<pid_t>{w.pid()}));
    co_await probe(w);
    // The watch goes on: a later real exit is still seen.
    malt::kill(w, SIGKILL);
    auto [ec, status] = co_await w.async_wait_exit(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!ec);
    BOOST_TEST((status.signal == SIGKILL));
    BOOST_TEST(malt::running_workers().empty());
  });
}

BOOST_AUTO_TEST_CASE(waiting_for_the_exit_can_be_cancelled) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    asio::cancellation_signal cancel;
    std::optional<boost::system::error_code> got;
    w.async_wait_exit(asio::bind_cancellation_slot(cancel.slot(), [&](boost::system::error_code ec, malt::exit_status) {
      got = ec;
    }));
    co_await sleep_for(20ms);
    BOOST_TEST(!got.has_value());
    cancel.emit(asio::cancellation_type::terminal);
    co_await sleep_for(20ms);
    BOOST_TEST((got == asio::error::operation_aborted));
    co_await probe(w);  // unaffected
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(crashed_workers_replaced_in_bursts_are_all_known) {
  run([]() -> asio::awaitable<void> {
    constexpr int bursts = 50, per_burst = 10;  // 500 spawn / crash / replace cycles
    std::vector<malt::worker> pool;
    for (int i = 0; i < per_burst; ++i) pool.push_back(co_await malt::spawn_worker());
    for (int b = 0; b < bursts; ++b) {
      for (auto& w : pool) malt::remote_do(w, print_then_exit, std::string(), 70);  // a crash, without a core dump
      for (auto& w : pool) {
        co_await w.async_wait_exit(asio::as_tuple(asio::use_awaitable));
        w = co_await malt::spawn_worker();
      }
    }
    auto listed = malt::running_workers();
    std::sort(listed.begin(), listed.end());
    auto alive = child_processes();
    std::erase_if(alive, [](pid_t p) {  // a child still a zombie has ended
      std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
      std::string pid, comm, state;
      stat >> pid >> comm >> state;
      return state == "Z";
    });
    std::sort(alive.begin(), alive.end());
    BOOST_TEST(listed == alive);
    BOOST_TEST(listed.size() == std::size_t(per_burst));
    for (auto& w : pool) co_await malt::stop(w);
  }, std::chrono::seconds(120));
}

BOOST_AUTO_TEST_CASE(a_worker_that_does_not_read_holds_back_calls_not_memory) {
  run([]() -> asio::awaitable<void> {
    auto o = hostile("never_read");
    o.max_queued_bytes = 8u << 20;
    o.exit_timeout = std::chrono::milliseconds(100);
    malt::worker w = co_await malt::spawn_worker(o);
    const auto before = reset_peak_rss();
    // Eager calls cannot wait: past the limit they are refused, and memory stays bounded.
    std::vector<malt::task<std::uint64_t>> sent;
    int refused = 0;
    for (int i = 0; i < 1000; ++i) {
      try {
        sent.push_back(malt::remote_call(w, byte_sum, std::vector<std::uint8_t>(1u << 20, 1)));
      } catch (const malt::error& e) {
        BOOST_TEST((e.code() == malt::errc::queue_full));
        ++refused;
      }
    }
    BOOST_TEST(sent.size() <= 10u);
    BOOST_TEST(refused >= 990);
    BOOST_TEST(grew_less_than(before, 2 * o.max_queued_bytes));  // what may legitimately wait
    // An awaited call waits for room, and can be cancelled meanwhile, sending nothing.
    asio::cancellation_signal cancel;
    std::optional<boost::system::error_code> waited;
    malt::remote_call_fetch(w, byte_sum, std::vector<std::uint8_t>(1u << 20, 1))(
        asio::bind_cancellation_slot(cancel.slot(), [&](boost::system::error_code e, std::uint64_t) { waited = e; }));
    co_await sleep_for(100ms);
    BOOST_TEST(!waited.has_value());
    cancel.emit(asio::cancellation_type::terminal);
    co_await sleep_for(20ms);
    BOOST_REQUIRE(waited.has_value());
    BOOST_TEST((*waited == asio::error::operation_aborted));
    co_await malt::stop(w);
    for (auto& t : sent) co_await thrown<malt::terminated_worker_exception>(std::move(t));
  });
}

// A host whose stdout is a pipe nobody reads, or a pipe whose reader has gone.
int run_output_host(bool reader_gone) {
  int out[2];
  BOOST_REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  if (reader_gone) ::close(out[0]);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execl(MALT_OUTPUT_HOST, MALT_OUTPUT_HOST, nullptr);
    std::_Exit(127);
  }
  ::close(out[1]);
  int status = 0;
  for (int i = 0; i < 600 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (::waitpid(pid, &status, WNOHANG) == 0 && ::kill(pid, 0) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    BOOST_ERROR("the host hung on its output");
  }
  if (!reader_gone) ::close(out[0]);
  return status;
}

BOOST_AUTO_TEST_CASE(output_into_a_stream_nobody_reads_never_blocks_the_host) {
  const int status = run_output_host(false);
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(kill_children() == 0u);
}

BOOST_AUTO_TEST_CASE(output_into_a_closed_pipe_does_not_kill_the_host) {
  const int status = run_output_host(true);
  BOOST_TEST(WIFEXITED(status), "ended by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(kill_children() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
