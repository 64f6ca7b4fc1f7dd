#ifndef MALT_BUILTINS_HPP
#define MALT_BUILTINS_HPP

// Functions every worker program has, whatever else it registers.
//   int pid = co_await malt::remote_call_fetch(w, malt::builtin::pid);

#include <malt/remote.hpp>
#include <malt/value.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace malt::builtin {

/// The worker's process id as the host knows it (worker::pid()), also when the worker
/// runs in a PID namespace of its own, where getpid() gives another number.
extern const remote<int()> pid;
/// An environment variable of the worker, or nullopt.
extern const remote<std::optional<std::string>(std::string)> getenv;
/// The worker's working directory.
extern const remote<std::string()> working_directory;

/// Evaluates Lua code in the worker's global state and returns its value (remote_eval_fetch).
extern const remote<value(std::string)> eval;
/// Runs Lua code in the worker's global state, its value dropped there (remote_eval_wait);
/// with remote_do, fire and forget: malt::remote_do(w, malt::builtin::exec, "x = 1").
extern const remote<void(std::string)> exec;

}  // namespace malt::builtin

#endif
