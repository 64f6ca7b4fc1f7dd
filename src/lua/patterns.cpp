// Lua's pattern functions (string.find, match, gmatch, gsub) for evals: the same pattern
// language and results as the standard library's, from a matcher that counts its steps
// and looks for an interrupt every so often. The standard library's matcher runs inside
// one C call, where no hook fires: a backtracking pattern on a long subject
// (string.find(string.rep('a', 1e5), '.-.-.-b')) would hold the worker for hours.

#include "lua/environment.hpp"

#include <lua.hpp>

#include <cctype>
#include <cstring>

namespace malt::detail {
namespace {

constexpr int max_captures = 32;
constexpr int max_recursion = 200;        // as the standard library: "pattern too complex"
constexpr unsigned steps_per_check = 1u << 16;
constexpr std::ptrdiff_t capture_unfinished = -1;
constexpr std::ptrdiff_t capture_position = -2;
constexpr char escape = '%';
constexpr const char* specials = "^$*+?.([%-";

struct matcher {
  lua_State* L;
  const char* subject;
  const char* subject_end;
  const char* pattern_end;
  int depth_left = max_recursion;
  unsigned steps = 0;
  int level = 0;  // captures open or closed
  struct {
    const char* start;
    std::ptrdiff_t length;
  } captures[max_captures];

  void restart() {
    level = 0;
    depth_left = max_recursion;
  }
  void step() {
    if (++steps % steps_per_check == 0 && interrupting(L)) raise_interrupted(L);
  }

  bool class_matches(unsigned char c, unsigned char cls) const {
    bool yes;
    switch (std::tolower(cls)) {
      case 'a': yes = std::isalpha(c); break;
      case 'c': yes = std::iscntrl(c); break;
      case 'd': yes = std::isdigit(c); break;
      case 'g': yes = std::isgraph(c); break;
      case 'l': yes = std::islower(c); break;
      case 'p': yes = std::ispunct(c); break;
      case 's': yes = std::isspace(c); break;
      case 'u': yes = std::isupper(c); break;
      case 'w': yes = std::isalnum(c); break;
      case 'x': yes = std::isxdigit(c); break;
      case 'z': yes = c == 0; break;  // deprecated, still understood
      default: return cls == c;
    }
    return std::isupper(cls) ? !yes : yes;
  }

  // [set] from p ('[') to last (its ']').
  bool set_matches(unsigned char c, const char* p, const char* last) const {
    bool inside = true;
    if (p[1] == '^') {
      inside = false;
      ++p;
    }
    while (++p < last) {
      if (*p == escape) {
        ++p;
        if (class_matches(c, static_cast<unsigned char>(*p))) return inside;
      } else if (p[1] == '-' && p + 2 < last) {
        p += 2;
        if (static_cast<unsigned char>(p[-2]) <= c && c <= static_cast<unsigned char>(*p)) return inside;
      } else if (static_cast<unsigned char>(*p) == c) {
        return inside;
      }
    }
    return !inside;
  }

  // The end of the single-character class that starts at p.
  const char* class_end(const char* p) const {
    const char c = *p++;
    if (c == escape) {
      if (p == pattern_end) luaL_error(L, "malformed pattern (ends with '%%')");
      return p + 1;
    }
    if (c == '[') {
      if (*p == '^') ++p;
      do {  // the first character of a set is never its end: "[]]" holds ']'
        if (p == pattern_end) luaL_error(L, "malformed pattern (missing ']')");
        if (*p++ == escape && p < pattern_end) ++p;
      } while (*p != ']');
      return p + 1;
    }
    return p;
  }

  bool single_matches(const char* s, const char* p, const char* ep) const {
    if (s >= subject_end) return false;
    const auto c = static_cast<unsigned char>(*s);
    switch (*p) {
      case '.': return true;
      case escape: return class_matches(c, static_cast<unsigned char>(p[1]));
      case '[': return set_matches(c, p, ep - 1);
      default: return static_cast<unsigned char>(*p) == c;
    }
  }

