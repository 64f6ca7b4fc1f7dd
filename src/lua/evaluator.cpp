// The worker's evaluation language: one global Lua 5.4 state per worker I/O thread, in which
// every eval runs as a Lua coroutine driven by that thread's io_context. A count hook makes
// a running eval yield regularly, so evals share the worker cooperatively (like Julia's
// tasks) and an interrupt ends any of them, even `while true do end`: the hook, on every
// Lua thread, checks the flag the interrupt signal sets (process/interrupt_signal.hpp), and
// the eval call's Asio cancellation ends an eval that is waiting. The evaluator and the
// channels (lua/channel.hpp) are registered remote functions (<malt/builtins.hpp>,
// <malt/detail/channel_calls.hpp>), so evals travel, fail and get interrupted as calls do.
// Values cross between Lua and C++ in lua/conversion.cpp.

#include "lua/evaluator.hpp"

#include "lua/channel.hpp"
#include "lua/conversion.hpp"
#include "lua/environment.hpp"
#include "process/interrupt_signal.hpp"
#include "serve/call_context.hpp"
#include "serve/stack_trace.hpp"

#include <malt/builtins.hpp>
#include <malt/detail/channel_calls.hpp>
#include <malt/detail/registry.hpp>
#include <malt/value.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <lua.hpp>

#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <typeinfo>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace malt {

/// An error raised by evaluated Lua code: its message and the Lua traceback.
struct lua_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
namespace {

namespace asio = boost::asio;
constexpr int slice_instructions = 10'000;  // an eval yields to the io_context this often

// --- The state and what an eval asks of its driver ---------------------------------------

// What a Lua coroutine yielded for: a time slice, or an operation the driver awaits. The
// coroutine is resumed with (true, result) or (false, message).
struct yield_request {
  enum kind { slice, sleep, put, take, call } what = slice;
  std::chrono::nanoseconds duration{};
  std::shared_ptr<channel> ch;
  value item;
  const function_entry* function = nullptr;
  std::vector<value> args;
};


struct lua_deleter {
  void operator()(lua_State* L) const { lua_close(L); }
};

}  // namespace

// The call an eval serves, as its hook needs to know it.
struct eval_origin {
  call_context* context = nullptr;
  std::uint64_t call_id = 0;
  std::uint32_t signals_before = 0;  // interrupt signals that arrived before the call

  bool interrupted() const noexcept {
    return (context && context->interrupted.load()) || interrupt_signalled(call_id, signals_before);
  }
};

struct evaluator {
  evaluator_settings settings;
  std::size_t memory_used = 0;  // by the Lua state, in bytes
  const eval_origin* running = nullptr;  // the eval inside lua_resume now, if any
  std::unique_ptr<lua_State, lua_deleter> state;
  std::unordered_map<std::uint64_t, std::shared_ptr<channel>> opened;  // by id, for the host
  std::uint64_t next_channel = 1;

  explicit evaluator(const evaluator_settings& s);
  lua_State* L() const { return state.get(); }
};

