#ifndef MALT_SRC_SERVE_STACK_TRACE_HPP
#define MALT_SRC_SERVE_STACK_TRACE_HPP

// C++ exceptions carry no stack trace, yet a remote failure should say where it happened.
// In a worker process every throw records the stack of the throwing thread; the
// dispatcher formats it when the exception reaches it.

#include <string>

namespace malt::detail {

/// A demangled C++ name ("std::domain_error" for "St12domain_error").
std::string demangle(const char* mangled);
/// Start recording the stack at each throw in this process (worker processes only).
void record_throw_stacks();
/// The stack recorded at this thread's latest throw, one demangled frame per line.
std::string last_throw_stack();

}  // namespace malt::detail

#endif
