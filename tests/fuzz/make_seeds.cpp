// Writes the seed corpus of each fuzz target into corpus/<target>/ (run from tests/fuzz:
// ./make_seeds corpus). The seeds are well-formed messages; the fuzzer mutates from there.
#include "protocol/frame.hpp"
#include "protocol/messages.hpp"

#include <malt/detail/payload.hpp>
#include <malt/serialization.hpp>
#include <malt/value.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace malt::detail;
namespace fs = std::filesystem;

namespace {

fs::path root;

void seed(const std::string& target, const std::string& name, const std::vector<char>& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<char> operator+(std::vector<char> a, const std::vector<char>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<char> frame_bytes(frame_type type, std::uint64_t id, std::vector<char> payload) {
  std::vector<char> f(frame_header_size);
  f.insert(f.end(), payload.begin(), payload.end());
  write_header(f, type, 0, id);
  return f;
}

template <class... T>
std::vector<char> result(char type, const T&... v) {
  std::vector<char> out{type};
  encode_values(out, v...);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  root = argc > 1 ? argv[1] : "corpus";

  std::vector<char> report;
  encode_failure_report(report, {malt::errc::remote_exception, "std::runtime_error", "it failed", "#0 f()\n#1 main()"}, 4096);
  std::vector<char> two_results = frame_bytes(frame_type::result, 1, {1});
  const auto second = frame_bytes(frame_type::failure, 2, report);
  two_results.insert(two_results.end(), second.begin(), second.end());
  seed("frame_decoder", "two-replies", std::vector<char>{1, 0} + two_results);
  auto big = frame_bytes(frame_type::result, 3, std::vector<char>(10'000, 'b'));
  seed("frame_decoder", "large-frame", std::vector<char>{5, 1} + big);

  auto hello = make_hello_frame();
  seed("handshake", "hello", std::vector<char>(hello.begin() + frame_header_size, hello.end()));

  seed("failure_report", "report", report);
  std::vector<char> interrupted;
  encode_failure_report(interrupted, {malt::errc::interrupted, "malt::call_interrupted", "interrupted", ""}, 4096);
  seed("failure_report", "interrupted", interrupted);

  std::vector<char> batch{3};
  append_batch_outcome(batch, false, result(0, 42));
  append_batch_outcome(batch, true, report);
  append_batch_outcome(batch, false, {});
  seed("batch_reply", "three-outcomes", batch);

  seed("result", "int", result(0, 42));
  seed("result", "string", result(1, std::string("hello")));
  seed("result", "doubles", result(2, std::vector<double>{1.5, -2.0, 1e300}));
  seed("result", "map", result(3, std::map<std::string, int>{{"a", 1}, {"bb", 2}}));
  seed("result", "strings", result(4, std::vector<std::string>{"x", "yy", ""}));
  using options = std::optional<std::variant<int, std::string, std::tuple<double, std::vector<std::string>>>>;
  seed("result", "options", result(5, options(std::tuple<double, std::vector<std::string>>(2.5, {"p", "q"}))));
  seed("result", "tuple", result(6, std::tuple<bool, std::int64_t, std::string>(true, -7, "t")));
  malt::value::table t;
  t.emplace("list", malt::value::array{1, 2.5, "three", nullptr, true});
  t.emplace("nested", malt::value::table{{"x", malt::value::array{malt::value::array{}}}});
  seed("result", "value", result(7, malt::value(t)));
  seed("result", "values", result(8, std::vector<malt::value>{malt::value(1), malt::value("s")}));
  seed("result", "map-of-optionals",
       result(9, std::map<std::string, std::vector<std::optional<bool>>>{{"k", {true, std::nullopt, false}}}));
}