namespace {

// The evaluator of the session whose call is starting: worker_session makes it current
// just before it starts a coroutine function, which looks it up before it first suspends.
thread_local evaluator* current = nullptr;
thread_local eval_origin current_origin;

evaluator& current_evaluator() {
  if (!current) throw std::logic_error("malt: no evaluator for this call");
  return *current;
}

// The evaluator and the call of the coroutine function starting now.
struct eval_start {
  evaluator* e;
  eval_origin origin;
};
// The C build of Lua (liblua5.4) and the C++ build the evaluator needs (liblua5.4-c++)
// export the same symbols: in a program linked with both, the first the dynamic linker
// finds serves every caller. The C build's errors longjmp over C++ frames and skip their
// destructors (the evaluator's guards, the coroutine functions Lua calls into), so with
// it evaluation is refused rather than left to leak and corrupt. Probed once: an error
// raised through a frame whose destructor says whether it ran.
struct note_unwinding {
  bool& unwound;
  ~note_unwinding() { unwound = true; }
};
int raise_through_a_destructor(lua_State* L) {
  note_unwinding guard{*static_cast<bool*>(lua_touserdata(L, 1))};
  lua_pushliteral(L, "probe");
  return ::lua_error(L);
}
const std::string& lua_build_problem() {
  static const std::string problem = [] {
    lua_State* L = luaL_newstate();
    if (!L) return std::string();  // no memory now: the eval's own state will say so
    bool unwound = false;
    lua_pushcfunction(L, raise_through_a_destructor);
    lua_pushlightuserdata(L, &unwound);
    lua_pcall(L, 1, 0, 0);
    lua_close(L);
    if (unwound) return std::string();
    return std::string(
        "Lua evaluation is refused in this program: its Lua is the C build (liblua5.4), which the program "
        "links ahead of the C++ build the evaluator needs (liblua5.4-c++), and a Lua error there would skip "
        "the destructors of the C++ frames it crosses. Build the program without liblua5.4, or evaluate in "
        "a worker program that does not link it (worker_options::executable)");
  }();
  return problem;
}

eval_start this_eval() {
  evaluator& e = current_evaluator();
  if (const std::string& problem = lua_build_problem(); !problem.empty()) throw std::runtime_error(problem);
  return {&e, current_origin};
}

// Lua's allocator, counting what the state holds against settings.memory_limit.
void* allocate(void* ud, void* block, std::size_t old_size, std::size_t new_size) noexcept {
  auto& e = *static_cast<evaluator*>(ud);
  const std::size_t held = block ? old_size : 0;  // without a block, old_size names a type
  if (new_size == 0) {
    std::free(block);
    e.memory_used -= held;
    return nullptr;
  }
  if (e.settings.memory_limit != 0 && new_size > held && e.memory_used - held + new_size > e.settings.memory_limit)
    return nullptr;  // Lua collects garbage and tries once more, then raises "not enough memory"
  void* grown = std::realloc(block, new_size);
  if (grown) e.memory_used = e.memory_used - held + new_size;
  return grown;
}

yield_request*& request_of(lua_State* L) { return *static_cast<yield_request**>(lua_getextraspace(L)); }

// Runs f; a C++ exception becomes a Lua error (raised outside the handler).
template <class F>
int lua_guarded(lua_State* L, F&& f) {
  std::string message;
  try {
    return f();
  } catch (const std::exception& e) {
    message = demangle(typeid(e).name()) + ": " + e.what();
  }
  return luaL_error(L, "%s", message.c_str());
}

// --- The malt table in Lua ------------------------------------------------------------------

// Yields the running eval with a request; the continuation raises the driver's error or
// returns its result.
int finish_request(lua_State* L, int, lua_KContext) {
  if (!lua_toboolean(L, -2)) return ::lua_error(L);  // the message is on top
  return 1;
}
int yield_for(lua_State* L, yield_request r) {
  // Only an eval's own coroutine has a request slot; a coroutine the Lua code made has not.
  if (!request_of(L) || !lua_isyieldable(L)) return luaL_error(L, "cannot wait here, outside an eval's own coroutine");
  *request_of(L) = std::move(r);
  return lua_yieldk(L, 0, 0, finish_request);
}

int lua_sleep(lua_State* L) {
  const double seconds = luaL_checknumber(L, 1);
  yield_request r;
  r.what = yield_request::sleep;
  r.duration = std::chrono::nanoseconds(static_cast<std::int64_t>(std::max(0.0, seconds) * 1e9));
  return yield_for(L, std::move(r));
}

std::shared_ptr<channel>& check_channel(lua_State* L) {
  return *static_cast<std::shared_ptr<channel>*>(luaL_checkudata(L, 1, channel_type));
}

int lua_channel(lua_State* L) {
  const lua_Integer capacity = luaL_optinteger(L, 1, 0);
  luaL_argcheck(L, capacity >= 0, 1, "the capacity cannot be negative");
  void* memory = lua_newuserdatauv(L, sizeof(std::shared_ptr<channel>), 0);
  new (memory) std::shared_ptr<channel>(std::make_shared<channel>(capacity == 0 ? 1 : std::size_t(capacity)));
  luaL_setmetatable(L, channel_type);
  return 1;
}

int channel_put(lua_State* L) {
  auto ch = check_channel(L);
  luaL_checkany(L, 2);
  return lua_guarded(L, [&] {
    yield_request r;
    r.what = yield_request::put;
    r.ch = ch;
    r.item = from_lua(L, 2);
    return yield_for(L, std::move(r));
  });
}
int channel_take(lua_State* L) {
  yield_request r;
  r.what = yield_request::take;
  r.ch = check_channel(L);
  return yield_for(L, std::move(r));
}
int channel_is_ready(lua_State* L) {
  lua_pushboolean(L, check_channel(L)->is_ready());
  return 1;
}
int channel_close(lua_State* L) {
  check_channel(L)->close();
  return 0;
}
int channel_gc(lua_State* L) {
  static_cast<std::shared_ptr<channel>*>(lua_touserdata(L, 1))->~shared_ptr();
  return 0;
}

// Calls the registered C++ function name with the Lua values from index first on, converted
// to its parameter types. A coroutine function suspends the eval while it runs.
int call_function(lua_State* L, const char* name, int first) {
  const function_entry* f = find_function(name);
  if (!f) return luaL_error(L, "no C++ function named '%s' is registered in this worker", name);
  if (!f->call_with_values && !f->call_with_values_async)
    return luaL_error(L, "'%s' cannot be called from Lua: a parameter or its result has no Lua equivalent", name);
  const int n = lua_gettop(L);
  return lua_guarded(L, [&] {
    std::vector<value> args;
    for (int i = first; i <= n; ++i) args.push_back(from_lua(L, i));
    if (f->call_with_values) {
      push_to_lua(L, f->call_with_values(f->function, args));
      return 1;
    }
    yield_request r;
    r.what = yield_request::call;
    r.function = f;
    r.args = std::move(args);
    return yield_for(L, std::move(r));
  });
}

// malt.call(name, ...)
int lua_call_function(lua_State* L) { return call_function(L, luaL_checkstring(L, 1), 2); }

// malt.fn.name(...) is malt.call("name", ...).
int lua_fn_index(lua_State* L) {
  luaL_checkstring(L, 2);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, [](lua_State* L) { return call_function(L, lua_tostring(L, lua_upvalueindex(1)), 1); }, 1);
  return 1;
}

