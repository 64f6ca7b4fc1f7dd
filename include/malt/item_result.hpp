#ifndef MALT_ITEM_RESULT_HPP
#define MALT_ITEM_RESULT_HPP

// The outcome of one item of a parallel map (<malt/pmap.hpp>): item_error when a map stops
// at an item's failure, item_result when each item keeps its own.

#include <malt/detail/failure.hpp>
#include <malt/diagnostics.hpp>

#include <boost/system/system_error.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace malt {

namespace detail {
struct item_outcome_access;

}  // namespace detail

/// The failure of one item of a pmap: which item, and what it threw (remote_exception,
/// interrupted_exception, terminated_worker_exception, decode_error, ...). Its code is the
/// cause's, so a map awaited for an error_code gets the item's.
class item_error : public boost::system::system_error {
 public:
  item_error(std::size_t index, std::exception_ptr cause)
      : boost::system::system_error(detail::code_of(cause)),
        message_("item " + std::to_string(index) + ": " + detail::what_of(cause)),
        index_(index),
        cause_(std::move(cause)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  std::size_t index() const noexcept { return index_; }
  const std::exception_ptr& cause() const noexcept { return cause_; }
  [[noreturn]] void rethrow_cause() const { std::rethrow_exception(cause_); }

 private:
  std::string message_;
  std::size_t index_;
  std::exception_ptr cause_;
};

/// One item's outcome, as pmap_collect gives it: its value, or what it threw.
template <class T>
class item_result {
 public:
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  /// The value; rethrows the item's failure.
  const T& value() const& {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }
  T&& value() && {
    if (error_) std::rethrow_exception(error_);
    return std::move(*value_);
  }
  const std::exception_ptr& error() const noexcept { return error_; }

 private:
  friend struct detail::item_outcome_access;
  std::optional<T> value_;
  std::exception_ptr error_;
};

template <>
class item_result<void> {
 public:
  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  /// Rethrows the item's failure.
  void value() const {
    if (error_) std::rethrow_exception(error_);
  }
  const std::exception_ptr& error() const noexcept { return error_; }

 private:
  friend struct detail::item_outcome_access;
  std::exception_ptr error_;
};

}  // namespace malt

#endif
