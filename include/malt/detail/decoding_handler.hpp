#ifndef MALT_DETAIL_DECODING_HANDLER_HPP
#define MALT_DETAIL_DECODING_HANDLER_HPP

// The handler a call operation completes through: it turns the worker's raw reply into the
// caller's value and hands it on, keeping the caller's executor, allocator and
// cancellation slot.

#include <malt/detail/payload.hpp>
#include <malt/detail/remote_call.hpp>

#include <boost/asio/associator.hpp>

#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace malt::detail {

// Turns the worker's raw reply into the caller's value, keeping the caller's executor,
// allocator and cancellation slot (see the associator below).
template <class T, class Wire, class Handler>
struct decoding_handler {
  Handler handler;
  std::shared_ptr<worker_impl> w;
  std::string function;

  void operator()(std::exception_ptr failed, std::vector<char> reply) {
    if constexpr (std::is_void_v<T>) {
      handler(failed);
    } else {
      T result{};
      if (!failed) {
        try {
          const decode_limits limits{max_decode_depth(*w)};
          if constexpr (std::is_same_v<T, Wire>) {
            decode_values(reply, limits, result);
          } else {  // e.g. an eval's malt::value, converted to what the caller asked for
            Wire wire{};
            decode_values(reply, limits, wire);
            result = wire.template as<T>();
          }
        } catch (const std::exception& e) {
          failed = decode_failure(*w, function, e);
        }
      }
      recycle(*w, std::move(reply));
      handler(failed, std::move(result));
    }
  }
};

template <class T>
struct call_signature_of {
  using type = void(std::exception_ptr, T);
};
template <>
struct call_signature_of<void> {
  using type = void(std::exception_ptr);
};
template <class T>
using call_signature = typename call_signature_of<T>::type;

}  // namespace malt::detail

namespace boost::asio {
template <template <class, class> class Associator, class T, class Wire, class Handler, class Default>
struct associator<Associator, malt::detail::decoding_handler<T, Wire, Handler>, Default> : Associator<Handler, Default> {
  static typename Associator<Handler, Default>::type get(const malt::detail::decoding_handler<T, Wire, Handler>& h,
                                                         const Default& d = Default()) noexcept {
    return Associator<Handler, Default>::get(h.handler, d);
  }
};
}  // namespace boost::asio

#endif
