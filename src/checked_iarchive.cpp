// The compiled half of checked_iarchive: Boost's binary input archive instantiated for it
// (as Boost's own library does for binary_iarchive), and its checks.
#include <malt/detail/checked_iarchive.hpp>

#include <boost/archive/detail/archive_serializer_map.hpp>
#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

#include <cstdint>

namespace boost::archive {
template class detail::archive_serializer_map<malt::detail::checked_iarchive>;
template class basic_binary_iprimitive<malt::detail::checked_iarchive, char, std::char_traits<char>>;
template class basic_binary_iarchive<malt::detail::checked_iarchive>;
template class binary_iarchive_impl<malt::detail::checked_iarchive, char, std::char_traits<char>>;
}  // namespace boost::archive

namespace malt::detail {

namespace {
constexpr unsigned archive_flags =
    boost::archive::no_header | boost::archive::no_codecvt | boost::archive::no_tracking;
}

checked_iarchive::checked_iarchive(span_source& source, std::size_t max_depth)
    : base(source, archive_flags), source_(source), max_depth_(max_depth) {
  init(archive_flags);
}

checked_iarchive::nested::nested(checked_iarchive& ar, std::size_t element_size)
    : ar_(ar), outer_size_(ar.element_size_) {
  if (ar.depth_ >= ar.max_depth_)
    throw std::runtime_error("the value nests collections deeper than " + std::to_string(ar.max_depth_) +
                             " levels (worker_options::max_decode_depth)");
  ++ar.depth_;
  ar.element_size_ = element_size == 0 ? 1 : element_size;
}

void checked_iarchive::check_count(std::size_t count) const {
  const std::size_t left = source_.remaining();
  if (count > left / element_size_)
    throw std::runtime_error("the value claims " + std::to_string(count) + " elements of at least " +
                             std::to_string(element_size_) + " bytes, but only " + std::to_string(left) +
                             " bytes are left");
}

void checked_iarchive::load(bool& b) {
  std::uint8_t byte = 0;
  load_binary(&byte, 1);
  if (byte > 1) throw std::runtime_error("a bool holds " + std::to_string(byte) + ", not 0 or 1");
  b = byte == 1;
}

void checked_iarchive::load(std::string& s) {
  std::size_t n = 0;
  load_binary(&n, sizeof n);
  if (n > source_.remaining())
    throw std::runtime_error("the value claims a string of " + std::to_string(n) + " bytes, but only " +
                             std::to_string(source_.remaining()) + " bytes are left");
  s.resize(n);
  if (n != 0) load_binary(s.data(), n);
}

void checked_iarchive::load(std::wstring& s) {
  std::size_t n = 0;
  load_binary(&n, sizeof n);
  if (n > source_.remaining() / sizeof(wchar_t))
    throw std::runtime_error("the value claims a wide string of " + std::to_string(n) + " characters, but only " +
                             std::to_string(source_.remaining()) + " bytes are left");
  s.resize(n);
  if (n != 0) load_binary(s.data(), n * sizeof(wchar_t));
}

void checked_iarchive::load(char*) {
  throw std::runtime_error("a C string cannot be decoded safely: its buffer's size is unknown; use std::string");
}
void checked_iarchive::load(wchar_t*) {
  throw std::runtime_error("a C string cannot be decoded safely: its buffer's size is unknown; use std::wstring");
}

void checked_iarchive::throw_bad_enum(int i) {
  throw std::runtime_error("an enumeration holds " + std::to_string(i) + ", which its type cannot represent");
}

}  // namespace malt::detail
