// Workers started through a launcher (worker_options::launcher): a trivial one (env), a
// sandbox (bwrap) and SSH to an sshd of the test's own on 127.0.0.1. Over each, the main
// cases of the core, interrupt, eval and channel suites; over SSH also the failures: a
// refused connection, a wrong host key, a launcher killed under pending calls, a peer of
// another build.
#include "local_sshd.hpp"
#include "memory.hpp"
#include "processes.hpp"
#include "run.hpp"
#include "test_functions.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sys/stat.h>
#include <thread>

using namespace malt_test;
namespace asio = boost::asio;

namespace {

struct printed_line {
  malt::output_stream stream;
  pid_t pid;
  std::string text;
};
using printed_lines = std::shared_ptr<std::vector<printed_line>>;

// What the worker prints, collected.
printed_lines collect_output(malt::worker_options& o) {
  auto lines = std::make_shared<std::vector<printed_line>>();
  o.on_output = [lines](malt::output_stream s, pid_t pid, std::string_view text) {
    lines->push_back({s, pid, std::string(text)});
  };
  return lines;
}

asio::awaitable<void> calls_work(const malt::worker& w) {
  BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 2) == 3);
  auto eager = malt::remote_call(w, square, 12);
  BOOST_TEST(co_await std::move(eager) == 144);
  const auto e = co_await thrown<malt::remote_exception>(malt::remote_call_wait(w, checked_sqrt, -1.0));
  BOOST_TEST(contains(e.what(), "checked_sqrt of a negative number"), e.what());
  BOOST_TEST(contains(e.what(), w.summary()), e.what());
  // A call sent later starts once this one has returned or has run for about a
  // millisecond, which a busy machine can make it do before it sets x.
  malt::remote_do(w, set_x, 7);
  int x = co_await malt::remote_call_fetch(w, get_x);
  for (int tries = 0; x != 7 && tries < 1000; ++tries) {
    co_await sleep_for(5ms);
    x = co_await malt::remote_call_fetch(w, get_x);
  }
  BOOST_TEST(x == 7);
  const auto bytes = co_await malt::remote_call_fetch(w, make_bytes, 3u << 20);  // larger than a pipe
  BOOST_TEST(bytes.size() == 3u << 20);
  BOOST_TEST(co_await malt::remote_call_fetch(w, byte_sum, bytes) == co_await malt::remote_call_fetch(w, byte_sum, bytes));
  co_await probe(w);
}

asio::awaitable<void> evals_and_channels_work(const malt::worker& w) {
  BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "1 + 1") == 2);
  co_await malt::remote_eval_wait(w, "x = 10");
  BOOST_TEST(co_await malt::remote_eval_fetch<int>(w, "x * 2") == 20);
  auto ch = co_await malt::worker_channel<int>(w, "rc = malt.channel(20)");
  co_await ch.put(5);
  BOOST_TEST(co_await ch.take() == 5);
}

