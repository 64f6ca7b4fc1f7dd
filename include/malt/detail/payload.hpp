#ifndef MALT_DETAIL_PAYLOAD_HPP
#define MALT_DETAIL_PAYLOAD_HPP

// Values on the wire: a Boost binary archive without header, written straight into the
// frame's byte vector and read from a span of the received frame, through checked_iarchive,
// which trusts no length it reads. One archive per message, no object tracking. Host and
// worker are checked to be the same build by the handshake, since no_header turns off the
// archive's own checks.
//
// Building an archive costs more than a small call's whole round trip (each one builds a
// std::locale), and its headers cost a second of compile time, so messages made only of
// numbers, strings and vectors of numbers are written and read here directly, in the very
// bytes the archive would have produced (tests/unit/payload_test.cpp compares them): either
// side may use either path. The library's own value types (malt::value) have their archive
// compiled in libmalt (codec.hpp); a message of these and plain values is each value's
// bytes in turn. Any other message is one archive, which <malt/serialization.hpp> brings.

#include <malt/detail/codec.hpp>
#include <malt/detail/wire.hpp>

#include <cstring>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace malt::detail {

// The types whose archive is their bytes: a number as it lies in memory; a string or a
// vector of numbers as a std::size_t count, then the elements.
template <class T>
inline constexpr bool is_plain_number =
    std::is_same_v<T, bool> || std::is_same_v<T, char> || std::is_same_v<T, signed char> ||
    std::is_same_v<T, unsigned char> || std::is_same_v<T, short> || std::is_same_v<T, unsigned short> ||
    std::is_same_v<T, int> || std::is_same_v<T, unsigned> || std::is_same_v<T, long> ||
    std::is_same_v<T, unsigned long> || std::is_same_v<T, long long> || std::is_same_v<T, unsigned long long> ||
    std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
inline constexpr bool is_plain_value = is_plain_number<T>;
template <>
inline constexpr bool is_plain_value<std::string> = true;
template <class T>
inline constexpr bool is_plain_value<std::vector<T>> = is_plain_number<T> && !std::is_same_v<T, bool>;

/// Plain values, and those whose archive libmalt compiles: each value's bytes in turn.
template <class T>
inline constexpr bool is_separable_value = is_plain_value<T> || compiled_codec<T>::exists;

template <class T>
void encode_plain(std::vector<char>& out, const T& v) {
  if constexpr (compiled_codec<T>::exists) {
    compiled_codec<T>::encode(out, v);
  } else if constexpr (is_plain_number<T>) {
    const auto* p = reinterpret_cast<const char*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  } else {
    encode_plain(out, static_cast<std::size_t>(v.size()));
    const auto* p = reinterpret_cast<const char*>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(*v.data()));
  }
}

// What a decoder throws (std::runtime_error), said once in the library rather than in
// every decoder compiled.
[[noreturn]] void throw_bad_bool(char byte);
[[noreturn]] void throw_too_many_elements(std::size_t claimed, std::size_t element_size, std::size_t left);
[[noreturn]] void throw_ends_early(std::size_t needed, std::size_t left);
[[noreturn]] void throw_left_over(std::size_t left);

class plain_reader {
 public:
  explicit plain_reader(std::span<const char> in, decode_limits limits = {}) : in_(in), limits_(limits) {}

  template <class T>
  void read(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      const char byte = take(1)[0];
      if (byte != 0 && byte != 1) throw_bad_bool(byte);
      v = byte == 1;
    } else if constexpr (is_plain_number<T>) {
      std::memcpy(&v, take(sizeof v).data(), sizeof v);
    } else if constexpr (compiled_codec<T>::exists) {
      in_ = in_.subspan(compiled_codec<T>::decode(in_, limits_, v));
    } else {
      using element = typename T::value_type;
      std::size_t n = 0;
      read(n);
      if (n > in_.size() / sizeof(element)) throw_too_many_elements(n, sizeof(element), in_.size());
      const auto bytes = take(n * sizeof(element));
      if constexpr (sizeof(element) == 1) {
        const auto* p = reinterpret_cast<const element*>(bytes.data());
        v.assign(p, p + n);
      } else {
        v.resize(n);
        if (n != 0) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(element));
      }
    }
  }
  std::size_t remaining() const noexcept { return in_.size(); }

 private:
  std::span<const char> take(std::size_t n) {
    if (n > in_.size()) throw_ends_early(n, in_.size());
    auto bytes = in_.first(n);
    in_ = in_.subspan(n);
    return bytes;
  }

  std::span<const char> in_;
  decode_limits limits_;
};


