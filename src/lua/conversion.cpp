#include "lua/conversion.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>

namespace malt::detail {
namespace {
constexpr int max_depth = 64;  // nesting of tables crossing to the host
}  // namespace

value from_lua(lua_State* L, int index, int depth) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL: return value();
    case LUA_TBOOLEAN: return value(bool(lua_toboolean(L, index)));
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return value(static_cast<std::int64_t>(lua_tointeger(L, index)));
      return value(lua_tonumber(L, index));
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, index, &n);
      return value(std::string(s, n));
    }
    case LUA_TTABLE: {
      if (depth >= max_depth) throw std::invalid_argument("a table nested deeper than 64 levels (a cycle?)");
      const auto length = static_cast<std::int64_t>(lua_rawlen(L, index));
      std::int64_t keys = 0;
      bool sequence = true;
      lua_pushnil(L);
      while (lua_next(L, index)) {
        ++keys;
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > length) sequence = false;
        lua_pop(L, 1);
      }
      if (sequence && keys == length && length > 0) {
        value::array a;
        for (std::int64_t i = 1; i <= length; ++i) {
          lua_rawgeti(L, index, i);
          a.push_back(from_lua(L, -1, depth + 1));
          lua_pop(L, 1);
        }
        return a;
      }
      value::table t;
      lua_pushnil(L);
      while (lua_next(L, index)) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING)
          key = lua_tostring(L, -2);
        else if (lua_isinteger(L, -2))
          key = std::to_string(lua_tointeger(L, -2));
        else
          throw std::invalid_argument(std::string("a table key of type ") + luaL_typename(L, -2) +
                                      " has no host equivalent");
        t.emplace(std::move(key), from_lua(L, -1, depth + 1));
        lua_pop(L, 1);
      }
      return t;
    }
    default:
      if (luaL_testudata(L, index, channel_type))
        throw std::invalid_argument("a channel cannot be sent to the host; open it with malt::worker_channel");
      throw std::invalid_argument(std::string("a Lua ") + luaL_typename(L, index) + " has no host equivalent");
  }
}

void push_to_lua(lua_State* L, const value& v) {
  luaL_checkstack(L, 3, "malt: value too deeply nested");
  std::visit(
      [L](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, std::monostate>) {
          lua_pushnil(L);
        } else if constexpr (std::is_same_v<X, bool>) {
          lua_pushboolean(L, x);
        } else if constexpr (std::is_same_v<X, std::int64_t>) {
          lua_pushinteger(L, x);
        } else if constexpr (std::is_same_v<X, double>) {
          lua_pushnumber(L, x);
        } else if constexpr (std::is_same_v<X, std::string>) {
          lua_pushlstring(L, x.data(), x.size());
        } else if constexpr (std::is_same_v<X, value::array>) {
          lua_createtable(L, static_cast<int>(x.size()), 0);
          for (std::size_t i = 0; i < x.size(); ++i) {
            push_to_lua(L, x[i]);
            lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
          }
        } else {
          lua_createtable(L, 0, static_cast<int>(x.size()));
          for (const auto& [k, e] : x) {
            push_to_lua(L, e);
            lua_setfield(L, -2, k.c_str());
          }
        }
      },
      v.get());
}

}  // namespace malt::detail
