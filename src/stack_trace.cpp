#include "stack_trace.hpp"

#include <atomic>
#include <cxxabi.h>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <execinfo.h>
#include <memory>
#include <string_view>
#include <typeinfo>
#include <vector>


namespace malt::detail {
namespace {

std::atomic<bool> recording{false};
constexpr int max_frames = 48;
thread_local void* frames[max_frames];
thread_local int frame_count = 0;

}  // namespace

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

void record_throw_stacks() { recording.store(true, std::memory_order_relaxed); }

std::string last_throw_stack() {
  // The frames above __cxa_throw are the recording; the frames from the library's own
  // dispatch down are the same for every call. What is between is the user's.
  std::vector<std::string> names;
  for (int i = 0; i < frame_count; ++i) {
    Dl_info info{};
    const char* symbol = dladdr(frames[i], &info) && info.dli_sname ? info.dli_sname : nullptr;
    std::string_view raw = symbol ? symbol : "";
    if (raw == "__cxa_throw") {
      names.clear();
      continue;
    }
    if (raw.find("N4malt6detail") != std::string_view::npos) break;
    const char* object = info.dli_fname ? info.dli_fname : "?";
    if (symbol) {
      names.push_back(demangle(symbol) + " in " + object);
    } else {  // e.g. a function's .cold part: give what addr2line needs
      char offset[32];
      std::snprintf(offset, sizeof offset, "+0x%zx",
                    static_cast<std::size_t>(static_cast<char*>(frames[i]) - static_cast<char*>(info.dli_fbase)));
      names.push_back(std::string("?? in ") + object + offset);
    }
  }
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += " [" + std::to_string(i) + "] " + names[i] + "\n";
  return out;
}

}  // namespace malt::detail

// Defining the Itanium ABI's throw function puts this one in front of libstdc++'s for every
// throw of the program; it records the stack, then hands over to the real one.
namespace __cxxabiv1 {
extern "C" void __cxa_throw(void* object, std::type_info* type, void (_GLIBCXX_CDTOR_CALLABI* destructor)(void*)) {
  using real_throw = void (*)(void*, std::type_info*, void (_GLIBCXX_CDTOR_CALLABI*)(void*));
  static const auto real = reinterpret_cast<real_throw>(dlsym(RTLD_NEXT, "__cxa_throw"));
  if (malt::detail::recording.load(std::memory_order_relaxed))
    malt::detail::frame_count = backtrace(malt::detail::frames, malt::detail::max_frames);
  real(object, type, destructor);
  std::abort();  // not reached: the real __cxa_throw does not return
}
}  // namespace __cxxabiv1
