// Values on the wire: round trips of the types Boost 1.81 lacks, and refusal of damaged
// payloads.
#include <malt/detail/payload.hpp>
#include <malt/detail/signature.hpp>

#include <boost/test/unit_test.hpp>

using namespace malt::detail;

BOOST_AUTO_TEST_SUITE(payload_codec)

BOOST_AUTO_TEST_CASE(standard_types_round_trip) {
  std::vector<char> buf;
  std::optional<std::string> some = "text", none;
  std::variant<int, std::string> v = std::string("alt");
  std::tuple<int, double, std::string> t{1, 2.5, "three"};
  std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  encode_values(buf, some, none, v, t, m);
  std::optional<std::string> some2, none2 = "x";
  std::variant<int, std::string> v2;
  std::tuple<int, double, std::string> t2;
  std::map<std::string, std::vector<int>> m2;
  decode_values(buf, some2, none2, v2, t2, m2);
  BOOST_TEST(*some2 == "text");
  BOOST_TEST(!none2.has_value());
  BOOST_TEST(std::get<std::string>(v2) == "alt");
  BOOST_TEST((t2 == t));
  BOOST_TEST((m2 == m));
}

BOOST_AUTO_TEST_CASE(large_byte_vector_round_trips) {
  std::vector<std::uint8_t> big(10'000'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 7);
  std::vector<char> buf;
  encode_values(buf, big);
  BOOST_TEST(buf.size() < big.size() + 64);  // one block, not element by element
  std::vector<std::uint8_t> back;
  decode_values(buf, back);
  BOOST_TEST((back == big));
}

BOOST_AUTO_TEST_CASE(truncated_and_oversized_payloads_throw) {
  std::vector<char> buf;
  encode_values(buf, std::string("hello world"));
  std::string s;
  BOOST_CHECK_THROW(decode_values(std::span<const char>(buf.data(), buf.size() - 2), s), std::exception);
  buf.push_back('!');
  BOOST_CHECK_THROW(decode_values(buf, s), std::runtime_error);  // bytes left over
}

BOOST_AUTO_TEST_CASE(bad_variant_index_throws) {
  std::vector<char> buf;
  std::variant<int, char, double> v = 2.0;  // index 2: out of range for the reader's type
  encode_values(buf, v);
  std::variant<int, char> back;
  BOOST_CHECK_THROW(decode_values(buf, back), std::exception);
}

BOOST_AUTO_TEST_CASE(signatures_name_types) {
  using sig = signature<int(const std::string&, double)>;
  BOOST_TEST(sig::parameter_types() == "(std::__cxx11::basic_string<char>, double)");
  BOOST_TEST(sig::result_type() == "int");
  using coro = signature<boost::asio::awaitable<long>(int)>;
  BOOST_TEST(coro::is_coroutine);
  BOOST_TEST(coro::result_type() == "long int");
  BOOST_TEST(signature<void()>::parameter_types() == "()");
}

BOOST_AUTO_TEST_SUITE_END()
