#ifndef MALT_SRC_LUA_ENVIRONMENT_HPP
#define MALT_SRC_LUA_ENVIRONMENT_HPP

// What evaluated Lua code sees (worker_options::lua_libraries), made so that an interrupt
// ends any eval: the functions that catch errors (pcall, xpcall, coroutine.resume) let the
// interrupt through, and the library functions that can run long inside C (string.rep,
// table.move, the pattern functions) look for it as they go.

#include <lua.hpp>

namespace malt::detail {

/// Opens the standard library, all of it or the safe part, into L's globals.
void open_environment(lua_State* L, bool safe);

/// Whether the eval running in L has been interrupted (lua/evaluator.cpp).
bool interrupting(lua_State* L) noexcept;
/// Raises the Lua error that ends an interrupted eval.
[[noreturn]] void raise_interrupted(lua_State* L);

/// string.find, match, gmatch and gsub that look for interrupts (lua/patterns.cpp).
void replace_pattern_functions(lua_State* L);

}  // namespace malt::detail

#endif