asio::awaitable<void> interrupts_and_cancellation_work(const malt::worker& w) {
  // An interrupt travels as a frame, and ends a busy eval and a cooperative call.
  auto spinning = malt::remote_eval(w, "while true do end");
  BOOST_TEST(co_await malt::remote_call_fetch(w, add, 2, 2) == 4);
  malt::interrupt(w);
  BOOST_CHECK_THROW(co_await std::move(spinning), malt::interrupted_exception);
  const auto start = std::chrono::steady_clock::now();
  const auto e = co_await thrown<malt::error>(malt::remote_call_wait(w, interruptible_sleep_ms, 60'000).with_timeout(100ms));
  BOOST_TEST((e.code() == malt::errc::timed_out), e.what());
  BOOST_TEST(seconds_since(start) < 5.0);
  co_await probe(w);
}

asio::awaitable<void> output_comes_back(const malt::worker& w, const printed_lines& lines) {
  co_await malt::remote_call_wait(w, print_line, std::string("to stdout"), false);
  co_await malt::remote_call_wait(w, print_line, std::string("to stderr"), true);
  auto printed = [&](malt::output_stream s, const std::string& text) {
    for (const auto& l : *lines)
      if (l.stream == s && l.text == text) return l.pid == w.pid();
    return false;
  };
  BOOST_TEST(co_await eventually([&] {
    return printed(malt::output_stream::out, "to stdout") && printed(malt::output_stream::err, "to stderr");
  }));
}

// Everything a launched worker must do, then a stop that ends it and its launcher.
asio::awaitable<void> serves_everything(malt::worker_options o) {
  auto lines = collect_output(o);
  o.env["MALT_TEST_VARIABLE"] = "given to the worker";  // exactly this, wherever it runs
  o.env["MALT_TEST_QUOTING"] = "it's $HOME; `false` \"*\" \\ \n end";  // through a remote shell too
  malt::worker w = co_await malt::spawn_worker(o);
  BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "os.getenv('MALT_TEST_VARIABLE')") == "given to the worker");
  BOOST_TEST(co_await malt::remote_eval_fetch<std::string>(w, "os.getenv('MALT_TEST_QUOTING')") ==
             "it's $HOME; `false` \"*\" \\ \n end");
  BOOST_TEST(co_await malt::remote_eval_fetch<bool>(w, "os.getenv('PATH') == nil"));
  BOOST_TEST(malt::isrunning(w));
  BOOST_TEST(w.launcher_pid() > 0);
  BOOST_TEST(w.pid() > 0);
  BOOST_TEST(contains(w.summary(), "PID " + std::to_string(w.pid())), w.summary());
  co_await calls_work(w);
  co_await evals_and_channels_work(w);
  co_await interrupts_and_cancellation_work(w);
  co_await output_comes_back(w, lines);
  const pid_t worker_pid = w.pid(), launcher = w.launcher_pid();
  BOOST_TEST(co_await malt::stop(w));
  BOOST_TEST(!malt::isrunning(w));
  BOOST_TEST(ended_within(worker_pid, 2000ms));
  BOOST_TEST(!process_exists(launcher));
}

