#include "test_functions.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

namespace malt_test {
namespace asio = boost::asio;

namespace {
std::atomic<int> x{0};
std::vector<malt::worker> kept_children;

struct secret_error : std::exception {
  const char* what() const noexcept override { return "secretttzz"; }
};
}  // namespace

bool logical_and(bool a, bool b) { return a && b; }
int add(int a, int b) { return a + b; }
std::int64_t square(std::int64_t x) { return x * x; }
int echo_or_abort(int value, bool abort) {
  if (abort) std::abort();
  return value;
}
int count_calls() {
  static std::atomic<int> calls{0};
  return ++calls;
}
std::atomic<int> tallied{0};
int tally_square(int x) {
  ++tallied;
  return x * x;
}
int tally() { return tallied; }
void hold_megabytes(int mb) {
  static std::vector<std::vector<char>> held;
  held.emplace_back(static_cast<std::size_t>(mb) << 20, 'x');
}
void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
asio::awaitable<void> async_sleep_ms(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}
int get_x() { return x; }
void set_x(int v) { x = v; }
void sleep_then_set_x(int ms, int v) {
  sleep_ms(ms);
  x = v;
}
double checked_sqrt(double v) {
  if (v < 0) throw std::domain_error("checked_sqrt of a negative number");
  return v;
}
void throw_secret() { throw secret_error(); }
void throw_int() { throw 42; }
void print_line(std::string text, bool to_stderr) { (to_stderr ? std::cerr : std::cout) << text << std::endl; }
void print_then_exit(std::string text, int code) {
  std::cout << text << std::endl;
  std::_Exit(code);
}
void crash() { std::abort(); }
std::vector<std::uint8_t> make_bytes(std::uint32_t n) { return std::vector<std::uint8_t>(n, 1); }
std::uint64_t byte_sum(std::vector<std::uint8_t> bytes) {
  std::uint64_t s = 0;
  for (auto b : bytes) s += b;
  return s;
}
std::string numbered_text(std::uint32_t n, std::uint32_t seed) {
  std::string s(n, ' ');
  for (std::uint32_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + seed) % 26);
  return s;
}
asio::awaitable<std::string> numbered_text_later(std::uint32_t n, std::uint32_t seed) {
  co_await async_sleep_ms(1);
  co_return numbered_text(n, seed);
}
std::vector<double> scaled(std::vector<double> v, double k) {
  for (auto& x : v) x *= k;
  return v;
}
void spin_forever() {
  for (unsigned long i = 0;; ++i) asm volatile("" : : "r"(i));  // not optimised away
}
void interruptible_sleep_ms(int ms) { malt::this_call::sleep_for(std::chrono::milliseconds(ms)); }
double spin_for_ms(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  double x = 0;
  for (int i = 1; std::chrono::steady_clock::now() < end; ++i) {
    x += std::sqrt(std::abs(std::sin(std::cos(x)))) / i;
    if (i % 1024 == 0) malt::this_call::interruption_point();
  }
  return x;
}
asio::awaitable<std::string> joined_later(const std::string& a, std::string&& b) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
  co_await t.async_wait(asio::use_awaitable);
  co_return a + b;  // both still alive after the wait
}

asio::awaitable<std::size_t> length_later(std::string text) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
  co_await t.async_wait(asio::use_awaitable);
  co_return text.size();
}

asio::awaitable<int> echo_after_ms(int value, int ms) {
  co_await async_sleep_ms(ms);
  co_return value;
}
asio::awaitable<void> block_io_thread() {
  spin_forever();
  co_return;
}
asio::awaitable<int> nested_add(int depth) {
  if (depth == 0) co_return 1 + 1;
  malt::worker child = co_await malt::spawn_worker();
  int r = co_await malt::remote_call_fetch(child, nested_add, depth - 1);
  co_await malt::stop(child);
  co_return r;
}
asio::awaitable<int> spawn_child_and_keep() {
  kept_children.push_back(co_await malt::spawn_worker());
  co_return kept_children.back().pid();
}
asio::awaitable<int> start_spinning_child() {
  kept_children.push_back(co_await malt::spawn_worker());
  malt::remote_do(kept_children.back(), spin_forever);
  co_return kept_children.back().pid();
}
namespace {

[[noreturn]] void sleep_holding_nothing() {
  ::close_range(0, ~0u, 0);  // no pipe or socket of the worker's: only the containment ends it
  for (;;) ::pause();
}

}  // namespace

int start_escaping_process() {
  int p[2];
  if (::pipe(p) != 0) throw std::runtime_error("pipe");
  const pid_t middle = ::fork();
  if (middle == 0) {
    ::setsid();
    if (::fork() == 0) {
      const pid_t self = ::getpid();
      (void)!::write(p[1], &self, sizeof self);
      sleep_holding_nothing();
    }
    ::_exit(0);
  }
  ::close(p[1]);
  ::waitpid(middle, nullptr, 0);
  pid_t pid = 0;
  const bool read = ::read(p[0], &pid, sizeof pid) == sizeof pid;
  ::close(p[0]);
  if (!read) throw std::runtime_error("the escaping process did not report its pid");
  return pid;
}

