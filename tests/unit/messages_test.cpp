// Every protocol message, without processes: each round-trips; each truncation and each
// length that claims more bytes than follow is refused with an error naming the message
// and the field; a failure report fits the frame limit whatever the exception said (a long
// trace keeps a quarter of it, the message the rest) and says it was cut.
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

#include <malt/detail/wire.hpp>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <functional>
#include <unistd.h>

using namespace malt::detail;

namespace {

std::span<const char> payload_of(const std::vector<char>& frame) {
  return {frame.data() + frame_header_size, frame.size() - frame_header_size};
}

std::vector<char> call_payload(std::string_view function, std::string_view parameters, std::string_view result,
                               std::string_view arguments) {
  std::vector<char> p;
  encode_call_head(p, function, parameters, result);
  p.insert(p.end(), arguments.begin(), arguments.end());
  return p;
}

// What decode throws for bytes, or "" if it does not.
std::string refusal(const std::function<void(std::span<const char>)>& decode, std::span<const char> bytes) {
  try {
    decode(bytes);
  } catch (const malformed_message& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Overwrites the u32 at offset with value: a length that lies.
void put_u32_at(std::vector<char>& bytes, std::size_t offset, std::uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(messages)

BOOST_AUTO_TEST_CASE(a_hello_is_accepted_by_its_own_build_and_names_a_mismatch) {
  const auto hello = make_hello_frame();
  const auto payload = payload_of(hello);
  const auto ok = check_hello(payload);
  BOOST_TEST(ok.mismatch.empty());
  BOOST_TEST(ok.peer_pid == ::getpid());

  std::vector<char> other(payload.begin(), payload.begin() + 8);
  byte_writer(other).string("protocol 0, Boost 0");
  BOOST_TEST(contains(check_hello(other).mismatch, "the peer with protocol 0"));

  std::vector<char> not_malt(payload.begin(), payload.end());
  not_malt[0] = 'X';
  BOOST_TEST(contains(check_hello(not_malt).mismatch, "bad magic number"));
}

BOOST_AUTO_TEST_CASE(a_damaged_hello_is_a_mismatch_that_says_what_is_wrong) {
  const auto hello = make_hello_frame();
  const auto payload = payload_of(hello);
  for (std::size_t cut = 0; cut < payload.size(); ++cut) {
    const auto check = check_hello(payload.first(cut));
    BOOST_TEST_REQUIRE(!check.mismatch.empty());
    BOOST_TEST(contains(check.mismatch, "malformed handshake: hello: "), check.mismatch);
  }
  BOOST_TEST(contains(check_hello(payload.first(2)).mismatch, "magic number is cut short (2 of 4 bytes)"));
  std::vector<char> lying(payload.begin(), payload.end());
  put_u32_at(lying, 8, 0xffffffffu);
  BOOST_TEST(contains(check_hello(lying).mismatch, "build description claims 4294967295 bytes"));
  std::vector<char> longer(payload.begin(), payload.end());
  longer.push_back('!');
  BOOST_TEST(contains(check_hello(longer).mismatch, "1 bytes left over"));
}

BOOST_AUTO_TEST_CASE(a_call_request_round_trips) {
  const auto p = call_payload("add", "(int,int)", "int", "ARGS");
  const auto r = decode_call_request(p);
  BOOST_TEST(r.function == "add");
  BOOST_TEST(r.parameter_types == "(int,int)");
  BOOST_TEST(r.result_type == "int");
  BOOST_TEST(std::string(r.arguments.data(), r.arguments.size()) == "ARGS");

  const auto no_value = decode_call_request(call_payload("f", "()", "", ""));
  BOOST_TEST(no_value.result_type.empty());
  BOOST_TEST(no_value.arguments.empty());
}

BOOST_AUTO_TEST_CASE(a_damaged_call_request_is_refused_naming_the_field) {
  const auto p = call_payload("add", "(int,int)", "int", "");
  const auto decode = [](std::span<const char> b) { decode_call_request(b); };
  for (std::size_t cut = 0; cut < p.size(); ++cut)
    BOOST_TEST(contains(refusal(decode, std::span<const char>(p).first(cut)), "call request: "));
  BOOST_TEST(refusal(decode, p).empty());
  BOOST_TEST(refusal(decode, std::span<const char>(p).first(3)) ==
             "call request: function name is cut short (3 of 4 bytes)");
  auto lying = p;
  put_u32_at(lying, 4 + 3, 1000);  // the parameter types' length
  BOOST_TEST(refusal(decode, lying) == "call request: parameter types claims 1000 bytes; 16 follow");
  put_u32_at(lying, 0, 0xffffffffu);
  BOOST_TEST(contains(refusal(decode, lying), "function name claims 4294967295 bytes"));
}

BOOST_AUTO_TEST_CASE(a_failure_report_round_trips) {
  std::vector<char> bytes;
  encode_failure_report(bytes, {malt::errc::signature_mismatch, "malt::signature_mismatch", "wrong", "#0 f"}, 4096);
  const auto r = decode_failure_report(bytes);
  BOOST_TEST((r.code == malt::errc::signature_mismatch));
  BOOST_TEST(r.type == "malt::signature_mismatch");
  BOOST_TEST(r.message == "wrong");
  BOOST_TEST(r.trace == "#0 f");
  BOOST_TEST(failure_code(bytes).value() == unsigned(malt::errc::signature_mismatch));
}

BOOST_AUTO_TEST_CASE(a_failure_report_always_fits_the_limit) {
  for (std::size_t limit : {64u, 200u, 4096u, 65536u})
    for (std::size_t message : {0u, 10u, 5000u, 300000u})
      for (std::size_t trace : {0u, 100u, 100000u}) {
        std::vector<char> bytes;
        encode_failure_report(bytes, {malt::errc::remote_exception, "std::runtime_error", std::string(message, 'm'),
                                      std::string(trace, 't')}, limit);
        BOOST_TEST(bytes.size() <= limit);
        const auto r = decode_failure_report(bytes);
        if (16 + 18 + message + trace <= limit) {
          BOOST_TEST(r.message.size() == message);
          BOOST_TEST(r.trace.size() == trace);
        }
      }
  std::vector<char> bytes;
  encode_failure_report(bytes, {malt::errc::remote_exception, "E", std::string(300000, 'm'), std::string(50000, 't')}, 65536);
  const auto r = decode_failure_report(bytes);
  BOOST_TEST(contains(r.message, "300000 bytes, cut to fit worker_options::max_frame_size"));
  BOOST_TEST(r.trace.size() <= 65536u / 4);  // a long trace keeps a quarter, the message the rest
  BOOST_TEST(r.message.size() > 40000u);
}

BOOST_AUTO_TEST_CASE(a_damaged_failure_report_is_refused_naming_the_field) {
  std::vector<char> bytes;
  encode_failure_report(bytes, {malt::errc::remote_exception, "type", "message", "trace"}, 4096);
  const auto decode = [](std::span<const char> b) { decode_failure_report(b); };
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    BOOST_TEST(contains(refusal(decode, std::span<const char>(bytes).first(cut)), "failure report: "));
  BOOST_TEST(refusal(decode, std::span<const char>(bytes).first(bytes.size() - 1)) ==
             "failure report: stack trace claims 5 bytes; 4 follow");
  auto lying = bytes;
  put_u32_at(lying, 4, 0x7fffffffu);  // the type's length
  BOOST_TEST(contains(refusal(decode, lying), "exception type claims 2147483647 bytes"));
  bytes.push_back('!');
  BOOST_TEST(refusal(decode, bytes) == "failure report: 1 bytes left over");
  BOOST_TEST(!failure_code(std::span<const char>(bytes.data(), 3)).has_value());
  BOOST_TEST(worker_may_report(unsigned(malt::errc::interrupted)));
  BOOST_TEST(!worker_may_report(unsigned(malt::errc::worker_terminated)));
  BOOST_TEST(!worker_may_report(12345u));
}

BOOST_AUTO_TEST_CASE(an_interrupt_and_an_exit_request_carry_nothing) {
  BOOST_CHECK_NO_THROW(expect_no_payload({}, "interrupt"));
  const char extra[] = "x";
  const auto decode = [](std::span<const char> b) { expect_no_payload(b, "exit request"); };
  BOOST_TEST(refusal(decode, std::span<const char>(extra, 1)) == "exit request: 1 bytes left over");
}

BOOST_AUTO_TEST_SUITE_END()