template <class... T>
concept archive_included = requires { sizeof(archive_codec<T...>); };
#define MALT_NEEDS_SERIALIZATION_HPP                                                                  \
  "a type beyond numbers, strings and vectors of numbers travels as a Boost.Serialization archive: " \
  "#include <malt/serialization.hpp> where the call is made or the function registered"

/// Appends the archive of every value to out.
template <class... T>
void encode_values(std::vector<char>& out, const T&... values) {
  if constexpr ((is_plain_number<T> && ...)) {  // the common small call: one resize, no insert
    const std::size_t at = out.size();
    out.resize(at + (std::size_t(0) + ... + sizeof(T)));
    char* p = out.data() + at;
    ((std::memcpy(p, &values, sizeof(T)), p += sizeof(T)), ...);
  } else if constexpr ((is_separable_value<T> && ...)) {
    (encode_plain(out, values), ...);
  } else if constexpr (archive_included<T...>) {
    archive_codec<T...>::encode(out, values...);
  } else {
    static_assert(archive_included<T...>, MALT_NEEDS_SERIALIZATION_HPP);
  }
}

/// A plain value at least this large is sent from where it lies rather than copied.
inline constexpr std::size_t send_in_place_size = 64 * 1024;

/// Appends a function's result to out. A large string or vector of numbers moves into out's
/// owner and its elements go out as the frame's tail: the same bytes, one copy fewer.
template <class T>
void encode_result(outgoing_frame& out, T&& result) {
  using V = std::remove_cvref_t<T>;
  if constexpr (is_plain_value<V> && !is_plain_number<V>) {
    if (result.size() * sizeof(*result.data()) >= send_in_place_size) {
      encode_plain(out.bytes, static_cast<std::size_t>(result.size()));
      auto held = std::make_shared<const V>(std::forward<T>(result));
      out.tail = {reinterpret_cast<const char*>(held->data()), held->size() * sizeof(*held->data())};
      out.owner = std::move(held);
      return;
    }
  }
  encode_values(out.bytes, result);
}

/// Fills every value from in, which must hold exactly their archive. Throws
/// std::runtime_error (or a Boost archive_exception) naming what does not fit.
template <class... T>
void decode_values(std::span<const char> in, decode_limits limits, T&... values) {
  std::size_t left_over = 0;
  constexpr bool numbers_only = ((is_plain_number<T> && !std::is_same_v<T, bool>) && ...);
  if constexpr (numbers_only) {  // the common small call: one check; wrong sizes go the long way to be named
    constexpr std::size_t size = (std::size_t(0) + ... + sizeof(T));
    if (in.size() == size) {
      const char* p = in.data();
      ((std::memcpy(&values, p, sizeof(T)), p += sizeof(T)), ...);
      return;
    }
  }
  if constexpr ((is_separable_value<T> && ...)) {
    plain_reader reader(in, limits);
    (reader.read(values), ...);
    left_over = reader.remaining();
  } else if constexpr (archive_included<T...>) {
    left_over = archive_codec<T...>::decode(in, limits, values...);
  } else {
    static_assert(archive_included<T...>, MALT_NEEDS_SERIALIZATION_HPP);
  }
  if (left_over != 0) throw_left_over(left_over);
}

template <class... T>
void decode_values(std::span<const char> in, T&... values) {
  decode_values(in, decode_limits{}, values...);
}

}  // namespace malt::detail

#undef MALT_NEEDS_SERIALIZATION_HPP

#endif
