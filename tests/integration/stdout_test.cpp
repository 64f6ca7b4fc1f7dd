// Port of Malt.jl's stdout.jl: a monitored worker's lines reach the host's stdout / stderr
// as "[Worker <pid>]: line" with a blue / yellow prefix; an unmonitored stream is the
// user's to read, raw.
#include "pipes.hpp"
#include "run.hpp"
#include "test_functions.hpp"

#include <algorithm>
#include <csignal>
#include <string_view>
#include <vector>
#include <sys/mman.h>
#include <unistd.h>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

const std::string blue = "\033[34m", yellow = "\033[33m";

// Sends this process's stdout and stderr to a memory file while it lives.
class captured_output {
 public:
  captured_output() : file_(::memfd_create("captured", 0)), out_(::dup(1)), err_(::dup(2)) {
    std::fflush(nullptr);
    ::dup2(file_, 1);
    ::dup2(file_, 2);
  }
  ~captured_output() {
    std::fflush(nullptr);
    ::dup2(out_, 1);
    ::dup2(err_, 2);
    ::close(out_);
    ::close(err_);
    ::close(file_);
  }
  std::string text() const {
    std::string s(4096, '\0'), out;
    for (off_t at = 0;; at += static_cast<off_t>(s.size())) {
      ssize_t n = ::pread(file_, s.data(), s.size(), at);
      if (n <= 0) break;
      out.append(s.data(), static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int file_, out_, err_;
};

// What the host printed while the worker printed text (Malt.jl's cap()).
asio::awaitable<std::string> capture(const malt::worker& w, std::string text, bool to_stderr, std::string expect) {
  captured_output cap;
  co_await malt::remote_call_wait(w, print_line, std::move(text), to_stderr);
  co_await eventually([&] { return cap.text().find(expect) != std::string::npos; });
  co_await sleep_for(100ms);  // anything else would have arrived by now
  co_return cap.text();
}

// A worker whose forwarded output is coloured as color says. The options live in this
// short coroutine, not in the test's long one (g++ 12 warns falsely about long coroutine
// frames holding them, -Wmismatched-new-delete).
asio::awaitable<malt::worker> spawn_coloured(malt::color_mode color) {
  malt::worker_options o;
  o.color = color;
  co_return co_await malt::spawn_worker(o);
}

std::size_t count(const std::string& s, const std::string& part) {
  std::size_t n = 0;
  for (auto at = s.find(part); at != std::string::npos; at = s.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(worker_output)

BOOST_AUTO_TEST_CASE(stdout_and_stderr_are_forwarded_line_by_line) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await spawn_coloured(malt::color_mode::always);
    const std::string prefix = "[Worker " + std::to_string(w.pid()) + "]:";

    std::string s = co_await capture(w, "hello", false, "hello");
    BOOST_TEST(s.find("hello") != std::string::npos);
    BOOST_TEST(count(s, blue) == 1u);
    BOOST_TEST(count(s, yellow) == 0u);
    BOOST_TEST(s.find(prefix) != std::string::npos);
    BOOST_TEST(count(s, "\n") == 1u);

    s = co_await capture(w, "hello", true, "hello");
    BOOST_TEST(count(s, blue) == 0u);
    BOOST_TEST(count(s, yellow) == 1u);
    BOOST_TEST(count(s, "\n") == 1u);

    s = co_await capture(w, "hello\nworld", false, "world");
    BOOST_TEST(s.find("hello") != std::string::npos);
    BOOST_TEST(count(s, blue) == 2u);  // one prefix per line
    BOOST_TEST(count(s, yellow) == 0u);
    BOOST_TEST(count(s, "\n") == 2u);
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(plain_prefix_without_colour) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await spawn_coloured(malt::color_mode::never);
    std::string s = co_await capture(w, "plain", false, "plain");
    BOOST_TEST(s == "[Worker " + std::to_string(w.pid()) + "]: plain\n");
    co_await malt::stop(w);
  });
}

// Split from the test below: g++ 12 warns falsely (-Wmismatched-new-delete) about an
// Asio coroutine frame when one coroutine holds all of it.
asio::awaitable<void> expect_only_stderr_forwarded(malt::worker& w) {
  std::string s = co_await capture(w, "hallootjes", false, "\n");  // nothing should arrive
  BOOST_TEST(s.empty());
  s = co_await capture(w, "hello", true, "hello");
  BOOST_TEST(count(s, yellow) == 1u);
  BOOST_TEST(count(s, blue) == 0u);
}

BOOST_AUTO_TEST_CASE(unmonitored_stdout_is_the_users_raw_stream) {
  run([]() -> asio::awaitable<void> {
    malt::worker_options o;
    o.monitor_stdout = false;
    o.monitor_stderr = true;
    o.color = malt::color_mode::always;
    malt::worker w = co_await malt::spawn_worker(o);
    BOOST_TEST(w.stdout_fd() >= 0);
    BOOST_TEST(w.stderr_fd() == -1);  // monitored
    co_await expect_only_stderr_forwarded(w);
    const std::string raw = read_available(w.stdout_fd());
    BOOST_TEST(raw == "hallootjes\n");  // no prefix, no colour
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_CASE(the_last_lines_of_a_dying_worker_arrive) {
  run([]() -> asio::awaitable<void> {
    malt::worker w = co_await spawn_coloured(malt::color_mode::never);
    captured_output cap;
    BOOST_CHECK_THROW(co_await malt::remote_call_wait(w, print_then_exit, std::string("last words"), 0),
                      malt::terminated_worker_exception);
    BOOST_TEST(co_await eventually([&] { return cap.text().find("last words") != std::string::npos; }));
  });
}

// What a worker's hooks saw.
struct hooked {
  std::vector<std::string> lines;  // "out 123: text"
  std::vector<malt::worker_event> events;
};

asio::awaitable<malt::worker> spawn_hooked(hooked& seen) {
  malt::worker_options o;
  o.on_output = [&seen](malt::output_stream stream, pid_t pid, std::string_view line) {
    seen.lines.push_back((stream == malt::output_stream::out ? "out " : "err ") + std::to_string(pid) + ": " +
                         std::string(line));
  };
  o.on_event = [&seen](const malt::worker_event& e) { seen.events.push_back(e); };
  co_return co_await malt::spawn_worker(o);
}

BOOST_AUTO_TEST_CASE(output_and_events_go_to_the_hooks_instead) {
  run([]() -> asio::awaitable<void> {
    hooked seen;
    captured_output cap;
    malt::worker w = co_await spawn_hooked(seen);
    const std::string pid = std::to_string(w.pid());
    BOOST_REQUIRE(seen.events.size() == 1u);
    BOOST_TEST((seen.events[0].what == malt::worker_event::kind::spawned));
    BOOST_TEST(seen.events[0].pid == w.pid());
    BOOST_TEST(seen.events[0].summary == w.summary());
    co_await malt::remote_call_wait(w, print_line, std::string("to the logger"), false);
    co_await malt::remote_call_wait(w, print_line, std::string("a warning"), true);
    BOOST_TEST(co_await eventually([&] { return seen.lines.size() == 2u; }));
    BOOST_TEST(std::count(seen.lines.begin(), seen.lines.end(), "out " + pid + ": to the logger") == 1);
    BOOST_TEST(std::count(seen.lines.begin(), seen.lines.end(), "err " + pid + ": a warning") == 1);
    malt::kill(w);
    BOOST_TEST(co_await eventually([&] { return seen.events.size() == 3u; }));
    BOOST_REQUIRE(seen.events.size() == 3u);
    BOOST_TEST((seen.events[1].what == malt::worker_event::kind::killed));
    BOOST_TEST(seen.events[1].signal == SIGKILL);
    BOOST_TEST((seen.events[2].what == malt::worker_event::kind::exited));
    BOOST_TEST(seen.events[2].status.signal.value_or(0) == SIGKILL);
    co_await sleep_for(100ms);
    BOOST_TEST(cap.text().find("to the logger") == std::string::npos, cap.text());  // not forwarded as well
    co_await malt::stop(w);
  });
}

BOOST_AUTO_TEST_SUITE_END()
