// Values on the wire: round trips of the types Boost 1.81 lacks, the archive's own bytes
// for the values written without one, and refusal of damaged payloads.
#include <malt/detail/payload.hpp>
#include <malt/detail/signature.hpp>
#include <malt/serialization.hpp>

#include <boost/archive/binary_iarchive.hpp>

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

namespace {

template <class... T>
std::vector<char> boost_archive_of(const T&... values) {
  std::vector<char> out;
  vector_sink sink(out);
  boost::archive::binary_oarchive ar(sink, archive_flags);
  ((ar << values), ...);
  return out;
}

template <class... T>
void boost_decode(const std::vector<char>& in, T&... values) {
  span_source source(in);
  boost::archive::binary_iarchive ar(source, archive_flags);
  ((ar >> values), ...);
  BOOST_TEST(source.remaining() == 0u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_values_are_the_bytes_of_their_archive) {
  static_assert(is_plain_value<int> && is_plain_value<std::string> && is_plain_value<std::vector<std::uint8_t>>);
  static_assert(!is_plain_value<std::vector<bool>> && !is_plain_value<std::optional<int>> && !is_plain_value<long double>);
  const int i = -5;
  const unsigned long ul = 1ul << 40;
  const double d = 2.5;
  const bool b = true;
  const char c = 'x';
  const std::string text("a\0b", 3), empty;
  const std::vector<std::uint8_t> bytes{1, 2, 255};
  const std::vector<double> doubles{0.5, -1.0};
  const std::vector<int> none;
  std::vector<char> plain;
  encode_values(plain, i, ul, d, b, c, text, empty, bytes, doubles, none);
  BOOST_TEST((plain == boost_archive_of(i, ul, d, b, c, text, empty, bytes, doubles, none)));

  // Each reads what the other wrote.
  int i2 = 0;
  unsigned long ul2 = 0;
  double d2 = 0;
  bool b2 = false;
  char c2 = 0;
  std::string text2, empty2 = "x";
  std::vector<std::uint8_t> bytes2;
  std::vector<double> doubles2;
  std::vector<int> none2{7};
  decode_values(boost_archive_of(i, ul, d, b, c, text, empty, bytes, doubles, none), i2, ul2, d2, b2, c2, text2,
                empty2, bytes2, doubles2, none2);
  BOOST_TEST((std::tuple(i2, ul2, d2, b2, c2, text2, empty2, bytes2, doubles2, none2) ==
              std::tuple(i, ul, d, b, c, text, empty, bytes, doubles, none)));
  std::string text3;
  std::vector<double> doubles3;
  boost_decode(plain, i2, ul2, d2, b2, c2, text3, empty2, bytes2, doubles3, none2);
  BOOST_TEST(text3 == text);
  BOOST_TEST((doubles3 == doubles));
}

BOOST_AUTO_TEST_CASE(a_large_result_is_sent_from_the_value_itself) {
  auto encoded = [](auto value) {
    outgoing_frame out;
    out.bytes.resize(frame_header_size);
    std::vector<char> expected;
    encode_values(expected, value);
    encode_result(out, std::move(value));
    std::vector<char> sent(out.bytes.begin() + frame_header_size, out.bytes.end());
    sent.insert(sent.end(), out.tail.begin(), out.tail.end());
    BOOST_TEST((sent == expected));
    BOOST_TEST(out.payload_size() == expected.size());
    return out;
  };
  std::vector<double> doubles(send_in_place_size / sizeof(double));
  for (std::size_t i = 0; i < doubles.size(); ++i) doubles[i] = double(i) / 3;
  const double* where = doubles.data();
  auto out = encoded(std::move(doubles));
  BOOST_TEST(static_cast<const void*>(out.tail.data()) == static_cast<const void*>(where));  // moved, not copied
  BOOST_TEST(out.bytes.size() == frame_header_size + sizeof(std::size_t));                  // only the count
  BOOST_TEST(out.owner != nullptr);

  BOOST_TEST(!encoded(std::string(send_in_place_size, 's')).tail.empty());
  // Smaller values, numbers and archive types are copied into the frame as before.
  BOOST_TEST(encoded(std::string(send_in_place_size - 1, 's')).tail.empty());
  BOOST_TEST(encoded(42).tail.empty());
  BOOST_TEST(encoded(std::optional<std::string>(std::string(send_in_place_size, 'o'))).tail.empty());
}

BOOST_AUTO_TEST_CASE(a_count_larger_than_the_payload_is_refused_before_allocating) {
  std::vector<char> buf;
  encode_values(buf, std::size_t(1) << 60, 1.0);  // a vector<double> header claiming 2^60 elements
  std::vector<double> v;
  int n = 0;
  try {
    decode_values(buf, v);
  } catch (const std::runtime_error& e) {
    ++n;
    BOOST_TEST(std::string(e.what()).find("claims 1152921504606846976 elements") != std::string::npos);
  }
  BOOST_TEST(n == 1);
  std::vector<char> cut;
  encode_values(cut, 42);
  cut.pop_back();
  int i = 0;
  BOOST_CHECK_THROW(decode_values(cut, i), std::runtime_error);
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
  // Each compiler spells types its own way (g++ "long int", clang "long"): the handshake
  // refuses a peer built by another compiler before any signature is compared.
  using sig = signature<int(const std::string&, double)>;
  BOOST_TEST(sig::parameter_types() == "(" + std::string(type_name<std::string>()) + ", double)");
  BOOST_TEST(sig::parameter_types().find("basic_string<char") != std::string::npos);
  BOOST_TEST(sig::result_type() == "int");
  using coro = signature<boost::asio::awaitable<long>(int)>;
  BOOST_TEST(coro::is_coroutine);
  BOOST_TEST(coro::result_type() == type_name<long>());
  BOOST_TEST(signature<void()>::parameter_types() == "()");
}

BOOST_AUTO_TEST_SUITE_END()