void slice_hook(lua_State* L, lua_Debug*) {
  // Coroutines the Lua code made inherit the hook, but yield to their resumer, not to us,
  // and nothing yields inside a C call (a sort comparator, a gsub callback): there an
  // interrupt is a Lua error, which pcall and coroutine.resume let through.
  const bool own_coroutine = request_of(L) && lua_isyieldable(L);
  if (!own_coroutine && interrupting(L)) raise_interrupted(L);
  if (own_coroutine) lua_yield(L, 0);  // the request stays a slice
}

// --- The driver --------------------------------------------------------------------------

std::string error_text(lua_State* L, int index) {
  const char* s = lua_tostring(L, index);
  return s ? s : std::string("(a Lua error object of type ") + luaL_typename(L, index) + ")";
}

// A registry reference, released when the owner goes.
struct registry_ref {
  registry_ref(lua_State* state, int reference) : L(state), ref(reference) {}
  registry_ref(const registry_ref&) = delete;
  registry_ref& operator=(const registry_ref&) = delete;
  ~registry_ref() { luaL_unref(L, LUA_REGISTRYINDEX, ref); }
  lua_State* L;
  int ref;
};

// Runs code in a fresh Lua coroutine driven by this io_context, and leaves its first
// result in the registry.
asio::awaitable<std::unique_ptr<registry_ref>> run(std::string code, eval_start start) {
  evaluator& e = *start.e;
  lua_State* main = e.L();
  lua_State* co = lua_newthread(main);
  registry_ref anchor(main, luaL_ref(main, LUA_REGISTRYINDEX));  // keeps the coroutine alive
  struct reset {
    lua_State* co;
    ~reset() { lua_resetthread(co); }  // closes its pending to-be-closed variables
  } reset_at_exit{co};
  yield_request request;
  request_of(co) = &request;

  // As Lua's own REPL: an expression first, else a chunk of statements.
  const std::string expression = "return " + code;
  if (luaL_loadbuffer(co, expression.data(), expression.size(), "=eval") != LUA_OK) {
    lua_pop(co, 1);
    if (luaL_loadbuffer(co, code.data(), code.size(), "=eval") != LUA_OK) throw lua_error(error_text(co, -1));
  }
  lua_sethook(co, slice_hook, LUA_MASKCOUNT, slice_instructions);
  // An interrupt signalled to this call ends the eval here, and the reply says interrupted.
  auto end_if_interrupted = [&start] {
    if (!start.origin.context || !start.origin.interrupted()) return;
    start.origin.context->interrupted = true;
    throw lua_error("the eval was interrupted");
  };
  auto ex = co_await asio::this_coro::executor;
  int arguments = 0;
  for (;;) {
    request = yield_request{};
    int results = 0;
    e.running = &start.origin;
    const int status = lua_resume(co, main, arguments, &results);
    e.running = nullptr;
    if (status == LUA_OK) {
      if (results > 0) lua_pushvalue(co, -results);
      else lua_pushnil(co);
      lua_xmove(co, main, 1);
      co_return std::make_unique<registry_ref>(main, luaL_ref(main, LUA_REGISTRYINDEX));
    }
    if (status != LUA_YIELD) end_if_interrupted();  // the error is the interrupt's, whatever it says
    if (status != LUA_YIELD) {
      luaL_traceback(main, co, error_text(co, -1).c_str(), 0);
      std::string text = lua_tostring(main, -1);
      lua_pop(main, 1);
      throw lua_error(text);
    }
    lua_pop(co, results);
    arguments = 0;
    if (request.what == yield_request::slice) {  // let the rest of the worker run, and see an interrupt
      end_if_interrupted();  // signalled; the frame may be on its way still
      co_await asio::post(ex, asio::use_awaitable);
      continue;
    }
    // An operation: its outcome goes back as (true, result) or (false, message).
    std::exception_ptr failed;
    value result;
    try {
      switch (request.what) {
        case yield_request::sleep: {
          asio::steady_timer t(ex, request.duration);
          co_await t.async_wait(asio::use_awaitable);
          break;
        }
        case yield_request::put: co_await request.ch->put(std::move(request.item)); break;
        case yield_request::take: result = co_await request.ch->take(); break;
        case yield_request::call:
          result = co_await request.function->call_with_values_async(request.function->function, std::move(request.args));
          break;
        case yield_request::slice: break;
      }
    } catch (...) {
      failed = std::current_exception();
    }
    if (failed && (co_await asio::this_coro::cancellation_state).cancelled() != asio::cancellation_type::none)
      std::rethrow_exception(failed);  // interrupted: the eval ends here
    if (failed) {
      std::string message;
      try {
        std::rethrow_exception(failed);
      } catch (const std::exception& x) {
        message = demangle(typeid(x).name()) + ": " + x.what();
      }
      lua_pushboolean(co, 0);
      lua_pushlstring(co, message.data(), message.size());
    } else {
      lua_pushboolean(co, 1);
      push_to_lua(co, result);
    }
    arguments = 2;
  }
}

