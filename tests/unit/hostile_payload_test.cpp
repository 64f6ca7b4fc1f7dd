// Bytes crafted by a hostile worker: lengths that lie, values nested deep enough to end the
// host's stack, bools and enumerators that are neither, numbers that do not convert. Each
// is refused with an error naming the problem, before any large allocation.
#include <malt/detail/payload.hpp>
#include <malt/value.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

using namespace malt::detail;

namespace {

// The highest resident set size this process has had, in bytes.
std::size_t peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.starts_with("VmHWM:")) return std::stoul(line.substr(6)) * 1024;
  return 0;
}

template <class T>
std::string refusal(std::span<const char> bytes) {
  T value{};
  try {
    decode_values(bytes, value);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(decoded)";
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

malt::value nested_arrays(std::size_t depth) {
  malt::value v = malt::value::array{};
  for (std::size_t i = 1; i < depth; ++i) v = malt::value::array{std::move(v)};
  return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_payloads)

BOOST_AUTO_TEST_CASE(lying_lengths_are_refused_before_allocating) {
  const auto before = peak_rss();
  {  // a string inside an archive type claiming 4 GiB, in 23 bytes
    std::vector<char> bytes;
    std::optional<std::string> honest = std::string("abc");
    encode_values(bytes, honest);
    const auto at = bytes.size() - 3 - sizeof(std::size_t);
    const std::size_t lie = std::size_t(4) << 30;
    std::memcpy(bytes.data() + at, &lie, sizeof lie);
    const auto why = refusal<std::optional<std::string>>(bytes);
    BOOST_TEST(contains(why, "claims a string of 4294967296 bytes"), why);
  }
  {  // a map whose first key claims 1 GiB
    std::vector<char> bytes;
    std::map<std::string, int> honest{{"k", 1}};
    encode_values(bytes, honest);
    const auto at = bytes.size() - sizeof(int) - 1 - sizeof(std::size_t);
    const std::size_t lie = std::size_t(1) << 30;
    std::memcpy(bytes.data() + at, &lie, sizeof lie);
    const auto why = refusal<std::map<std::string, int>>(bytes);
    BOOST_TEST(contains(why, "claims a string of 1073741824 bytes"), why);
  }
  {  // collections claiming more elements than the bytes can hold: an honest count of 3, raised
    auto lying = [](const auto& honest) {
      std::vector<char> bytes;
      encode_values(bytes, honest);
      const std::size_t three = 3, lie = std::size_t(1) << 40;
      auto at = std::search(bytes.begin(), bytes.end(), reinterpret_cast<const char*>(&three),
                            reinterpret_cast<const char*>(&three) + sizeof three);
      BOOST_REQUIRE(at != bytes.end());
      std::memcpy(&*at, &lie, sizeof lie);
      return bytes;
    };
    const auto strings = refusal<std::vector<std::string>>(lying(std::vector<std::string>{"a", "b", "c"}));
    BOOST_TEST(contains(strings, "claims 1099511627776 elements of at least 8 bytes"), strings);
    const auto map = refusal<std::map<std::string, int>>(lying(std::map<std::string, int>{{"a", 1}, {"b", 2}, {"c", 3}}));
    BOOST_TEST(contains(map, "claims 1099511627776 elements of at least 12 bytes"), map);
    const auto values = refusal<malt::value>(lying(malt::value(malt::value::array{1, 2, 3})));
    BOOST_TEST(contains(values, "claims 1099511627776 elements"), values);
    const auto in_tuple = refusal<std::tuple<std::vector<std::int64_t>>>(lying(std::tuple(std::vector<std::int64_t>{7, 8, 9})));
    BOOST_TEST(contains(in_tuple, "claims 1099511627776 elements of at least 8 bytes"), in_tuple);
  }
  BOOST_TEST(peak_rss() - before < std::size_t(64) << 20);
}

BOOST_AUTO_TEST_CASE(a_value_nested_thousands_deep_is_refused_not_a_stack_overflow) {
  // Each array level is the same 16 bytes (variant index, count 1, item version); craft a
  // value 9 500 levels deep without building one (encoding it would recurse as deep).
  std::vector<char> three, four;
  encode_values(three, nested_arrays(3));
  encode_values(four, nested_arrays(4));
  const std::size_t unit = four.size() - three.size(), last = unit;
  BOOST_REQUIRE(unit == 16u);
  auto deep_bytes = [&](std::size_t depth) {
    std::vector<char> out(four.begin(), four.end() - static_cast<std::ptrdiff_t>(last));
    const std::vector<char> level(four.end() - static_cast<std::ptrdiff_t>(2 * unit),
                                  four.end() - static_cast<std::ptrdiff_t>(last));
    for (std::size_t i = 4; i < depth; ++i) out.insert(out.end(), level.begin(), level.end());
    out.insert(out.end(), four.end() - static_cast<std::ptrdiff_t>(last), four.end());
    return out;
  };
  malt::value back;
  decode_values(deep_bytes(64), back);  // the crafted bytes are a real value: 64 levels pass
  BOOST_TEST((back == nested_arrays(64)));

  const auto bytes = deep_bytes(9500);
  BOOST_TEST(bytes.size() > 150'000u);
  const auto why = refusal<malt::value>(bytes);
  BOOST_TEST(contains(why, "deeper than 64 levels"), why);
  BOOST_CHECK_THROW(decode_values(deep_bytes(65), back), std::runtime_error);
  decode_values(deep_bytes(65), decode_limits{65}, back);  // the limit is an option
}

BOOST_AUTO_TEST_CASE(a_bool_that_is_neither_is_refused) {
  std::vector<char> plain{2};
  BOOST_TEST(contains(refusal<bool>(plain), "a bool holds 2"));
  std::vector<char> bytes;
  encode_values(bytes, std::optional<bool>(true));
  bytes.back() = 7;
  BOOST_TEST(contains(refusal<std::optional<bool>>(bytes), "a bool holds 7"));
  std::vector<char> engaged;
  encode_values(engaged, std::optional<int>());
  engaged.back() = 3;  // the engaged flag itself
  BOOST_TEST(contains(refusal<std::optional<int>>(engaged), "a bool holds 3"));
}

enum class small_enum : std::uint8_t { a, b };

BOOST_AUTO_TEST_CASE(an_enumerator_its_type_cannot_hold_is_refused) {
  std::vector<char> bytes;
  encode_values(bytes, std::optional<small_enum>(small_enum::b));
  std::optional<small_enum> back;
  decode_values(bytes, back);
  BOOST_TEST((back == small_enum::b));
  const int lie = 4096;
  std::memcpy(bytes.data() + bytes.size() - sizeof lie, &lie, sizeof lie);
  BOOST_TEST(contains(refusal<std::optional<small_enum>>(bytes), "an enumeration holds 4096"));
}

BOOST_AUTO_TEST_CASE(numbers_out_of_range_do_not_convert) {
  BOOST_CHECK_THROW(malt::value(1e30).as<std::int64_t>(), std::invalid_argument);
  BOOST_CHECK_THROW(malt::value(-1e300).as<long long>(), std::invalid_argument);
  BOOST_CHECK_THROW(malt::value(std::numeric_limits<double>::quiet_NaN()).as<int>(), std::invalid_argument);
  BOOST_CHECK_THROW(malt::value(0x1p63).as<std::int64_t>(), std::invalid_argument);
  BOOST_TEST(malt::value(-0x1p63).as<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  BOOST_TEST(malt::value(42.0).as<int>() == 42);
  BOOST_CHECK_THROW(malt::value(1e300).as<float>(), std::invalid_argument);
  BOOST_TEST(malt::value(2.5).as<float>() == 2.5f);
}

BOOST_AUTO_TEST_SUITE_END()
