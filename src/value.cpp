#include <malt/value.hpp>

#include <ostream>

namespace malt {

const char* value::type_name() const noexcept {
  static const char* names[] = {"nil", "boolean", "integer", "number", "string", "array", "table"};
  return names[v_.index()];
}

void value::integer_out_of_range(std::int64_t i) {
  throw std::invalid_argument("the integer " + std::to_string(i) + " is out of range");
}

void value::number_out_of_range(double d) {
  throw std::invalid_argument("the number " + std::to_string(d) + " is out of range");
}

void value::cannot_convert(const char* to) const {
  throw std::invalid_argument(std::string("cannot convert a Lua ") + type_name() + " to " + to);
}

std::ostream& operator<<(std::ostream& os, const value& v) {
  std::visit(
      [&](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>) {
          os << "nil";
        } else if constexpr (std::is_same_v<X, bool>) {
          os << (x ? "true" : "false");
        } else if constexpr (std::is_same_v<X, std::string>) {
          os << '"' << x << '"';
        } else if constexpr (std::is_same_v<X, value::array>) {
          os << '{';
          for (std::size_t i = 0; i < x.size(); ++i) os << (i ? ", " : "") << x[i];
          os << '}';
        } else if constexpr (std::is_same_v<X, value::table>) {
          os << '{';
          bool first = true;
          for (const auto& [k, e] : x) {
            os << (first ? "" : ", ") << k << " = " << e;
            first = false;
          }
          os << '}';
        } else {
          os << x;
        }
      },
      v.get());
  return os;
}

}  // namespace malt
