#ifndef MALT_DETAIL_CODEC_HPP
#define MALT_DETAIL_CODEC_HPP

// How a value type is written to a frame and read back, as far as a header that carries it
// needs to know: the library's own value types have their archive compiled in libmalt, so
// a call that carries them needs no Boost.Serialization where it is made; any other type
// beyond numbers and strings goes through Boost's archive (<malt/serialization.hpp>).

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace malt {
class value;
}

namespace malt::detail {

/// How deep collections (and pointers) may nest in a decoded value, unless the worker's
/// options say otherwise: the depth up to which a worker's Lua sends tables.
inline constexpr std::size_t default_max_decode_depth = 64;

/// What a decoder accepts beyond the bytes themselves.
struct decode_limits {
  std::size_t max_depth = default_max_decode_depth;  // nesting of collections
};

/// A type whose archive libmalt compiles. encode appends the archive of one value; decode
/// reads one value from the front of in and returns how many bytes it took, throwing
/// std::runtime_error naming what does not fit.
template <class T>
struct compiled_codec {
  static constexpr bool exists = false;
};

#define MALT_DETAIL_COMPILED_CODEC(T)                                                   \
  template <>                                                                          \
  struct compiled_codec<T> {                                                           \
    static constexpr bool exists = true;                                               \
    static void encode(std::vector<char>& out, const T& v);                            \
    static std::size_t decode(std::span<const char> in, decode_limits limits, T& v); \
  }

MALT_DETAIL_COMPILED_CODEC(malt::value);
MALT_DETAIL_COMPILED_CODEC(std::optional<std::string>);

#undef MALT_DETAIL_COMPILED_CODEC

/// The archive of any serializable values, defined by <malt/serialization.hpp>.
template <class... T>
struct archive_codec;

}  // namespace malt::detail

#endif
