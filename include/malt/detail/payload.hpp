#ifndef MALT_DETAIL_PAYLOAD_HPP
#define MALT_DETAIL_PAYLOAD_HPP

// Values on the wire: a Boost binary archive without header, written straight into the
// frame's byte vector and read from a span of the received frame. One archive per
// message, no object tracking. Host and worker are checked to be the same build by the
// handshake, since no_header turns off the archive's own checks.

#include <malt/serialization.hpp>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>

#include <span>
#include <stdexcept>
#include <streambuf>
#include <string>
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

class span_source : public std::streambuf {
 public:
  explicit span_source(std::span<const char> in) {
    char* p = const_cast<char*>(in.data());  // the get area is only read
    setg(p, p, p + in.size());
  }
  std::size_t remaining() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

/// Appends the archive of every value to out.
template <class... T>
void encode_values(std::vector<char>& out, const T&... values) {
  vector_sink sink(out);
  boost::archive::binary_oarchive ar(sink, archive_flags);
  ((ar << values), ...);
}

/// Fills every value from in, which must hold exactly their archive.
template <class... T>
void decode_values(std::span<const char> in, T&... values) {
  span_source source(in);
  {
    boost::archive::binary_iarchive ar(source, archive_flags);
    ((ar >> values), ...);
  }
  if (source.remaining() != 0)
    throw std::runtime_error(std::to_string(source.remaining()) + " bytes left over after the value");
}

}  // namespace malt::detail

#endif
