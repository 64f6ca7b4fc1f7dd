#ifndef MALT_SRC_SERVE_THREAD_POOL_HPP
#define MALT_SRC_SERVE_THREAD_POOL_HPP

// Runs the worker's synchronous functions off its I/O thread.
//
// A thread that is running jobs takes the next queued one when it finishes, so a burst of
// short calls is run by one thread, in order, without waking one thread per call (a job
// starts only once the one before it has returned, unless that one is blocked). A call that sleeps
// or blocks must still not hold up the others: a watchdog looks every `patience` while
// jobs wait, and if none was taken since its last look, it starts a thread for each
// waiting job. Threads idle for a minute end, and so do all once the pool is gone (an
// in-process worker's pool goes with its worker; running and queued jobs finish first).
//
// A worker process's I/O thread lends itself to the jobs its handlers queue (run_io): a
// short call then costs no thread switch. The lead (running the io_context's handlers) is
// left vacant while the thread runs jobs and taken back afterwards; only when the watchdog
// finds the same vacancy for a whole look does another thread take the lead, so the worker
// reads on while a long call runs.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace malt::detail {

/// A first-in first-out queue of jobs in a ring that grows as needed and keeps its memory:
/// a steady stream of jobs allocates nothing.
class job_queue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  void push_back(std::function<void()> job);
  std::function<void()> pop_front() noexcept;
  /// Takes back the job pushed last.
  void pop_back() noexcept;

 private:
  std::vector<std::function<void()>> ring_;
  std::size_t head_ = 0, size_ = 0;
};

class thread_pool {
 public:
  explicit thread_pool(std::chrono::microseconds patience = std::chrono::milliseconds(1));
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  /// Queues job for a pool thread. False, and job is not queued, when no thread is running
  /// and the kernel refuses a new one (a processes limit): the caller fails it instead.
  bool post(std::function<void()> job);
  /// True when jobs wait to be taken: a burst is under way.
  bool has_waiting_jobs() const;
  /// Runs io's handlers on this thread, and the jobs they post, until io stops (or runs
  /// out of work); other threads take the lead while this one runs a long job. Once.
  void run_io(boost::asio::io_context& io);

 private:
  struct state {  // shared with the threads, which may outlive the pool
    std::mutex mutex;
    std::condition_variable wake;     // idle threads wait here for a start
    std::condition_variable watch;    // the watchdog waits here while no job waits
    job_queue jobs;
    std::atomic<std::size_t> waiting{0};  // jobs.size(), for a look without the lock
    std::size_t active = 0;           // threads running jobs or started to
    std::size_t idle = 0;             // threads waiting for a start
    std::size_t starts = 0;           // starts given to idle threads, not yet taken
    std::uint64_t taken = 0;          // jobs taken so far: the watchdog's sign of progress
    bool watchdog = false;            // the watchdog thread exists
    bool watchdog_waiting = false;    // it waits for jobs to wait
    bool closed = false;
    std::chrono::microseconds patience;
    // run_io: the io_context and who runs its handlers.
    enum class lead_state { none, held, vacant } lead = lead_state::none;
    boost::asio::io_context* io = nullptr;
    std::uint64_t vacancies = 0;  // times the lead was left: the watchdog's sign of progress
    bool lead_wake = false;       // a thread is on its way to take the vacant lead
    bool io_done = false;
    bool several_cores = false;   // this process may run on more than one CPU
  };
  using lock_type = std::unique_lock<std::mutex>;
  static std::size_t start_threads(const std::shared_ptr<state>& s, std::size_t n, lock_type& lock);
  static void run_jobs(const std::shared_ptr<state>& s, lock_type& lock);
  /// Until io_done, or for a minute without a job unless until_io_done.
  static void idle_thread(const std::shared_ptr<state>& s, lock_type& lock, bool until_io_done = false);
  static void lead(const std::shared_ptr<state>& s, lock_type& lock);
  static void offer_lead(const std::shared_ptr<state>& s, lock_type& lock);
  static void watchdog(const std::shared_ptr<state>& s);
  std::shared_ptr<state> state_;
};

}  // namespace malt::detail

#endif
