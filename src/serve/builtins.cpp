// Functions every worker has (<malt/builtins.hpp>).
#include <malt/builtins.hpp>

#include "process/sandbox.hpp"

#include <cstdlib>
#include <unistd.h>

namespace malt::detail {
namespace {

int worker_pid() { return static_cast<int>(worker_pid_seen_by_host()); }

std::optional<std::string> worker_getenv(std::string name) {
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

std::string worker_directory() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? std::string(buf) : std::string();
}

}  // namespace

void register_lua_builtins();

void register_builtins() {
  register_lua_builtins();
  register_remote(builtin::pid.name(), &worker_pid);
  register_remote(builtin::getenv.name(), &worker_getenv);
  register_remote(builtin::working_directory.name(), &worker_directory);
}

}  // namespace malt::detail
