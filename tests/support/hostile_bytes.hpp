#ifndef MALT_TESTS_HOSTILE_BYTES_HPP
#define MALT_TESTS_HOSTILE_BYTES_HPP

// Replies a hostile worker could send, crafted from honest encodings.

#include <malt/detail/payload.hpp>
#include <malt/value.hpp>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace malt_test {

/// {{{...}}}: depth arrays, each holding the next.
inline malt::value nested_arrays(std::size_t depth) {
  malt::value v = malt::value::array{};
  for (std::size_t i = 1; i < depth; ++i) v = malt::value::array{std::move(v)};
  return v;
}

/// The encoding of nested_arrays(depth), made without building the value (encoding one
/// thousands of levels deep would recurse as deep): each level is the same 16 bytes, a
/// variant index, a count of 1 and an item version.
inline std::vector<char> deep_value_bytes(std::size_t depth) {
  std::vector<char> three, four;
  malt::detail::encode_values(three, nested_arrays(3));
  malt::detail::encode_values(four, nested_arrays(4));
  const auto unit = static_cast<std::ptrdiff_t>(four.size() - three.size());
  if (unit != 16 || depth < 4) throw std::logic_error("unexpected encoding of nested arrays");
  std::vector<char> out(four.begin(), four.end() - unit);
  for (std::size_t i = 4; i < depth; ++i) out.insert(out.end(), four.end() - 2 * unit, four.end() - unit);
  out.insert(out.end(), four.end() - unit, four.end());
  return out;
}

/// The encoding of v with its first count of 3 (a std::size_t) raised to lie.
template <class T>
std::vector<char> with_lying_count(const T& v, std::size_t lie) {
  std::vector<char> bytes;
  malt::detail::encode_values(bytes, v);
  const std::size_t three = 3;
  const auto* p = reinterpret_cast<const char*>(&three);
  auto at = std::search(bytes.begin(), bytes.end(), p, p + sizeof three);
  if (at == bytes.end()) throw std::logic_error("no count of 3 in the encoding");
  std::memcpy(&*at, &lie, sizeof lie);
  return bytes;
}

}  // namespace malt_test

#endif
