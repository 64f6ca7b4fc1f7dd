// The eval form of <malt/eval.hpp> that is not a template, compiled once here.
#include <malt/eval.hpp>

namespace malt {

call_op<void> remote_eval_wait(const worker& w, std::string code) {
  return remote_call_wait(w, builtin::exec, std::move(code));
}

}  // namespace malt
