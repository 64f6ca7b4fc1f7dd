#ifndef MALT_VALUE_HPP
#define MALT_VALUE_HPP

// A value of the worker's evaluation language (Lua), as the host sees it: nil, boolean,
// integer, number, string, array (a Lua sequence 1..n) or table (string keys), nested.
//
//   malt::value v = co_await malt::remote_eval_fetch(w, "{1, 2, 3}");
//   std::vector<int> xs = v.as<std::vector<int>>();


#include <cmath>
#include <concepts>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace malt {

class value {
 public:
  using array = std::vector<value>;
  using table = std::map<std::string, value>;
  using variant_type = std::variant<std::monostate, bool, std::int64_t, double, std::string, array, table>;

  value() = default;
  value(std::nullptr_t) {}
  value(bool b) : v_(b) {}
  template <std::integral I>
    requires(!std::is_same_v<I, bool>)
  value(I i) : v_(static_cast<std::int64_t>(i)) {}
  template <std::floating_point F>
  value(F f) : v_(static_cast<double>(f)) {}
  value(std::string s) : v_(std::move(s)) {}
  value(const char* s) : v_(std::string(s)) {}
  value(array a) : v_(std::move(a)) {}
  value(table t) : v_(std::move(t)) {}

  bool is_nil() const noexcept { return std::holds_alternative<std::monostate>(v_); }
  const variant_type& get() const noexcept { return v_; }
  /// "nil", "boolean", "integer", "number", "string", "array" or "table".
  const char* type_name() const noexcept;

  /// The value as T: bool, an arithmetic type, std::string, std::vector<U>, std::map<std::string, U>,
  /// std::optional<U> (nil is nullopt) or value. Throws std::invalid_argument naming both types
  /// when it does not convert (an integer out of T's range, a string as a number, ...).
  template <class T>
  T as() const;

  friend bool operator==(const value&, const value&) = default;

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar & v_;
  }

 private:
  [[noreturn]] void cannot_convert(const char* to) const;
  [[noreturn]] static void integer_out_of_range(std::int64_t i);
  [[noreturn]] static void number_out_of_range(double d);
  variant_type v_;
};

/// Writes v as Lua would write it: nil, true, 42, 2.5, "text", {1, 2}, {x = 1}.
std::ostream& operator<<(std::ostream& os, const value& v);

namespace detail {
template <class T>
struct value_traits : std::false_type {};  // is T convertible to and from value?
template <>
struct value_traits<value> : std::true_type {};
template <>
struct value_traits<bool> : std::true_type {};
template <class T>
  requires std::is_arithmetic_v<T>
struct value_traits<T> : std::true_type {};
template <>
struct value_traits<std::string> : std::true_type {};
template <class U>
struct value_traits<std::vector<U>> : value_traits<U> {};
template <class U>
struct value_traits<std::map<std::string, U>> : value_traits<U> {};
template <class U>
struct value_traits<std::optional<U>> : value_traits<U> {};
}  // namespace detail

/// Whether T converts to and from value (and so can cross into Lua).
template <class T>
inline constexpr bool is_value_convertible = detail::value_traits<std::remove_cvref_t<T>>::value;

/// The value of a C++ object of a type for which is_value_convertible holds.
template <class T>
value to_value(const T& v) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_same_v<U, value>) {
    return v;
  } else if constexpr (std::is_arithmetic_v<U> || std::is_same_v<U, std::string>) {
    return value(v);
  } else if constexpr (requires { typename U::value_type; typename U::key_type; }) {
    value::table t;
    for (const auto& [k, x] : v) t.emplace(k, to_value(x));
    return t;
  } else if constexpr (requires { v.has_value(); }) {
    return v ? to_value(*v) : value();
  } else {
    value::array a;
    a.reserve(v.size());
    for (const auto& x : v) a.push_back(to_value(x));
    return a;
  }
}

template <class T>
T value::as() const {
  if constexpr (std::is_same_v<T, value>) {
    return *this;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (auto* b = std::get_if<bool>(&v_)) return *b;
    cannot_convert("bool");
  } else if constexpr (std::is_integral_v<T>) {
    std::int64_t i = 0;
    if (auto* p = std::get_if<std::int64_t>(&v_))
      i = *p;
    else if (auto* d = std::get_if<double>(&v_); d && *d >= -0x1p63 && *d < 0x1p63 && *d == std::trunc(*d))
      i = static_cast<std::int64_t>(*d);  // in range, so the conversion is defined
    else
      cannot_convert("an integer type");
    // The plain integer type of T's size and sign: std::in_range refuses character types.
    using plain = std::conditional_t<std::is_signed_v<T>, std::make_signed_t<T>, std::make_unsigned_t<T>>;
    if (!std::in_range<plain>(i)) integer_out_of_range(i);
    return static_cast<T>(i);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (auto* d = std::get_if<double>(&v_)) {
      if (std::isfinite(*d) && std::abs(*d) > static_cast<double>(std::numeric_limits<T>::max()))
        number_out_of_range(*d);
      return static_cast<T>(*d);
    }
    if (auto* i = std::get_if<std::int64_t>(&v_)) return static_cast<T>(*i);
    cannot_convert("a floating-point type");
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (auto* s = std::get_if<std::string>(&v_)) return *s;
    cannot_convert("std::string");
  } else if constexpr (requires { typename T::key_type; }) {
    T out;
    if (auto* t = std::get_if<table>(&v_)) {
      for (const auto& [k, x] : *t) out.emplace(k, x.template as<typename T::mapped_type>());
      return out;
    }
    if (auto* a = std::get_if<array>(&v_); a && a->empty()) return out;
    cannot_convert("a map");
  } else if constexpr (requires { typename T::value_type; std::declval<T>().has_value(); }) {
    if (is_nil()) return T();
    return T(as<typename T::value_type>());
  } else {
    static_assert(requires { typename T::value_type; }, "value::as: no conversion to this type");
    T out;
    if (auto* a = std::get_if<array>(&v_)) {
      out.reserve(a->size());
      for (const auto& x : *a) out.push_back(x.template as<typename T::value_type>());
      return out;
    }
    if (auto* t = std::get_if<table>(&v_); t && t->empty()) return out;
    cannot_convert("a vector");
  }
}

}  // namespace malt

#endif
