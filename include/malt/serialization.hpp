#ifndef MALT_SERIALIZATION_HPP
#define MALT_SERIALIZATION_HPP

// Numbers, strings, vectors of numbers and malt::value travel without it; any other
// argument or result type travels as a Boost.Serialization archive, and a file that calls
// or registers a function with such a type includes this header (a static_assert says so
// otherwise). It brings the archive, the standard containers Boost supports, and what Boost
// 1.81 lacks: std::optional, std::variant and std::tuple. A type of your own needs a
// serialize() function, as Boost.Serialization documents.

#include <malt/detail/archive_codec.hpp>

#include <boost/serialization/deque.hpp>
#include <boost/serialization/list.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/set.hpp>
#include <boost/serialization/split_free.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/unordered_map.hpp>
#include <boost/serialization/unordered_set.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <boost/version.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <variant>

#if BOOST_VERSION < 108400
namespace boost::serialization {

template <class Archive, class T>
void save(Archive& ar, const std::optional<T>& o, unsigned) {
  const bool engaged = o.has_value();
  ar << engaged;
  if (engaged) ar << *o;
}
template <class Archive, class T>
void load(Archive& ar, std::optional<T>& o, unsigned) {
  bool engaged = false;
  ar >> engaged;
  if (!engaged) {
    o.reset();
    return;
  }
  T value{};
  ar >> value;
  o = std::move(value);
}
template <class Archive, class T>
void serialize(Archive& ar, std::optional<T>& o, unsigned version) {
  split_free(ar, o, version);
}

template <class Archive, class... T>
void save(Archive& ar, const std::variant<T...>& v, unsigned) {
  const auto index = static_cast<std::uint32_t>(v.index());
  ar << index;
  std::visit([&](const auto& alternative) { ar << alternative; }, v);
}
template <class Archive, class... T>
void load(Archive& ar, std::variant<T...>& v, unsigned) {
  std::uint32_t index = 0;
  ar >> index;
  if (index >= sizeof...(T)) throw std::runtime_error("variant index out of range");
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    ((index == I ? (void)[&] {
       std::variant_alternative_t<I, std::variant<T...>> value{};
       ar >> value;
       v.template emplace<I>(std::move(value));
     }()
                 : void()),
     ...);
  }(std::index_sequence_for<T...>{});
}
template <class Archive, class... T>
void serialize(Archive& ar, std::variant<T...>& v, unsigned version) {
  split_free(ar, v, version);
}

}  // namespace boost::serialization
#endif  // BOOST_VERSION < 108400

namespace boost::serialization {
template <class Archive>
void serialize(Archive&, std::monostate&, unsigned) {}  // an empty alternative of a variant

template <class Archive, class... T>
void serialize(Archive& ar, std::tuple<T...>& t, unsigned) {
  std::apply([&](auto&... element) { ((ar & element), ...); }, t);
}
}  // namespace boost::serialization

#endif
