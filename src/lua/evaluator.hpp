#ifndef MALT_SRC_LUA_EVALUATOR_HPP
#define MALT_SRC_LUA_EVALUATOR_HPP

// The worker's Lua evaluator (lua/evaluator.cpp). Each worker session owns one global Lua
// state; the evaluator's built-in functions find it through make_current().

#include <cstddef>
#include <cstdint>
#include <memory>

namespace malt::detail {

struct call_context;
struct evaluator;

/// From worker_options::lua_libraries and ::lua_memory_limit.
struct evaluator_settings {
  bool safe_libraries = false;
  std::size_t memory_limit = 0;  // bytes; 0: none
};

std::shared_ptr<evaluator> make_evaluator(const evaluator_settings& settings);
/// The evaluator and the call that the coroutine function about to start belong to.
void make_current(evaluator* e, call_context* call, std::uint64_t call_id) noexcept;
void register_lua_builtins();

}  // namespace malt::detail

#endif
