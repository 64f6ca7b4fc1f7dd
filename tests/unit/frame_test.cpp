// The frame codec, without processes: round trips, batching, truncation, the size cap
// and unknown types.
#include "protocol/frame.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>

using namespace malt::detail;

namespace {

std::vector<char> make_frame(frame_type type, std::uint64_t id, std::string_view payload, std::uint8_t flags = 0) {
  std::vector<char> f(frame_header_size + payload.size());
  std::copy(payload.begin(), payload.end(), f.begin() + frame_header_size);
  write_header(f, type, flags, id);
  return f;
}

// Feeds bytes to the decoder in chunks of at most chunk bytes, collecting every frame. A
// small frame's payload is a view of the decoder's buffer, kept here as a copy.
std::vector<frame> feed(frame_decoder& d, const std::vector<char>& bytes, std::size_t chunk) {
  std::vector<frame> out;
  std::size_t at = 0;
  frame f;
  while (at < bytes.size()) {
    auto space = d.prepare();
    const std::size_t n = std::min({chunk, space.size(), bytes.size() - at});
    std::memcpy(space.data(), bytes.data() + at, n);
    d.commit(n);
    at += n;
    while (d.next(f) == decode_status::frame) {
      frame& kept = out.emplace_back();
      kept.header = f.header;
      kept.owned = f.owned.empty() ? std::vector<char>(f.payload.begin(), f.payload.end()) : std::move(f.owned);
      kept.payload = kept.owned;
      f.owned = {};
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(frame_codec)

BOOST_AUTO_TEST_CASE(round_trip) {
  frame_decoder d(1024);
  auto frames = feed(d, make_frame(frame_type::call, 42, "payload", flag_send_value), 1 << 20);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(int(frames[0].header.type) == int(frame_type::call));
  BOOST_TEST(frames[0].header.call_id == 42u);
  BOOST_TEST(frames[0].header.flags == flag_send_value);
  BOOST_TEST(std::string(frames[0].payload.begin(), frames[0].payload.end()) == "payload");
  BOOST_TEST(!d.mid_frame());
}

BOOST_AUTO_TEST_CASE(many_frames_in_one_read_and_byte_by_byte) {
  std::vector<char> stream;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    auto f = make_frame(frame_type::result, i, std::string(i, 'x'));
    stream.insert(stream.end(), f.begin(), f.end());
  }
  for (std::size_t chunk : {std::size_t(1), std::size_t(7), std::size_t(1) << 20}) {
    frame_decoder d(1024, 512);
    auto frames = feed(d, stream, chunk);
    BOOST_TEST_REQUIRE(frames.size() == 100u);
    for (std::uint64_t i = 1; i <= 100; ++i) {
      BOOST_TEST(frames[i - 1].header.call_id == i);
      BOOST_TEST(frames[i - 1].payload.size() == i);
    }
  }
}

BOOST_AUTO_TEST_CASE(frame_larger_than_the_staging_buffer) {
  const std::string big(100'000, 'b');
  auto bytes = make_frame(frame_type::result, 7, big);
  auto tail = make_frame(frame_type::result, 8, "after");
  bytes.insert(bytes.end(), tail.begin(), tail.end());
  frame_decoder d(1 << 20, 4096);
  auto frames = feed(d, bytes, 3000);
  BOOST_TEST_REQUIRE(frames.size() == 2u);
  BOOST_TEST(std::string(frames[0].payload.begin(), frames[0].payload.end()) == big);
  BOOST_TEST(frames[1].header.call_id == 8u);
}

BOOST_AUTO_TEST_CASE(a_large_frame_is_read_into_the_spare_buffer_when_it_fits) {
  spare_buffer spare;
  std::vector<char> kept(200'000, 'x');
  const char* memory = kept.data();
  spare.give(std::move(kept));
  frame_decoder d(1 << 20, 4096, &spare);
  const std::string big(150'000, 'b');
  auto frames = feed(d, make_frame(frame_type::result, 7, big), 3000);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(static_cast<const void*>(frames[0].payload.data()) == static_cast<const void*>(memory));
  BOOST_TEST(std::string(frames[0].payload.begin(), frames[0].payload.end()) == big);

  // A spare too small for the next frame is not grown (that would copy its old bytes).
  spare.give(std::move(frames[0].owned));
  const std::string bigger(300'000, 'c');
  frames = feed(d, make_frame(frame_type::result, 8, bigger), 5000);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(std::string(frames[0].payload.begin(), frames[0].payload.end()) == bigger);
  BOOST_TEST(spare.take().empty());  // the small one was taken and dropped
}

BOOST_AUTO_TEST_CASE(the_spare_keeps_the_largest_buffer_worth_keeping) {
  spare_buffer spare;
  spare.give(std::vector<char>(100));  // small: not kept
  BOOST_TEST(spare.take().capacity() == 0u);
  spare.give(std::vector<char>(spare_buffer::min_capacity));
  spare.give(std::vector<char>(3 * spare_buffer::min_capacity));
  spare.give(std::vector<char>(2 * spare_buffer::min_capacity));
  auto kept = spare.take();
  BOOST_TEST(kept.size() == 3 * spare_buffer::min_capacity);  // taken as it was given
  BOOST_TEST(spare.take().capacity() == 0u);                  // and only once
}

BOOST_AUTO_TEST_CASE(empty_payload) {
  frame_decoder d(16);
  auto frames = feed(d, make_frame(frame_type::exit_request, 3, ""), 5);
  BOOST_TEST_REQUIRE(frames.size() == 1u);
  BOOST_TEST(frames[0].payload.empty());
}

BOOST_AUTO_TEST_CASE(truncated_input_waits_and_reports_mid_frame) {
  const auto whole = make_frame(frame_type::call, 1, "0123456789");
  const std::vector<char> bytes(whole.begin(), whole.end() - 3);
  frame_decoder d(1024);
  auto frames = feed(d, bytes, 1 << 20);
  BOOST_TEST(frames.empty());
  frame f;
  BOOST_TEST(int(d.next(f)) == int(decode_status::need_more));
  BOOST_TEST(d.mid_frame());  // EOF now would be a truncated frame
  frame_decoder header_only(1024);
  feed(header_only, std::vector<char>(bytes.begin(), bytes.begin() + 5), 1 << 20);
  BOOST_TEST(header_only.mid_frame());
}

BOOST_AUTO_TEST_CASE(length_over_the_cap_is_refused_before_allocating) {
  frame_decoder d(1000);
  auto bytes = make_frame(frame_type::call, 1, "");
  const std::uint32_t huge = 0xFFFFFFF0u;  // what a corrupt or hostile peer might claim
  std::memcpy(bytes.data(), &huge, sizeof huge);
  auto space = d.prepare();
  std::memcpy(space.data(), bytes.data(), bytes.size());
  d.commit(bytes.size());
  frame f;
  BOOST_TEST(int(d.next(f)) == int(decode_status::too_large));
  BOOST_TEST(d.bad_header().payload_size == huge);
  BOOST_TEST(d.prepare().size() <= 64u * 1024u);  // nothing was allocated for it
}

BOOST_AUTO_TEST_CASE(a_large_frame_grows_its_buffer_as_its_bytes_arrive) {
  const std::uint32_t claimed = 200u << 20;
  frame_decoder d(256u << 20);
  auto bytes = make_frame(frame_type::result, 1, std::string(100, 'x'));
  std::memcpy(bytes.data(), &claimed, sizeof claimed);
  feed(d, bytes, 1 << 20);
  frame f;
  BOOST_TEST(int(d.next(f)) == int(decode_status::need_more));
  BOOST_TEST(d.prepare().size() <= std::size_t(first_large_chunk));  // 1 MiB, not 200
  // As the bytes come, the room doubles; the frame is whole when the claim is met.
  std::size_t filled = 100;
  std::size_t largest_room = 0;
  while (filled < claimed) {
    auto space = d.prepare();
    largest_room = std::max(largest_room, space.size());
    BOOST_REQUIRE(space.size() <= filled + first_large_chunk);
    std::memset(space.data(), 'y', space.size());
    d.commit(space.size());
    filled += space.size();
  }
  BOOST_TEST(int(d.next(f)) == int(decode_status::frame));
  BOOST_TEST(f.payload.size() == claimed);
  BOOST_TEST(f.payload[99] == 'x');
  BOOST_TEST(f.payload[100] == 'y');
  BOOST_TEST(largest_room > std::size_t(first_large_chunk));
}

BOOST_AUTO_TEST_CASE(unknown_type_is_refused) {
  frame_decoder d(1000);
  auto bytes = make_frame(frame_type::call, 1, "x");
  bytes[4] = char(99);
  auto space = d.prepare();
  std::memcpy(space.data(), bytes.data(), bytes.size());
  d.commit(bytes.size());
  frame f;
  BOOST_TEST(int(d.next(f)) == int(decode_status::unknown_type));
  BOOST_TEST(int(d.bad_header().type) == 99);
}

BOOST_AUTO_TEST_SUITE_END()
