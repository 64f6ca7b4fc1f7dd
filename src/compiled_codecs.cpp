// The archives libmalt compiles for the library's own value types (codec.hpp): a file that
// calls an eval or a builtin needs no Boost.Serialization of its own.

#include <malt/detail/codec.hpp>
#include <malt/serialization.hpp>
#include <malt/value.hpp>

#include <stdexcept>
#include <string>

namespace malt::detail {

void throw_bad_bool(char byte) {
  throw std::runtime_error("a bool holds " + std::to_string(int(byte)) + ", not 0 or 1");
}

void throw_too_many_elements(std::size_t claimed, std::size_t element_size, std::size_t left) {
  throw std::runtime_error("the value claims " + std::to_string(claimed) + " elements of " +
                           std::to_string(element_size) + " bytes, but only " + std::to_string(left) +
                           " bytes are left");
}

void throw_ends_early(std::size_t needed, std::size_t left) {
  throw std::runtime_error("the value ends early: " + std::to_string(needed) + " bytes needed, " +
                           std::to_string(left) + " left");
}

void throw_left_over(std::size_t left) {
  throw std::runtime_error(std::to_string(left) + " bytes left over after the value");
}

namespace {

template <class T>
std::size_t decode_front(std::span<const char> in, decode_limits limits, T& v) {
  return in.size() - archive_codec<T>::decode(in, limits, v);
}

}  // namespace

void compiled_codec<value>::encode(std::vector<char>& out, const value& v) { archive_codec<value>::encode(out, v); }
std::size_t compiled_codec<value>::decode(std::span<const char> in, decode_limits limits, value& v) {
  return decode_front(in, limits, v);
}

void compiled_codec<std::optional<std::string>>::encode(std::vector<char>& out, const std::optional<std::string>& v) {
  archive_codec<std::optional<std::string>>::encode(out, v);
}
std::size_t compiled_codec<std::optional<std::string>>::decode(std::span<const char> in, decode_limits limits,
                                                              std::optional<std::string>& v) {
  return decode_front(in, limits, v);
}

}  // namespace malt::detail
