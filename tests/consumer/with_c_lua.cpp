// A program that uses C Lua (liblua5.4) for itself and links it ahead of the library.
// Calls work as anywhere; Lua evaluation is refused with an error that names the cause,
// instead of running on a Lua whose errors skip C++ destructors.
#include <malt/malt.hpp>

#include <lua.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <string>

int twice(int v) { return 2 * v; }
MALT_REMOTE(twice);

int fail(int) { throw std::invalid_argument("no"); }
MALT_REMOTE(fail);

int main(int argc, char** argv) {
  if (auto code = malt::maybe_run_worker(argc, argv)) return *code;
  // The program's own Lua.
  lua_State* L = luaL_newstate();
  luaL_dostring(L, "answer = 6 * 7");
  lua_getglobal(L, "answer");
  const auto own = lua_tointeger(L, -1);
  lua_close(L);

  boost::asio::io_context io;
  int result = 0;
  std::string failure, refusal;
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    malt::worker w = co_await malt::spawn_worker();
    result = co_await malt::remote_call_fetch(w, twice, 21);
    try {
      co_await malt::remote_call_fetch(w, fail, 0);
    } catch (const malt::remote_exception& e) {
      failure = e.what();
    }
    try {
      co_await malt::remote_eval_wait(w, "return 1");
    } catch (const malt::remote_exception& e) {
      refusal = e.what();
    }
    co_await malt::stop(w);
  }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
  io.run();
  std::cout << "own Lua: " << own << ", twice(21) = " << result << "\nthe failure: " << failure
            << "\nthe eval: " << refusal << std::endl;
  const bool ok = own == 42 && result == 42 && failure.find("std::invalid_argument") != std::string::npos &&
                  failure.find("Stack trace:") != std::string::npos && failure.find("fail(int)") != std::string::npos &&
                  refusal.find("liblua5.4-c++") != std::string::npos;
  return ok ? 0 : 1;
}
