#ifndef MALT_DETAIL_MAP_ENGINE_HPP
#define MALT_DETAIL_MAP_ENGINE_HPP

// The part of a parallel map that does not depend on its types, compiled in the library:
// lanes, each a coroutine, take the next chunk, send it to a worker as one batch request
// and hand the reply to the typed part (pmap_run), which reads the range and decodes the
// values. A worker has chunks_in_flight lanes. Everything runs on the workers' executor,
// one thread.

#include <malt/detail/wake_list.hpp>
#include <malt/worker.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace malt::detail {

class pool_state;
struct call_target;
struct item_reply;

/// Where a map's chunks go: every chunk to one worker, or each to a pool's least loaded
/// worker when it is sent.
class map_destination {
 public:
  explicit map_destination(const worker& w) : worker_(w) {}
  explicit map_destination(std::shared_ptr<pool_state> pool) : pool_(std::move(pool)) {}
  std::size_t workers() const noexcept;
  boost::asio::any_io_executor executor() const noexcept;

 private:
  friend class map_engine;
  std::optional<worker> worker_;
  std::shared_ptr<pool_state> pool_;
};

/// Where the results of a map go: all at the end (pmap), or chunk by chunk to a reader
/// (imap), in input order or as they complete.
enum class map_output : std::uint8_t { all, in_order, as_completed };

/// The first failed item of a chunk, as the typed part found it; index == the chunk's
/// count when none failed.
struct chunk_failure {
  std::size_t index = 0;
  std::exception_ptr error;
};

class map_engine : public std::enable_shared_from_this<map_engine> {
 public:
  /// chunk_size 0 chooses from range_size (when the range knows it) and the lanes.
  map_engine(map_destination destination, const call_target& callee, bool fail_fast, std::size_t chunk_size,
             std::optional<std::size_t> range_size, std::size_t chunks_in_flight, map_output output);
  map_engine(const map_engine&) = delete;
  map_engine& operator=(const map_engine&) = delete;
  virtual ~map_engine();

  /// Runs the lanes until the range is done, a failure stops them (thrown), or the map is
  /// cancelled (operation_aborted). Cancellation of every type reaches each chunk's call.
  static boost::asio::awaitable<void> run_lanes(std::shared_ptr<map_engine> self);
  /// Runs the lanes as run_lanes does, in a coroutine of their own on the map's executor
  /// that lets every cancellation type from slot through; then calls done(context, failure)
  /// there. done is called once, unless this throws.
  static void run_detached(std::shared_ptr<map_engine> self, boost::asio::cancellation_slot slot,
                           void (*done)(void* context, std::exception_ptr failure), void* context);

  // For a streaming map's reader.
  /// Runs the lanes on their own; their end is seen through finished() and failure().
  void start();
  bool started() const noexcept { return started_; }
  bool finished() const noexcept { return started_ ? finished_ : true; }
  const std::exception_ptr& failure() const noexcept { return failure_; }
  void cancel(boost::asio::cancellation_type type);
  /// Waits until the lanes or the reader change something.
  boost::asio::awaitable<bool> wait_for_change();
  void notify();
  boost::asio::any_io_executor executor() const noexcept { return ex_; }

 protected:
  bool fail_fast() const noexcept { return fail_fast_; }
  map_output output() const noexcept { return output_; }
  const std::string& function_name() const noexcept;

  /// Whether the range has no more items.
  virtual bool range_done() const = 0;
  /// Appends the next item's arguments to frame and steps past it.
  virtual void encode_next(std::vector<char>& frame) = 0;
  /// Stores the outcomes of items first, first + 1, ...: failure for all of them when
  /// set, else each item's reply, decoded with w's limits. Failing fast, a failed chunk
  /// is not stored for a streaming reader.
  virtual chunk_failure store(std::size_t first, std::size_t count, std::exception_ptr failure,
                              const std::vector<item_reply>& items, const worker_impl& w) = 0;
  /// Chunks done and not yet read by a streaming map's reader.
  virtual std::size_t unread_chunks() const noexcept = 0;

 private:
  struct chunk;
  static boost::asio::awaitable<void> lane(std::shared_ptr<map_engine> self);
  bool done() const noexcept;
  bool held_back() const noexcept;
  chunk take_chunk(const worker& w);
  void complete(const chunk& c, std::exception_ptr failure, std::vector<char> reply);

  map_destination destination_;
  const call_target& callee_;
  bool fail_fast_;
  map_output output_;
  std::size_t lanes_;
  std::size_t chunk_size_;
  std::size_t next_ = 0;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  bool started_ = false;
  bool finished_ = false;
  std::exception_ptr failure_;
  boost::asio::cancellation_signal signal_;
  boost::asio::any_io_executor ex_;
  wake_list changes_;
};

}  // namespace malt::detail

#endif
