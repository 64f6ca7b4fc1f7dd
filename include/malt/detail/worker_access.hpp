#ifndef MALT_DETAIL_WORKER_ACCESS_HPP
#define MALT_DETAIL_WORKER_ACCESS_HPP

// The library's own way into a worker handle: its implementation, and making handles.

#include <malt/worker.hpp>

#include <memory>
#include <utility>

namespace malt::detail {

struct worker_access {
  static const std::shared_ptr<worker_impl>& impl(const worker& w) noexcept { return w.impl_; }
  template <class Handle = worker>
  static Handle make(std::shared_ptr<worker_impl> impl) noexcept {
    return Handle(std::move(impl));
  }
};

}  // namespace malt::detail

#endif
