// A call's result as the host decodes it, for the kinds of result types a caller asks for:
// the first byte picks the type, the rest is the reply. It decodes, or it is refused with
// an exception; a value that decodes survives a round trip.
#include <malt/detail/payload.hpp>
#include <malt/serialization.hpp>
#include <malt/value.hpp>

#include <boost/archive/archive_exception.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace malt::detail;

namespace {

template <class T>
void decode_as(std::span<const char> bytes) {
  T v{};
  try {
    decode_values(bytes, v);
  } catch (const std::runtime_error&) {
    return;
  } catch (const boost::archive::archive_exception&) {
    return;
  }
  // What decoded encodes to bytes that decode to the same thing (compared as bytes: a NaN
  // is not equal to itself).
  std::vector<char> once, twice;
  encode_values(once, v);
  T back{};
  decode_values(once, back);
  encode_values(twice, back);
  if (once != twice) __builtin_trap();
}

using options = std::optional<std::variant<int, std::string, std::tuple<double, std::vector<std::string>>>>;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::span<const char> bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 10) {
    case 0: decode_as<int>(bytes); break;
    case 1: decode_as<std::string>(bytes); break;
    case 2: decode_as<std::vector<double>>(bytes); break;
    case 3: decode_as<std::map<std::string, int>>(bytes); break;
    case 4: decode_as<std::vector<std::string>>(bytes); break;
    case 5: decode_as<options>(bytes); break;
    case 6: decode_as<std::tuple<bool, std::int64_t, std::string>>(bytes); break;
    case 7: decode_as<malt::value>(bytes); break;
    case 8: decode_as<std::vector<malt::value>>(bytes); break;
    case 9: decode_as<std::map<std::string, std::vector<std::optional<bool>>>>(bytes); break;
  }
  return 0;
}
