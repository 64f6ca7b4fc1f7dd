// How a coroutine awaiting a call of a common result type gets its value: compiled here
// once, declared extern in <malt/call.hpp>.
#include <malt/call.hpp>
#include <malt/value.hpp>

#include <string>

namespace malt {

#define MALT_DETAIL_COMPILED_CALL(T, Wire)                                                      \
  template void detail::place_decoding<T, Wire, detail::failure_as::exception,                 \
                                       detail::awaiting_handler<T>>(detail::reply_handler&, void*)
MALT_DETAIL_COMPILED_CALL(void, void);
MALT_DETAIL_COMPILED_CALL(bool, bool);
MALT_DETAIL_COMPILED_CALL(int, int);
MALT_DETAIL_COMPILED_CALL(long, long);
MALT_DETAIL_COMPILED_CALL(unsigned long, unsigned long);
MALT_DETAIL_COMPILED_CALL(double, double);
MALT_DETAIL_COMPILED_CALL(std::string, std::string);
MALT_DETAIL_COMPILED_CALL(value, value);
MALT_DETAIL_COMPILED_CALL(bool, value);
MALT_DETAIL_COMPILED_CALL(int, value);
MALT_DETAIL_COMPILED_CALL(long, value);
MALT_DETAIL_COMPILED_CALL(double, value);
MALT_DETAIL_COMPILED_CALL(std::string, value);
#undef MALT_DETAIL_COMPILED_CALL

}  // namespace malt