int start_sleeping_process() {
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork");
  if (child == 0) sleep_holding_nothing();
  return child;
}

std::string try_connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? "connected" : std::strerror(err);
}

std::string try_write_file(std::string path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::strerror(errno);
  const bool ok = ::write(fd, "x", 1) == 1;
  ::close(fd);
  return ok ? "written" : std::strerror(errno);
}

std::string try_read_own_memory() {
  const char source[] = "x";
  char target = 0;
  ::iovec local{&target, 1}, remote{const_cast<char*>(source), 1};
  if (::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0) != 1) return std::strerror(errno);
  return target == 'x' ? "read" : "read something else";
}

bool sees_process(int pid) { return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) == 0; }

int start_pausing_processes(int n) {
  int started = 0;
  for (; started < n; ++started) {
    const pid_t child = ::fork();
    if (child < 0) break;
    if (child == 0)
      for (;;) ::pause();  // until the worker's end takes it along
  }
  return started;
}

asio::awaitable<void> sleep_in_child_ms(int ms) {
  malt::worker child = co_await malt::spawn_worker();
  co_await malt::remote_call_wait(child, async_sleep_ms, ms);
}
void throw_long_message(std::uint32_t n) { throw std::runtime_error(std::string(n, 'E')); }
void print_unbroken(std::uint32_t n) {
  std::string chunk(64 * 1024, 'a');
  for (std::uint32_t done = 0; done < n; done += static_cast<std::uint32_t>(chunk.size())) {
    std::cout.write(chunk.data(), static_cast<std::streamsize>(std::min<std::size_t>(chunk.size(), n - done)));
    std::fill(chunk.begin(), chunk.end(), chunk[0] == 'z' ? 'a' : static_cast<char>(chunk[0] + 1));
  }
  std::cout.flush();
}
percent make_percent(int v) {
  percent p;
  p.value = v;
  return p;
}
int percent_value(percent p) { return p.value; }

MALT_REMOTE(logical_and);
MALT_REMOTE(add);
MALT_REMOTE(sleep_ms);
MALT_REMOTE(async_sleep_ms);
MALT_REMOTE(square);
MALT_REMOTE(echo_or_abort);
MALT_REMOTE(count_calls);
MALT_REMOTE(hold_megabytes);
MALT_REMOTE(tally_square);
MALT_REMOTE(tally);
MALT_REMOTE(get_x);
MALT_REMOTE(set_x);
MALT_REMOTE(sleep_then_set_x);
MALT_REMOTE(checked_sqrt);
MALT_REMOTE(throw_secret);
MALT_REMOTE(throw_int);
MALT_REMOTE(print_line);
MALT_REMOTE(print_then_exit);
MALT_REMOTE(crash);
MALT_REMOTE(make_bytes);
MALT_REMOTE(byte_sum);
MALT_REMOTE(numbered_text);
MALT_REMOTE(numbered_text_later);
MALT_REMOTE(scaled);
MALT_REMOTE(spin_forever);
MALT_REMOTE(interruptible_sleep_ms);
MALT_REMOTE(spin_for_ms);
// The same, run on the worker's I/O thread.
[[maybe_unused]] static const bool inline_registrations =
    malt::register_remote("spin_for_ms_inline", &spin_for_ms, malt::run_inline) &&
    malt::register_remote("interruptible_sleep_ms_inline", &interruptible_sleep_ms, malt::run_inline) &&
    malt::register_remote("checked_sqrt_inline", &checked_sqrt, malt::run_inline) &&
    malt::register_remote("add_inline", &add, malt::run_inline);
MALT_REMOTE(echo_after_ms);
MALT_REMOTE(joined_later);
MALT_REMOTE(length_later);
MALT_REMOTE(block_io_thread);
MALT_REMOTE(nested_add);
MALT_REMOTE(spawn_child_and_keep);
MALT_REMOTE(start_spinning_child);
MALT_REMOTE(sleep_in_child_ms);
MALT_REMOTE(start_escaping_process);
MALT_REMOTE(start_sleeping_process);
MALT_REMOTE(try_connect);
MALT_REMOTE(try_write_file);
MALT_REMOTE(try_read_own_memory);
MALT_REMOTE(sees_process);
MALT_REMOTE(start_pausing_processes);
MALT_REMOTE(throw_long_message);
MALT_REMOTE(print_unbroken);
MALT_REMOTE(make_percent);
MALT_REMOTE(percent_value);

}  // namespace malt_test
