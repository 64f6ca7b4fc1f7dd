// The archives libmalt compiles for the library's own value types (codec.hpp): a file that
// calls an eval or a builtin needs no Boost.Serialization of its own.

#include <malt/detail/codec.hpp>
#include <malt/serialization.hpp>
#include <malt/value.hpp>

namespace malt::detail {

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
