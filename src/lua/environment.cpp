#include "lua/environment.hpp"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <limits>

namespace malt::detail {
namespace {

constexpr std::size_t bytes_per_check = 1u << 20;
constexpr lua_Integer elements_per_check = 1 << 14;

// pcall and xpcall: an interrupt is not an error the eval may catch.
int finish_protected(lua_State* L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    if (interrupting(L)) return lua_error(L);  // the error object is on top
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - static_cast<int>(extra);
}

int protected_call(lua_State* L) {
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);  // the first result, if all goes well
  lua_insert(L, 1);
  const int status = lua_pcallk(L, lua_gettop(L) - 2, LUA_MULTRET, 0, 0, finish_protected);
  return finish_protected(L, status, 0);
}

int protected_call_with_handler(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);  // f, handler, true, f, arguments...
  const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_protected);
  return finish_protected(L, status, 2);
}

// coroutine.resume, which catches the errors of the coroutine it runs.
int resume(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));  // the standard one
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  if (!lua_toboolean(L, 1) && interrupting(L)) {
    lua_settop(L, 2);
    return lua_error(L);
  }
  return lua_gettop(L);
}

// string.rep, filled by doubling what is written, a megabyte at a time at most.
int rep(lua_State* L) {
  std::size_t l = 0, lsep = 0;
  const char* s = luaL_checklstring(L, 1, &l);
  const lua_Integer n = luaL_checkinteger(L, 2);
  const char* sep = luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0 || l + lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  constexpr auto max_size = static_cast<std::size_t>(std::numeric_limits<int>::max());  // as Lua's own
  const std::size_t period = l + lsep;
  if (period < l || period > max_size / static_cast<std::size_t>(n)) return luaL_error(L, "resulting string too large");
  const std::size_t total = static_cast<std::size_t>(n) * period - lsep;
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, total);
  std::memcpy(out, s, std::min(l, total));
  if (total > l) std::memcpy(out + l, sep, std::min(lsep, total - l));
  const std::size_t most = std::max(period, bytes_per_check / period * period);
  for (std::size_t filled = period; filled < total;) {
    const std::size_t chunk = std::min({filled, most, total - filled});  // whole periods but the last
    std::memcpy(out + filled, out, chunk);
    filled += chunk;
    if (interrupting(L)) raise_interrupted(L);
  }
  luaL_pushresultsize(&b, total);
  return 1;
}

// table.move(a1, f, e, t [, a2]).
int move(lua_State* L) {
  const lua_Integer f = luaL_checkinteger(L, 2);
  const lua_Integer e = luaL_checkinteger(L, 3);
  const lua_Integer t = luaL_checkinteger(L, 4);
  const int to = lua_isnoneornil(L, 5) ? 1 : 5;
  if (e >= f) {
    luaL_argcheck(L, f > 0 || e < std::numeric_limits<lua_Integer>::max() + f, 3, "too many elements to move");
    const lua_Integer n = e - f;
    luaL_argcheck(L, t <= std::numeric_limits<lua_Integer>::max() - n, 4, "destination wrap around");
    auto copy = [&](lua_Integer i) {
      if (i % elements_per_check == 0 && interrupting(L)) raise_interrupted(L);
      lua_geti(L, 1, f + i);
      lua_seti(L, to, t + i);
    };
    if (t > e || t <= f || (to != 1 && !lua_compare(L, 1, to, LUA_OPEQ)))
      for (lua_Integer i = 0; i <= n; ++i) copy(i);
    else
      for (lua_Integer i = n; i >= 0; --i) copy(i);
  }
  lua_pushvalue(L, to);
  return 1;
}

int refuse_sethook(lua_State* L) {
  return luaL_error(L, "debug.sethook is not available to evals: the evaluator's hook is what lets an interrupt end them");
}

// load, for text chunks only.
int load_text(lua_State* L) {
  if (lua_gettop(L) < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// An __index for a table that names what lua_libraries::safe leaves out.
int name_withheld(lua_State* L) {
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  if (const char* name = lua_tostring(L, -1))
    return luaL_error(L, "%s is not available to evals under lua_libraries::safe", name);
  return 0;
}

void withhold(lua_State* L, int table, std::initializer_list<const char*> names, const char* prefix) {
  table = lua_absindex(L, table);
  lua_newtable(L);  // metatable
  lua_newtable(L);  // name -> what to call it
  for (const char* name : names) {
    lua_pushfstring(L, "%s%s", prefix, name);
    lua_setfield(L, -2, name);
  }
  lua_pushcclosure(L, name_withheld, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, table);
}

void replace(lua_State* L, const char* library, const char* name, lua_CFunction f, bool keep_original = false) {
  lua_getglobal(L, library);
  if (keep_original) lua_getfield(L, -1, name);
  lua_pushcclosure(L, f, keep_original ? 1 : 0);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

void open_safe(lua_State* L) {
  const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},      {LUA_COLIBNAME, luaopen_coroutine},
                                {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
                                {LUA_MATHLIBNAME, luaopen_math},  {LUA_UTF8LIBNAME, luaopen_utf8}};
  for (const auto& lib : libraries) {
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  // os: the clock and the calendar only.
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  lua_newtable(L);
  for (const char* name : {"clock", "time", "date", "difftime"}) {
    lua_getfield(L, -2, name);
    lua_setfield(L, -2, name);
  }
  withhold(L, -1, {"execute", "exit", "getenv", "remove", "rename", "tmpname", "setlocale"}, "os.");
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
  lua_pushglobaltable(L);
  for (const char* name : {"dofile", "loadfile"}) {
    lua_pushnil(L);
    lua_setfield(L, -2, name);
  }
  withhold(L, -1, {"io", "package", "require", "debug", "dofile", "loadfile"}, "");
  lua_pop(L, 1);
  replace(L, LUA_GNAME, "load", load_text, true);
}

}  // namespace

void open_environment(lua_State* L, bool safe) {
  if (safe) {
    open_safe(L);
  } else {
    luaL_openlibs(L);
    replace(L, LUA_DBLIBNAME, "sethook", refuse_sethook);
  }
  replace(L, LUA_GNAME, "pcall", protected_call);
  replace(L, LUA_GNAME, "xpcall", protected_call_with_handler);
  replace(L, LUA_COLIBNAME, "resume", resume, true);
  replace(L, LUA_STRLIBNAME, "rep", rep);
  replace(L, LUA_TABLIBNAME, "move", move);
  replace_pattern_functions(L);
}

}  // namespace malt::detail