// kill() asks the worker to raise the signal; its calls fail, and the worker is gone.
asio::awaitable<void> kill_ends_it(malt::worker_options o) {
  malt::worker w = co_await malt::spawn_worker(o);
  const pid_t worker_pid = w.pid();
  auto pending = malt::remote_call(w, sleep_ms, 30'000);
  malt::kill(w, SIGKILL);
  const auto e = co_await thrown<malt::terminated_worker_exception>(std::move(pending));
  BOOST_TEST(contains(e.what(), w.summary()), e.what());
  BOOST_TEST(ended_within(worker_pid, 2000ms));
  BOOST_TEST(!malt::isrunning(w));
}

malt::worker_options launched_by(std::vector<std::string> launcher) {
  malt::worker_options o;
  o.launcher = std::move(launcher);
  return o;
}
// Made here: g++ 12 miscompiles initializer lists in coroutines.
malt::worker_options launched_by_env() { return launched_by({"env"}); }

// bwrap needs user namespaces (or root); where it cannot run, the case is skipped.
std::optional<std::string> bwrap_unavailable() {
  if (::access("/usr/bin/bwrap", X_OK) != 0) return "bwrap is not installed (Debian's bubblewrap)";
  if (std::system("/usr/bin/bwrap --ro-bind / / --dev /dev --proc /proc -- /bin/true >/dev/null 2>&1") != 0)
    return "bwrap cannot create its namespaces here (user namespaces unavailable)";
  return std::nullopt;
}

// A fresh /tmp, the test's own folder bound back over it (a build under /tmp would vanish).
std::vector<std::string> bwrap_launcher() {
  const auto folder = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  return {"bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
          "--ro-bind", folder, folder, "--die-with-parent", "--"};
}

// An sshd for one test case, or why there is none.
std::unique_ptr<local_sshd> start_sshd() {
  try {
    return std::make_unique<local_sshd>();
  } catch (const std::exception& e) {
    BOOST_TEST_MESSAGE("skipped: " << e.what());
    if (std::getenv("CI")) BOOST_ERROR("CI has no sshd: " << e.what());  // scripts/setup installs it
    return nullptr;
  }
}

malt::worker_options over_ssh(const local_sshd& sshd) {
  return malt::ssh_worker_options(sshd.destination(), "", sshd.ssh_arguments());
}

// A pool whose workers run over SSH and through env, in turn.
malt::pool_options mixed_pool(const local_sshd& sshd) {
  malt::pool_options p;
  p.placements = {over_ssh(sshd), launched_by_env(), over_ssh(sshd)};
  return p;
}

asio::awaitable<void> a_pool_spans_placements(const local_sshd& sshd) {
  auto pool = co_await malt::worker_pool::start(mixed_pool(sshd));
  BOOST_TEST(pool.size() == 3u);
  std::vector<std::int64_t> items(1000);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = static_cast<std::int64_t>(i);
  const std::vector<std::int64_t> squares = co_await malt::pmap(pool, square, items);
  BOOST_TEST(squares.size() == 1000u);
  BOOST_TEST(squares[999] == 999 * 999);
  BOOST_TEST(co_await pool.call(add, 20, 22) == 42);
  co_await pool.stop();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(launcher)

BOOST_AUTO_TEST_CASE(a_trivial_launcher_serves_everything) {
  run([]() -> asio::awaitable<void> {
    co_await serves_everything(launched_by_env());
    co_await kill_ends_it(launched_by_env());
  });
}

BOOST_AUTO_TEST_CASE(a_bwrap_sandbox_serves_everything) {
  if (auto why = bwrap_unavailable()) {
    BOOST_TEST_MESSAGE("skipped: " << *why);
    return;
  }
  run([]() -> asio::awaitable<void> { co_await serves_everything(launched_by(bwrap_launcher())); });
}

BOOST_AUTO_TEST_CASE(options_a_launcher_cannot_honour_are_refused) {
  run([]() -> asio::awaitable<void> {
    auto o = launched_by_env();
    o.limits.resident_memory = 1u << 30;
    auto e = co_await thrown<malt::error>(malt::spawn_worker(o));
    BOOST_TEST((e.code() == malt::errc::invalid_options), e.what());
    o = launched_by_env();
    o.monitor_stdout = false;
    e = co_await thrown<malt::error>(malt::spawn_worker(o));
    BOOST_TEST((e.code() == malt::errc::invalid_options), e.what());
    o = launched_by_env();
    o.launcher.front() = "no-such-launcher-program";
    const auto s = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
    BOOST_TEST(contains(s.what(), "no-such-launcher-program"), s.what());
  });
}

BOOST_AUTO_TEST_CASE(ssh_serves_everything) {
  run([]() -> asio::awaitable<void> {
    auto sshd = start_sshd();
    if (!sshd) co_return;
    co_await serves_everything(over_ssh(*sshd));
    co_await kill_ends_it(over_ssh(*sshd));
    co_await a_pool_spans_placements(*sshd);
  }, 120s);
}

BOOST_AUTO_TEST_CASE(ssh_that_cannot_connect_is_a_spawn_error_with_its_stderr) {
  run([]() -> asio::awaitable<void> {
    auto sshd = start_sshd();
    if (!sshd) co_return;
    {
      auto o = malt::ssh_worker_options(sshd->destination(), "", sshd->ssh_arguments_with_wrong_host_key());
      o.startup_timeout = 20s;
      const auto start = std::chrono::steady_clock::now();
      const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
      BOOST_TEST(contains(e.stderr_text(), "Host key verification failed"), e.stderr_text());
      BOOST_TEST(seconds_since(start) < 15.0);  // at once, not after the startup timeout
    }
    {
      auto args = sshd->ssh_arguments();
      for (auto& a : args)
        if (a == std::to_string(sshd->port())) a = std::to_string(unused_port());
      auto o = malt::ssh_worker_options(sshd->destination(), "", args);
      o.startup_timeout = 20s;
      const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
      BOOST_TEST(contains(e.stderr_text(), "Connection refused"), e.stderr_text());
    }
  }, 120s);
}

// The worker relays its output no faster than the channel takes it: printing 100 MiB to
// a host that forwards slowly holds the printing call, not 100 MiB of frames in the worker.
BOOST_AUTO_TEST_CASE(a_launched_worker_printing_faster_than_the_host_forwards_is_held_not_swollen) {
  run([]() -> asio::awaitable<void> {
    auto o = launched_by_env();
    o.containment = malt::containment::process_group;  // w.pid() is the worker, not a namespace's supervisor
    auto bytes = std::make_shared<std::size_t>(0);
    o.on_output = [bytes](malt::output_stream, pid_t, std::string_view text) {
      *bytes += text.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow logger
    };
    malt::worker w = co_await malt::spawn_worker(o);
    const std::uint32_t mib = 1u << 20, printed = 100 * mib;  // in pieces of 64 to 128 KiB: ≥ 1.6 s at that pace
    co_await malt::remote_call_wait(w, print_unbroken, printed);
    if (memory_is_measured) {
      const auto peak = peak_rss(std::to_string(w.pid()));
      BOOST_TEST(peak < 40 * mib, "the worker's peak resident memory was " << peak / mib << " MiB");
    }
    // The output has no newline: its last unfinished line comes when the worker ends.
    co_await malt::stop(w);
    BOOST_TEST(co_await eventually([&] { return *bytes == printed; }),
               "forwarded " << *bytes << " of " << printed << " bytes");
  });
}

// Stopping right after a print races the relay's own read of the pipe: what that read took
// is sent, in order, never dropped at the exit (it was, one time in two, in a sanitizer build).
BOOST_AUTO_TEST_CASE(all_a_launched_worker_printed_arrives_in_order_when_it_is_stopped_at_once) {
  run([]() -> asio::awaitable<void> {
    constexpr std::uint32_t printed = 1u << 20;
    std::string expected;
    for (char letter = 'a'; expected.size() < printed; ++letter) expected.append(64 * 1024, letter);
    for (int round = 0; round < 20; ++round) {
      auto o = launched_by_env();
      auto text = std::make_shared<std::string>();
      o.on_output = [text](malt::output_stream, pid_t, std::string_view piece) {
        text->append(piece);
        std::this_thread::sleep_for(std::chrono::microseconds(300));  // the channel fills now and then
      };
      malt::worker w = co_await malt::spawn_worker(o);
      co_await malt::remote_call_wait(w, print_unbroken, printed);
      co_await malt::stop(w);
      co_await eventually([&] { return text->size() >= printed; });
      BOOST_TEST(text->size() == printed, "round " << round << ": forwarded " << text->size() << " of " << printed << " bytes");
      BOOST_TEST((*text == expected), "round " << round << ": the bytes came out of order");
      if (*text != expected) break;
    }
  }, 120s);
}

BOOST_AUTO_TEST_CASE(killing_ssh_fails_pending_calls_and_ends_the_remote_worker) {
  run([]() -> asio::awaitable<void> {
    auto sshd = start_sshd();
    if (!sshd) co_return;
    malt::worker w = co_await malt::spawn_worker(over_ssh(*sshd));
    const pid_t remote = w.pid();
    BOOST_TEST(co_await malt::remote_call_fetch(w, add, 1, 1) == 2);
    auto pending = malt::remote_call(w, sleep_ms, 30'000);
    auto spinning = malt::remote_call(w, spin_forever);  // a worker busy for ever still goes
    ::kill(w.launcher_pid(), SIGKILL);
    const auto start = std::chrono::steady_clock::now();
    const auto e = co_await thrown<malt::terminated_worker_exception>(std::move(pending));
    BOOST_TEST(seconds_since(start) < 2.0);
    BOOST_TEST((e.signal() == SIGKILL), e.what());
    BOOST_CHECK_THROW(co_await std::move(spinning), malt::terminated_worker_exception);
    const auto since_kill = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    BOOST_TEST(ended_within(remote, std::max(1000ms - since_kill, 0ms)), "the remote worker outlived its channel by a second");
  }, 120s);
}

BOOST_AUTO_TEST_CASE(a_remote_worker_of_another_build_is_refused_by_the_handshake) {
  run([]() -> asio::awaitable<void> {
    auto sshd = start_sshd();
    if (!sshd) co_return;
    // A peer that answers with the handshake of another build, then reads until the end.
    const std::string peer = sshd->directory() + "/other_build";
    std::ofstream(peer) << "#!/bin/sh\n"
                           "printf '\\045\\000\\000\\000\\001\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000'\n"
                           "printf 'MALT\\001\\000\\000\\000\\031\\000\\000\\000protocol 0, another build'\n"
                           "exec cat >/dev/null\n";
    ::chmod(peer.c_str(), 0755);
    auto o = malt::ssh_worker_options(sshd->destination(), peer, sshd->ssh_arguments());
    o.inherit_env = true;  // the peer is a shell script: it needs a PATH
    const auto e = co_await thrown<malt::spawn_error>(malt::spawn_worker(o));
    BOOST_TEST((e.code() == malt::errc::protocol_mismatch), e.what());
    BOOST_TEST(contains(e.what(), "another build"), e.what());
  }, 60s);
}

BOOST_AUTO_TEST_SUITE_END()
