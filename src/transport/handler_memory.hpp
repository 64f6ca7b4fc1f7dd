#ifndef MALT_SRC_TRANSPORT_HANDLER_MEMORY_HPP
#define MALT_SRC_TRANSPORT_HANDLER_MEMORY_HPP

// Memory for the one operation of a kind a connection has under way at a time (its write,
// its read), handed to Asio through the operation's associated allocator: the operation
// then costs no allocation. Asio's own per-thread cache keeps two blocks, which a busy
// thread's other operations take. A block too large for it, or asked for while it is in
// use, comes from the heap.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <new>
#include <utility>

namespace malt::detail {

class handler_memory {
 public:
  handler_memory() = default;
  handler_memory(const handler_memory&) = delete;
  handler_memory& operator=(const handler_memory&) = delete;

  void* allocate(std::size_t size) {
    if (!in_use_ && size <= sizeof storage_) {
      in_use_ = true;
      return storage_;
    }
    return ::operator new(size);
  }
  void deallocate(void* p) noexcept {
    if (p == storage_)
      in_use_ = false;
    else
      ::operator delete(p);
  }

 private:
  alignas(std::max_align_t) unsigned char storage_[2048];  // a write of many buffers keeps 64 of them in its operation
  bool in_use_ = false;
};

/// The allocator an operation is bound to (asio::bind_allocator).
template <class T>
class handler_allocator {
 public:
  using value_type = T;
  explicit handler_allocator(handler_memory& m) noexcept : memory_(&m) {}
  template <class U>
  handler_allocator(const handler_allocator<U>& other) noexcept : memory_(other.memory_) {}

  T* allocate(std::size_t n) { return static_cast<T*>(memory_->allocate(sizeof(T) * n)); }
  void deallocate(T* p, std::size_t) noexcept { memory_->deallocate(p); }

  template <class U>
  bool operator==(const handler_allocator<U>& other) const noexcept {
    return memory_ == other.memory_;
  }

 private:
  template <class>
  friend class handler_allocator;
  handler_memory* memory_;
};

/// Posts f to ex in memory's block, from any thread. An io_context's executor is posted
/// to as itself: through the type-erased one, the wrapping allocates regardless.
template <class F>
void post_in(handler_memory& memory, const boost::asio::any_io_executor& ex, F&& f) {
  namespace asio = boost::asio;
  auto bound = asio::bind_allocator(handler_allocator<void>(memory), std::forward<F>(f));
  if (const auto* io = ex.target<asio::io_context::executor_type>())
    asio::post(*io, std::move(bound));
  else
    asio::post(ex, std::move(bound));
}

}  // namespace malt::detail

#endif
