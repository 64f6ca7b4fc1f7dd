#ifndef MALT_SRC_LUA_EVALUATOR_HPP
#define MALT_SRC_LUA_EVALUATOR_HPP

// The worker's Lua evaluator (lua_evaluator.cpp). Each worker session owns one global Lua
// state; the evaluator's built-in functions find it through make_current().

#include <memory>

namespace malt::detail {

struct evaluator;
std::shared_ptr<evaluator> make_evaluator();
/// The evaluator the coroutine function about to start belongs to.
void make_current(evaluator* e) noexcept;
void register_lua_builtins();

}  // namespace malt::detail

#endif