  const char* balanced(const char* s, const char* p) {
    if (p + 1 >= pattern_end) luaL_error(L, "malformed pattern (missing arguments to '%%b')");
    if (s >= subject_end || *s != *p) return nullptr;
    const char open = *p, close = p[1];
    int depth = 1;
    while (++s < subject_end) {
      if (*s == close) {
        if (--depth == 0) return s + 1;
      } else if (*s == open) {
        ++depth;
      }
    }
    return nullptr;
  }

  int capture_index(char digit) {
    const int i = digit - '1';
    if (i < 0 || i >= level || captures[i].length == capture_unfinished)
      luaL_error(L, "invalid capture index %%%d", i + 1);
    return i;
  }

  int capture_to_close() {
    for (int i = level - 1; i >= 0; --i)
      if (captures[i].length == capture_unfinished) return i;
    luaL_error(L, "invalid pattern capture");
    return 0;
  }

  const char* greedy(const char* s, const char* p, const char* ep) {
    std::ptrdiff_t n = 0;
    while (single_matches(s + n, p, ep)) ++n;
    for (; n >= 0; --n)  // the longest first, backing off one at a time
      if (const char* end = match(s + n, ep + 1)) return end;
    return nullptr;
  }

  const char* lazy(const char* s, const char* p, const char* ep) {
    for (;;) {
      if (const char* end = match(s, ep + 1)) return end;
      if (!single_matches(s, p, ep)) return nullptr;
      ++s;
    }
  }

  const char* open_capture(const char* s, const char* p, std::ptrdiff_t what) {
    if (level >= max_captures) luaL_error(L, "too many captures");
    captures[level] = {s, what};
    ++level;
    const char* end = match(s, p);
    if (!end) --level;
    return end;
  }

  const char* close_capture(const char* s, const char* p) {
    const int i = capture_to_close();
    captures[i].length = s - captures[i].start;
    const char* end = match(s, p);
    if (!end) captures[i].length = capture_unfinished;
    return end;
  }

  const char* back_reference(const char* s, char digit) {
    const int i = capture_index(digit);
    const auto n = static_cast<std::size_t>(captures[i].length);
    if (static_cast<std::size_t>(subject_end - s) >= n && std::memcmp(captures[i].start, s, n) == 0) return s + n;
    return nullptr;
  }

  // Where the match of pattern p at s ends, or null.
  const char* match(const char* s, const char* p) {
    if (depth_left-- == 0) luaL_error(L, "pattern too complex");
    struct restore {
      int& depth;
      ~restore() { ++depth; }
    } restored{depth_left};
    for (;;) {
      step();
      if (p == pattern_end) return s;
      switch (*p) {
        case '(':
          if (p + 1 < pattern_end && p[1] == ')') return open_capture(s, p + 2, capture_position);
          return open_capture(s, p + 1, capture_unfinished);
        case ')': return close_capture(s, p + 1);
        case '$':
          if (p + 1 == pattern_end) return s == subject_end ? s : nullptr;
          break;
        case escape:
          if (p[1] == 'b') {
            s = balanced(s, p + 2);
            if (!s) return nullptr;
            p += 4;
            continue;
          }
          if (p[1] == 'f') {
            p += 2;
            if (*p != '[') luaL_error(L, "missing '[' after '%%f' in pattern");
            const char* ep = class_end(p);
            const auto before = static_cast<unsigned char>(s == subject ? '\0' : s[-1]);
            const auto here = static_cast<unsigned char>(s < subject_end ? *s : '\0');
            if (set_matches(before, p, ep - 1) || !set_matches(here, p, ep - 1)) return nullptr;
            p = ep;
            continue;
          }
          if (std::isdigit(static_cast<unsigned char>(p[1]))) {
            s = back_reference(s, p[1]);
            if (!s) return nullptr;
            p += 2;
            continue;
          }
          break;
        default: break;
      }
      // A single-character class, and what may follow it.
      const char* ep = class_end(p);
      if (!single_matches(s, p, ep)) {
        if (*ep == '*' || *ep == '?' || *ep == '-') {  // may match nothing
          p = ep + 1;
          continue;
        }
        return nullptr;
      }
      switch (*ep) {
        case '?':
          if (const char* end = match(s + 1, ep + 1)) return end;
          p = ep + 1;
          continue;
        case '+': return greedy(s + 1, p, ep);
        case '*': return greedy(s, p, ep);
        case '-': return lazy(s, p, ep);
        default:
          ++s;
          p = ep;
          continue;
      }
    }
  }