asio::awaitable<void> execute(std::string code) { co_await run(std::move(code), this_eval()); }

asio::awaitable<value> evaluate(std::string code) {
  auto result = co_await run(std::move(code), this_eval());
  lua_rawgeti(result->L, LUA_REGISTRYINDEX, result->ref);
  struct pop_at_exit {
    lua_State* L;
    ~pop_at_exit() { lua_pop(L, 1); }
  } popped{result->L};
  co_return from_lua(result->L, -1);
}

std::shared_ptr<channel> opened_channel(std::uint64_t id) {
  auto& e = current_evaluator();
  auto it = e.opened.find(id);
  if (it == e.opened.end()) throw std::invalid_argument("no channel with id " + std::to_string(id) + " in this worker");
  return it->second;
}

// Takes the channel a registry reference holds, if it is one; else names what it is.
std::shared_ptr<channel> channel_in(const registry_ref& r, std::string& what) {
  lua_rawgeti(r.L, LUA_REGISTRYINDEX, r.ref);
  auto* ch = static_cast<std::shared_ptr<channel>*>(luaL_testudata(r.L, -1, channel_type));
  what = luaL_typename(r.L, -1);
  std::shared_ptr<channel> found = ch ? *ch : nullptr;
  lua_pop(r.L, 1);
  return found;
}

