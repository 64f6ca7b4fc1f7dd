#ifndef MALT_TESTS_TEST_FUNCTIONS_HPP
#define MALT_TESTS_TEST_FUNCTIONS_HPP

// Functions the test workers run (registered in test_functions.cpp), ports of what
// Malt.jl's tests evaluate in their workers.

#include <malt/malt.hpp>
#include <malt/serialization.hpp>  // percent, tuples, maps

#include <boost/serialization/split_member.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace malt_test {

bool logical_and(bool a, bool b);  // the "&(true, true)" probe: alive and in sync
int add(int a, int b);
std::int64_t square(std::int64_t x);
int echo_or_abort(int value, bool abort);  // value, or SIGABRT when abort
int count_calls();                         // 1 on a fresh worker, then 2, 3, ...
int tally_square(int x);                   // x * x, counted
int tally();                               // how many tally_square calls this worker ran
void hold_megabytes(int mb);               // allocates and touches mb MiB, and keeps them
void sleep_ms(int ms);
boost::asio::awaitable<void> async_sleep_ms(int ms);
int get_x();
void set_x(int v);
void sleep_then_set_x(int ms, int v);
double checked_sqrt(double x);        // throws std::domain_error for x < 0
void throw_secret();                  // throws a type only the worker knows
void throw_int();                     // throws something that is not a std::exception
void print_line(std::string text, bool to_stderr);
void print_then_exit(std::string text, int code);
void crash();                         // SIGABRT
std::vector<std::uint8_t> make_bytes(std::uint32_t n);
std::uint64_t byte_sum(std::vector<std::uint8_t> bytes);
std::string numbered_text(std::uint32_t n, std::uint32_t seed);  // n letters, a pattern seed shifts
boost::asio::awaitable<std::string> numbered_text_later(std::uint32_t n, std::uint32_t seed);
std::vector<double> scaled(std::vector<double> v, double k);      // each element times k
void spin_forever();                  // CPU-bound, never checks for anything
void interruptible_sleep_ms(int ms);                     // malt::this_call::sleep_for
double spin_for_ms(int ms);                              // CPU-bound, checks for interrupts
boost::asio::awaitable<int> echo_after_ms(int value, int ms);
// a + b after a 1 ms wait: a coroutine function whose parameters are references
boost::asio::awaitable<std::string> joined_later(const std::string& a, std::string&& b);
// How many bytes text has, after a 1 ms wait: a result type the library does not compile
boost::asio::awaitable<std::size_t> length_later(std::string text);
boost::asio::awaitable<void> block_io_thread();          // a coroutine that never yields
boost::asio::awaitable<int> nested_add(int depth);        // 1 + 1, depth workers further down
boost::asio::awaitable<int> spawn_child_and_keep();       // pid of a worker it keeps running
boost::asio::awaitable<int> start_spinning_child();       // the same, the child busy spinning
boost::asio::awaitable<void> sleep_in_child_ms(int ms);   // awaits a call to a worker of its own
// Pids as the worker sees them (malt_test::host_pid translates).
int start_escaping_process();  // a sleeper that left by setsid and a double fork
int start_sleeping_process();  // a sleeping child that stays in the worker's process group
std::string try_connect(int port);               // "connected", or why not (strerror)
std::string try_write_file(std::string path);    // "written", or why not
std::string try_read_own_memory();               // "read" through process_vm_readv, or why not
bool sees_process(int pid);                      // whether this worker's /proc shows pid
int start_pausing_processes(int n);              // forks up to n children that pause; how many started
void throw_long_message(std::uint32_t n);                 // a std::runtime_error of n letters
void print_unbroken(std::uint32_t n);                     // n bytes on stdout, no newline: 64 KiB of a, of b... z, a...

/// A value whose decoding checks it: 0..100. A worker can still make an invalid one.
struct percent {
  int value = 0;
  template <class Archive>
  void save(Archive& ar, unsigned) const {
    ar << value;
  }
  template <class Archive>
  void load(Archive& ar, unsigned) {
    ar >> value;
    if (value < 0 || value > 100) throw std::range_error("percent out of range: " + std::to_string(value));
  }
  BOOST_SERIALIZATION_SPLIT_MEMBER()
};
percent make_percent(int v);   // no check: may return an undecodable value
int percent_value(percent p);

// Functions above registered again to run inline, on the worker's I/O thread.
inline const malt::remote<double(int)> spin_for_ms_inline{"spin_for_ms_inline"};
inline const malt::remote<void(int)> interruptible_sleep_ms_inline{"interruptible_sleep_ms_inline"};
inline const malt::remote<double(double)> checked_sqrt_inline{"checked_sqrt_inline"};
inline const malt::remote<int(int, int)> add_inline{"add_inline"};

}  // namespace malt_test

#endif
