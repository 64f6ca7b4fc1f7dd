#ifndef MALT_DETAIL_CHANNEL_CALLS_HPP
#define MALT_DETAIL_CHANNEL_CALLS_HPP

// The functions behind malt::remote_channel (<malt/eval.hpp>): each channel operation is
// a call to one of these, which every worker registers (src/lua/evaluator.cpp).

#include <malt/remote.hpp>
#include <malt/value.hpp>

#include <cstdint>
#include <string>

namespace malt::detail::channel_calls {

inline const remote<std::uint64_t(std::string)> open{"malt.channel_open"};
inline const remote<void(std::uint64_t, value)> put{"malt.channel_put"};
inline const remote<value(std::uint64_t)> take{"malt.channel_take"};
inline const remote<bool(std::uint64_t)> is_ready{"malt.channel_is_ready"};
inline const remote<void(std::uint64_t)> close{"malt.channel_close"};

}  // namespace malt::detail::channel_calls

#endif
