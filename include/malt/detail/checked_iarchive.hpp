#ifndef MALT_DETAIL_CHECKED_IARCHIVE_HPP
#define MALT_DETAIL_CHECKED_IARCHIVE_HPP

// The input archive for bytes that came from another process. It reads exactly what
// boost::archive::binary_iarchive reads, but it trusts no length: Boost's own archive
// resizes a string or a collection to the count it finds before reading a single element,
// so a few bytes claiming 4 GiB cost 4 GiB. Here a count is refused unless the bytes left
// can hold that many elements of their smallest encoding; collections and pointers may
// nest only so deep (a deep value overflows the stack while it is read); a bool that is not
// 0 or 1 and an enumerator outside its type are refused instead of being undefined
// behaviour. Every refusal throws std::runtime_error naming what was wrong.

#include <boost/archive/basic_archive.hpp>
#include <boost/archive/binary_iarchive_impl.hpp>
#include <boost/archive/detail/register_archive.hpp>
#include <boost/serialization/array_optimization.hpp>
#include <boost/serialization/collection_size_type.hpp>

#include <cstddef>
#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace malt::detail {

class span_source : public std::streambuf {
 public:
  explicit span_source(std::span<const char> in) {
    char* p = const_cast<char*>(in.data());  // the get area is only read
    setg(p, p, p + in.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// A container Boost writes as a count and its elements (a string is a primitive instead).
template <class T>
concept archived_collection = requires(const T& t) {
  typename T::value_type;
  t.size();
  t.begin();
} && !std::is_same_v<T, std::basic_string<typename T::value_type>>;

/// The fewest bytes an object of type T takes in a binary archive; 1 for a type this does
/// not know (so that even a collection of empty objects is bounded by the bytes).
template <class T>
constexpr std::size_t min_encoded_size() {
  if constexpr (std::is_arithmetic_v<T>) {
    return sizeof(T);
  } else if constexpr (std::is_enum_v<T>) {
    return sizeof(int);
  } else if constexpr (requires { typename T::first_type; typename T::second_type; }) {
    return min_encoded_size<std::remove_const_t<typename T::first_type>>() + min_encoded_size<typename T::second_type>();
  } else if constexpr (archived_collection<T> || std::is_same_v<T, std::string> || std::is_same_v<T, std::wstring>) {
    return sizeof(boost::serialization::collection_size_type);  // its count
  } else {
    return 1;
  }
}

class checked_iarchive
    : public boost::archive::binary_iarchive_impl<checked_iarchive, char, std::char_traits<char>> {
  using base = boost::archive::binary_iarchive_impl<checked_iarchive, char, std::char_traits<char>>;
  friend class boost::archive::detail::interface_iarchive<checked_iarchive>;
  friend class boost::archive::basic_binary_iarchive<checked_iarchive>;
  friend class boost::archive::basic_binary_iprimitive<checked_iarchive, char, std::char_traits<char>>;
  friend class boost::archive::load_access;

 public:
  checked_iarchive(span_source& source, std::size_t max_depth);

  // Primitives with a length or a range of valid values; the rest are read as Boost does.
  using base::load;
  void load(bool& b);
  void load(std::string& s);
  void load(std::wstring& s);
  [[noreturn]] void load(char*);
  [[noreturn]] void load(wchar_t*);

 protected:
  using base::load_override;
  template <class T>
  void load_override(T& t) {
    if constexpr (std::is_same_v<T, boost::serialization::collection_size_type>) {
      base::load_override(t);
      check_count(t);
    } else if constexpr (std::is_enum_v<T>) {
      int i = 0;
      *this >> i;
      if (!std::in_range<std::underlying_type_t<T>>(i)) throw_bad_enum(i);
      t = static_cast<T>(i);
    } else if constexpr (std::is_pointer_v<T>) {
      nested level(*this, 1);
      base::load_override(t);
    } else if constexpr (archived_collection<T>) {
      nested level(*this, min_encoded_size<typename T::value_type>());
      base::load_override(t);
    } else {
      base::load_override(t);
    }
  }

 private:
  // One level of nesting, and the smallest size of its elements for the count read next.
  class nested {
   public:
    nested(checked_iarchive& ar, std::size_t element_size);
    ~nested() {
      --ar_.depth_;
      ar_.element_size_ = outer_size_;
    }
    nested(const nested&) = delete;
    nested& operator=(const nested&) = delete;

   private:
    checked_iarchive& ar_;
    std::size_t outer_size_;
  };

  void check_count(std::size_t count) const;
  [[noreturn]] static void throw_bad_enum(int i);

  span_source& source_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  std::size_t element_size_ = 1;
};

}  // namespace malt::detail

BOOST_SERIALIZATION_REGISTER_ARCHIVE(malt::detail::checked_iarchive)
BOOST_SERIALIZATION_USE_ARRAY_OPTIMIZATION(malt::detail::checked_iarchive)

#endif
