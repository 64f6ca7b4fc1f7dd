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

// The first request of a function on a connection: it defines id 1.
std::vector<char> call_payload(std::string_view function, std::string_view parameters, std::string_view result,
                               std::string_view arguments) {
  std::vector<char> p;
  write_call_head(p, 1, &intern_target(function, parameters, result));
  p.resize(p.size() + call_body_head);  // not a batch
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
  const auto r = decode_call_request(p, flag_defines_function);
  BOOST_TEST(r.defines);
  BOOST_TEST(r.function_id == 1u);
  BOOST_TEST(r.function == "add");
  BOOST_TEST(r.parameter_types == "(int,int)");
  BOOST_TEST(r.result_type == "int");
  BOOST_TEST(std::string(r.arguments.data(), r.arguments.size()) == "ARGS");
  BOOST_TEST(r.batch_items == 0u);

  const auto no_value = decode_call_request(call_payload("f", "()", "", ""), flag_defines_function);
  BOOST_TEST(no_value.result_type.empty());
  BOOST_TEST(no_value.arguments.empty());

  // A later request of a defined function: its id, then its body.
  std::vector<char> later;
  write_call_head(later, 7, nullptr);
  later.resize(later.size() + call_body_head);
  later.push_back('A');
  const auto by_id = decode_call_request(later, flag_send_value);
  BOOST_TEST(!by_id.defines);
  BOOST_TEST(by_id.function_id == 7u);
  BOOST_TEST(by_id.function.empty());
  BOOST_TEST(std::string(by_id.arguments.data(), by_id.arguments.size()) == "A");
}

BOOST_AUTO_TEST_CASE(a_damaged_call_request_is_refused_naming_the_field) {
  const auto p = call_payload("add", "(int,int)", "int", "");
  const auto decode = [](std::span<const char> b) { decode_call_request(b, flag_defines_function); };
  for (std::size_t cut = 0; cut < p.size(); ++cut)
    BOOST_TEST(contains(refusal(decode, std::span<const char>(p).first(cut)), "call request: "));
  BOOST_TEST(refusal(decode, p).empty());
  BOOST_TEST(refusal(decode, std::span<const char>(p).first(3)) ==
             "call request: function id is cut short (3 of 4 bytes)");
  BOOST_TEST(refusal(decode, std::span<const char>(p).first(7)) ==
             "call request: function name is cut short (3 of 4 bytes)");
  auto lying = p;
  put_u32_at(lying, 4 + 4 + 3, 1000);  // the parameter types' length
  BOOST_TEST(refusal(decode, lying) == "call request: parameter types claims 1000 bytes; 20 follow");
  put_u32_at(lying, 4, 0xffffffffu);
  BOOST_TEST(contains(refusal(decode, lying), "function name claims 4294967295 bytes"));
}

namespace {
std::vector<char> batch_payload(const std::vector<std::string>& items) {
  std::vector<char> body(call_body_head);
  batch_writer batch(body);
  for (const auto& item : items) {
    batch.begin_item();
    body.insert(body.end(), item.begin(), item.end());
    batch.end_item();
  }
  batch.end();
  std::vector<char> p;
  write_call_head(p, 1, &intern_target("square", "(int)", "int"));
  p.insert(p.end(), body.begin(), body.end());
  return p;
}
std::string text(std::span<const char> s) { return {s.data(), s.size()}; }
}  // namespace

BOOST_AUTO_TEST_CASE(a_batch_request_round_trips) {
  const std::vector<std::string> items{"one", "", "three"};
  const auto p = batch_payload(items);
  const auto r = decode_call_request(p, flag_defines_function);
  BOOST_TEST(r.function == "square");
  BOOST_TEST(r.batch_items == 3u);
  const auto parts = split_batch_items(r);
  BOOST_TEST_REQUIRE(parts.size() == 3u);
  for (std::size_t i = 0; i < 3; ++i) BOOST_TEST(text(parts[i]) == items[i]);
}

BOOST_AUTO_TEST_CASE(a_damaged_batch_request_is_refused) {
  const auto p = batch_payload({"one", "two"});
  const auto split = [](std::span<const char> b) { split_batch_items(decode_call_request(b, flag_defines_function)); };
  // Every cut is refused: a count with fewer items, or an item cut short.
  for (std::size_t cut = 0; cut < p.size(); ++cut)
    BOOST_TEST(!refusal(split, std::span<const char>(p).first(cut)).empty(), "cut at " << cut);
  const std::size_t count_at = 4 + 4 + 6 + 4 + 5 + 4 + 3;  // after the id and the three strings
  auto many = p;
  put_u32_at(many, count_at, 0x7fffffffu);  // more items than bytes could hold
  BOOST_TEST(contains(refusal(split, many), "items: 2147483647 claimed in"));
  auto lying = p;
  put_u32_at(lying, count_at + 4, 1000);  // the first item's length
  BOOST_TEST(contains(refusal(split, lying), "batch request: item claims 1000 bytes"));
  auto fewer = p;
  put_u32_at(fewer, count_at, 1);  // one item, then bytes left over
  BOOST_TEST(contains(refusal(split, fewer), "bytes left over"));
}

BOOST_AUTO_TEST_CASE(a_batch_reply_round_trips) {
  std::vector<char> reply;
  append_batch_outcome(reply, false, std::span<const char>("ab", 2), std::span<const char>("cd", 2));
  append_batch_outcome(reply, true, std::span<const char>("report", 6));
  append_batch_outcome(reply, false, {});
  const auto outcomes = split_batch_reply(reply, 3);
  BOOST_TEST_REQUIRE(outcomes.size() == 3u);
  BOOST_TEST(!outcomes[0].failed);
  BOOST_TEST(text(outcomes[0].bytes) == "abcd");
  BOOST_TEST(outcomes[1].failed);
  BOOST_TEST(text(outcomes[1].bytes) == "report");
  BOOST_TEST(outcomes[2].bytes.empty());
}

BOOST_AUTO_TEST_CASE(a_damaged_batch_reply_is_refused) {
  std::vector<char> reply;
  append_batch_outcome(reply, false, std::span<const char>("value", 5));
  append_batch_outcome(reply, true, std::span<const char>("report", 6));
  const auto split = [](std::span<const char> b) { split_batch_reply(b, 2); };
  for (std::size_t cut = 0; cut < reply.size(); ++cut)
    BOOST_TEST(contains(refusal(split, std::span<const char>(reply).first(cut)), "batch reply: "), "cut at " << cut);
  BOOST_TEST(contains(refusal([](std::span<const char> b) { split_batch_reply(b, 3); }, reply), "batch reply: "));
  BOOST_TEST(contains(refusal([](std::span<const char> b) { split_batch_reply(b, 1); }, reply), "bytes left over"));
  BOOST_TEST(contains(refusal([](std::span<const char> b) { split_batch_reply(b, 1u << 30); }, reply),
                      "cannot hold 1073741824 outcomes"));
  auto bad_status = reply;
  put_u32_at(bad_status, 0, 7);
  BOOST_TEST(contains(refusal(split, bad_status), "outcome status 7 is neither 0 nor 1"));
  auto lying = reply;
  put_u32_at(lying, 4, 0xfffffff0u);
  BOOST_TEST(contains(refusal(split, lying), "outcome claims 4294967280 bytes"));
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
