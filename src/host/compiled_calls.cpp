// How a coroutine awaiting a call of a common result type gets its value: compiled here
// once, declared extern in <malt/call.hpp>.
#include <malt/call.hpp>
#include <malt/value.hpp>

#include <string>

namespace malt {

#define MALT_DETAIL_INSTANTIATE_CALL(T, Wire)                                 \
  template void detail::place_decoding<T, Wire, detail::failure_as::exception, \
                                       detail::awaiting_handler<T>>(detail::reply_handler&, void*);
MALT_DETAIL_COMPILED_CALLS(MALT_DETAIL_INSTANTIATE_CALL)
#undef MALT_DETAIL_INSTANTIATE_CALL

}  // namespace malt
