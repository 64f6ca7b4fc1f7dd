#ifndef MALT_BUILTINS_HPP
#define MALT_BUILTINS_HPP

// Functions every worker program has, whatever else it registers.
//   int pid = co_await malt::remote_call_fetch(w, malt::builtin::pid);

#include <malt/remote.hpp>
#include <malt/serialization.hpp>

#include <optional>
#include <string>

namespace malt::builtin {

/// The worker's process id, as the worker sees it.
inline const remote<int()> pid{"malt.pid"};
/// An environment variable of the worker, or nullopt.
inline const remote<std::optional<std::string>(std::string)> getenv{"malt.getenv"};
/// The worker's working directory.
inline const remote<std::string()> working_directory{"malt.working_directory"};

}  // namespace malt::builtin

#endif
