#ifndef MALT_SRC_LUA_CONVERSION_HPP
#define MALT_SRC_LUA_CONVERSION_HPP

// Lua values <-> malt::value: what an eval returns to the host, and what a host call or a
// registered function hands to Lua.

#include <malt/value.hpp>

#include <lua.hpp>

namespace malt::detail {

/// The name of the metatable of a channel's userdata in Lua.
inline constexpr const char* channel_type = "malt.channel";

/// The Lua value at index as a value. Throws std::invalid_argument for what the host has
/// no equivalent of (functions, userdata, channels, tables nested more than 64 deep).
value from_lua(lua_State* L, int index, int depth = 0);
/// Pushes v onto L's stack.
void push_to_lua(lua_State* L, const value& v);

}  // namespace malt::detail

#endif
