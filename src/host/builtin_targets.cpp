// The functions every worker has, as a host names them (<malt/builtins.hpp>,
// <malt/detail/channel_calls.hpp>): defined once here rather than in each file that
// includes the headers.
#include <malt/builtins.hpp>
#include <malt/detail/channel_calls.hpp>

namespace malt::builtin {

const remote<int()> pid{"malt.pid"};
const remote<std::optional<std::string>(std::string)> getenv{"malt.getenv"};
const remote<std::string()> working_directory{"malt.working_directory"};
const remote<value(std::string)> eval{"malt.eval"};
const remote<void(std::string)> exec{"malt.exec"};

}  // namespace malt::builtin

namespace malt::detail::channel_calls {

const remote<std::uint64_t(std::string)> open{"malt.channel_open"};
const remote<void(std::uint64_t, value)> put{"malt.channel_put"};
const remote<value(std::uint64_t)> take{"malt.channel_take"};
const remote<bool(std::uint64_t)> is_ready{"malt.channel_is_ready"};
const remote<void(std::uint64_t)> close{"malt.channel_close"};

}  // namespace malt::detail::channel_calls
