#ifndef MALT_DETAIL_CHANNEL_CALLS_HPP
#define MALT_DETAIL_CHANNEL_CALLS_HPP

// The functions behind malt::remote_channel (<malt/eval.hpp>): each channel operation is
// a call to one of these, which every worker registers (src/lua/evaluator.cpp). Defined in
// src/host/builtin_targets.cpp.

#include <malt/remote.hpp>
#include <malt/value.hpp>

#include <cstdint>
#include <string>

namespace malt::detail::channel_calls {

extern const remote<std::uint64_t(std::string)> open;
extern const remote<void(std::uint64_t, value)> put;
extern const remote<value(std::uint64_t)> take;
extern const remote<bool(std::uint64_t)> is_ready;
extern const remote<void(std::uint64_t)> close;

}  // namespace malt::detail::channel_calls

#endif
