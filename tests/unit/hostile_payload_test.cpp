// Bytes crafted by a hostile worker: lengths that lie, values nested deep enough to end the
// host's stack, bools and enumerators that are neither, numbers that do not convert. Each
// is refused with an error naming the problem, before any large allocation.
#include "hostile_bytes.hpp"
#include "memory.hpp"

#include <malt/detail/payload.hpp>
#include <malt/serialization.hpp>
#include <malt/value.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <string>

using namespace malt::detail;
using namespace malt_test;

namespace {

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

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_payloads)

BOOST_AUTO_TEST_CASE(lying_lengths_are_refused_before_allocating) {
  const auto before = reset_peak_rss();
  {  // strings claiming more than the bytes hold: an honest length of 3, raised
    const auto string = refusal<std::optional<std::string>>(with_lying_count(std::optional<std::string>("abc"), 4ul << 30));
    BOOST_TEST(contains(string, "claims a string of 4294967296 bytes"), string);
    const auto key = refusal<std::map<std::string, int>>(with_lying_count(std::map<std::string, int>{{"abc", 1}}, 1ul << 30));
    BOOST_TEST(contains(key, "claims a string of 1073741824 bytes"), key);
  }
  {  // collections claiming more elements than the bytes can hold: an honest count of 3, raised
    const auto lie = std::size_t(1) << 40;
    const auto strings = refusal<std::vector<std::string>>(with_lying_count(std::vector<std::string>{"a", "b", "c"}, lie));
    BOOST_TEST(contains(strings, "claims 1099511627776 elements of at least 8 bytes"), strings);
    const auto map =
        refusal<std::map<std::string, int>>(with_lying_count(std::map<std::string, int>{{"a", 1}, {"b", 2}, {"c", 3}}, lie));
    BOOST_TEST(contains(map, "claims 1099511627776 elements of at least 12 bytes"), map);
    const auto values = refusal<malt::value>(with_lying_count(malt::value(malt::value::array{1, 2, 3}), lie));
    BOOST_TEST(contains(values, "claims 1099511627776 elements"), values);
    const auto in_tuple =
        refusal<std::tuple<std::vector<std::int64_t>>>(with_lying_count(std::tuple(std::vector<std::int64_t>{7, 8, 9}), lie));
    BOOST_TEST(contains(in_tuple, "claims 1099511627776 elements of at least 8 bytes"), in_tuple);
  }
  BOOST_TEST(grew_less_than(before, small_growth));  // the payloads are a few bytes each
}

BOOST_AUTO_TEST_CASE(a_value_nested_thousands_deep_is_refused_not_a_stack_overflow) {
  malt::value back;
  decode_values(deep_value_bytes(64), back);  // the crafted bytes are a real value: 64 levels pass
  BOOST_TEST((back == nested_arrays(64)));

  const auto bytes = deep_value_bytes(9500);
  BOOST_TEST(bytes.size() > 150'000u);
  const auto why = refusal<malt::value>(bytes);
  BOOST_TEST(contains(why, "deeper than 64 levels"), why);
  BOOST_CHECK_THROW(decode_values(deep_value_bytes(65), back), std::runtime_error);
  decode_values(deep_value_bytes(65), decode_limits{65}, back);  // the limit is an option
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
  // Character types are integers too (a function taking a char is callable by eval).
  BOOST_TEST(malt::value(std::int64_t{','}).as<char>() == ',');
  BOOST_CHECK_THROW(malt::value(std::int64_t{300}).as<char>(), std::invalid_argument);
  BOOST_TEST((malt::value(std::int64_t{0x263a}).as<char16_t>() == u'\u263a'));
  BOOST_CHECK_THROW(malt::value(std::int64_t{-1}).as<char32_t>(), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
