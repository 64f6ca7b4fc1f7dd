// The failure report: it round-trips; whatever the exception said, it fits the frame limit
// (a long trace keeps a quarter of it, the message the rest) and says it was cut; damaged reports are refused.
#include "failure_report.hpp"

#include <boost/test/unit_test.hpp>

using namespace malt::detail;

BOOST_AUTO_TEST_SUITE(failure_reports)

BOOST_AUTO_TEST_CASE(a_report_round_trips) {
  std::vector<char> bytes;
  encode_failure_report(bytes, {malt::errc::signature_mismatch, "malt::signature_mismatch", "wrong", "#0 f"}, 4096);
  const auto r = decode_failure_report(bytes);
  BOOST_TEST((r.code == malt::errc::signature_mismatch));
  BOOST_TEST(r.type == "malt::signature_mismatch");
  BOOST_TEST(r.message == "wrong");
  BOOST_TEST(r.trace == "#0 f");
  BOOST_TEST(failure_code(bytes).value() == unsigned(malt::errc::signature_mismatch));
}

BOOST_AUTO_TEST_CASE(a_report_always_fits_the_limit) {
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
  BOOST_TEST(r.message.find("300000 bytes, cut to fit worker_options::max_frame_size") != std::string::npos);
  BOOST_TEST(r.trace.size() <= 65536u / 4);  // a long trace keeps a quarter, the message the rest
  BOOST_TEST(r.message.size() > 40000u);
}

BOOST_AUTO_TEST_CASE(damaged_reports_are_refused) {
  std::vector<char> bytes;
  encode_failure_report(bytes, {malt::errc::remote_exception, "type", "message", "trace"}, 4096);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    BOOST_CHECK_THROW(decode_failure_report(std::span<const char>(bytes.data(), cut)), std::runtime_error);
  bytes.push_back('!');
  BOOST_CHECK_THROW(decode_failure_report(bytes), std::runtime_error);
  BOOST_TEST(!failure_code(std::span<const char>(bytes.data(), 3)).has_value());
  BOOST_TEST(worker_may_report(unsigned(malt::errc::interrupted)));
  BOOST_TEST(!worker_may_report(unsigned(malt::errc::worker_terminated)));
  BOOST_TEST(!worker_may_report(12345u));
}

BOOST_AUTO_TEST_SUITE_END()
