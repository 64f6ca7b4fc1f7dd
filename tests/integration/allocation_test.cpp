// A call in steady state allocates nothing, in the host or in the worker: this program
// replaces the global operator new (and, outside sanitizer builds, malloc and its
// relatives, which Asio's own recycling allocator calls) with counting versions, and is
// its own worker, which reports its count through a call.
#include "run.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> allocations{0};
void counted() noexcept { allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

// These replace the global allocation functions: g++ cannot know that free() is right here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  counted();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  counted();
  const auto align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

#if !defined(MALT_TEST_WITH_ASAN)
// glibc's allocator under its own names, so that these can count and hand over.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void* malloc(std::size_t n) {
  counted();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
  counted();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
  counted();
  return __libc_realloc(p, n);
}
void* memalign(std::size_t align, std::size_t n) {
  counted();
  return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) { return memalign(align, n); }
int posix_memalign(void** out, std::size_t align, std::size_t n) {
  *out = memalign(align, n);
  return *out ? 0 : ENOMEM;
}
}
constexpr bool counts_malloc = true;
#else
constexpr bool counts_malloc = false;
#endif

namespace allocation_test {
namespace asio = boost::asio;

long worker_allocations() { return allocations.load(); }
MALT_REMOTE(worker_allocations);

int add_on_pool(int a, int b) { return a + b; }
MALT_REMOTE(add_on_pool);
int add_on_io_thread(int a, int b) { return a + b; }
MALT_REMOTE_INLINE(add_on_io_thread);
asio::awaitable<int> add_in_coroutine(int a, int b) { co_return a + b; }
MALT_REMOTE(add_in_coroutine);

struct counts {
  long host, worker;
};

// Calls of f, lanes at a time, each started by the completion of the one before: a
// completion handler small enough for the call's own record, and nothing else running.
// The host's allocations are counted over the calls after the first 2 * lanes, by when the
// caches of the thread (Asio's for coroutine frames among them) have what these calls use.
template <class F>
struct call_chain {
  const malt::worker& w;
  const F& f;
  int left = 0, in_flight = 0, wrong = 0, count_from = 0;
  long host_before = 0, host_after = 0;
  asio::steady_timer& done;

  void next() {
    if (left == count_from) host_before = allocations.load();
    if (left == 0) {
      if (in_flight == 0) {
        host_after = allocations.load();
        done.cancel();
      }
      return;
    }
    const int x = left--;
    ++in_flight;
    malt::remote_call_fetch(w, f, x, 1)([this, x](boost::system::error_code e, int sum) {
      --in_flight;
      if (e || sum != x + 1) ++wrong;
      next();
    });
  }

  // Makes n counted calls; returns the host's allocations over them.
  asio::awaitable<long> run(int n, int lanes) {
    count_from = n;
    left = n + 2 * lanes;
    done.expires_at(asio::steady_timer::time_point::max());
    // Started once this coroutine waits.
    asio::post(done.get_executor(), [this, lanes] {
      for (int i = 0; i < lanes; ++i) next();
    });
    co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(wrong == 0);
    co_return host_after - host_before;
  }
};

// What n calls of f cost each side, lanes at a time, after a warm-up. A machine busy with
// other work (or a sanitizer's) can hold the worker's pool threads back long enough for
// the pool to start more (by design: a call must not wait behind a blocked one), which
// allocates. Started threads stay for a minute and are woken before new ones are made, and
// no more run than there are calls at once, so each window that starts threads leaves
// fewer to start: the steady state is the quietest of up to eight windows, the first
// without an allocation ending the search.
template <class F>
asio::awaitable<counts> allocations_over(const malt::worker& w, const F& f, int n, int lanes) {
  asio::steady_timer done(co_await asio::this_coro::executor);
  call_chain<F> chain{w, f, 0, 0, 0, 0, 0, 0, done};
  co_await chain.run(2000, lanes);  // warm-up: slots, buffers and records reach their steady size
  co_await malt::remote_call_fetch(w, worker_allocations);
  counts quietest{-1, -1};
  for (int window = 0; window < 8 && quietest.host + quietest.worker != 0; ++window) {
    const long worker_before = co_await malt::remote_call_fetch(w, worker_allocations);
    const long host = co_await chain.run(n, lanes);
    const long worker = co_await malt::remote_call_fetch(w, worker_allocations) - worker_before;
    if (window > 0) BOOST_TEST_MESSAGE("window " << window << ": " << host << " host, " << worker << " worker allocations");
    if (window == 0 || host + worker < quietest.host + quietest.worker) quietest = {host, worker};
  }
  co_return quietest;
}

}  // namespace allocation_test

using namespace malt_test;
using namespace allocation_test;

BOOST_AUTO_TEST_SUITE(steady_state)

BOOST_AUTO_TEST_CASE(counting_sees_allocations) {
  const long before = allocations.load();
  auto* p = new int(1);
  asm volatile("" : : "r"(p) : "memory");  // not elided
  delete p;
  void* q = std::malloc(10);
  asm volatile("" : : "r"(q) : "memory");
  std::free(q);
  BOOST_TEST(allocations.load() - before == (counts_malloc ? 3 : 1));  // new calls malloc
}

namespace {
// 10 000 calls of each kind of function, lanes at a time: none allocates, on either side.
void expect_no_allocation(int lanes) {
  run([lanes]() -> asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    const counts pool = co_await allocations_over(w, add_on_pool, 10'000, lanes);
    const counts in = co_await allocations_over(w, add_on_io_thread, 10'000, lanes);
    const counts co = co_await allocations_over(w, add_in_coroutine, 10'000, lanes);
    for (const auto& [kind, c] : {std::pair{"pool", pool}, std::pair{"inline", in}, std::pair{"coroutine", co}}) {
      BOOST_TEST_CONTEXT(kind << " function, " << lanes << " at a time") {
        BOOST_TEST(c.host == 0);
        BOOST_TEST(c.worker == 0);
      }
    }
    co_await malt::stop(w);
  });
}
}  // namespace

BOOST_AUTO_TEST_CASE(ten_thousand_calls_one_at_a_time_allocate_nothing) { expect_no_allocation(1); }

BOOST_AUTO_TEST_CASE(ten_thousand_calls_sixty_four_at_a_time_allocate_nothing) { expect_no_allocation(64); }

BOOST_AUTO_TEST_SUITE_END()
