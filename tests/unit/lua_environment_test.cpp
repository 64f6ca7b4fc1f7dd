// The evals' string and table functions give what Lua's standard library gives: the same
// expressions, run in a state with the standard library and in one with the evaluator's
// environment, have the same results and the same errors.
#include "lua/environment.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

namespace {

struct state {
  std::unique_ptr<lua_State, void (*)(lua_State*)> L{luaL_newstate(), lua_close};
};

// The results of expression as "a|b|c", or "error: <message>".
std::string results(lua_State* L, const std::string& expression) {
  const std::string code =
      "local ok, r = pcall(function() local t = table.pack(" + expression +
      ") for i = 1, t.n do t[i] = tostring(t[i]) end return table.concat(t, '|', 1, t.n) end) "
      "if ok then return r end return 'error: ' .. tostring(r):gsub('^[^:]*:%d+: ', '')";
  if (luaL_dostring(L, code.c_str()) != LUA_OK) return std::string("failed to run: ") + lua_tostring(L, -1);
  std::string out = lua_tostring(L, -1);
  lua_settop(L, 0);
  return out;
}

const char* const expressions[] = {
    // find, plain and with patterns, captures, positions, anchors
    "string.find('hello world', 'o w')", "string.find('hello', 'l', 1, true)", "string.find('hello', '')",
    "string.find('hello', '', 10)", "string.find('hello', 'l', -2)", "string.find('a.b', '.', 1, true)",
    "string.find('hello world', '(o)(r)')", "string.find('hello', '()ll()')", "string.find('hello', '^h')",
    "string.find('hello', '^e')", "string.find('hello', 'o$')", "string.find('hel$lo', 'l$l')",
    "string.find('  trim  ', '^%s*(.-)%s*$')", "string.find('key = value', '(%w+)%s*=%s*(%w+)')",
    "string.find('THE (quick) fox', '%((%a+)%)')", "string.find('f(a(b)c)d', '%b()')",
    "string.find('THE (quick) fox', '%f[%a]%a+', 5)", "string.find('hello hello', '(h%a+) %1')",
    "string.find('abc', '[a-b]+')", "string.find('a]b', '[]]')", "string.find('a-b', '[%-]')",
    "string.find('x123y', '[^%a]+')", "string.find('aaa', 'a-')", "string.find('aaa', 'a-$')",
    "string.find('aaab', 'a*b')", "string.find('b', 'a?b')", "string.find('ab', 'a+?')",
    "string.find('x', '[%w_]')", "string.find('\\0a\\0', '%z')", "string.find('tab\\there', '%c')",
    // match
    "string.match('2024-12-02', '(%d+)-(%d+)-(%d+)')", "string.match('hello', '.-(l+)(.*)')",
    "string.match('hello', 'xyz')", "string.match('hello', '()')", "string.match('  x', '^%s*()')",
    "string.match('hello', 'l', 4)", "string.match('hello', '(h)(e)(l)(l)(o)')",
    // gmatch
    "(function() local t = {} for w in string.gmatch('one two  three', '%a+') do t[#t+1] = w end return table.concat(t, ',') end)()",
    "(function() local t = {} for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1] = k .. v end return table.concat(t, ',') end)()",
    "(function() local t = {} for w in string.gmatch('abc', '%a*') do t[#t+1] = '[' .. w .. ']' end return table.concat(t) end)()",
    "(function() local t = {} for w in string.gmatch('hello', 'l', 4) do t[#t+1] = w end return #t end)()",
    "(function() local t = {} for p in string.gmatch('abc', '()') do t[#t+1] = p end return table.concat(t, ',') end)()",
    // gsub with every kind of replacement
    "string.gsub('hello world', 'o', '0')", "string.gsub('hello world', 'o', '0', 1)",
    "string.gsub('hello', '', '-')", "string.gsub('abc', '%w', '%0%0')", "string.gsub('hello world', '(%w+)', '<%1>')",
    "string.gsub('hello world', '(%w+) (%w+)', '%2 %1')", "string.gsub('abc', '()', '%1')",
    "string.gsub('$name is $age', '%$(%w+)', {name = 'Ann', age = 7})",
    "string.gsub('$name is $x', '%$(%w+)', {name = 'Ann'})",
    "string.gsub('abc', '%w', function(c) return c:upper() .. '.' end)",
    "string.gsub('abc', '%w', function(c) if c == 'b' then return false end return 'x' end)",
    "string.gsub('hello', '^h', 'H')", "string.gsub('hello', 'l+', '%%')", "string.gsub('a b', ' ', 5)",
    "string.gsub('abc', 'b*', '-')", "string.gsub('one two', '(%w+)', string.upper)",
    // errors
    "string.find('a', '%')", "string.find('a', '[a')", "string.find('a', '(a')", "string.find('a', 'a)')",
    "string.find('a', '%1')", "string.find('a', '%b')", "string.find('a', '%fa')", "string.gsub('a', 'a', '%2')",
    "string.gsub('a', 'a', '%x')", "string.gsub('a', 'a', true)", "string.gsub('a', '(a)', {a = true})",
    "string.rep()", "string.find('a', string.rep('(', 40) .. string.rep(')', 40))",
    // rep and move
    "string.rep('ab', 3)", "string.rep('ab', 3, ',')", "string.rep('x', 0)", "string.rep('x', -1)",
    "string.rep('', 5)", "string.rep('', 3, '-')", "string.rep('x', 1, ',')", "#string.rep('abc', 1000000)",
    "string.rep('x', math.maxinteger)",
    "table.concat(table.move({1, 2, 3}, 1, 3, 2), ',')", "table.concat(table.move({1, 2, 3}, 2, 3, 1), ',')",
    "table.concat(table.move({1, 2, 3}, 1, 3, 1, {}), ',')", "table.concat(table.move({1, 2, 3}, 3, 1, 1), ',')",
    "table.move({}, 1, math.maxinteger, 2)", "table.move({}, -1, math.maxinteger, 1)",
    // pcall, xpcall, coroutine.resume as usual when nothing is interrupted
    "pcall(error, 'x')", "pcall(function(...) return ... end, 1, 2)", "xpcall(error, function(m) return 'h:' .. m end, 'x')",
    "xpcall(function(a, b) return a + b end, print, 1, 2)", "coroutine.resume(coroutine.create(function(a) coroutine.yield(a + 1) end), 1)",
    "coroutine.resume(coroutine.create(function() error('inside') end))", "pcall(pcall)",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lua_environment)

BOOST_AUTO_TEST_CASE(the_functions_replaced_for_interrupts_behave_as_the_standard_ones) {
  state standard, ours;
  luaL_openlibs(standard.L.get());
  malt::detail::open_environment(ours.L.get(), false);
  for (const char* e : expressions) BOOST_TEST(results(ours.L.get(), e) == results(standard.L.get(), e), e);
}

BOOST_AUTO_TEST_CASE(the_safe_set_leaves_out_what_reaches_outside_and_names_it) {
  state s;
  lua_State* L = s.L.get();
  malt::detail::open_environment(L, true);
  for (const char* e : {"io.open('/etc/passwd')", "os.execute('true')", "os.exit()", "os.getenv('HOME')",
                        "package.loadlib('libc.so.6', 'fork')", "require('os')", "debug.sethook()", "dofile('/x')"}) {
    const std::string r = results(L, e);
    BOOST_TEST(r.starts_with("error: "), e << " gave " << r);
    BOOST_TEST(r.find("not available to evals under lua_libraries::safe") != std::string::npos, r);
  }
  BOOST_TEST(results(L, "load(string.dump(function() end))").starts_with("nil|attempt to load a binary chunk"));
  BOOST_TEST(results(L, "load('return 1 + 1')()") == "2");
  BOOST_TEST(results(L, "type(os.time()), type(os.clock()), type(os.date())") == "number|number|string");
  BOOST_TEST(results(L, "math.max(1, 2), utf8.char(72), table.concat({1, 2}), coroutine.isyieldable()") ==
             "2|H|12|false");
  BOOST_TEST(results(L, "undefined_global") == "nil");
}

BOOST_AUTO_TEST_CASE(the_full_set_withholds_only_sethook) {
  state s;
  lua_State* L = s.L.get();
  malt::detail::open_environment(L, false);
  BOOST_TEST(results(L, "type(io.open), type(os.execute), type(package.loadlib), type(debug.traceback)") ==
             "function|function|function|function");
  BOOST_TEST(results(L, "debug.sethook()").find("debug.sethook is not available to evals") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