  // Capture i, or the whole match [s, e) when there are no captures.
  void push_capture(int i, const char* s, const char* e) {
    if (i >= level) {
      if (i != 0) luaL_error(L, "invalid capture index %%%d", i + 1);
      lua_pushlstring(L, s, static_cast<std::size_t>(e - s));
      return;
    }
    const auto length = captures[i].length;
    if (length == capture_unfinished) luaL_error(L, "unfinished capture");
    if (length == capture_position)
      lua_pushinteger(L, static_cast<lua_Integer>(captures[i].start - subject) + 1);
    else
      lua_pushlstring(L, captures[i].start, static_cast<std::size_t>(length));
  }
  int push_captures(const char* s, const char* e, bool whole_when_none) {
    const int n = (level == 0 && whole_when_none) ? 1 : level;
    luaL_checkstack(L, n, "too many captures");
    for (int i = 0; i < n; ++i) push_capture(i, s, e);
    return n;
  }
};

matcher make_matcher(lua_State* L, const char* s, std::size_t ls, const char* p, std::size_t lp) {
  matcher m{};
  m.L = L;
  m.subject = s;
  m.subject_end = s + ls;
  m.pattern_end = p + lp;
  m.restart();
  return m;
}

// A 1-based, possibly negative, start position as an offset; past the end is ls + 1.
std::size_t start_offset(lua_Integer pos, std::size_t ls) {
  if (pos > 0) return static_cast<std::size_t>(pos) - 1;
  if (pos == 0) return 0;
  if (pos < -static_cast<lua_Integer>(ls)) return 0;
  return ls - static_cast<std::size_t>(-pos);
}

const char* find_plain(const char* s, std::size_t ls, const char* p, std::size_t lp) {
  if (lp == 0) return s;
  if (lp > ls) return nullptr;
  return static_cast<const char*>(::memmem(s, ls, p, lp));
}

int find_or_match(lua_State* L, bool find) {
  std::size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const std::size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || std::strpbrk(p, specials) == nullptr)) {
    if (const char* at = find_plain(s + init, ls - init, p, lp)) {
      lua_pushinteger(L, static_cast<lua_Integer>(at - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>(at - s + static_cast<std::ptrdiff_t>(lp)));
      return 2;
    }
    luaL_pushfail(L);
    return 1;
  }
  matcher m = make_matcher(L, s, ls, p, lp);
  const bool anchored = *p == '^';
  if (anchored) ++p;
  const char* at = s + init;
  do {
    m.restart();
    if (const char* end = m.match(at, p)) {
      if (!find) return m.push_captures(at, end, true);
      lua_pushinteger(L, static_cast<lua_Integer>(at - s) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>(end - s));
      return m.push_captures(nullptr, nullptr, false) + 2;
    }
  } while (at++ < m.subject_end && !anchored);
  luaL_pushfail(L);
  return 1;
}

int str_find(lua_State* L) { return find_or_match(L, true); }
int str_match(lua_State* L) { return find_or_match(L, false); }

// gmatch's state, a userdata kept as the iterator's upvalue (the subject and pattern are
// upvalues too, so their bytes stay put).
struct gmatch_state {
  matcher m;
  const char* at;
  const char* pattern;
  const char* last_match;
};

int gmatch_next(lua_State* L) {
  auto* g = static_cast<gmatch_state*>(lua_touserdata(L, lua_upvalueindex(3)));
  g->m.L = L;
  for (const char* at = g->at; at <= g->m.subject_end; ++at) {
    g->m.restart();
    const char* end = g->m.match(at, g->pattern);
    if (end && end != g->last_match) {
      g->at = g->last_match = end;
      return g->m.push_captures(at, end, true);
    }
  }
  return 0;
}

int str_gmatch(lua_State* L) {
  std::size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  std::size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
  if (init > ls) init = ls + 1;  // the iterator finds nothing
  lua_settop(L, 2);
  auto* g = static_cast<gmatch_state*>(lua_newuserdatauv(L, sizeof(gmatch_state), 0));
  g->m = make_matcher(L, s, ls, p, lp);
  g->at = s + init;
  g->pattern = p;
  g->last_match = nullptr;
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

void add_string_replacement(matcher& m, luaL_Buffer& b, const char* s, const char* e) {
  lua_State* L = m.L;
  std::size_t n = 0;
  const char* r = lua_tolstring(L, 3, &n);
  const char* end = r + n;
  for (const char* c = r; c < end; ++c) {
    if (*c != escape) {
      luaL_addchar(&b, *c);
      continue;
    }
    ++c;
    if (c < end && *c == escape) {
      luaL_addchar(&b, escape);
    } else if (c < end && std::isdigit(static_cast<unsigned char>(*c))) {
      if (*c == '0')
        luaL_addlstring(&b, s, static_cast<std::size_t>(e - s));
      else {
        m.push_capture(*c - '1', s, e);
        luaL_tolstring(L, -1, nullptr);  // a position capture is a number
        lua_remove(L, -2);
        luaL_addvalue(&b);
      }
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", escape);
    }
  }
}

// Adds the replacement of the match [s, e) to b.
void add_replacement(matcher& m, luaL_Buffer& b, const char* s, const char* e, int kind) {
  lua_State* L = m.L;
  if (kind == LUA_TFUNCTION) {
    lua_pushvalue(L, 3);
    const int n = m.push_captures(s, e, true);
    lua_call(L, n, 1);
  } else if (kind == LUA_TTABLE) {
    m.push_capture(0, s, e);
    lua_gettable(L, 3);
  } else {
    add_string_replacement(m, b, s, e);
    return;
  }
  if (!lua_toboolean(L, -1)) {  // nil or false: keep the original text
    lua_pop(L, 1);
    luaL_addlstring(&b, s, static_cast<std::size_t>(e - s));
    return;
  }
  if (!lua_isstring(L, -1)) luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  luaL_addvalue(&b);
}

int str_gsub(lua_State* L) {
  std::size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const int kind = lua_type(L, 3);
  const lua_Integer max_replacements = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  luaL_argexpected(L, kind == LUA_TNUMBER || kind == LUA_TSTRING || kind == LUA_TFUNCTION || kind == LUA_TTABLE, 3,
                   "string/function/table");
  const bool anchored = *p == '^';
  if (anchored) {
    ++p;
    --lp;
  }
  matcher m = make_matcher(L, s, ls, p, lp);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  const char* at = s;
  const char* last_match = nullptr;
  lua_Integer replaced = 0;
  while (replaced < max_replacements) {
    m.restart();
    const char* end = m.match(at, p);
    if (end && end != last_match) {
      ++replaced;
      add_replacement(m, b, at, end, kind);
      at = last_match = end;
    } else if (at < m.subject_end) {
      luaL_addchar(&b, *at++);
    } else {
      break;
    }
    if (anchored) break;
  }
  luaL_addlstring(&b, at, static_cast<std::size_t>(m.subject_end - at));
  luaL_pushresult(&b);
  lua_pushinteger(L, replaced);
  return 2;
}

}  // namespace

void replace_pattern_functions(lua_State* L) {
  lua_getglobal(L, "string");
  static const luaL_Reg functions[] = {
      {"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch}, {"gsub", str_gsub}, {nullptr, nullptr}};
  luaL_setfuncs(L, functions, 0);
  lua_pop(L, 1);
}

}  // namespace malt::detail
