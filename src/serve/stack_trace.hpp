#ifndef MALT_SRC_SERVE_STACK_TRACE_HPP
#define MALT_SRC_SERVE_STACK_TRACE_HPP

// C++ exceptions carry no stack trace, yet a remote failure should say where it happened.
// The worker runs a function through run_recording_throw, whose frame has a personality
// routine of its own: when an exception the function lets out is about to be caught
// there, the unwinder first asks that frame whether it handles it, while the thrower's
// frames are all still on the stack, and the routine records them then. Nothing of the
// program is replaced: exceptions the function catches itself cost nothing, and a program
// linked statically, or with a static libstdc++, works the same.

#include <exception>
#include <string>

namespace malt::detail {

/// A demangled C++ name ("std::domain_error" for "St12domain_error").
std::string demangle(const char* mangled);

/// The stack of a throw: return addresses, innermost first.
struct throw_stack {
  static constexpr int capacity = 48;
  void* frames[capacity];
  int count = 0;
};

/// Runs fn(arg) and returns the exception it let out, if any, with its stack at the throw
/// in stack (empty where the frame's personality routine is not supported).
std::exception_ptr run_recording_throw(void (*fn)(void*), void* arg, throw_stack& stack) noexcept;

/// The frames of stack from the throw to the library's own dispatch, one demangled frame
/// per line.
std::string format_throw_stack(const throw_stack& stack);

}  // namespace malt::detail

#endif