// Evaluates code that gives a channel, and keeps it under an id for the host. An
// assignment ("rc = malt.channel(20)") gives the channel it assigned.
asio::awaitable<std::uint64_t> open_channel(std::string code) {
  const eval_start start = this_eval();  // before the first suspension, while it is this call's
  auto& e = *start.e;
  std::string what;
  auto result = co_await run(code, start);
  std::shared_ptr<channel> found = channel_in(*result, what);
  if (!found) {
    const auto eq = code.find('=');
    const std::string target = eq == std::string::npos ? std::string() : code.substr(0, eq);
    const bool assignment = !target.empty() && eq + 1 < code.size() && code[eq + 1] != '=' &&
                            target.find_first_not_of(" \t\n._abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
                                std::string::npos;
    if (assignment) {
      auto assigned = co_await run(target, start);
      found = channel_in(*assigned, what);
    }
  }
  if (!found) throw std::invalid_argument("the code gave a " + what + ", not a channel (malt.channel(capacity))");
  const std::uint64_t id = e.next_channel++;
  e.opened.emplace(id, std::move(found));
  co_return id;
}

asio::awaitable<void> channel_put_value(std::uint64_t id, value v) { co_await opened_channel(id)->put(std::move(v)); }
asio::awaitable<value> channel_take_value(std::uint64_t id) { co_return co_await opened_channel(id)->take(); }
asio::awaitable<bool> channel_ready(std::uint64_t id) { co_return opened_channel(id)->is_ready(); }
asio::awaitable<void> channel_shut(std::uint64_t id) {
  opened_channel(id)->close();
  co_return;
}

}  // namespace

evaluator::evaluator(const evaluator_settings& s) : settings(s), state(lua_newstate(allocate, this)) {
  if (!state) throw std::runtime_error("cannot create the Lua state: not enough memory");
  lua_State* L = state.get();
  // Lua leaves the main thread's extra space as the allocator gave it, and every coroutine
  // Lua code makes copies it: null says "not an eval's own coroutine" (slice_hook).
  request_of(L) = nullptr;
  open_environment(L, settings.safe_libraries);
  static const luaL_Reg channel_methods[] = {{"put", channel_put},
                                             {"take", channel_take},
                                             {"is_ready", channel_is_ready},
                                             {"close", channel_close},
                                             {nullptr, nullptr}};
  luaL_newmetatable(L, channel_type);
  luaL_newlib(L, channel_methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, channel_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  static const luaL_Reg malt_functions[] = {
      {"sleep", lua_sleep}, {"channel", lua_channel}, {"call", lua_call_function}, {nullptr, nullptr}};
  luaL_newlib(L, malt_functions);
  lua_newtable(L);  // malt.fn
  lua_newtable(L);
  lua_pushcfunction(L, lua_fn_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setfield(L, -2, "fn");
  lua_setglobal(L, "malt");
}

std::shared_ptr<evaluator> make_evaluator(const evaluator_settings& settings) {
  return std::make_shared<evaluator>(settings);
}

void make_current(evaluator* e, call_context* call, std::uint64_t call_id) noexcept {
  current = e;
  current_origin = {call, call_id, interrupt_signals_received()};
}

bool interrupting(lua_State* L) noexcept {
  void* ud = nullptr;
  if (lua_getallocf(L, &ud) != allocate) return false;  // a state that is not an evaluator's
  const eval_origin* running = static_cast<evaluator*>(ud)->running;
  return running && running->interrupted();
}

void raise_interrupted(lua_State* L) {
  luaL_error(L, "the eval was interrupted");
  std::abort();  // luaL_error does not return
}

void register_lua_builtins() {
  register_remote(builtin::eval.name(), &evaluate);
  register_remote(builtin::exec.name(), &execute);
  register_remote(channel_calls::open.name(), &open_channel);
  register_remote(channel_calls::put.name(), &channel_put_value);
  register_remote(channel_calls::take.name(), &channel_take_value);
  register_remote(channel_calls::is_ready.name(), &channel_ready);
  register_remote(channel_calls::close.name(), &channel_shut);
}

}  // namespace detail
}  // namespace malt
