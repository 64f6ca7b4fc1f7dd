#ifndef MALT_DETAIL_ARCHIVE_CODEC_HPP
#define MALT_DETAIL_ARCHIVE_CODEC_HPP

// The archive path of payload.hpp: any values Boost.Serialization knows, as one binary
// archive without header, codecvt or tracking, read back through checked_iarchive.

#include <malt/detail/checked_iarchive.hpp>
#include <malt/detail/codec.hpp>

#include <boost/archive/binary_oarchive.hpp>

#include <span>
#include <streambuf>
#include <vector>

namespace malt::detail {

inline constexpr unsigned archive_flags =
    boost::archive::no_header | boost::archive::no_codecvt | boost::archive::no_tracking;

class vector_sink : public std::streambuf {
 public:
  explicit vector_sink(std::vector<char>& out) : out_(out) {}

 protected:
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) out_.push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.insert(out_.end(), s, s + n);
    return n;
  }

 private:
  std::vector<char>& out_;
};

template <class... T>
struct archive_codec {
  static void encode(std::vector<char>& out, const T&... values) {
    vector_sink sink(out);
    boost::archive::binary_oarchive ar(sink, archive_flags);
    ((ar << values), ...);
  }
  /// Returns how many bytes of in are left after the values.
  static std::size_t decode(std::span<const char> in, decode_limits limits, T&... values) {
    span_source source(in);
    {
      checked_iarchive ar(source, limits.max_depth);
      ((ar >> values), ...);
    }
    return source.remaining();
  }
};

}  // namespace malt::detail

#endif
